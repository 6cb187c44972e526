"""The ticket list and the nonconformity list as Excel workbooks: the rows the list shows under
the same filters (the list's own query), every row of them, in Vietnamese whatever the screen's
language; dates are date cells, user text stays text (reports.workbook)."""
from flask_babel import force_locale, gettext
from sqlalchemy.orm import selectinload

from reports import workbook

from app.extensions import db
from app.tickets import services, vocabulary, workflow
from app.tickets.models import Ticket
from app.ui import format_yes_no

# An export holds every row the filter gives, up to this many (a year of a large agency).
ROW_LIMIT = 10000


def _person(user) -> str:
    return user.get_full_name() if user else ""


def ticket_rows(user, args) -> list[Ticket]:
    """The tickets the list shows under `args` (services.ticket_list_query: the list's
    visibility and filters), in the list's order."""
    query = services.ticket_list_query(user, args)
    if args.get("sort") == "due_date":
        query = query.order_by(Ticket.due_date.is_(None), Ticket.due_date, Ticket.id)
    else:
        query = query.order_by(Ticket.year.desc(), Ticket.number.desc(), Ticket.id.desc())
    query = query.options(
        selectinload(Ticket.requesting_unit), selectinload(Ticket.implementing_unit),
        selectinload(Ticket.assignee_unit), selectinload(Ticket.assignee), selectinload(Ticket.implementer),
    ).limit(ROW_LIMIT + 1)  # one more: the view then knows there were too many
    return list(db.session.scalars(query))


def tickets_workbook(tickets: list[Ticket], scope: str) -> bytes:
    with force_locale("vi"):
        headers = [gettext("Ticket number"), gettext("Kind of action"), gettext("Requesting unit"),
                   gettext("Description"), gettext("State"), gettext("Date of the request"),
                   gettext("Implementing unit"), gettext("Implementer"), gettext("Due date"),
                   gettext("Verification result"), gettext("Verified on"), gettext("Closed on")]
        rows = [[
            t.display_number or gettext("(draft)"), vocabulary.label(vocabulary.KINDS, t.kind),
            t.requesting_unit.name if t.requesting_unit else "", t.description,
            str(workflow.STATES.get(t.state, t.state)), t.requested_on,
            (t.implementing_unit or t.assignee_unit).name if (t.implementing_unit or t.assignee_unit) else "",
            _person(t.implementer or t.assignee), t.due_date,
            vocabulary.label(vocabulary.VERIFICATION_RESULTS, t.verification_result) if t.verification_result else "",
            t.verified_on, t.closed_on,
        ] for t in tickets]
        title = gettext("Action request tickets").upper()
    return workbook("Phieu YCHD", [title, scope], headers, rows, (10, 18, 28, 50, 20, 12, 28, 22, 12, 18, 12, 12))


def nonconformities_workbook(ncs: list, scope: str) -> bytes:
    with force_locale("vi"):
        headers = [gettext("Detected on"), gettext("Unit"), gettext("Nonconformity content"),
                   gettext("Source (5.1.2)"), gettext("Description"), gettext("Disposition"),
                   gettext("Correction checked"), gettext("Ticket")]
        rows = [[
            nc.detected_on, nc.unit.name if nc.unit else "", nc.category.name if nc.category else "",
            vocabulary.label(vocabulary.SOURCES, nc.source), nc.description,
            vocabulary.label(vocabulary.DISPOSITIONS, nc.disposition) if nc.disposition else "",
            format_yes_no(nc.correction_checked),
            (nc.ticket.display_number or gettext("(draft)")) if nc.ticket else "",
        ] for nc in ncs]
        title = gettext("Nonconformities").upper()
    return workbook("KPH", [title, scope], headers, rows, (12, 28, 28, 28, 50, 22, 14, 12))
