"""Tickets through the pages: every transition for the allowed role and refused ones."""
import datetime
import re

import pytest

from app.tickets import workflow
from tests.conftest import csrf_token, future, iso_day

# transition: (state to start from, allowed user, refused user, form fields)
CASES = {
    "submit": ("draft", "canbo.ktht", "truongphong.ktht", {}),
    "return": ("unit_review", "truongphong.ktht", "canbo.ktht", {"comment": "Bổ sung số hồ sơ"}),
    "decline": ("unit_review", "truongphong.ktht", "thuky.iso", {"reason": "Đã xử lý tại chỗ"}),
    "forward": ("unit_review", "truongphong.ktht", "truongban.iso", {"signs": ["recurring", "serious"]}),
    "present": ("iso_review", "thuky.iso", "truongban.iso", {"note": "Tổng hợp, trình phân công"}),
    "assign": ("leader_review", "truongban.iso", "thuky.iso", "ASSIGN"),
    "propose": ("analysis", "canbo.ktht", "truongban.iso",
                {"cause": "Nguyên nhân", "measures": "Biện pháp", "completion_date": future(15)}),
    "reject_proposal": ("approval", "truongban.iso", "canbo.ktht", {"comment": "Chưa đủ"}),
    "approve": ("approval", "truongban.iso", "chutich", "APPROVE"),
    "report_done": ("implementation", "canbo.ktht", "truongban.iso", {"result_summary": "Xong"}),
    "verify": ("verification", "chutich", "thuky.iso", {"result": "pass", "verified_on": iso_day()}),
    "close": ("verified", "thuky.iso", "chutich", {"evidence": "Biên bản kiểm tra số 3"}),
}


def _fields(spec, user, unit):
    if spec == "ASSIGN":
        return {"assignee_unit": str(unit("KTHT").id), "assignee": str(user("canbo.ktht").id)}
    if spec == "APPROVE":
        return {"implementing_unit": str(unit("KTHT").id), "implementer": str(user("canbo.ktht").id),
                "due_date": future(30)}
    return spec


def _post(client, ticket, name, fields, version=None):
    url = f"/tickets/{ticket.id}/do/{name}"
    token = csrf_token(client.get("/tickets/add").text)
    return client.post(url, data={**fields, "csrf_token": token,
                                  "version": version if version is not None else ticket.version})


def test_every_transition_is_in_the_table():
    assert set(CASES) == {t.name for t in workflow.TRANSITIONS}


@pytest.mark.parametrize("name", CASES)
def test_transition_allowed_and_refused(name, make_ticket, client_as_user, user, unit, db):
    state, allowed, refused, spec = CASES[name]
    fields = _fields(spec, user, unit)
    ticket = make_ticket(state=state)

    # the refused user sees the ticket but may not act: 403, nothing changes
    response = _post(client_as_user(refused), ticket, name, fields)
    assert response.status_code == 403, response.status_code
    db.session.refresh(ticket)
    assert ticket.state == state

    # a user of another unit cannot even see it: 404
    assert _post(client_as_user("canbo.tnmt"), ticket, name, fields).status_code == 404

    # the allowed user: the form, then the action
    client = client_as_user(allowed)
    form = client.get(f"/tickets/{ticket.id}/do/{name}")
    assert form.status_code == 200
    assert f'data-transition="{name}"' in client.get(f"/tickets/show/{ticket.id}").text
    response = _post(client, ticket, name, fields)
    assert response.status_code == 302, response.text[-1500:]
    db.session.refresh(ticket)
    assert ticket.state == workflow.WORKFLOW.transition(name).target
    assert ticket.events[-1].name == name and ticket.events[-1].actor.username == allowed

    # the same action again: the state no longer allows it
    assert _post(client, ticket, name, fields).status_code in (409, 403)


def test_missing_fields_are_refused_and_typed_text_kept(make_ticket, client_as_user, db):
    ticket = make_ticket(state="analysis")
    client = client_as_user("canbo.ktht")
    response = _post(client, ticket, "propose", {"cause": "Nguyên nhân đã gõ", "measures": ""})
    assert response.status_code == 422
    assert "Nguyên nhân đã gõ" in response.text
    assert "Trường này là bắt buộc" in response.text or "bắt buộc" in response.text
    db.session.refresh(ticket)
    assert ticket.state == "analysis"


def test_stale_form_is_refused_and_keeps_text(make_ticket, client_as_user, db):
    ticket = make_ticket(state="unit_review")
    client = client_as_user("truongphong.ktht")
    response = _post(client, ticket, "return", {"comment": "Ý kiến dài đã gõ"}, version=ticket.version - 1)
    assert response.status_code == 409
    assert "Ý kiến dài đã gõ" in response.text and "tải lại" in response.text.lower()


def test_ticket_page_says_who_acts_next(make_ticket, client_as_user):
    ticket = make_ticket(state="iso_review")
    page = client_as_user("canbo.ktht").get(f"/tickets/show/{ticket.id}").text
    assert "Thư ký ISO" in page and "data-transition" not in page
    secretary_page = client_as_user("thuky.iso").get(f"/tickets/show/{ticket.id}").text
    assert 'data-transition="present"' in secretary_page
    ticket = make_ticket(state="leader_review")
    leader_page = client_as_user("truongban.iso").get(f"/tickets/show/{ticket.id}").text
    assert 'data-transition="assign"' in leader_page


def test_staff_opens_a_ticket_for_own_unit_only(client_as_user, unit, db):
    from app.tickets.models import Ticket

    client = client_as_user("canbo.ktht")
    page = client.get("/tickets/add")
    base = {"kind": "corrective", "source": "feedback", "description": "Phản ánh của công dân về hồ sơ",
            "requested_on": iso_day(), "csrf_token": csrf_token(page.text)}
    refused = client.post("/tickets/add", data={**base, "requesting_unit": str(unit("TNMT").id)})
    assert refused.status_code == 200 and "đơn vị của mình" in refused.text
    assert "Phản ánh của công dân về hồ sơ" in refused.text
    accepted = client.post("/tickets/add", data={**base, "requesting_unit": str(unit("KTHT").id)})
    assert accepted.status_code == 302
    ticket = db.session.query(Ticket).filter_by(description="Phản ánh của công dân về hồ sơ").one()
    assert ticket.state == "draft" and ticket.created_by.username == "canbo.ktht"
    assert ticket.events[0].name == "create"


def test_only_drafts_can_be_edited_or_deleted(make_ticket, client_as_user, db):
    from app.tickets.models import Ticket

    ticket = make_ticket(state="unit_review")
    client = client_as_user("canbo.ktht")
    assert client.get(f"/tickets/edit/{ticket.id}").status_code == 409
    token = csrf_token(client.get("/tickets/add").text)
    client.post(f"/tickets/delete/{ticket.id}", data={"csrf_token": token})
    assert db.session.get(Ticket, ticket.id) is not None
    draft_id = make_ticket().id
    assert client.get(f"/tickets/edit/{draft_id}").status_code == 200
    head = client_as_user("truongphong.ktht")
    assert head.get(f"/tickets/edit/{draft_id}").status_code == 403
    head.post(f"/tickets/delete/{draft_id}", data={"csrf_token": csrf_token(head.get("/tickets/add").text)})
    assert db.session.get(Ticket, draft_id) is not None  # only its author deletes a draft
    client.post(f"/tickets/delete/{draft_id}", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(Ticket, draft_id) is None


def test_list_filters_and_search(make_ticket, client_as_user, db):
    ticket = make_ticket(state="implementation", description="Từ khóa độc nhất XYZ")
    ticket.due_date = datetime.date.today() - datetime.timedelta(days=2)
    db.session.commit()
    client = client_as_user("thuky.iso")
    assert ticket.display_number in client.get("/tickets/list/?q=XYZ").text
    assert ticket.display_number in client.get(f"/tickets/list/?q={ticket.display_number}").text
    overdue = client.get("/tickets/list/?overdue=1").text
    assert ticket.display_number in overdue and "Quá hạn" in overdue
    assert ticket.display_number not in client.get("/tickets/list/?state=closed").text
    assert ticket.display_number in client.get("/tickets/list/?state=implementation&kind=corrective").text
    # another unit's staff does not see it in any list
    assert ticket.display_number not in client_as_user("canbo.tnmt").get("/tickets/list/?q=XYZ").text


def test_list_page_uses_a_fixed_number_of_queries(make_ticket, client_as_user, count_queries):
    client = client_as_user("truongban.iso")
    client.get("/tickets/list/")
    with count_queries() as before:
        assert client.get("/tickets/list/").status_code == 200
    for _ in range(30):
        make_ticket()
    with count_queries() as after:
        page = client.get("/tickets/list/")
    assert page.text.count('class="ticket-row"') == 25
    # 25 rows or a handful: the same small bound (selectin loads skip empty relations)
    assert before.count <= 12 and after.count <= 12, "\n".join(after.statements)


def test_workflow_help_page_lists_the_table(client_as_user):
    page = client_as_user("canbo.ktht").get("/help/workflow").text
    assert "<code>" not in page  # labels, never codes
    assert "Lãnh đạo Ban ISO" in page and "Kiểm tra xác nhận kết quả" in page


def test_the_ticket_page_reads_the_people_it_names_at_once(make_ticket, client_as_user, count_queries):
    """A ticket walked by several people: its page names each of them (requester, implementer,
    each step's actor) and reads them in one statement, not one per person."""
    ticket = make_ticket(state="verification")
    client = client_as_user("truongban.iso")
    client.get(f"/tickets/show/{ticket.id}")
    with count_queries() as counter:
        page = client.get(f"/tickets/show/{ticket.id}")
    assert page.status_code == 200
    for name in {e.actor.get_full_name() for e in ticket.events if e.actor} | {ticket.requester.get_full_name()}:
        assert name in page.text, name
    one_person_each = [s for s in counter.statements
                       if s.lstrip().startswith("SELECT ab_user") and "JOIN" not in s and " IN " not in s]
    assert one_person_each == [], "\n".join(s[s.index("FROM"):][:200] for s in one_person_each)
    assert counter.count <= 15, "\n".join(s.split("\n")[0][:120] for s in counter.statements)


def test_the_ticket_page_keeps_each_statement_small(make_ticket, client_as_user, count_queries):
    """PostgreSQL plans a statement of eight joined tables in about 7 ms (the time of the whole
    query on a small one): the ticket page reads its people in a statement of their own."""
    ticket = make_ticket(state="verification")
    client = client_as_user("truongban.iso")
    client.get(f"/tickets/show/{ticket.id}")
    with count_queries() as counter:
        assert client.get(f"/tickets/show/{ticket.id}").status_code == 200
    of_the_ticket = [s for s in counter.statements if "ticket.id, ticket.number" in s.split("FROM ticket")[0]]
    assert of_the_ticket, counter.statements
    widest = max(of_the_ticket, key=lambda s: s.count(" JOIN "))
    assert widest.count(" JOIN ") <= 3, widest[:400]


def test_the_ticket_page_reads_its_progress_reports_files_at_once(make_ticket, client_as_user, count_queries, user):
    """A ticket with many progress reports costs the page no more statements than one with one:
    the reports' files are read together, not one statement per report."""
    from app.tickets import services

    ticket = make_ticket(state="implementation")
    implementer = user("canbo.ktht")
    client = client_as_user("truongban.iso")

    def statements():
        client.get(f"/tickets/show/{ticket.id}")
        with count_queries() as counter:
            page = client.get(f"/tickets/show/{ticket.id}")
        assert page.status_code == 200
        return counter.count, page.text

    services.add_progress_report(implementer, ticket.id, "Báo cáo tiến độ lần 1")
    one, _ = statements()
    for n in range(2, 7):
        services.add_progress_report(implementer, ticket.id, f"Báo cáo tiến độ lần {n}")
    many, page = statements()
    assert "Báo cáo tiến độ lần 6" in page
    assert many == one, (one, many)


def _collections_read(statements) -> set[str]:
    """The collections of a record read on their own, as `<table>.<its key to the record>`."""
    return {m.group(1) for s in statements
            for m in re.finditer(r"WHERE (?:\?|%\(\w+\)s(?:::\w+)?) = (\w+\.\w+)", s)}


def test_the_ticket_page_reads_only_the_collections_the_ticket_has(make_ticket, client_as_user, count_queries, db):
    """The ticket's own statement says which of its follow-ups, linked NCs, revisions of box 2,
    change requests, files and progress reports exist: the page reads only those (a ticket has
    few of them; each read cost about 0.8 ms, a fifth of the page)."""
    from app.tickets.models import Ticket

    ticket = make_ticket(state="verification")
    client = client_as_user("truongban.iso")
    client.get(f"/tickets/show/{ticket.id}")
    with count_queries() as counter:
        assert client.get(f"/tickets/show/{ticket.id}").status_code == 200
    assert _collections_read(counter.statements) == set(), counter.statements
    assert not [s for s in counter.statements if s.lstrip().startswith("SELECT progress_report.")]  # it has none

    follow_up = make_ticket(description="Phiếu tiếp theo — kiểm thử")
    follow_up.follows_id = ticket.id
    db.session.commit()
    with count_queries() as counter:
        page = client.get(f"/tickets/show/{ticket.id}")
    assert _collections_read(counter.statements) == {"ticket.follows_id"}
    assert f'>{follow_up.display_number or ""}</a>' in page.text and 'class="follow-up"' in page.text
    db.session.delete(db.session.get(Ticket, follow_up.id))
    db.session.commit()


def test_the_ticket_page_reads_its_nonconformities_files_and_comments_only_when_it_has_some(
        make_ticket, client_as_user, count_queries, db, user):
    """A ticket with no linked NC and no comment: its page reads neither (each read cost a
    statement on every ticket page). With linked NCs, their evidence files come in the same
    statement as the NCs, only those of the NCs the reader may see."""
    from app.tickets.models import Attachment, Nonconformity

    ticket = make_ticket(state="analysis")
    client = client_as_user("truongban.iso")
    client.get(f"/tickets/show/{ticket.id}")
    with count_queries() as counter:
        assert client.get(f"/tickets/show/{ticket.id}").status_code == 200
    assert not [s for s in counter.statements if re.match(r"\s*SELECT (nonconformity|attachment|comment)\.", s)]

    staff = user("canbo.ktht")
    ncs = db.session.query(Nonconformity).filter(Nonconformity.ticket_id.is_(None)).order_by(Nonconformity.id).all()
    seen = next(nc for nc in ncs if nc.unit.code == "KTHT")
    hidden = next(nc for nc in ncs if nc.unit.code != "KTHT" and staff.id not in (nc.created_by_id, nc.detected_by_id))
    for nc in (seen, hidden):
        nc.ticket_id = ticket.id
        db.session.add(Attachment(nonconformity_id=nc.id, filename=f"bang-chung-{nc.id}.pdf",
                                  content_type="application/pdf", size=2048, data=b"%PDF-1.4",
                                  uploaded_by_id=staff.id))
    db.session.commit()
    try:
        for reader, shown in (("truongban.iso", {seen, hidden}), ("canbo.ktht", {seen})):
            client = client_as_user(reader)
            client.get(f"/tickets/show/{ticket.id}")
            with count_queries() as counter:
                page = client.get(f"/tickets/show/{ticket.id}").text
            reading = [s for s in counter.statements if re.match(r"\s*SELECT (nonconformity|attachment)\.", s)]
            assert len(reading) == 1, reading
            for nc in (seen, hidden):
                assert f"/nonconformities/show/{nc.id}" in page
                assert (f"bang-chung-{nc.id}.pdf" in page) == (nc in shown), (reader, nc.id)
    finally:
        for nc in (seen, hidden):
            db.session.query(Attachment).filter_by(nonconformity_id=nc.id).delete()
            nc.ticket_id = None
        db.session.commit()


def test_a_ticket_s_snapshot_holds_its_columns_only(app, make_ticket, db):
    """What a statement reads with a ticket (whether it has comments) is no column of it: the
    history of a step never reports it as changed."""
    from flask import g

    from app.tickets import services
    from app.workflow import changed_since, snapshot

    ticket = make_ticket()
    with app.test_request_context():
        g.user = ticket.created_by
        read, _ = services.ticket_for_page(ticket.created_by, ticket.id)
        before = snapshot(read)
        assert "has_comments" not in before and "description" in before
        db.session.flush()
        assert changed_since(read, before) == {}
