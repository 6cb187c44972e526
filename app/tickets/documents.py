"""BM.CTCL.01 as PDF, through the shared report engine."""
from reports import render_pdf

from app.organisation.services import get_settings
from app.tickets.models import Ticket


def ticket_pdf(ticket: Ticket) -> bytes:
    files = [a.filename for a in ticket.attachments]
    files += [a.filename for report in ticket.progress_reports for a in report.attachments]
    return render_pdf(
        "bm_ctcl_01.html", t=ticket, settings=get_settings(), revisions=ticket.box2_revisions,
        amendments=ticket.amendments,
        evidence_files=files,
    )
