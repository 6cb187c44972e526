"""The landing page: each user's work, and the steering figures equal the lists they link to."""
import re

from app.dashboard import services


def _list_count(client, link):
    page = client.get(link).text
    if link.startswith("/tickets/list/"):
        return int(re.search(r'class="ticket-count">(\d+)<', page).group(1))
    if link.startswith("/recurring/"):
        return page.count('class="recurring-row"')
    if link.startswith("/retention/"):
        return page.count('class="retention-row"')
    raise AssertionError(link)


def test_every_steering_figure_equals_its_list(client_as_user, user):
    client = client_as_user("truongban.iso")
    figures = services.steering(user("truongban.iso"))
    checked = 0
    singles = [figures[k] for k in ("overdue", "missing_report", "recurring", "effective", "ineffective")]
    pairs = [f for _, f in figures["by_state"] + figures["by_unit"]]
    months = [m[k] for m in figures["months"] for k in ("opened", "closed")]
    for figure in singles + pairs + months:
        assert _list_count(client, figure["link"]) == figure["value"], figure
        checked += 1
    assert checked > 30
    # the retention list is the ISO secretary's (and Admin's): the leader gets no figure for it
    assert figures["retention"] is None
    retention = services.steering(user("thuky.iso"))["retention"]
    assert _list_count(client_as_user("thuky.iso"), retention["link"]) == retention["value"]
    assert figures["overdue"]["value"] >= 1 and figures["missing_report"]["value"] >= 1  # demo data
    assert sum(m["opened"]["value"] for m in figures["months"]) >= 20


def test_dashboard_page(client_as_user):
    page = client_as_user("truongban.iso").get("/").text
    assert "Việc của tôi" in page and "<svg" in page and 'class="figure-link"' in page
    svg = page.split('<svg class="chart-months"', 1)[1].split("</svg>", 1)[0]
    assert "http" not in svg.replace("http://www.w3.org", "")  # drawn here, nothing fetched
    staff = client_as_user("canbo.ktht").get("/").text
    assert "Việc của tôi" in staff and 'class="figure-link"' not in staff


def test_my_work_names_the_action_for_each_user(user, make_ticket, db):
    waiting = make_ticket(state="unit_review", description="Chờ lãnh đạo đơn vị xem xét — dashboard")
    items = services.my_work(user("truongphong.ktht"))
    mine = [i for i in items if i.link == f"/tickets/show/{waiting.id}"]
    assert mine and "Chuyển Thư ký ISO" in mine[0].action
    assert mine[0].title == f"Phiếu {waiting.display_number}: Chờ lãnh đạo đơn vị xem xét — dashboard"
    assert not [i for i in services.my_work(user("truongphong.tnmt")) if i.link == f"/tickets/show/{waiting.id}"]
    assert not [i for i in services.my_work(user("admin")) if i.kind == "ticket"]  # may, but is not asked to
    verifying = make_ticket(state="verification")
    assert [i for i in services.my_work(user("chutich")) if i.link == f"/tickets/show/{verifying.id}"]
    drafts = [i for i in services.my_work(user("canbo.tnmt")) if i.kind == "plan"]
    assert drafts and all("Trình phê duyệt" in i.action for i in drafts)
    dues = [i.due for i in items if i.due]
    assert dues == sorted(dues)  # most urgent first


def test_my_work_is_named_in_the_language_of_the_request(app, user, make_ticket):
    """Each item is named in the request's language."""
    from flask_babel import force_locale

    waiting = make_ticket(state="unit_review", description="Ngôn ngữ của việc")
    for locale, title, action in (("vi", "Phiếu", "Chuyển Thư ký ISO"), ("en", "Ticket", "Forward to the ISO secretary")):
        with app.test_request_context("/"), force_locale(locale):
            [item] = [i for i in services.my_work(user("truongphong.ktht")) if i.link == f"/tickets/show/{waiting.id}"]
        assert item.title == f"{title} {waiting.display_number}: Ngôn ngữ của việc" and action in item.action


def test_steering_counts_follow_the_person_the_day_and_the_agency_s_numbers(app, db, user):
    """The home page's counting statement is built once per way of seeing the records and the
    agency's numbers, and run with the day's dates: each person, day and setting still gets the
    counts a statement built for it alone gives."""
    import datetime

    from flask import g

    from app.organisation.models import Agency
    from app.tenancy import agency_named
    from app.tickets.services import KeptStatements

    def fresh(person, on, first, last, retention):
        """The counts from a statement built for this call alone; the kept statements stay."""
        kept = services._STATEMENTS
        services._STATEMENTS = KeptStatements(1)
        try:
            return services._ticket_counts(person, on, first, last, retention)
        finally:
            services._STATEMENTS = kept

    today = datetime.date.today()
    days = [today, today + datetime.timedelta(days=45), datetime.date(today.year + 1, 3, 1)]
    with app.test_request_context(), agency_named("CAMLAM") as agency:
        leader, staff = user("truongban.iso"), user("canbo.ktht")
        settings = [(agency.report_interval_days, agency.recurrence_threshold, agency.retention_years),
                    (10, 1, 1)]
        seen = []
        for interval, threshold, years in settings:
            agency = db.session.get(Agency, agency.id)
            agency.report_interval_days, agency.recurrence_threshold, agency.retention_years = interval, threshold, years
            db.session.flush()
            for on in days:
                first, last = services._month_bounds(on, 11)[0], services._month_bounds(on, 0)[1]
                for person, retention in ((leader, False), (staff, False), (user("thuky.iso"), True)):
                    g.user = person
                    kept = services._ticket_counts(person, on, first, last, retention)
                    assert kept == fresh(person, on, first, last, retention), (interval, on, person.username)
                    seen.append(kept)
        db.session.rollback()
    assert len({repr(counts) for counts in seen}) > 6  # the cases differ


def test_my_work_reads_each_waiting_ticket_once(app, db, user, make_ticket, count_queries):
    """My work reads the waiting tickets as plain rows of what its items and the workflow's
    actors read (tickets.services.TICKET_ROW), not as records: none is read again ticket by
    ticket. Every person of the agency, with tickets waiting in every open state, gets their
    items in a fixed number of statements."""
    from sqlalchemy import select

    from app.organisation.models import QmsUser
    from app.tickets import workflow

    for state in workflow.OPEN_STATES:
        make_ticket(state=state)
        make_ticket(state=state)
    ids = db.session.scalars(select(QmsUser.id).where(QmsUser.agency_id == user("truongban.iso").agency_id,
                                                      QmsUser.active.is_(True))).all()
    waiting = 0
    for person in map(app.appbuilder.sm.get_user_by_id, ids):  # as a request loads them
        with count_queries() as counter:
            items = services.my_work(person)
        assert counter.count <= 6, (person.username, [s.split("\n")[0][:120] for s in counter.statements])
        waiting += sum(item.kind in ("ticket", "progress") for item in items)
    assert waiting >= 2 * len(workflow.OPEN_STATES)


def test_the_home_page_names_the_person_s_unit_from_the_person_s_statement(client_as_user, count_queries):
    client = client_as_user("canbo.ktht")
    client.get("/")
    with count_queries() as counter:
        page = client.get("/")
    assert "Phòng Kinh tế và Hạ tầng" in page.text
    assert not [s for s in counter.statements if "FROM unit WHERE unit.id" in " ".join(s.split())]


def test_the_objective_flags_follow_the_objectives_summary_for_each_year(app, db, user):
    """The home page's late and missing plans and reports (its statement built once, the year a
    parameter) are those of the objectives summary, year after year."""
    import datetime

    from flask import g

    from app.objectives import services as objectives
    from app.organisation.models import Unit
    from app.tenancy import agency_named

    today = datetime.date.today()
    with app.test_request_context(), agency_named("CAMLAM"):
        g.user = user("truongban.iso")
        units = db.session.query(Unit).filter(Unit.active.is_(True)).order_by(Unit.code).all()
        seen = set()
        for year in (today.year, today.year - 1, 2095):
            flagged = {(f["owner"].id if f["owner"] else None, f["plan_flag"], f["report_flag"])
                       for f in services._objective_flags(year, today, units)}
            expected = {(r["owner"].id if r["owner"] else None, r["plan_flag"], r["report_flag"])
                        for r in objectives.summary(year, today)["rows"]
                        if {r["plan_flag"], r["report_flag"]} & {"late", "missing"}}
            assert flagged == expected, year
            seen.add(frozenset(flagged))
        assert len(seen) > 1  # the years differ: each read its own plans


def test_my_work_from_kept_statements_is_what_fresh_ones_give(app, db, user):
    """"My work"'s statements are built once per person (and who sees what, agency numbers)
    and run with the day's dates, on PostgreSQL as their kept texts (app.tenancy.kept_rows):
    each person, day and setting still gets the work that statements built for it alone and
    run by SQLAlchemy give."""
    import datetime

    from flask import g

    from app.organisation.models import Agency
    from app.tenancy import agency_named
    from app.tickets.services import KeptStatements

    def work(person, on):
        return [(w.kind, w.title, w.action, w.link, w.due, w.since, w.key) for w in services.my_work(person, on)]

    def fresh(person, on):
        kept = services._WAITING, services._CHANGES, services.kept_rows
        services._WAITING, services._CHANGES = KeptStatements(1), KeptStatements(1)
        services.kept_rows = lambda statement, values, shared=True: db.session.execute(statement, values).all()
        try:
            return work(person, on)
        finally:
            services._WAITING, services._CHANGES, services.kept_rows = kept

    today = datetime.date.today()
    names = ("truongban.iso", "thuky.iso", "canbo.ktht", "truongphong.ktht", "chutich")
    with app.test_request_context(), agency_named("CAMLAM") as agency:
        found = set()
        for interval in (agency.report_interval_days, 1):
            settings = db.session.get(Agency, agency.id)
            settings.report_interval_days = interval
            db.session.flush()
            for on in (today, today + datetime.timedelta(days=45), datetime.date(today.year + 1, 3, 1)):
                for name in names:
                    g.user = person = user(name)
                    kept = work(person, on)
                    assert kept == fresh(person, on), (interval, on, name)
                    found.add(tuple(kept))
        db.session.rollback()
    assert len(found) > len(names)  # the people, days and settings differ in their work


def test_the_workflow_s_sql_says_on_which_tickets_each_person_has_a_step(app, db, user, make_ticket):
    """"My work" reads only the tickets a page shows, trusting the workflow's SQL condition
    (waiting_condition, IMPLEMENTER.where) to admit exactly the tickets on which `available`
    gives a step, or whose late progress report the person owes: checked for every person of
    the agency on every open ticket, in every open state, and with progress reports late."""
    import datetime

    from flask import g
    from sqlalchemy import select

    from app.organisation.models import QmsUser
    from app.tenancy import agency_named
    from app.tickets import services as ticket_services
    from app.tickets import workflow
    from app.tickets.models import Ticket
    from app.ui import listed_records
    from app.workflow import AtWork

    import dataclasses

    from app.workflow import Actor

    assert workflow.WORKFLOW.exact_waiting()  # else the dashboard refuses to load
    loose = dataclasses.replace(workflow.WORKFLOW.transitions[0], actor=Actor("—", lambda u, t: True))
    assert not dataclasses.replace(workflow.WORKFLOW, transitions=(loose,)).exact_waiting()
    for state in workflow.OPEN_STATES:
        make_ticket(state=state)
        make_ticket(state=state, creator="canbo.tnmt", unit_code="TNMT")
    later = datetime.date.today() + datetime.timedelta(days=120)  # progress reports are late by then
    with app.test_request_context(), agency_named("CAMLAM"):
        people = db.session.scalars(select(QmsUser).where(QmsUser.active.is_(True))).all()
        checked = steps_found = late_found = 0
        for person in people:
            g.user = person
            at_work = AtWork(person)
            for on in (datetime.date.today(), later):
                waiting, late = services._waiting_tickets_statements(person, at_work)
                parameters = {"cutoff": ticket_services.report_cutoff(on), "rows": services.ALL_ROWS}
                rows = {row.id: row for row in listed_records(db.session.execute(waiting, parameters))}
                by_sql = set(rows)
                owed_by_sql = {row.id for row in db.session.execute(late, parameters)}
                cutoff = ticket_services.report_cutoff(on)
                late_ids = set(db.session.scalars(select(Ticket.id).where(
                    ticket_services.missing_report_condition(cutoff=cutoff))))
                for ticket in db.session.scalars(select(Ticket).where(
                        ticket_services.ticket_visibility(person), Ticket.state.notin_(workflow.FINAL_STATES))):
                    has_step = bool(workflow.WORKFLOW.available(at_work, ticket))
                    owes = ticket.id in late_ids and workflow.IMPLEMENTER.allows(at_work, ticket)
                    assert (ticket.id in by_sql) == has_step, (person.username, ticket.state, ticket.id)
                    if has_step:  # the item's steps, read from the row, are the record's
                        assert workflow.WORKFLOW.available(at_work, rows[ticket.id]) == \
                            workflow.WORKFLOW.available(at_work, ticket), (person.username, ticket.state)
                    assert (ticket.id in owed_by_sql) == owes, (person.username, ticket.state, ticket.id)
                    checked += 1
                    steps_found += has_step
                    late_found += owes
        db.session.rollback()
    assert checked > 200 and steps_found > 20 and late_found > 0


def test_a_page_of_my_work_is_that_page_of_the_whole_list(app, db, user, make_ticket, count_queries):
    """my_work_page reads only the tickets up to the page's end, in the order SQL gives them:
    each page, for each person, is that page of my_work (every item, sorted in Python), with
    the same count of items in all; the home page's 20 read 20 tickets at most."""
    from flask import g
    from sqlalchemy import event

    from app.tenancy import agency_named
    from app.tickets import workflow

    for state in workflow.OPEN_STATES:
        for _ in range(3):
            make_ticket(state=state)
    with app.test_request_context(), agency_named("CAMLAM"):
        for name in ("truongban.iso", "thuky.iso", "truongphong.ktht", "canbo.ktht", "chutich", "admin"):
            g.user = person = user(name)
            everything = services.my_work(person)
            for per_page in (1, 2, 5, services.HOME_ROWS):
                for page in range(1, len(everything) // per_page + 3):
                    items, total = services.my_work_page(person, page, per_page)
                    assert total == len(everything), name
                    assert items == everything[(page - 1) * per_page:page * per_page], (name, page, per_page)
        g.user = leader = user("truongban.iso")
        assert len(services.my_work(leader)) > 5
        tickets_read = []

        def loaded(_session, record):
            tickets_read.append(record)

        db.session.expunge_all()
        event.listen(db.session, "loaded_as_persistent", loaded)
        try:
            services.my_work_page(leader, 1, 2)
        finally:
            event.remove(db.session, "loaded_as_persistent", loaded)
        assert len([t for t in tickets_read if type(t).__name__ == "Ticket"]) <= 2 * 2  # steps and reports owed


def test_my_work_s_statements_name_the_person_and_the_states_in_their_text(client_as_user, user, count_queries):
    """A statement of "My work" is made for one person: their id and the workflow's states are
    written into its text, not sent as parameters. PostgreSQL keeps one plan for a prepared
    statement, made without its parameters' values; for "My work" it read every ticket of the
    agency through the due-date index (1.3 ms at 3 300 tickets, more with each), where the plan
    for the values reads the few waiting tickets from their indexes (0.3 ms)."""
    client = client_as_user("truongban.iso")
    leader = user("truongban.iso")
    client.get("/")
    with count_queries() as counter:
        client.get("/")
    mine = [" ".join(s.split()) for s in counter.statements if "OVER ()" in s]
    assert len(mine) == 2, mine
    waiting, late = mine
    assert f"created_by_id = {leader.id}" in waiting and "'draft'" in waiting, waiting
    assert f"implementer_id = {leader.id}" in late and "'implementation'" in late, late


def test_my_work_s_plans_reports_and_reviews_are_those_their_records_give(app, db, user):
    """My work reads the plans, reports and reviews waiting for a step as plain rows of what it
    names them by and the workflows' actors read: for every person of the agency, the same
    items (what, which steps, by when, since when, where), as the records give."""
    from flask import g
    from flask_babel import gettext
    from sqlalchemy import select

    from app.objectives import services as objectives
    from app.objectives.models import ObjectivePlan
    from app.organisation.models import QmsUser
    from app.reviews import workflow as review_workflow
    from app.reviews.models import Review
    from app.tenancy import agency_named
    from app.workflow import AtWork

    def item(work):
        return (work.kind, work.record_id, work.title, work.action, work.link, work.due, work.since, work.key)

    with app.test_request_context(), agency_named("CAMLAM"):
        people = db.session.scalars(select(QmsUser).where(QmsUser.active.is_(True))).all()
        plans = db.session.scalars(select(ObjectivePlan).order_by(ObjectivePlan.id)).all()
        reported = [p for p in plans if p.report is not None and p.unit_id is not None]
        unit_drafts = [p for p in plans if p.state == "draft" and p.unit_id is not None]
        assert len(reported) >= 2 and unit_drafts
        unit_drafts[0].state = "submitted"  # waiting for its approver
        for state, plan in zip(("draft", "submitted"), reported):  # reports waiting for each step
            plan.report.state = state
        db.session.flush()
        reviews = db.session.scalars(select(Review)).all()
        assert {p.state for p in plans} >= {"draft", "submitted"} and any(p.report for p in plans)
        assert {p.unit_id is None for p in plans if p.state in services.PENDING} == {True, False}
        seen = 0
        for person in people:
            g.user = person
            at_work = AtWork(person)
            expected = set()
            for plan in plans:  # as _document_work gives them from the records
                expected |= {item(work) for work in services._document_work(
                    at_work, plan, "plan", objectives.plan_due(plan.year)) if plan.state in services.PENDING}
                if plan.report is not None and plan.report.state in services.PENDING:
                    expected |= {item(work) for work in services._document_work(
                        at_work, plan.report, "report", objectives.report_due(plan.year))}
            for review in reviews:
                steps = review.state not in review_workflow.FINAL_STATES and \
                    review_workflow.workflow_for(review).available(at_work, review)
                if steps:
                    expected.add(("review", review.id, gettext("Management review %(number)s",
                                                               number=review.display_number),
                                  services._steps(steps), f"/reviews/show/{review.id}", None, review.created_on,
                                  f"review-{review.id}-{review.state}"))
            found = {item(work) for work in services.my_work(person) if work.kind in ("plan", "report", "review")}
            assert found == expected, person.username
            seen += len(found)
        db.session.rollback()
    assert seen > 3
