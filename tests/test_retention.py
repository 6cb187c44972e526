"""Records past retention leave the database only into a verified archive."""
import datetime
import json

import pytest

from app.records import services
from app.tickets.models import Attachment, Nonconformity, Ticket
from tests.test_uploads import PDF


@pytest.fixture
def old_ticket(make_ticket, db, user):
    """A closed ticket, closed five years ago, with a file, a progress report and a linked NC."""
    from app.tickets import services as tickets

    ticket = make_ticket(state="implementation", description="Phiếu cũ cần lưu trữ")
    tickets.add_progress_report(user("canbo.ktht"), ticket.id, "Đã làm 50%", uploads=[("tien-do.pdf", PDF)])
    tickets.attach_to_ticket(user("canbo.ktht"), ticket.id, [("bang-chung.pdf", PDF)])
    ticket = tickets.apply_transition(user("canbo.ktht"), ticket.id, "report_done", {"result_summary": "Xong"})
    nc = db.session.query(Nonconformity).filter_by(ticket_id=None).first()
    nc.ticket_id = ticket.id
    ticket.state, ticket.closed_on = "closed", datetime.date.today().replace(year=datetime.date.today().year - 5)
    db.session.commit()
    return ticket


def test_archive_round_trip(old_ticket, db, tmp_path, app):
    ticket_id, number = old_ticket.id, old_ticket.display_number
    history = [e.name for e in old_ticket.events]
    assert old_ticket in services.past_retention()
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["qms", "retention", "--list"])
    assert number in listed.output
    archived, failed = services.archive_past_retention(tmp_path)
    assert failed == [] and len(archived) >= 1
    folder = next(f for f in archived if f.name.endswith(f"id{ticket_id}"))
    assert services.verify_archive(folder)
    record = json.loads((folder / "ticket.json").read_text(encoding="utf-8"))
    assert record["display_number"] == number and [e["name"] for e in record["history"]] == history
    assert record["progress_reports"][0]["text"] == "Đã làm 50%" and record["nonconformities"]
    names = sorted(p.name for p in (folder / "files").iterdir())
    assert len(names) == 2 and all(p.read_bytes() == PDF for p in (folder / "files").iterdir())
    assert (folder / "BM.CTCL.01.pdf").read_bytes().startswith(b"%PDF")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["sha256"]) == {"ticket.json", "BM.CTCL.01.pdf", *(f"files/{n}" for n in names)}
    db.session.expire_all()
    assert db.session.get(Ticket, ticket_id) is None
    assert db.session.query(Attachment).filter_by(ticket_id=ticket_id).count() == 0
    assert db.session.query(Nonconformity).filter_by(ticket_id=ticket_id).count() == 0


def test_a_failed_archive_leaves_the_record(old_ticket, db, tmp_path):
    ticket_id = old_ticket.id
    name = f"phieu-{old_ticket.year}-{old_ticket.number:03d}-id{ticket_id}"
    (tmp_path / name).mkdir()  # something is already where the archive must go
    archived, failed = services.archive_past_retention(tmp_path)
    assert any(number == old_ticket.display_number for number, _ in failed)
    db.session.expire_all()
    assert db.session.get(Ticket, ticket_id) is not None
    assert not list(tmp_path.glob(".*partial"))


def test_retention_page_for_admin_and_secretary(client_as_user, old_ticket):
    page = client_as_user("thuky.iso").get("/retention/")
    assert page.status_code == 200 and old_ticket.display_number in page.text
    assert client_as_user("canbo.ktht").get("/retention/").status_code == 403
