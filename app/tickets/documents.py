"""BM.CTCL.01 as PDF, through the shared report engine."""
from flask_babel import force_locale

from reports import agency_heading, render_pdf

from app.organisation.services import current_agency
from app.tenancy import agency_of
from app.tickets import vocabulary, workflow
from app.tickets.models import Ticket


def context(ticket: Ticket, settings=None) -> dict:
    """What BM.CTCL.01 prints of a ticket, alone or in the records binder. A ticket is a draft
    (DỰ THẢO) until it is finished."""
    settings = settings or current_agency()
    files = [a.filename for a in ticket.attachments]
    files += [a.filename for report in ticket.progress_reports for a in report.attachments]
    return {
        "t": ticket, "settings": settings, "agency": agency_heading(settings.agency_name),
        "draft": ticket.state not in workflow.FINAL_STATES,
        "revisions": ticket.box2_revisions, "amendments": ticket.amendments, "evidence_files": files,
        "box2_reason": lambda code: vocabulary.label(vocabulary.BOX2_REASONS, code),
    }


def ticket_pdf(ticket: Ticket) -> bytes:
    """The form is Vietnamese whatever language the reader's screen uses, and prints the
    ticket's own agency."""
    with force_locale("vi"), agency_of(ticket):
        return render_pdf("bm_ctcl_01.html", **context(ticket))
