"""One workflow engine for tickets, objective plans and reports, and reviews (issue 10)."""
import datetime
import pathlib
import re

import pytest
import sqlalchemy as sa

from app.help.views import all_workflows
from app.objectives import workflow as objective_workflow
from app.reviews import workflow as review_workflow
from app.tickets import services, workflow
from app.workflow import AtWork, Conflict, Forbidden, Invalid
from tests.conftest import csrf_token, future

TEMPLATES = pathlib.Path(__file__).parent.parent / "app" / "templates"


def test_every_history_event_has_a_label(db, make_ticket, user):
    """Every event name written to any history table has a label in its workflow."""
    from app.objectives.models import ObjectiveEvent
    from app.reviews.models import ReviewEvent
    from app.tickets.models import TicketEvent

    ticket = make_ticket(state="implementation")
    services.add_progress_report(user("canbo.ktht"), ticket.id, "Đã làm 50%")
    change = services.request_change(user("canbo.ktht"), ticket.id, {"kind": "resources", "text": "Cần máy scan"})
    services.decide_change(user("truongban.iso"), change.id, False, "Chưa cần")
    labels = {
        TicketEvent: workflow.WORKFLOW.event_labels(),
        ObjectiveEvent: objective_workflow.WORKFLOW.event_labels(),
        ReviewEvent: {k: v for w in review_workflow.WORKFLOWS.values() for k, v in w.event_labels().items()},
    }
    for model, known in labels.items():
        names = set(db.session.scalars(sa.select(model.name).distinct()))
        assert names, model
        assert names <= set(known), (model.__name__, names - set(known))


def test_templates_name_only_states_that_exist():
    """Templates take state groups and actions from the tables; a quoted word next to
    `state` in a template must be a state of some workflow (and today there is none)."""
    states = set(workflow.STATES) | set(objective_workflow.STATES) | set(review_workflow.STATES)
    named = []
    for path in TEMPLATES.rglob("*.html"):
        for block in re.findall(r"{[{%].*?[%}]}", path.read_text(), re.S):
            if re.search(r"\bstate\b", block):
                named += [(path.name, word) for word in re.findall(r"(?<!get\()'([a-z_]+)'", block)
                          if word not in ("", "default", "danger", "primary")]
    assert [n for n in named if n[1] not in states] == []
    assert named == []


def test_transitions_carry_their_effects_and_one_engine_runs_them():
    for w in all_workflows().values():
        assert w.history is not None
        for t in w.transitions + w.automatic:
            assert set(t.sources) <= set(w.states) and t.target in w.states, t.name
        for a in w.actions:
            assert set(a.states) <= set(w.states), a.name
    assert workflow.WORKFLOW.transition("close").effect is not None
    assert all(t.effect for t in workflow.WORKFLOW.automatic)


def test_a_review_written_by_two_people_at_once_answers_409(db, app, user):
    """The second writer's commit finds another version in the database: 409, never 500."""
    from app.reviews import services as reviews

    review = reviews.create_review(user("thuky.iso"), "report", datetime.date(2026, 1, 1), datetime.date(2026, 6, 30))
    reviews.save_content(user("thuky.iso"), review.id, {"general_conclusion": "x"})
    assert review.version is not None
    with db.engine.begin() as other:  # someone else saves the review meanwhile
        other.execute(sa.text("UPDATE review SET version = version + 1 WHERE id = :id"), {"id": review.id})
    with pytest.raises(Conflict):
        reviews.apply_transition(user("thuky.iso"), review.id, "submit_report", {})
    db.session.rollback()


def test_roles_given_through_a_fab_group_count_in_the_workflow(db, app, make_ticket, user):
    """One function says which roles a user holds, FAB groups included."""
    from flask_appbuilder.security.sqla.models import Group, Role

    from app.workflow import roles_of

    ticket = make_ticket(state="leader_review")
    person = user("canbo.tnmt")
    assert "assign" not in {t.name for t in services.available_transitions(person, ticket)}
    group = Group(name="Ban ISO (nhóm)", roles=[db.session.scalar(sa.select(Role).where(Role.name == "IsoLeader"))])
    db.session.add(group)
    person.groups.append(group)
    db.session.commit()
    try:
        assert "IsoLeader" in roles_of(person)
        assert services.sees_everything(person)
        assert "assign" in {t.name for t in services.available_transitions(person, ticket)}
        services.apply_transition(person, ticket.id, "assign",
                                  {"assignee_unit": ticket.requesting_unit_id, "assignee": user("canbo.ktht").id})
        assert ticket.state == "analysis"
    finally:
        person.groups.remove(group)
        group.roles = []
        db.session.delete(group)
        db.session.commit()


def test_a_group_role_opens_the_pages_too(app, db, user, client_as_user, make_ticket):
    from flask_appbuilder.security.sqla.models import Group, Role

    ticket = make_ticket(state="leader_review")
    person = user("canbo.tnmt")
    group = Group(name="Lãnh đạo Ban ISO (nhóm)",
                  roles=[db.session.scalar(sa.select(Role).where(Role.name == "IsoLeader"))])
    db.session.add(group)
    person.groups.append(group)
    db.session.commit()
    try:
        page = client_as_user("canbo.tnmt").get(f"/tickets/{ticket.id}/do/assign")
        assert page.status_code == 200, page.text
    finally:
        person.groups.remove(group)
        group.roles = []
        db.session.delete(group)
        db.session.commit()


# --- 5.3: the ISO secretary consolidates and presents ------------------------------------

def test_forwarded_ticket_lands_in_the_secretary_work_and_is_presented(make_ticket, user, db):
    from app.dashboard.services import my_work

    first, second = make_ticket(state="iso_review"), make_ticket(state="iso_review")
    secretary = user("thuky.iso")
    links = {w.link for w in my_work(secretary)}
    assert f"/tickets/show/{first.id}" in links and f"/tickets/show/{second.id}" in links
    assert f"/tickets/show/{first.id}" not in {w.link for w in my_work(user("truongban.iso"))}
    with pytest.raises(Forbidden):
        services.present_tickets(user("truongban.iso"), [first.id], "Tổng hợp")
    with pytest.raises(Invalid):
        services.present_tickets(secretary, [first.id, second.id], "  ")
    presented = services.present_tickets(secretary, [first.id, second.id], "Hai phiếu cùng nguyên nhân")
    assert [t.state for t in presented] == ["leader_review", "leader_review"]
    assert first.events[-1].comment == "Hai phiếu cùng nguyên nhân"
    leader_links = {w.link for w in my_work(user("truongban.iso"))}
    assert f"/tickets/show/{first.id}" in leader_links


def test_present_several_through_the_page_and_the_api(app, make_ticket, client_as, api, db):
    tickets = [make_ticket(state="iso_review") for _ in range(3)]
    client = client_as("IsoSecretary")
    page = client.get("/tickets/present")
    assert page.status_code == 200 and all(t.display_number in page.text for t in tickets)
    response = client.post("/tickets/present", data={
        "csrf_token": csrf_token(page.text), "tickets": [tickets[0].id, tickets[1].id],
        "note": "Trình cùng lúc"})
    assert response.status_code == 302
    secretary = api("thuky.iso")
    answer = secretary.post("/api/v1/tickets/present", json={"tickets": [tickets[2].id], "note": "Qua API"})
    assert answer.status_code == 200, answer.text
    again = secretary.post("/api/v1/tickets/present", json={"tickets": [tickets[2].id], "note": "Lần nữa"})
    assert again.status_code == 409
    assert api("truongban.iso").post("/api/v1/tickets/present", json={"tickets": [tickets[2].id], "note": "x"}
                                     ).status_code in (403, 409)
    assert secretary.post("/api/v1/tickets/present", json={"tickets": ["x"], "note": "x"}).status_code == 422
    db.session.expire_all()
    assert {db.session.get(type(t), t.id).state for t in tickets} == {"leader_review"}


# --- 5.6: independence of the verifier -----------------------------------------------------

def _approve_values(ticket, user, verifier):
    return {"implementing_unit": ticket.assignee_unit_id, "implementer": user("canbo.ktht").id,
            "due_date": future(20), "verifier": verifier}


@pytest.mark.parametrize("who", ["canbo.ktht", "truongphong.ktht"])
def test_the_implementer_or_their_head_cannot_be_named_verifier(make_ticket, user, who):
    ticket = make_ticket(state="approval")
    with pytest.raises(Invalid) as error:
        services.apply_transition(user("truongban.iso"), ticket.id, "approve",
                                  _approve_values(ticket, user, user(who).id))
    assert "verifier" in error.value.errors


def test_a_verifier_cannot_verify_their_own_work(make_ticket, user, db):
    ticket = make_ticket(state="verification")
    ticket.verifier_id = ticket.implementer_id  # e.g. named before the rule existed
    db.session.commit()
    with pytest.raises(Forbidden):
        services.apply_transition(user("canbo.ktht"), ticket.id, "verify",
                                  {"result": "pass", "verified_on": datetime.date.today().isoformat()})


def test_verification_date_cannot_be_in_the_future(make_ticket, user):
    ticket = make_ticket(state="verification")
    with pytest.raises(Invalid) as error:
        services.apply_transition(user("chutich"), ticket.id, "verify", {"result": "pass", "verified_on": future(3)})
    assert "verified_on" in error.value.errors
    assert "Ngày" in error.value.errors["verified_on"] or "date" in error.value.errors["verified_on"].lower()


# --- declined tickets, forms -----------------------------------------------------------------

def test_a_declined_ticket_gets_its_closing_date(make_ticket, user):
    ticket = make_ticket(state="unit_review")
    services.apply_transition(user("truongphong.ktht"), ticket.id, "decline", {"reason": "Không cần HĐKP"})
    assert ticket.state == "declined" and ticket.closed_on == datetime.date.today()


def test_the_approve_form_shows_the_proposal_and_is_prefilled(make_ticket, client_as):
    ticket = make_ticket(state="approval")
    page = client_as("IsoLeader").get(f"/tickets/{ticket.id}/do/approve").text
    assert "Nguyên nhân gốc" in page and "Biện pháp khắc phục" in page
    assert f'value="{ticket.due_date:%d/%m/%Y}"' in page  # typed and shown dd/mm/yyyy
    assert re.search(rf'<option value="{ticket.assignee_id}"\s+selected', page)


def test_every_transition_form_shows_all_its_fields(app, client_as, db, user):
    """Plans and reviews render every field of their transitions through the same macro,
    inline and on the transition page."""
    from app.objectives import services as objectives

    plan = objectives.create_plan(user("admin"), 2039, None)
    page = client_as("Admin").get(f"/objectives/show/{plan.id}").text
    for step in objective_workflow.WORKFLOW.next_steps("draft"):
        assert f'data-step="{step.name}"' in page
        for field in step.fields:
            assert f'name="{field.name}"' in page
    form = client_as("Admin").get(f"/objectives/{plan.id}/do/submit")
    assert form.status_code == 200 and 'name="comment"' in form.text


@pytest.mark.parametrize("name", sorted(all_workflows()))
def test_a_help_page_per_workflow(app, client_as, name):
    from flask_babel import force_locale

    workflow_ = all_workflows()[name]
    page = client_as("Staff").get(f"/help/workflow/{name}")
    assert page.status_code == 200
    with app.test_request_context(), force_locale("vi"):
        for label in list(workflow_.states.values()) + [t.label for t in workflow_.transitions]:
            assert str(label).replace("'", "&#39;") in page.text, str(label)


def test_help_menu_names_match_the_workflows():
    from app.organisation import roles

    assert set(roles.HELP_MENUS) == {f"Workflow {name}" for name in all_workflows()}


def test_a_person_or_unit_given_by_a_huge_or_odd_id_is_refused_not_a_500(make_ticket, api):
    ticket = make_ticket(state="leader_review")
    leader = api("truongban.iso")
    for bad in (2**40, -1, "x", {"id": 1}, [1]):
        response = leader.post(f"/api/v1/tickets/{ticket.id}/transitions/assign",
                               json={"assignee_unit": bad, "assignee": bad})
        assert response.status_code == 422, (bad, response.text)


def test_a_refused_change_request_keeps_what_was_typed_and_names_the_field(make_ticket, client_as):
    ticket = make_ticket(state="implementation")
    client = client_as("Admin")
    page = client.get(f"/tickets/show/{ticket.id}").text
    refused = client.post(f"/tickets/{ticket.id}/change", data={
        "csrf_token": csrf_token(page), "kind": "", "text": "Cần thêm thời gian vì thiếu người",
        "new_measures": "Thuê thêm cộng tác viên"})
    assert refused.status_code == 422
    assert "Cần thêm thời gian vì thiếu người" in refused.text and "Thuê thêm cộng tác viên" in refused.text
    assert "Loại thay đổi:" in refused.text


def test_who_reports_and_verifies_sees_every_amendment(make_ticket, user, client_as):
    ticket = make_ticket(state="implementation")
    change = services.request_change(user("canbo.ktht"), ticket.id, {
        "kind": "measures", "text": "Bổ sung", "new_measures": "Số hóa danh mục hồ sơ"})
    services.decide_change(user("truongban.iso"), change.id, True)
    form = client_as("Admin").get(f"/tickets/{ticket.id}/do/report_done").text
    assert "Số hóa danh mục hồ sơ" in form and "Biện pháp khắc phục" in form


def test_a_transition_that_is_not_possible_offers_no_form(make_ticket, client_as):
    ticket = make_ticket(state="closed")
    page = client_as("IsoLeader").get(f"/tickets/{ticket.id}/do/approve")
    assert page.status_code == 409 and 'name="implementer"' not in page.text


def test_plan_transition_page_names_the_plan_in_words(app, client_as, user):
    from app.objectives import services as objectives

    plan = objectives.create_plan(user("admin"), 2038, None)
    page = client_as("Admin").get(f"/objectives/{plan.id}/do/submit").text
    assert "(r1)" not in page and "2038" in page


def test_the_secretary_deletes_a_review_being_prepared_from_its_page(client_as, user, db):
    from app.reviews import services as reviews
    from app.reviews.models import Review

    review = reviews.create_review(user("thuky.iso"), "meeting", datetime.date(2037, 1, 1), datetime.date(2037, 6, 30))
    client = client_as("IsoSecretary")
    page = client.get(f"/reviews/show/{review.id}").text
    assert "delete-review" in page
    assert "delete-review" not in client_as("IsoLeader").get(f"/reviews/show/{review.id}").text
    review_id = review.id
    assert client.post(f"/reviews/{review_id}/delete", data={"csrf_token": csrf_token(page)}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Review, review_id) is None


def test_each_ticket_actor_in_sql_admits_exactly_the_tickets_its_rule_admits(db, make_ticket):
    """Lists that cannot load every ticket ("Việc của tôi") ask an actor's SQL side; for every
    demo user of the agency (and the person without their Admin override) and every ticket,
    it must agree with the actor's own rule, and the workflow's waiting condition with
    `available`."""
    from app.organisation.models import QmsUser
    from app.tickets.models import Ticket

    for state in ("unit_review", "implementation", "verification"):  # every column set somewhere
        make_ticket(state=state, description="Phiếu cho phép so khớp điều kiện SQL")
    tickets = db.session.scalars(sa.select(Ticket)).all()
    actors = {t.actor for t in workflow.WORKFLOW.transitions + workflow.WORKFLOW.automatic}
    assert all(actor.where is not None for actor in actors)
    people = db.session.scalars(sa.select(QmsUser)).all()
    people += [AtWork(u) for u in people]
    assert len(people) > 10
    for person in people:
        for actor in actors:
            admitted = set(db.session.scalars(sa.select(Ticket.id).where(actor.where(person))))
            assert admitted == {t.id for t in tickets if actor.allows(person, t)}, (actor.label, person.id)
        waiting = set(db.session.scalars(sa.select(Ticket.id).where(
            workflow.WORKFLOW.waiting_condition(person, Ticket.state))))
        assert waiting == {t.id for t in tickets if workflow.WORKFLOW.available(person, t)}, person.id
