"""Hand-off notifications (app.reminders.handoff): whoever must act next hears at once, in the
panel, and by e-mail as they chose; the person who acted never does."""
import datetime
from contextlib import contextmanager

from sqlalchemy import delete, func, select

from app.organisation import roles
from app.organisation.models import QmsUser
from app.reminders import handoff, services as reminders
from app.reminders.models import Notification, ReminderLog
from app.tickets import services, workflow
from app.tickets.models import Ticket
from app.workflow import AtWork, has_role
from tests.conftest import future, work
from tests.test_reminders_overlap import _to

PATH = (  # the standard path of a KTHT ticket: (actor, transition, fields)
    ("canbo.ktht", "submit", {}),
    ("truongphong.ktht", "forward", {"signs": ["serious"]}),
    ("thuky.iso", "present", {"note": "Tổng hợp"}),
    ("truongban.iso", "assign", None),  # fields need ids: filled in by the test
    ("canbo.ktht", "propose", {"cause": "Nguyên nhân", "measures": "Biện pháp", "completion_date": future(20)}),
    ("truongban.iso", "approve", None),
    ("canbo.ktht", "report_done", {"result_summary": "Đã xong"}),
    ("chutich", "verify", {"result": "pass", "verified_on": datetime.date.today().isoformat()}),
    ("thuky.iso", "close", {"evidence": "Biên bản"}),
)


def _last_id(db) -> int:
    return db.session.scalar(select(func.max(Notification.id))) or 0


def _told_since(db, last: int) -> set[int]:
    return set(db.session.scalars(select(Notification.user_id).where(Notification.id > last)))


def _expected(db, ticket, actor) -> set[int]:
    """From the workflow table: every active person who may take a step out of the ticket's
    state (Admin is nobody's next step), its creator and requester; never the actor."""
    people = db.session.scalars(select(QmsUser).where(QmsUser.active.is_(True))).all()
    steps = workflow.WORKFLOW.next_steps(ticket.state)
    acting = {p.id for p in people if not has_role(p, roles.ADMIN)
              and any(step.actor.allows(p, ticket) for step in steps)}
    return (acting | {ticket.created_by_id, ticket.requester_id}) - {actor.id}


def test_each_ticket_transition_tells_whoever_acts_next_and_the_requester(db, make_ticket, user, unit):
    ticket = make_ticket()
    fills = {"assign": {"assignee_unit": unit("KTHT").id, "assignee": user("canbo.ktht").id},
             "approve": {"implementing_unit": unit("KTHT").id, "implementer": user("canbo.ktht").id,
                         "due_date": future(20)}}
    told = {}
    for username, name, fields in PATH:
        actor, last = user(username), _last_id(db)
        ticket = services.apply_transition(actor, ticket.id, name, fills[name] if fields is None else fields)
        told[name] = _told_since(db, last)
        assert told[name] == _expected(db, ticket, actor), name
        assert actor.id not in told[name]
    assert user("thuky.iso").id in told["forward"]  # the unit head forwards: the secretary learns
    assert user("truongphong.ktht").id in told["submit"]
    assert user("truongban.iso").id in told["present"] and user("chutich").id in told["report_done"]
    assert user("canbo.ktht").id in told["close"]  # the requester hears their ticket was closed
    assert user("admin").id not in set().union(*told.values())
    [note] = db.session.scalars(select(Notification).where(
        Notification.user_id == user("canbo.ktht").id).order_by(Notification.id.desc()).limit(1))
    assert note.link == f"/tickets/show/{ticket.id}" and "Đã đóng" in note.body


def test_an_action_inside_a_state_tells_whom_it_hands_to(db, make_ticket, user):
    ticket = make_ticket(state="implementation")
    last = _last_id(db)
    services.request_change(user("canbo.ktht"), ticket.id, {"kind": "resources", "text": "Cần thêm người"})
    assert _told_since(db, last) == {user("truongban.iso").id}  # Action.hands_to: decide_change


def test_the_follow_up_of_an_ineffective_ticket_goes_to_the_secretary_at_once(db, make_ticket, user):
    ticket = make_ticket(state="verification")
    last = _last_id(db)
    services.apply_transition(user("chutich"), ticket.id, "verify",
                              {"result": "fail", "verified_on": datetime.date.today().isoformat()})
    follow_up = db.session.query(Ticket).filter_by(follows_id=ticket.id).one()
    notes = db.session.scalars(select(Notification).where(
        Notification.id > last, Notification.user_id == user("thuky.iso").id)).all()
    assert [n.link for n in notes] == [f"/tickets/show/{follow_up.id}"]  # the closed one needs nothing of them


@contextmanager
def choosing(db, username, choice):
    """`username` chooses `choice` for the test; their hand-offs' outbox rows go afterwards."""
    person = db.session.query(QmsUser).filter_by(username=username).one()
    handoff.choose_email(person, choice)
    try:
        yield person
    finally:
        db.session.rollback()
        handoff.choose_email(person, "never")
        db.session.execute(delete(ReminderLog).where(ReminderLog.user_id == person.id,
                                                     ReminderLog.key.startswith(reminders.HANDOFF)))
        db.session.commit()


def test_mail_at_once_is_one_job_that_sends_one_mail_never_twice(job_queue, db, make_ticket, user, smtp):
    ticket = make_ticket(state="unit_review")
    with choosing(db, "thuky.iso", "now") as secretary:
        services.apply_transition(user("truongphong.ktht"), ticket.id, "forward", {"signs": ["serious"]})
        [job] = job_queue.jobs  # only the secretary chose mail at once
        assert job.description == "app.reminders.handoff.send_now" and job.retries_left == 5
        assert smtp.messages == []  # never inside the request
        work(job_queue)
        [message] = _to(smtp, secretary.email)
        assert message["Subject"].startswith("[Cải tiến HTQLCL]") and ticket.display_number in message["Subject"]
        assert f"/tickets/show/{ticket.id}" in message.get_body(("plain",)).get_content()
        [entry_id] = job.args[2]
        assert handoff.send_now(entry_id) == 0  # a retry finds it sent
        assert reminders.send_digest(secretary.id, datetime.date.today().isoformat()) == 0  # so does the digest
        assert len(_to(smtp, secretary.email)) == 1


def test_digest_choice_waits_for_the_next_daily_digest(db, make_ticket, user, smtp):
    ticket = make_ticket(state="unit_review")
    with choosing(db, "thuky.iso", "digest") as secretary:
        services.apply_transition(user("truongphong.ktht"), ticket.id, "forward", {"signs": ["serious"]})
        assert smtp.messages == []
        tomorrow = datetime.date.today() + datetime.timedelta(days=1)  # the digest may have run today
        assert reminders.send_digest(secretary.id, tomorrow.isoformat()) == 1
        [message] = _to(smtp, secretary.email)
        assert ticket.display_number in message.get_body(("plain",)).get_content()
        assert reminders.send_digest(secretary.id, tomorrow.isoformat()) == 0


def test_the_email_choice_is_made_on_a_vietnamese_page(as_staff, db, user):
    from tests.conftest import csrf_token

    page = as_staff.get("/notifications/settings")
    assert page.status_code == 200 and "Thông báo qua thư" in page.text
    assert "Qua thư ngay lập tức" in page.text and "Notifications by e-mail" not in page.text
    try:
        saved = as_staff.post("/notifications/settings", data={"notify_email": "now", "csrf_token": csrf_token(page.text)},
                              follow_redirects=True)
        assert saved.status_code == 200
        db.session.expire_all()
        assert user("canbo.ktht").notify_email == "now"
        refused = as_staff.post("/notifications/settings", data={"notify_email": "sms",
                                                                 "csrf_token": csrf_token(page.text)})
        assert refused.status_code == 200
        db.session.expire_all()
        assert user("canbo.ktht").notify_email == "now"
    finally:
        handoff.choose_email(user("canbo.ktht"), "never")


def test_not_by_mail_puts_nothing_in_the_outbox(db, make_ticket, user):
    ticket = make_ticket(state="unit_review")
    secretary = user("thuky.iso")
    assert secretary.notify_email == "never"  # the default
    before = db.session.scalar(select(func.count(ReminderLog.id)).where(ReminderLog.user_id == secretary.id))
    services.apply_transition(user("truongphong.ktht"), ticket.id, "forward", {"signs": ["serious"]})
    after = db.session.scalar(select(func.count(ReminderLog.id)).where(ReminderLog.user_id == secretary.id))
    assert after == before


def test_a_plan_and_its_report_are_told_apart_as_their_history_tells_them(db, user, unit, client_as_user):
    from app.objectives import services as objectives
    from tests.test_objectives import row

    drafter, head = user("canbo.ktht"), user("truongphong.ktht")
    plan = objectives.create_plan(drafter, datetime.date.today().year + 40, unit("KTHT").id)  # a year no other test uses
    objectives.save_row(drafter, plan.id, row())

    def told_head(document, step):
        last = _last_id(db)
        objectives.apply_transition(drafter if step == "submit" else head, document, step, {})
        return db.session.scalars(select(Notification.subject).where(
            Notification.id > last, Notification.user_id == head.id)).all()

    assert told_head(plan, "submit") == [f"Kế hoạch thực hiện MTCL năm {plan.year}: Trình phê duyệt"]
    told_head(plan, "approve")
    report = objectives.create_report(drafter, plan.id)
    objectives.save_report_row(drafter, report.id, report.rows[0].id, {"actual": "96 %"})
    assert told_head(report, "submit") == [f"Báo cáo thực hiện MTCL năm {plan.year}: Trình phê duyệt (báo cáo)"]
    history = client_as_user("truongphong.ktht").get(f"/objectives/show/{plan.id}").text
    assert "<td>Trình phê duyệt</td>" in history and "<td>Trình phê duyệt (báo cáo)</td>" in history


def test_a_title_with_line_breaks_is_mailed_on_one_subject_line(db, user, unit, smtp):
    """An NC's title holds its description, which may hold line breaks: a mail header may not,
    and the mail would fail for good after its row was marked sent."""
    import datetime as dt

    from app.conversation import services as conversation
    from app.tickets.models import NcCategory, Nonconformity

    nc = Nonconformity(unit_id=unit("KTHT").id, detected_on=dt.date.today(), source="feedback",
                       description="Dòng một\nDòng hai của mô tả", category_id=db.session.scalar(select(NcCategory.id)),
                       created_by_id=user("canbo.ktht").id)
    db.session.add(nc)
    db.session.commit()
    with choosing(db, "thuky.iso", "now") as secretary:
        conversation.add_comment(user("canbo.ktht"), "nonconformity", nc.id, "Nhờ @thuky.iso xem giúp", [])
        [message] = _to(smtp, secretary.email)  # inline: no queue configured
        subject = message["Subject"]  # (decoding drops the space between two encoded words)
        assert "Dòng một" in subject and "Dòng hai" in subject and "\n" not in subject.replace("\n ", "")


def test_mail_at_once_is_not_sent_to_who_chose_otherwise_since(job_queue, db, make_ticket, user, smtp):
    ticket = make_ticket(state="unit_review")
    with choosing(db, "thuky.iso", "now") as secretary:
        services.apply_transition(user("truongphong.ktht"), ticket.id, "forward", {"signs": ["serious"]})
        secretary.notify_email = "never"
        db.session.commit()
        work(job_queue)
        assert _to(smtp, secretary.email) == []


def test_a_hand_off_loads_whole_only_the_people_it_tells(db, make_ticket, user, count_queries):
    """Who acts next is found from every active person's unit and roles, read as plain rows in
    one statement; only the people found are loaded as records. (Loading every person of the
    agency with their roles and groups, on every step, cost a quarter of a transition's time
    at the bench's province, and grows with the agency's staff.)"""
    active = db.session.scalars(select(QmsUser).where(QmsUser.active.is_(True)).order_by(QmsUser.id)).all()
    for state in ("unit_review", "iso_review", "leader_review", "analysis"):
        ticket = make_ticket(state=state)
        steps = workflow.WORKFLOW.next_steps(state)
        with count_queries() as counter:
            found = handoff.next_actors(steps, ticket)
        expected = [p for p in active if any(step.actor.allows(AtWork(p), ticket) for step in steps)]
        assert found == expected and found, state
        people = [s for s in counter.statements if s.lstrip().startswith("SELECT ab_user.id, ab_user.first_name")]
        assert len(people) <= 1 and all(" IN " in s for s in people), counter.statements
        assert counter.count <= 2, counter.statements


def test_a_person_named_for_the_next_step_hears_of_it_even_without_a_role(db, make_ticket):
    """The rules admit some people by name, not by role (the assignee, the implementer, the
    verifier, the chair of a review): named for the next step, a person with no role left is
    among those who act next."""
    ticket = make_ticket(state="analysis")  # next: the assigned person proposes
    person = QmsUser(first_name="Không", last_name="Vai trò", username="khong.vaitro",
                     email="khong.vaitro@example.vn", active=True, unit_id=ticket.assignee_unit_id)
    db.session.add(person)
    db.session.flush()
    ticket.assignee_id = person.id
    found = handoff.next_actors(workflow.WORKFLOW.next_steps(ticket.state), ticket)
    assert person in found
    db.session.rollback()
