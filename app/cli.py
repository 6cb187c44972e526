"""`flask qms …` commands: set-up, demo data, role sync."""
import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("qms", help="Quản lý hệ thống cải tiến HTQLCL (QT.CTCL).")
def qms():
    pass


@qms.command("setup", help="Nâng cấp CSDL lên phiên bản mới nhất, tạo thiết lập cơ quan, đồng bộ vai trò.")
@with_appcontext
def setup_command():
    from flask_migrate import upgrade

    from app.organisation.services import ensure_settings, sync_roles

    upgrade(directory=current_app.extensions["migrate"].directory)
    ensure_settings()
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
