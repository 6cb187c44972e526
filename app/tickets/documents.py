"""BM.CTCL.01 as PDF, through the shared report engine."""
from reports import render_pdf

from app.organisation.services import get_settings
from app.tickets.models import Ticket


def form_context(ticket: Ticket, settings=None) -> dict:
    """What BM.CTCL.01 prints of a ticket: one form alone, or many in the records binder."""
    files = [a.filename for a in ticket.attachments]
    files += [a.filename for report in ticket.progress_reports for a in report.attachments]
    return dict(t=ticket, settings=settings or get_settings(), revisions=ticket.box2_revisions,
                amendments=ticket.amendments, evidence_files=files)


def ticket_pdf(ticket: Ticket) -> bytes:
    return render_pdf("bm_ctcl_01.html", **form_context(ticket))
