"""`flask qms …` commands: set-up, demo data, role sync."""
import click
from flask import current_app
from flask.cli import with_appcontext

from app.tickets.workflow import STATES as TICKET_STATES


@click.group("qms", help="Quản lý hệ thống cải tiến HTQLCL (QT.CTCL).")
def qms():
    pass


@qms.command("setup", help="Nâng cấp CSDL lên phiên bản mới nhất, đồng bộ vai trò.")
@with_appcontext
def setup_command():
    from flask_migrate import upgrade

    from app.organisation.services import sync_roles

    upgrade(directory=current_app.extensions["migrate"].directory)
    counts = sync_roles()
    click.echo(f"CSDL đã ở phiên bản mới nhất; vai trò đã đồng bộ: {counts}")


@qms.command("sync-roles", help="Ghi quyền của các vai trò (định nghĩa trong mã) vào CSDL.")
@with_appcontext
def sync_roles_command():
    from app.organisation.services import sync_roles

    for role, count in sync_roles().items():
        click.echo(f"{role}: {count} quyền")


@qms.command("demo", help="Nạp dữ liệu mẫu (chỉ thêm những gì còn thiếu, an toàn khi chạy lại).")
@with_appcontext
def demo_command():
    from app.demo import DEMO_PASSWORD, load_demo

    users = load_demo()
    click.echo(f"Dữ liệu mẫu sẵn sàng. Tài khoản demo (mật khẩu {DEMO_PASSWORD}):")
    for username, role in users:
        click.echo(f"  {username:<20} {role}")


@qms.group("report", help="Tạo tài liệu PDF ra tệp.")
def report_group():
    pass


@report_group.command("objectives", help="Kế hoạch và báo cáo thực hiện MTCL (Phụ lục 3) của một năm.")
@click.option("--year", type=int, required=True, help="Năm của kế hoạch.")
@click.option("--unit", "unit_code", default=None, help="Mã đơn vị (bỏ trống: kế hoạch của cơ quan).")
@click.option("--document", type=click.Choice(["plan", "report"]), default="report", show_default=True,
              help="Kế hoạch (plan) hay báo cáo (report).")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), required=True, help="Tệp PDF ghi ra.")
@with_appcontext
def report_objectives_command(year, unit_code, document, out):
    from reports import ReportError

    from app.objectives import documents, services
    from app.organisation.models import Unit
    from app.extensions import db

    unit = None
    if unit_code:
        unit = db.session.query(Unit).filter_by(code=unit_code).one_or_none()
        if unit is None:
            raise click.ClickException(f"Không có đơn vị mã {unit_code}.")
    plan = services.current_plans(year).get(unit.id if unit else None)
    if plan is None:
        raise click.ClickException(f"Chưa có kế hoạch MTCL năm {year} của {unit.name if unit else 'cơ quan'}.")
    if document == "report" and plan.report is None:
        raise click.ClickException(f"Kế hoạch MTCL năm {year} chưa có báo cáo thực hiện.")
    try:
        data, _ = documents.export(plan, document, "pdf")
    except ReportError as error:
        raise click.ClickException(str(error)) from None
    _write(out, data)


@report_group.command("review", help="Biên bản họp XXLĐ (BM.CTCL.02), báo cáo HTQLCL hoặc thông báo của một lần xem xét.")
@click.option("--id", "review_id", type=int, required=True, help="Mã số (id) của lần xem xét.")
@click.option("--document", type=click.Choice(["minutes", "report", "notice"]), default=None,
              help="Mặc định: biên bản (họp) hoặc thông báo (báo cáo và thông báo).")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), required=True, help="Tệp PDF ghi ra.")
@with_appcontext
def report_review_command(review_id, document, out):
    from reports import ReportError

    from app.reviews import documents, services
    from app.workflow import WorkflowError

    try:
        review = services.get_review(review_id)
        document = document or ("minutes" if review.form == "meeting" else "notice")
        data, _ = documents.review_pdf(review, document)
    except (WorkflowError, ReportError) as error:
        raise click.ClickException(str(error)) from None
    _write(out, data)


@report_group.command("annual", help="Báo cáo kết quả hoạt động vận hành duy trì HTQLCL của một năm, từ dữ liệu.")
@click.option("--year", type=int, required=True)
@click.option("--out", type=click.Path(dir_okay=False, writable=True), required=True, help="Tệp PDF ghi ra.")
@with_appcontext
def report_annual_command(year, out):
    from reports import ReportError

    from app.reviews import documents

    try:
        data = documents.annual_report_pdf(year)
    except ReportError as error:
        raise click.ClickException(str(error)) from None
    _write(out, data)


@report_group.command("tickets", help=(
    "Tập hồ sơ phiếu BM.CTCL.01 (mục VII): bìa, mục lục rồi từng phiếu trong một tệp PDF. "
    "Lệnh chạy không cần tài khoản nên lấy mọi phiếu của cơ quan theo bộ lọc."))
@click.option("--year", type=int, required=True, help="Năm của phiếu (theo số phiếu hoặc ngày đề nghị).")
@click.option("--state", type=click.Choice(list(TICKET_STATES)), default=None,
              help="Chỉ lấy phiếu ở trạng thái này (mã trạng thái).")
@click.option("--unit", "unit_code", default=None, help="Mã đơn vị đề nghị hoặc thực hiện.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), required=True, help="Tệp PDF ghi ra.")
@with_appcontext
def report_tickets_command(year, state, unit_code, out):
    from reports import ReportError

    from app.extensions import db
    from app.organisation.models import Unit
    from app.tickets import binder

    args = {"year": str(year), "state": state or ""}
    if unit_code:
        unit = db.session.query(Unit).filter_by(code=unit_code).one_or_none()
        if unit is None:
            raise click.ClickException(f"Không có đơn vị mã {unit_code}.")
        args["unit"] = str(unit.id)
    tickets = binder.tickets_for(None, args)
    if not tickets:
        raise click.ClickException(f"Không có phiếu nào theo bộ lọc ({binder.describe(args)}): không tạo tệp.")
    try:
        data = binder.binder_pdf(tickets, binder.describe(args), year)
    except ReportError as error:
        raise click.ClickException(str(error)) from None
    _write(out, data)
    click.echo(f"Tập hồ sơ gồm {len(tickets)} phiếu.")


def _write(out: str, data: bytes) -> None:
    with open(out, "wb") as f:
        f.write(data)
    click.echo(f"Đã ghi {out} ({len(data) // 1024} KB).")


@qms.command("remind", help="Gửi nhắc việc hằng ngày (cho cron; chạy nhiều lần trong ngày vẫn an toàn).")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Ngày tính nhắc việc (mặc định hôm nay).")
@with_appcontext
def remind_command(on):
    from app.reminders.services import remind

    stats = remind(on.date() if on else None)
    click.echo(f"Thông báo trong hệ thống: {stats['notifications']}; thư đã gửi: {stats['emails']}; "
               f"thư lỗi (sẽ gửi lại lần chạy sau): {stats['mail_failures']}.")


@qms.command("retention", help="Hồ sơ đã hết thời gian lưu (VII): liệt kê, hoặc lưu trữ ra thư mục rồi xóa khỏi CSDL.")
@click.option("--list", "show", is_flag=True, help="Liệt kê hồ sơ đã hết thời gian lưu.")
@click.option("--archive", is_flag=True, help="Lưu trữ từng hồ sơ (JSON, PDF, tệp, mã kiểm tra) rồi mới xóa.")
@click.option("--out", type=click.Path(file_okay=False), help="Thư mục lưu trữ (bắt buộc với --archive).")
@with_appcontext
def retention_command(show, archive, out):
    """Each agency's records by its own retention years, each agency's archive in its own
    folder OUT/CODE."""
    import os

    from app.records import services

    if archive and not out:
        raise click.UsageError("--archive cần --out THƯ_MỤC.")
    if not show and not archive:
        show = True
    any_failed = False
    for agency in _agencies():
        click.echo(f"== {agency.code} — {agency.agency_name}")
        if show:
            tickets = services.past_retention()
            click.echo(f"Hồ sơ đóng từ {services.retention_limit():%d/%m/%Y} trở về trước: {len(tickets)}")
            for ticket in tickets:
                click.echo(f"  {ticket.display_number or ticket.id}\t{ticket.closed_on:%d/%m/%Y}\t{ticket.requesting_unit.name}")
        if archive:
            archived, failed = services.archive_past_retention(os.path.join(out, agency.code))
            for folder in archived:
                click.echo(f"Đã lưu trữ và xóa: {folder}")
            for label, reason in failed:
                click.echo(f"KHÔNG lưu trữ được {label} (hồ sơ vẫn giữ trong CSDL): {reason}", err=True)
            any_failed = any_failed or bool(failed)
    if any_failed:
        raise SystemExit(1)


def _agencies():
    """The agencies a command works on, each in its own scope: the agency it was given (or the
    caller's scope), else every active agency in turn, so that each agency's settings decide for
    its own records."""
    from app.organisation.services import current_agency
    from app.tenancy import ALL, current_scope, each_agency

    if current_scope() != ALL:
        yield current_agency()
        return
    yield from each_agency()
