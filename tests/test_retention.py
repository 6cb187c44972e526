"""Records past retention leave the database only into a verified archive that holds every
column of every row removed (and of every row whose link to the ticket is emptied)."""
import datetime
import json

import pytest
import sqlalchemy as sa
from flask_appbuilder import Model

from app.records import services
from app.tickets.models import Attachment, Nonconformity, OpenRun, Ticket
from tests.conftest import assert_runs_kept, future
from tests.test_uploads import PDF, PNG


def _years_ago(years: int) -> datetime.date:
    return datetime.date.today().replace(year=datetime.date.today().year - years)


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
    ticket.state, ticket.closed_on = "closed", _years_ago(5)
    db.session.commit()
    return ticket


@pytest.fixture
def full_ticket(make_ticket, db, user):
    """A ticket walked from draft to closed holding everything a ticket can hold — two linked
    NCs (one with its own file), progress reports with and without files, a file of its own,
    a proposal sent back and made again (so a box-2 revision), an approved change request and a
    follow-up ticket — closed five years ago."""
    from app.conversation import services as conversation
    from app.tickets import services as tickets

    staff = user("canbo.ktht")
    ticket = make_ticket(state="approval", description="Phiếu đi hết quy trình")
    leader = user("truongban.iso")
    tickets.apply_transition(leader, ticket.id, "reject_proposal", {"comment": "Chưa rõ nguyên nhân"})
    tickets.apply_transition(staff, ticket.id, "propose", {"cause": "Nguyên nhân rõ hơn",
                                                            "measures": "Biện pháp cụ thể", "completion_date": future(20)})
    ticket = tickets.apply_transition(leader, ticket.id, "approve", {
        "implementing_unit": ticket.assignee_unit_id, "implementer": staff.id, "due_date": future(20)})
    ncs = db.session.scalars(sa.select(Nonconformity).where(Nonconformity.ticket_id.is_(None))
                             .order_by(Nonconformity.id).limit(2)).all()
    for nc in ncs:
        nc.ticket_id = ticket.id
    db.session.add(Attachment(nonconformity_id=ncs[0].id, filename="kph.png", content_type="image/png",
                              size=len(PNG), data=PNG, uploaded_by_id=staff.id))
    db.session.commit()
    tickets.add_progress_report(staff, ticket.id, "Đã làm 50%", uploads=[("tien-do.pdf", PDF)])
    tickets.add_progress_report(staff, ticket.id, "Đã làm 80%")
    tickets.attach_to_ticket(staff, ticket.id, [("bang-chung.pdf", PDF), ("anh.png", PNG)])
    change = tickets.request_change(staff, ticket.id, {"kind": "measures", "text": "Đổi biện pháp",
                                                       "new_measures": "Biện pháp mới", "new_due_date": future(40)})
    tickets.decide_change(user("truongban.iso"), change.id, True, "Đồng ý")
    conversation.add_comment(staff, "ticket", ticket.id, "Gửi biên bản, @thuky.iso xem giúp",
                             [("bien-ban.pdf", PDF)])
    for actor, name, fields in (
        ("canbo.ktht", "report_done", {"result_summary": "Đã thực hiện xong"}),
        ("chutich", "verify", {"result": "pass", "verified_on": datetime.date.today().isoformat()}),
        ("thuky.iso", "close", {"evidence": "Biên bản kiểm tra"}),
    ):
        ticket = tickets.apply_transition(user(actor), ticket.id, name, fields)
    assert ticket.state == "closed"
    follow_up = make_ticket(description="Phiếu tiếp nối")
    follow_up.follows_id = ticket.id
    ticket.closed_on = _years_ago(5)
    db.session.commit()
    return ticket


def _snapshot(db) -> dict[str, dict[tuple, dict]]:
    """Every row of every table of the models, by table name and primary key; not the open
    runs, read again from the rest (app.tickets.runs, checked by assert_runs_kept)."""
    snapshot = {}
    for table in Model.metadata.sorted_tables:
        if table is OpenRun.__table__:
            continue
        rows = db.session.execute(sa.select(table)).mappings().all()
        snapshot[table.name] = {tuple(row[c.name] for c in table.primary_key): dict(row) for row in rows}
    return snapshot


def _key(table_name: str, row: dict) -> tuple:
    return tuple(row[c.name] for c in Model.metadata.tables[table_name].primary_key)


def _assert_archived(row: dict, archived: dict, folder, where: str) -> None:
    """Every column of a database row equals its value in the archive."""
    assert set(archived) == set(row), where
    for column, value in row.items():
        if isinstance(value, (bytes, memoryview)):
            assert (folder / archived[column]["file"]).read_bytes() == bytes(value), f"{where}.{column}"
        elif isinstance(value, (datetime.date, datetime.datetime)):
            assert archived[column] == value.isoformat(), f"{where}.{column}"
        else:
            assert archived[column] == value, f"{where}.{column}"


def test_the_archive_holds_every_column_of_every_row_it_removes(full_ticket, db, tmp_path):
    ticket_id = full_ticket.id
    before = _snapshot(db)
    archived, failed = services.archive_past_retention(tmp_path)
    assert failed == []
    db.session.expire_all()
    after = _snapshot(db)
    assert_runs_kept(db.session.connection())  # the closing archived no longer ends its NCs' run

    removed = {(t, k) for t, rows in before.items() for k in rows if k not in after[t]}
    unlinked = {(t, k) for t, rows in before.items() for k, row in rows.items()
                if k in after[t] and after[t][k] != row}
    removed_tables = {t for t, _ in removed}
    assert ("ticket", (ticket_id,)) in removed
    assert {"ticket", "ticket_event", "box2_revision", "progress_report", "change_request",
            "attachment", "comment"} <= removed_tables  # the conversation and its files too
    assert not removed_tables & {"nonconformity", "nonconformity_event", "review_action", "report_row"}
    own_files = {k for k, row in before["attachment"].items() if row["ticket_id"] == ticket_id}
    assert len(own_files) == 3 and {("attachment", k) for k in own_files} <= removed

    in_archive, unlinked_in_archive = {}, {}
    for folder in archived:
        assert services.verify_archive(folder)
        record = json.loads((folder / "ticket.json").read_text(encoding="utf-8"))
        for table, rows in record["removed"].items():
            in_archive.update({(table, _key(table, row)): (row, folder) for row in rows})
        for table, rows in record["unlinked"].items():
            unlinked_in_archive.update({(table, _key(table, row)): (row, folder) for row in rows})

    assert set(in_archive) == removed  # every removed row is archived, and only those
    for table, key in removed:
        row, folder = in_archive[(table, key)]
        _assert_archived(before[table][key], row, folder, f"{table}{key}")

    assert set(unlinked_in_archive) == unlinked  # every row whose link was emptied, as it was
    for table, key in unlinked:
        row, folder = unlinked_in_archive[(table, key)]
        _assert_archived(before[table][key], row, folder, f"{table}{key}")
        changed = {c for c, v in after[table][key].items() if v != before[table][key][c]} - {"updated_at"}
        assert changed and all(after[table][key][c] is None for c in changed), (table, key, changed)
    assert {t for t, _ in unlinked} >= {"nonconformity", "ticket"}

    events = [row for (table, _), (row, _) in in_archive.items() if table == "ticket_event"
              and row["ticket_id"] == ticket_id]
    forward = next(e for e in events if e["name"] == "forward")
    assert forward["data"]["signs"] == ["serious"]  # what the history entry carried
    nc_file = db.session.scalars(sa.select(Attachment).where(Attachment.filename == "kph.png")
                                 .order_by(Attachment.id.desc())).first()
    assert nc_file is not None and nc_file.data == PNG  # the NC's own file stays with the NC


def test_archive_round_trip(old_ticket, db, tmp_path, app):
    """The command's list, the archive's files and checksums, and the record gone."""
    ticket_id, number = old_ticket.id, old_ticket.display_number
    history = [e.name for e in old_ticket.events]
    assert old_ticket in services.past_retention()
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["qms", "retention", "--agency", "CAMLAM", "--list"])
    assert number in listed.output
    archived, failed = services.archive_past_retention(tmp_path)
    assert failed == [] and len(archived) >= 1
    folder = next(f for f in archived if f.name.endswith(f"id{ticket_id}"))
    assert services.verify_archive(folder)
    record = json.loads((folder / "ticket.json").read_text(encoding="utf-8"))
    assert record["ticket"] == number
    assert [e["name"] for e in record["removed"]["ticket_event"]] == history
    assert record["removed"]["progress_report"][0]["text"] == "Đã làm 50%"
    assert record["unlinked"]["nonconformity"][0]["ticket_id"] == ticket_id
    files = list((folder / "files").iterdir())
    assert len(files) == 2 and all(p.read_bytes() == PDF for p in files)
    assert (folder / "BM.CTCL.01.pdf").read_bytes().startswith(b"%PDF")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["sha256"]) == {"ticket.json", "BM.CTCL.01.pdf", *(f"files/{p.name}" for p in files)}
    db.session.expire_all()
    assert db.session.get(Ticket, ticket_id) is None
    assert db.session.query(Attachment).filter_by(ticket_id=ticket_id).count() == 0
    assert db.session.query(Nonconformity).filter_by(ticket_id=ticket_id).count() == 0


def test_a_declined_ticket_reaches_retention_after_its_period(make_ticket, db, user, tmp_path, app):
    from app.tickets import services as tickets

    ticket = make_ticket(state="unit_review", description="Phiếu không cần hành động")
    ticket = tickets.apply_transition(user("truongphong.ktht"), ticket.id, "decline", {"reason": "Không cần"})
    assert ticket.state == "declined"
    ticket.closed_on = _years_ago(2)  # within the period: kept
    db.session.commit()
    assert ticket not in services.past_retention()
    ticket.closed_on = _years_ago(4)
    db.session.commit()
    ticket_id, number = ticket.id, ticket.display_number
    assert ticket in services.past_retention()
    assert number in app.test_cli_runner().invoke(args=["qms", "retention", "--agency", "CAMLAM", "--list"]).output
    archived, failed = services.archive_past_retention(tmp_path)
    assert failed == []
    folder = next(f for f in archived if f.name.endswith(f"id{ticket_id}"))
    record = json.loads((folder / "ticket.json").read_text(encoding="utf-8"))
    decline = record["removed"]["ticket_event"][-1]
    assert (decline["name"], decline["to_state"], decline["comment"]) == ("decline", "declined", "Không cần")
    db.session.expire_all()
    assert db.session.get(Ticket, ticket_id) is None


def test_declining_a_ticket_gives_it_a_closing_date(make_ticket, user):
    from app.tickets import services as tickets

    ticket = make_ticket(state="unit_review")
    ticket = tickets.apply_transition(user("truongphong.ktht"), ticket.id, "decline", {"reason": "Không cần"})
    assert ticket.closed_on == datetime.date.today()


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
