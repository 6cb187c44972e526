"""`flask qms …` commands: set-up, demo data, role sync, reports, reminders, retention.

A command runs outside any request, so it names the agency whose records it reads:
`--agency CODE` (app.tenancy.agency_named), which may be left out only while the installation
has exactly one agency; the daily jobs run once per agency (app.tenancy.each_agency)."""
import functools
from contextlib import contextmanager
from pathlib import Path

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
@click.option("--certificates", is_flag=True,
              help="Cấp cho mỗi cơ quan chưa có chứng thư số một chứng thư thử nghiệm để ký bản chính thức.")
@with_appcontext
def demo_command(certificates):
    from app.demo import DEMO_PASSWORD, load_demo

    users = load_demo()
    click.echo(f"Dữ liệu mẫu sẵn sàng. Tài khoản demo (mật khẩu {DEMO_PASSWORD}):")
    for username, role in users:
        click.echo(f"  {username:<20} {role}")
    if certificates:
        from app.official.demo import load_demo_certificates, root_path

        given = load_demo_certificates()
        if given:
            click.echo(f"Chứng thư số thử nghiệm đã cấp cho: {', '.join(given)} "
                       f"(gốc tin cậy thử nghiệm: {root_path()}).")


def agency_option(command):
    """`--agency CODE`: the agency whose records the command reads, passed as `agency`."""
    @click.option("--agency", "agency_code", metavar="MÃ",
                  help="Mã cơ quan (bắt buộc khi hệ thống có nhiều cơ quan), ví dụ CAMLAM.")
    @functools.wraps(command)
    def run(agency_code, **kwargs):
        with as_agency(agency_code) as agency:
            return command(agency=agency, **kwargs)

    return run


def agency_codes() -> list[str]:
    from sqlalchemy import select

    from app.extensions import db
    from app.organisation.models import Agency
    from app.tenancy import ALL, agency_scope

    with agency_scope(ALL):
        return list(db.session.scalars(select(Agency.code).order_by(Agency.code)))


@contextmanager
def as_agency(code: str | None):
    """Run the block as the agency with this code; without a code, as the only agency."""
    from app.tenancy import agency_named

    codes = agency_codes()
    if code is None:
        if not codes:
            raise click.UsageError("Hệ thống chưa có cơ quan nào.")
        if len(codes) > 1:
            raise click.UsageError(f"Hệ thống có {len(codes)} cơ quan ({', '.join(codes)}): "
                                   "hãy chọn một bằng --agency MÃ.")
        code = codes[0]
    elif code not in codes:
        raise click.ClickException(f"Không có cơ quan mã {code}. Các mã hiện có: {', '.join(codes) or 'chưa có'}.")
    with agency_named(code) as agency:
        yield agency


@qms.group("report", help="Tạo tài liệu PDF ra tệp, của một cơ quan (--agency MÃ).")
def report_group():
    pass


@report_group.command("objectives", help="Kế hoạch và báo cáo thực hiện MTCL (Phụ lục 3) của một năm.")
@click.option("--year", type=int, required=True, help="Năm của kế hoạch.")
@click.option("--unit", "unit_code", default=None, help="Mã đơn vị (bỏ trống: kế hoạch của cơ quan).")
@click.option("--document", type=click.Choice(["plan", "report"]), default="report", show_default=True,
              help="Kế hoạch (plan) hay báo cáo (report).")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), required=True, help="Tệp PDF ghi ra.")
@with_appcontext
@agency_option
def report_objectives_command(agency, year, unit_code, document, out):
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
@agency_option
def report_review_command(agency, review_id, document, out):
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
@agency_option
def report_annual_command(agency, year, out):
    from reports import ReportError

    from app.reviews import documents

    try:
        data = documents.annual_report_pdf(year)
    except ReportError as error:
        raise click.ClickException(str(error)) from None
    _write(out, data)


@report_group.command("tickets", help=(
    "Tập hồ sơ phiếu BM.CTCL.01 (mục VII): bìa, mục lục rồi từng phiếu trong một tệp PDF. "
    "Lệnh chạy không cần tài khoản nên lấy mọi phiếu của cơ quan (--agency MÃ) theo bộ lọc."))
@click.option("--year", type=int, required=True, help="Năm của phiếu (theo số phiếu hoặc ngày đề nghị).")
@click.option("--state", type=click.Choice(list(TICKET_STATES)), default=None,
              help="Chỉ lấy phiếu ở trạng thái này (mã trạng thái).")
@click.option("--unit", "unit_code", default=None, help="Mã đơn vị đề nghị hoặc thực hiện.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), required=True, help="Tệp PDF ghi ra.")
@with_appcontext
@agency_option
def report_tickets_command(agency, year, state, unit_code, out):
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
    from app.reminders import NO_BASE_URL
    from app.reminders.services import remind

    if not (current_app.config.get("QMS_BASE_URL") or "").strip():
        click.echo(f"Cảnh báo: {NO_BASE_URL}", err=True)
    stats = remind(on.date() if on else None)
    click.echo(f"Thông báo trong hệ thống: {stats['notifications']}; thư đã gửi "
               f"(hoặc đưa vào hàng đợi, nếu có QMS_QUEUE_URL): {stats['emails']}; "
               f"thư lỗi (sẽ gửi lại lần chạy sau): {stats['mail_failures']}.")


@qms.command("retention", help=(
    "Hồ sơ đã hết thời gian lưu (VII): liệt kê, hoặc lưu trữ ra thư mục rồi xóa khỏi CSDL. "
    "Chạy cho từng cơ quan đang hoạt động, mỗi cơ quan theo thời gian lưu của mình "
    "(hoặc chỉ một cơ quan với --agency MÃ); hồ sơ của mỗi cơ quan vào thư mục con mang mã cơ quan."))
@click.option("--agency", "agency_code", metavar="MÃ", help="Chỉ cơ quan có mã này.")
@click.option("--list", "show", is_flag=True, help="Liệt kê hồ sơ đã hết thời gian lưu.")
@click.option("--archive", is_flag=True, help="Lưu trữ từng hồ sơ (JSON, PDF, tệp, mã kiểm tra) rồi mới xóa.")
@click.option("--out", type=click.Path(file_okay=False), help="Thư mục lưu trữ (bắt buộc với --archive).")
@with_appcontext
def retention_command(agency_code, show, archive, out):
    from app.tenancy import each_agency

    if archive and not out:
        raise click.UsageError("--archive cần --out THƯ_MỤC.")
    if not show and not archive:
        show = True
    failures = 0
    for agency in each_agency() if agency_code is None else _only(agency_code):
        failures += _retention_of(agency, show, archive, out)
    if failures:
        raise SystemExit(1)


def _only(code: str):
    """A loop over the one agency with this code, run as it."""
    with as_agency(code) as agency:
        yield agency


def _retention_of(agency, show: bool, archive: bool, out: str | None) -> int:
    """List or archive the current agency's records past its own retention; the number of
    records that could not be archived."""
    from app.records import services

    click.echo(f"[{agency.code}] {agency.agency_name} — thời gian lưu {agency.retention_years} năm")
    if show:
        tickets = services.past_retention()
        click.echo(f"Hồ sơ đóng từ {services.retention_limit():%d/%m/%Y} trở về trước: {len(tickets)}")
        for ticket in tickets:
            click.echo(f"  {ticket.display_number or ticket.id}\t{ticket.closed_on:%d/%m/%Y}\t{ticket.requesting_unit.name}")
    if not archive:
        return 0
    archived, failed = services.archive_past_retention(Path(out) / agency.code)
    for folder in archived:
        click.echo(f"Đã lưu trữ và xóa: {folder}")
    for label, reason in failed:
        click.echo(f"KHÔNG lưu trữ được {label} (hồ sơ vẫn giữ trong CSDL): {reason}", err=True)
    return len(failed)


@qms.group("agency", help="Các cơ quan của hệ thống (quản trị nền tảng): liệt kê, tạo, ngừng / mở lại hoạt động.")
def agency_group():
    pass


@agency_group.command("list", help="Liệt kê các cơ quan: mã, hoạt động, số người dùng, tên.")
@with_appcontext
def agency_list_command():
    from app.organisation import agencies

    rows = agencies.agency_list()
    click.echo(f"{'Mã':<12} {'Hoạt động':<10} {'Người dùng':>10}  Tên cơ quan")
    for agency, people in rows:
        click.echo(f"{agency.code:<12} {'có' if agency.active else 'KHÔNG':<10} {people:>10}  {agency.agency_name}")
    click.echo(f"Tổng: {len(rows)} cơ quan.")


@agency_group.command("create", help="Tạo cơ quan mới cùng tài khoản quản trị (Admin) đầu tiên của cơ quan.")
@click.option("--code", required=True, help="Mã cơ quan: chữ in hoa và chữ số, ví dụ CAMHIEP.")
@click.option("--name", required=True, help='Tên cơ quan như in trên văn bản, ví dụ "ỦY BAN NHÂN DÂN XÃ CAM HIỆP".')
@click.option("--parent-body", default=None, help="Cơ quan chủ quản (mặc định: như cơ quan mới thông thường).")
@click.option("--place", "place_name", default=None, help="Địa danh ghi ngày tháng (mặc định: lấy từ tên cơ quan).")
@click.option("--admin", "admin_username", required=True, help="Tên đăng nhập của quản trị cơ quan.")
@click.option("--email", "admin_email", required=True, help="Email của quản trị cơ quan.")
@click.option("--last-name", "admin_last_name", default="Quản trị", show_default=True, help="Họ và tên đệm.")
@click.option("--first-name", "admin_first_name", default=None, help="Tên (mặc định: mã cơ quan).")
@click.option("--password", "admin_password", default=None,
              help="Mật khẩu; bỏ trống thì lệnh hỏi (không hiện, nhập hai lần).")
@click.option("--password-env", "password_env", metavar="BIẾN", default=None,
              help="Lấy mật khẩu từ biến môi trường này (không để lộ trên dòng lệnh).")
@with_appcontext
def agency_create_command(code, name, parent_body, place_name, admin_username, admin_email,
                          admin_last_name, admin_first_name, admin_password, password_env):
    import os

    from app.organisation import agencies

    if admin_password is None and password_env:
        if password_env not in os.environ:
            raise click.ClickException(f"Biến môi trường {password_env} chưa được đặt.")
        admin_password = os.environ[password_env]
    if admin_password is None:
        admin_password = click.prompt("Mật khẩu của quản trị cơ quan", hide_input=True,
                                      confirmation_prompt="Nhập lại mật khẩu")
    try:
        agency = agencies.create_agency(
            code, name, admin_username=admin_username, admin_password=admin_password,
            admin_email=admin_email, admin_last_name=admin_last_name,
            admin_first_name=admin_first_name or agencies.normal_code(code),
            parent_body=parent_body, place_name=place_name)
    except agencies.AgencyError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Đã tạo cơ quan {agency.code} ({agency.agency_name}); quản trị: {admin_username}.")


def _agency_or_fail(code):
    from app.organisation import agencies

    try:
        return agencies.agency_by_code(code)
    except agencies.AgencyError as error:
        raise click.ClickException(error.message) from None


@agency_group.command("deactivate", help="Ngừng hoạt động một cơ quan: người dùng của cơ quan không đăng nhập được nữa; hồ sơ vẫn giữ.")
@click.option("--code", required=True, help="Mã cơ quan.")
@with_appcontext
def agency_deactivate_command(code):
    from app.organisation import agencies

    agency = agencies.set_active(_agency_or_fail(code), False)
    click.echo(f"Cơ quan {agency.code} đã ngừng hoạt động: người dùng không đăng nhập được; hồ sơ vẫn giữ.")


@agency_group.command("activate", help="Mở lại hoạt động của một cơ quan đã ngừng.")
@click.option("--code", required=True, help="Mã cơ quan.")
@with_appcontext
def agency_activate_command(code):
    from app.organisation import agencies

    agency = agencies.set_active(_agency_or_fail(code), True)
    click.echo(f"Cơ quan {agency.code} hoạt động trở lại.")


# --- official copies and digital signatures (SPEC §11) ---------------------------------------

def _day(moment) -> str:
    return moment.strftime("%d/%m/%Y") if moment else "—"


def _echo_certificate(row) -> None:
    click.echo(f"Chủ thể: {row.subject}")
    click.echo(f"Tổ chức cấp: {row.issuer}")
    click.echo(f"Hiệu lực: từ {_day(row.not_before)} đến {_day(row.not_after)}")


@qms.group("signing", help="Chứng thư số của cơ quan, dùng ký bản chính thức (--agency MÃ).")
def signing_group():
    pass


@signing_group.command("import", help=(
    "Nhập chứng thư số của cơ quan (tệp PKCS#12 .p12/.pfx); chứng thư cũ thôi dùng. "
    "Khóa bí mật được mã hóa bằng QMS_SIGNING_KEY_SECRET để ký bản chính thức tự động."))
@click.option("--p12", "p12_path", type=click.Path(exists=True, dir_okay=False), required=True,
              help="Tệp PKCS#12 (.p12, .pfx).")
@click.option("--password-env", "password_env", metavar="BIẾN", default=None,
              help="Lấy mật khẩu của tệp từ biến môi trường này (bỏ trống: lệnh hỏi, không hiện).")
@with_appcontext
@agency_option
def signing_import_command(agency, p12_path, password_env):
    import os

    from app.official import services, signing

    data = Path(p12_path).read_bytes()
    if password_env:
        if password_env not in os.environ:
            raise click.ClickException(f"Biến môi trường {password_env} chưa được đặt.")
        password = os.environ[password_env]
    else:
        password = click.prompt("Mật khẩu của tệp PKCS#12", hide_input=True, default="", show_default=False)
    try:
        row = services.import_credential(data, password or None)
    except signing.SigningError as error:
        from app.extensions import db

        db.session.rollback()
        raise click.ClickException(f"Không nhập được chứng thư số: {error}") from None
    click.echo(f"Đã nhập chứng thư số của {agency.agency_name} ({agency.code}):")
    _echo_certificate(row)


@signing_group.command("show", help="Xem chứng thư số đang dùng của cơ quan.")
@with_appcontext
@agency_option
def signing_show_command(agency):
    from app.official import services

    row = services.active_credential()
    if row is None:
        click.echo(f"{agency.agency_name} ({agency.code}) chưa có chứng thư số: bản chính thức không được ký. "
                   "Nhập bằng: flask qms signing import --p12 TỆP --agency " + agency.code)
        return
    click.echo(f"Chứng thư số đang dùng của {agency.agency_name} ({agency.code}):")
    _echo_certificate(row)


def _yes_no(value: bool, yes: str, no: str) -> str:
    return yes if value else no


@qms.command("verify", help=(
    "Kiểm tra chữ ký số của một tệp PDF bất kỳ (theo các chứng thư gốc tin cậy QMS_SIGNING_TRUST_ROOTS). "
    "Mã thoát 0 khi tệp có chữ ký và mọi chữ ký còn nguyên vẹn; 1 trong các trường hợp khác."))
@click.argument("pdf_path", metavar="TỆP.pdf", type=click.Path())
@with_appcontext
def verify_command(pdf_path):
    from app.official import services, signing

    try:
        data = Path(pdf_path).read_bytes()
    except FileNotFoundError:
        raise click.ClickException(f"Không có tệp {pdf_path}.") from None
    except OSError as error:
        raise click.ClickException(f"Không đọc được tệp {pdf_path}: {error.strerror or error}.") from None
    if not signing.is_pdf(data):
        raise click.ClickException(f"Tệp {pdf_path} không phải là tệp PDF.")
    check = services.verify(data)
    click.echo(f"Tệp: {pdf_path}")
    click.echo(f"Kết quả: {check.summary}")
    if check.problem:
        raise SystemExit(1)
    if not check.signatures:
        click.echo("Tệp không có chữ ký số nào.")
    for number, signature in enumerate(check.signatures, 1):
        click.echo(f"Chữ ký {number} ({signature.field or 'không tên'}):")
        click.echo(f"  Người ký: {signature.signer or '—'}")
        when = (f"{signature.signed_at.astimezone(signing.VIETNAM):%d/%m/%Y %H:%M:%S} (giờ Việt Nam)"
                if signature.signed_at else "không rõ")
        click.echo(f"  Thời gian ký: {when}")
        click.echo(f"  Tổ chức cấp chứng thư: {signature.issuer or '—'}")
        click.echo("  Nội dung: " + _yes_no(signature.good, "nguyên vẹn", "ĐÃ BỊ THAY ĐỔI sau khi ký"))
        click.echo("  Chứng thư: " + _yes_no(signature.trusted, "tin cậy (thuộc chứng thư gốc đã cấu hình)",
                                             "KHÔNG tin cậy (không thuộc chứng thư gốc đã cấu hình)"))
        click.echo("  Hiệu lực lúc ký: " + _yes_no(signature.valid_at_signing, "còn hiệu lực", "KHÔNG còn hiệu lực"))
        for problem in signature.problems:
            click.echo(f"  Vấn đề: {problem}")
    if not check.ok:
        raise SystemExit(1)


@qms.group("official", help="Bản chính thức của các văn bản đã hoàn tất (--agency MÃ).")
def official_group():
    pass


@official_group.command("make", help=(
    "Tạo bản chính thức còn thiếu cho mọi hồ sơ đã hoàn tất của cơ quan "
    "(hệ thống nâng cấp từ phiên bản chưa có bản chính thức)."))
@with_appcontext
@agency_option
def official_make_command(agency):
    from reports import ReportError
    from sqlalchemy import select

    from app.extensions import db
    from app.official import services
    from app.official.documents import DOCUMENTS

    made, failed = 0, 0
    for code, document in DOCUMENTS.items():
        for record in db.session.scalars(select(document.model()).order_by(document.model().id)).all():
            if not services.is_final(code, record) or services.current(code, record.id) is not None:
                continue
            try:
                services.official_copy(record, code)
                made += 1
            except ReportError as error:
                db.session.rollback()
                failed += 1
                click.echo(f"KHÔNG tạo được bản chính thức {code} #{record.id}: {error}", err=True)
    click.echo(f"{agency.agency_name} ({agency.code}): đã tạo {made} bản chính thức.")
    if failed:
        click.echo(f"{failed} bản chưa tạo được (chạy lại lệnh sau khi khắc phục).", err=True)
        raise SystemExit(1)


def _instance_dir() -> Path:
    import config

    return Path(config.INSTANCE_DIR)


@qms.command("backup", help=(
    "Sao lưu vào một thư mục mới có dấu thời gian: CSDL (gồm cả tệp minh chứng và bản chính thức; "
    "PostgreSQL bằng pg_dump --format=custom, SQLite bằng sao lưu trực tuyến), các khóa bí mật "
    "của thư mục instance, thư mục hồ sơ lưu trữ (nếu có) và manifest.json ghi mã SHA-256 từng tệp."))
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Thư mục chứa các bản sao lưu.")
@click.option("--archives", type=click.Path(file_okay=False, exists=True), default=None,
              help="Thư mục hồ sơ lưu trữ (qms retention --archive --out); mặc định QMS_ARCHIVE_DIR nếu có.")
@with_appcontext
def backup_command(out, archives):
    from app.backup import BackupError, backup

    archives = archives or current_app.config.get("QMS_ARCHIVE_DIR") or None
    try:
        folder, manifest = backup(current_app.config["SQLALCHEMY_DATABASE_URI"], Path(out),
                                  config=current_app.config, instance_dir=_instance_dir(),
                                  archives=Path(archives) if archives else None)
    except BackupError as error:
        raise click.ClickException(error.message) from None
    database = manifest["database"]
    size = (folder / database["file"]).stat().st_size
    click.echo(f"Đã sao lưu vào {folder}")
    click.echo(f"  CSDL ({database['kind']}{', schema ' + database['schema'] if database['schema'] else ''}, "
               f"phiên bản {database['revision']}): {database['file']} ({size // 1024} KB)")
    for variable, where in manifest["secrets"].items():
        click.echo(f"  {variable}: {'biến môi trường (không có trong bản sao lưu)' if where == 'environment' else where}")
    archived = sum(1 for name in manifest["files"] if name.startswith("archives/"))
    click.echo(f"  Hồ sơ lưu trữ: {archived} tệp" if manifest["archives"] else "  Hồ sơ lưu trữ: không có")
    click.echo("Hãy chép thư mục này (có khóa bí mật) ra nơi an toàn ngoài máy chủ.")


@qms.command("restore", help=(
    "Khôi phục một bản sao lưu của qms backup vào CSDL đang cấu hình, CSDL này phải trống "
    "(mới tạo, chưa chạy qms setup); mọi tệp được kiểm tra mã SHA-256 trước."))
@click.option("--from", "source", type=click.Path(file_okay=False, exists=True), required=True,
              help="Thư mục bản sao lưu (qms-backup-…).")
@click.option("--with-secrets", is_flag=True,
              help="Ghi đè các khóa bí mật trong thư mục instance bằng khóa của bản sao lưu.")
@click.option("--archives", type=click.Path(file_okay=False), default=None,
              help="Chép hồ sơ lưu trữ của bản sao lưu vào thư mục này.")
@with_appcontext
def restore_command(source, with_secrets, archives):
    from app.backup import BackupError, restore_database, restore_secrets, verified_manifest

    try:
        manifest = verified_manifest(Path(source))
        click.echo(f"Bản sao lưu ngày {manifest.get('created')}: {len(manifest['files'])} tệp khớp mã SHA-256.")
        restore_database(Path(source), manifest, current_app.config["SQLALCHEMY_DATABASE_URI"])
    except BackupError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Đã khôi phục CSDL (phiên bản {manifest['database'].get('revision')}).")
    for line in restore_secrets(Path(source), manifest, config=current_app.config,
                                instance_dir=_instance_dir(), replace=with_secrets):
        click.echo(f"  {line}")
    kept = Path(source) / "archives"
    if kept.is_dir():
        if archives:
            import shutil

            shutil.copytree(kept, archives, dirs_exist_ok=True)
            click.echo(f"  Hồ sơ lưu trữ: đã chép vào {archives}")
        else:
            click.echo(f"  Hồ sơ lưu trữ: ở {kept} (chép ra bằng --archives THƯ_MỤC)")
    click.echo("Tiếp theo: flask qms setup (nâng CSDL lên phiên bản của mã đang chạy), rồi khởi động dịch vụ.")


# --- the first administrator of a production installation (README: Production deployment) ----

@qms.command("create-admin", help=(
    "Tạo tài khoản quản trị (vai trò Admin) của một cơ quan đã có, làm việc tại một đơn vị của cơ quan. "
    "Đơn vị phải có sẵn, trừ khi cho --unit-name (khi đó đơn vị chưa có được tạo cùng lúc)."))
@click.option("--username", required=True, help="Tên đăng nhập.")
@click.option("--password-env", "password_env", metavar="BIẾN", default=None,
              help="Lấy mật khẩu từ biến môi trường này (bỏ trống: lệnh hỏi, không hiện, nhập hai lần).")
@click.option("--first-name", required=True, help="Tên.")
@click.option("--last-name", required=True, help="Họ và tên đệm.")
@click.option("--email", required=True, help="Email.")
@click.option("--agency", "agency_code", metavar="MÃ", default=None,
              help="Mã cơ quan (bắt buộc khi hệ thống có nhiều cơ quan), ví dụ CAMLAM.")
@click.option("--unit", "unit_code", metavar="MÃ", required=True, help="Mã đơn vị, ví dụ VP.")
@click.option("--unit-name", default=None,
              help='Tên đơn vị, để tạo đơn vị khi cơ quan chưa có, ví dụ "Văn phòng HĐND và UBND".')
@with_appcontext
def create_admin_command(username, password_env, first_name, last_name, email, agency_code,
                         unit_code, unit_name):
    import os

    from app.organisation import agencies

    codes = agency_codes()
    if not codes:
        raise click.ClickException(
            "Hệ thống chưa có cơ quan nào: tạo cơ quan trước bằng "
            "flask qms agency create --code MÃ --name \"TÊN CƠ QUAN\" --admin … --email …")
    if agency_code is None:
        if len(codes) > 1:
            raise click.UsageError(f"Hệ thống có {len(codes)} cơ quan ({', '.join(codes)}): "
                                   "hãy chọn một bằng --agency MÃ.")
        agency_code = codes[0]
    if agencies.normal_code(agency_code) not in codes:
        raise click.ClickException(f"Không có cơ quan mã {agencies.normal_code(agency_code)}. "
                                   f"Các mã hiện có: {', '.join(codes)}.")
    agency = agencies.agency_by_code(agency_code)
    if password_env:
        if password_env not in os.environ:
            raise click.ClickException(f"Biến môi trường {password_env} chưa được đặt.")
        password = os.environ[password_env]
    else:
        password = click.prompt("Mật khẩu của quản trị", hide_input=True, confirmation_prompt="Nhập lại mật khẩu")
    try:
        admin, unit_created = agencies.create_admin(
            agency, unit_code, username=username, password=password, email=email,
            first_name=first_name, last_name=last_name, unit_name=unit_name)
    except agencies.AgencyError as error:
        raise click.ClickException(error.message) from None
    if unit_created:
        click.echo(f"Đã tạo đơn vị {admin.unit.code} ({admin.unit.name}) của cơ quan {agency.code}.")
    click.echo(f"Đã tạo quản trị {admin.username} ({admin.last_name} {admin.first_name}) "
               f"của cơ quan {agency.code}, đơn vị {admin.unit.code}.")


def _queue_or_stop():
    from app import jobs

    if not jobs.queue_url():
        raise click.ClickException(
            "Chưa đặt QMS_QUEUE_URL (ví dụ redis://127.0.0.1:6379/1): không có hàng đợi, "
            "việc nền đang chạy ngay trong tiến trình web.")
    return jobs


@qms.command("worker", help="Chạy tiến trình xử lý việc nền (RQ) từ hàng đợi QMS_QUEUE_URL: "
                            "gửi webhook, … ; việc lỗi được thử lại sau 10 giây, 30 giây, 1, 5, 15 phút.")
@click.option("--burst", is_flag=True, help="Làm hết việc đang chờ rồi dừng (không đợi việc mới).")
@with_appcontext
def worker_command(burst):
    jobs = _queue_or_stop()
    from rq import Worker

    worker = Worker([jobs.queue()], connection=jobs.connection())
    click.echo(f"Tiến trình xử lý việc nền đang chạy (hàng đợi {jobs.QUEUE_NAME}).")
    worker.work(burst=burst, with_scheduler=True, logging_level="INFO")


@qms.group("jobs", help="Việc nền trên hàng đợi (RQ).")
def jobs_group():
    pass


@jobs_group.command("sweep", help="Đưa lại vào hàng đợi các lượt gửi webhook còn chờ mà chưa thử lần nào "
                                  "sau 2 phút (hàng đợi vắng lúc ghi); chạy lại nhiều lần không gửi trùng.")
@with_appcontext
def jobs_sweep_command():
    _queue_or_stop()
    from app.webhooks import services as webhooks

    try:
        count = webhooks.sweep()
    except Exception as error:  # Redis away: said in one line, the next run tries again
        raise click.ClickException(f"Không kết nối được hàng đợi: {type(error).__name__}") from None
    click.echo(f"Đã đưa lại {count} lượt gửi webhook vào hàng đợi.")


@jobs_group.command("failed", help="Liệt kê các việc nền đã thất bại sau mọi lần thử lại; "
                                   "--retry MÃ_VIỆC (hoặc --retry all) đưa lại vào hàng đợi.")
@click.option("--retry", "retry_id", metavar="MÃ_VIỆC", help="Mã việc cần chạy lại, hoặc all.")
@with_appcontext
def jobs_failed_command(retry_id):
    jobs = _queue_or_stop()
    failed = jobs.failed_jobs()
    if retry_id:
        chosen = [job for job in failed if retry_id in ("all", job.id)]
        if not chosen:
            raise click.ClickException(f"Không có việc thất bại mã {retry_id}.")
        for job in chosen:
            jobs.retry_failed(job.id)
        click.echo(f"Đã đưa lại {len(chosen)} việc vào hàng đợi.")
        return
    if not failed:
        click.echo("Không có việc nền nào thất bại.")
        return
    for job in failed:
        reason = (job.latest_result().exc_string.strip().splitlines() or ["?"])[-1] if job.latest_result() else "?"
        ended = job.ended_at.strftime("%d/%m/%Y %H:%M") if job.ended_at else "?"
        click.echo(f"{job.id}  {ended}  {job.description}  {reason[:200]}")
    click.echo(f"Tổng cộng {len(failed)} việc thất bại. Chạy lại: flask qms jobs failed --retry MÃ_VIỆC")
