"""The workflow table and the ticket rules, tested without HTTP."""
import datetime

import pytest

from app.tickets import services, workflow
from app.tickets.models import Box2Revision, Nonconformity, Ticket
from tests.conftest import future

FIELD_TYPES = {"string", "text", "date", "integer", "boolean", "choice", "user", "unit"}


def test_the_table_is_consistent():
    names = [t.name for t in workflow.TRANSITIONS]
    assert len(names) == len(set(names))
    for t in workflow.TRANSITIONS:
        assert set(t.sources) <= set(workflow.STATES) and t.target in workflow.STATES
        for field in t.fields:
            assert field.type in FIELD_TYPES
            assert (field.choices is not None) == (field.type == "choice")
        if t.branch:
            assert set(t.branch[1].values()) <= set(workflow.STATES)
    leaving = {s for t in workflow.TRANSITIONS for s in t.sources} | {"ineffective"}
    assert leaving | set(workflow.FINAL_STATES) == set(workflow.STATES)
    # SPEC §3, row by row
    spec = {
        "submit": ("draft", "unit_review"), "return": ("unit_review", "draft"),
        "decline": ("unit_review", "declined"), "forward": ("unit_review", "iso_review"),
        "present": ("iso_review", "leader_review"),
        "assign": ("leader_review", "analysis"), "propose": ("analysis", "approval"),
        "reject_proposal": ("approval", "analysis"), "approve": ("approval", "implementation"),
        "report_done": ("implementation", "verification"), "verify": ("verification", "verified"),
        "close": ("verified", "closed"),
    }
    assert {t.name: (t.sources[0], t.target) for t in workflow.TRANSITIONS} == spec


def test_who_may_act_in_unit_review(make_ticket, user):
    ticket = make_ticket(state="unit_review")
    expected = {
        "truongphong.ktht": {"return", "decline", "forward"},
        "truongphong.tnmt": set(), "canbo.ktht": set(), "truongban.iso": set(), "chutich": set(),
        "admin": {"return", "decline", "forward"},
    }
    for username, names in expected.items():
        assert {t.name for t in services.available_transitions(user(username), ticket)} == names, username


def test_refusals_have_the_right_code(make_ticket, user, db):
    ticket = make_ticket(state="unit_review")
    with pytest.raises(services.NotFound):  # hidden: another unit's staff
        services.apply_transition(user("canbo.tnmt"), ticket.id, "forward", {"signs": ["serious"]})
    with pytest.raises(services.Forbidden):  # visible but wrong role
        services.apply_transition(user("canbo.ktht"), ticket.id, "forward", {"signs": ["serious"]})
    with pytest.raises(services.Conflict):  # wrong state
        services.apply_transition(user("truongban.iso"), ticket.id, "approve", {})
    with pytest.raises(services.Invalid) as missing:  # missing field
        services.apply_transition(user("truongphong.ktht"), ticket.id, "return", {"comment": "  "})
    assert set(missing.value.errors) == {"comment"}
    with pytest.raises(services.Conflict):  # stale version
        services.apply_transition(user("truongphong.ktht"), ticket.id, "return",
                                  {"comment": "Bổ sung"}, version=ticket.version - 1)
    db.session.refresh(ticket)
    assert ticket.state == "unit_review"


def test_happy_path_numbers_history_and_boxes(make_ticket, db):
    first = make_ticket(state="unit_review")
    ticket = make_ticket(state="closed")
    assert ticket.year == datetime.date.today().year
    assert ticket.number == first.number + 1
    assert ticket.display_number == f"{ticket.number:03d}/{ticket.year}"
    names = [e.name for e in ticket.events]
    assert names == ["create", "submit", "forward", "present", "assign", "propose", "approve",
                     "report_done", "verify", "close"]
    assert all(e.actor_id for e in ticket.events)
    assert ticket.signs == ["serious"] and ticket.implementing_unit_head.username == "truongphong.ktht"
    assert ticket.verification_result == "pass" and ticket.evidence_text == "Biên bản kiểm tra"
    assert ticket.closed_on == datetime.date.today()


def test_return_keeps_text_and_comment(make_ticket, user, db):
    ticket = make_ticket(state="unit_review", description="Nội dung ban đầu")
    services.apply_transition(user("truongphong.ktht"), ticket.id, "return", {"comment": "Ghi rõ số hồ sơ"})
    db.session.refresh(ticket)
    assert ticket.state == "draft" and ticket.description == "Nội dung ban đầu"
    assert ticket.events[-1].comment == "Ghi rõ số hồ sơ"
    number = ticket.number
    services.apply_transition(user("canbo.ktht"), ticket.id, "submit", {})
    assert ticket.number == number  # resubmission keeps the number


def test_failed_verification_closes_and_opens_a_follow_up(make_ticket, user, db):
    ticket = make_ticket(state="verification")
    services.apply_transition(user("chutich"), ticket.id, "verify",
                              {"result": "fail", "verified_on": datetime.date.today().isoformat()})
    db.session.refresh(ticket)
    assert ticket.state == "closed_ineffective"
    [follow_up] = ticket.follow_ups
    assert follow_up.state == "iso_review" and follow_up.follows_id == ticket.id
    assert follow_up.number == ticket.number + 1
    assert follow_up.requesting_unit_id == ticket.requesting_unit_id
    assert ticket.display_number in follow_up.description
    assert [e.name for e in ticket.events][-2:] == ["verify", "close_ineffective"]
    assert follow_up.events[0].name == "create_follow_up"


def test_new_proposal_keeps_the_old_box2(make_ticket, user, db):
    ticket = make_ticket(state="approval")
    services.apply_transition(user("truongban.iso"), ticket.id, "reject_proposal", {"comment": "Chưa rõ"})
    services.apply_transition(user("canbo.ktht"), ticket.id, "propose", {
        "cause": "Nguyên nhân mới", "measures": "Biện pháp mới", "completion_date": future(40)})
    revisions = db.session.query(Box2Revision).filter_by(ticket_id=ticket.id).all()
    assert [r.cause for r in revisions] == ["Nguyên nhân gốc"]
    assert ticket.cause == "Nguyên nhân mới"


def test_propose_refuses_a_past_date(make_ticket, user):
    ticket = make_ticket(state="analysis")
    with pytest.raises(services.Invalid) as error:
        services.apply_transition(user("canbo.ktht"), ticket.id, "propose", {
            "cause": "x", "measures": "y", "completion_date": "01/01/2020"})
    assert "completion_date" in error.value.errors


def test_assignee_must_work_in_the_assigned_unit(make_ticket, user, unit):
    ticket = make_ticket(state="leader_review")
    with pytest.raises(services.Invalid) as error:
        services.apply_transition(user("truongban.iso"), ticket.id, "assign",
                                  {"assignee_unit": unit("TNMT").id, "assignee": user("canbo.ktht").id})
    assert "assignee" in error.value.errors


def test_approved_change_is_a_dated_amendment_of_box2(make_ticket, user, db):
    """5.5: the first measures stay; the approved change is added to them, dated, and the
    history keeps the old and new completion dates."""
    ticket = make_ticket(state="implementation")
    first_due = ticket.due_date
    new_due = datetime.date.today() + datetime.timedelta(days=50)
    request = {"kind": "measures", "text": "Cần thêm thời gian", "new_measures": "Biện pháp bổ sung",
               "new_due_date": new_due.isoformat()}
    with pytest.raises(services.Forbidden):
        services.request_change(user("truongban.iso"), ticket.id, request)
    with pytest.raises(services.Invalid) as past:
        services.request_change(user("canbo.ktht"), ticket.id, {**request, "new_due_date": "01/01/2020"})
    assert "new_due_date" in past.value.errors
    change = services.request_change(user("canbo.ktht"), ticket.id, request)
    with pytest.raises(services.Forbidden):
        services.decide_change(user("chutich"), change.id, True)
    services.decide_change(user("truongban.iso"), change.id, True, "Đồng ý")
    db.session.refresh(ticket)
    assert ticket.measures == "Biện pháp khắc phục"  # the original measures are not replaced
    assert [(c.new_measures, c.decided_at.date()) for c in ticket.amendments] == [
        ("Biện pháp bổ sung", datetime.date.today())]
    assert ticket.due_date == new_due
    event = ticket.events[-1]
    assert event.name == "change_approved"
    assert event.data["changes"]["due_date"] == [first_due.isoformat(), new_due.isoformat()]
    with pytest.raises(services.Conflict):
        services.decide_change(user("truongban.iso"), change.id, False)


def test_the_ticket_page_shows_the_original_measures_and_every_amendment(make_ticket, user, client_as):
    ticket = make_ticket(state="implementation")
    for text in ("Bổ sung lần một", "Bổ sung lần hai"):
        change = services.request_change(user("canbo.ktht"), ticket.id, {"kind": "measures", "text": "Lý do",
                                                                           "new_measures": text})
        services.decide_change(user("truongban.iso"), change.id, True)
    page = client_as("IsoLeader").get(f"/tickets/show/{ticket.id}").text
    assert "Biện pháp khắc phục" in page
    amendments = page[page.index("box2-amendments"):]
    assert amendments.index("Bổ sung lần một") < amendments.index("Bổ sung lần hai")
    history = page[page.index('class="table table-condensed table-striped history qms-cards"'):]
    assert 'class="changes"' in history and "→" in history  # approve: fields old → new
    assert "canbo.ktht" not in history.split("changes", 1)[1][:400]  # names, not ids or logins


def test_progress_reports_overdue_and_missing_reports(make_ticket, user, db):
    ticket = make_ticket(state="implementation")
    with pytest.raises(services.Forbidden):
        services.add_progress_report(user("truongban.iso"), ticket.id, "x")
    today = datetime.date.today()
    ticket.approved_on, ticket.due_date = today - datetime.timedelta(days=40), today + datetime.timedelta(days=60)
    db.session.commit()
    assert services.report_required(ticket, 30)
    assert ticket.id in services.missing_report_ids()
    services.add_progress_report(user("canbo.ktht"), ticket.id, "Đã hoàn thành 50%")
    assert ticket.id not in services.missing_report_ids()
    assert ticket.id in services.missing_report_ids(on=today + datetime.timedelta(days=31))
    assert not services.is_overdue(ticket)
    ticket.due_date = today - datetime.timedelta(days=1)
    db.session.commit()
    assert services.is_overdue(ticket)
    assert ticket in db.session.query(Ticket).filter(services.overdue_condition()).all()
    verification = make_ticket(state="verification")
    with pytest.raises(services.Conflict):
        services.add_progress_report(user("canbo.ktht"), verification.id, "x")


def test_a_ticket_s_missing_report_answers_as_the_lists_rule(make_ticket, user, db):
    """report_missing (one ticket with its reports: its page) answers as missing_report_ids
    (the SQL rule of the lists and the figures), whatever the dates and reports."""
    day = datetime.timedelta(days=1)
    today = datetime.date.today()
    ticket = make_ticket(state="implementation")
    for approved_ago, due_in, reported_ago in [(40, 60, None), (40, 60, 10), (40, 60, 35), (10, 60, None),
                                               (40, -5, None), (40, -10, 45), (31, 60, 30), (29, 2, None)]:
        for report in list(ticket.progress_reports):
            db.session.delete(report)
        ticket.approved_on, ticket.due_date = today - approved_ago * day, today + due_in * day
        db.session.commit()
        if reported_ago is not None:
            report = services.add_progress_report(user("canbo.ktht"), ticket.id, "Báo cáo tiến độ")
            report.reported_on = today - reported_ago * day
            db.session.commit()
        for on in (today, today + 20 * day, today + 31 * day):
            case = (approved_ago, due_in, reported_ago, on)
            assert services.report_missing(ticket, on) == (ticket.id in services.missing_report_ids(on=on)), case
    verification = make_ticket(state="verification")
    assert not services.report_missing(verification) and verification.id not in services.missing_report_ids()


def test_visibility(make_ticket, user, db):
    ticket = make_ticket(creator="canbo.ktht", unit_code="KTHT", state="unit_review")
    for username, sees in [("canbo.ktht", True), ("truongphong.ktht", True), ("canbo.tnmt", False),
                           ("truongphong.tnmt", False), ("danhgia", True), ("thuky.iso", True),
                           ("truongban.iso", True), ("chutich", True), ("admin", True)]:
        visible = db.session.query(Ticket.id).filter(
            Ticket.id == ticket.id, services.ticket_visibility(user(username))).count()
        assert bool(visible) == sees, username


def test_recurrence_rule(db, user, unit):
    from app.organisation.models import Agency
    from app.tickets.models import NcCategory

    series = services.recurring_series()
    keys = {(s["unit"].code, s["category"].name) for s in series}
    assert ("BPMC", "Trả kết quả TTHC trễ hạn") in keys  # demo: 5 in a row
    assert all(len(s["nonconformities"]) > 3 for s in series)

    category = NcCategory(name="Kiểm thử lặp lại", active=True)
    db.session.add(category)
    db.session.flush()
    day = datetime.date.today() - datetime.timedelta(days=100)

    def nc(offset):
        record = Nonconformity(unit_id=unit("TP").id, category_id=category.id, source="other",
                               detected_on=day + datetime.timedelta(days=offset), description=f"KPH {offset}",
                               created_by_id=user("admin").id)
        db.session.add(record)
        return record

    for offset in (1, 2, 3):
        nc(offset)
    db.session.commit()

    def flagged():
        return [s for s in services.recurring_series() if s["category"].id == category.id]

    assert flagged() == []  # 3 is not more than 3
    settings = db.session.query(Agency).one()
    settings.recurrence_threshold = 2
    db.session.commit()
    assert len(flagged()) == 1
    settings.recurrence_threshold = 3
    nc(4)
    db.session.commit()
    assert len(flagged()[0]["nonconformities"]) == 4

    # One click: a pre-filled corrective draft linked to the series; the flag goes away.
    ticket = services.open_ticket_from_series(user("danhgia"), unit("TP").id, category.id)
    assert ticket.kind == "corrective" and ticket.state == "draft"
    assert "Kiểm thử lặp lại" in ticket.description and len(ticket.nonconformities) == 4
    assert flagged() == []

    # An effective corrective action closed between NCs restarts the count.
    ticket.state, ticket.closed_on = "closed", day + datetime.timedelta(days=5)
    for offset in (6, 7, 8):
        nc(offset)
    db.session.commit()
    assert flagged() == []
