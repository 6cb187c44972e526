"""The records binder (QT.CTCL section VII): many BM.CTCL.01 forms in one PDF, for the archive
and for Ban ISO's meetings. A cover (agency, year, what was chosen, count) and a contents page
(number, description, state, page) come first, then each form from a new page, numbered from
its own page 1. The forms are made in one wkhtmltopdf run per hundred; the front pages in
another, once the page each form starts on is known from the forms read back.
"""
import io

from flask_babel import force_locale
from pypdf import PdfReader, PdfWriter
from sqlalchemy.orm import selectinload

from reports import render_pdf, render_pdf_parts, vn_date

from app.extensions import db
from app.organisation.models import Unit
from app.organisation.services import current_agency
from app.tenancy import agency_of
from app.tickets import services, vocabulary, workflow
from app.workflow import get_by_id, id_of
from app.tickets.documents import context
from app.tickets.models import ProgressReport, Ticket

FORM_TITLE = "PHIẾU YÊU CẦU HÀNH ĐỘNG KHẮC PHỤC/CẢI TIẾN"
FORMS_PER_RUN = 100  # a run of 100 forms takes a few seconds, well inside the engine's time limit
WEB_LIMIT = 2000  # forms in one binder asked for in the browser (made by a job); the command line has no limit
CONTENTS_ROWS = 12  # rows of the contents on a page, each at most three lines of 12 pt
EXCERPT = 72  # characters of the description in the contents


def tickets_for(user, args, ids=None) -> list[Ticket]:
    """The binder's tickets, in number order (drafts last): everything the ticket list shows
    under `args`, or only the chosen `ids` among the tickets `user` sees. The list's own query,
    so the visibility and the filters are the list's; `user` None is the whole agency."""
    query = services.ticket_list_query(user, args if ids is None else {})
    if ids is not None:
        query = query.where(Ticket.id.in_([i for i in map(id_of, ids) if i] or [-1]))
    query = query.order_by(Ticket.number.is_(None), Ticket.year, Ticket.number, Ticket.id).options(
        selectinload(Ticket.requesting_unit), selectinload(Ticket.implementing_unit),
        selectinload(Ticket.requester), selectinload(Ticket.implementer), selectinload(Ticket.implementing_unit_head),
        selectinload(Ticket.approved_by), selectinload(Ticket.verified_by),
        selectinload(Ticket.nonconformities), selectinload(Ticket.attachments),
        selectinload(Ticket.progress_reports).selectinload(ProgressReport.attachments),
        selectinload(Ticket.box2_revisions), selectinload(Ticket.change_requests),
        selectinload(Ticket.follows), selectinload(Ticket.follow_ups),
    )
    return list(db.session.scalars(query))


def describe(args, ids=None) -> str:
    """What the binder holds, in Vietnamese words, for its cover: the list's filters as
    ticket_list_query reads them, or the rows chosen on the list."""
    if ids is not None:
        return "Các phiếu được chọn trên danh sách"
    with force_locale("vi"):
        parts = []
        if (year := id_of(args.get("year"))) is not None:
            parts.append(f"năm {year}")
        if args.get("state") in workflow.STATES:
            parts.append(f"trạng thái “{workflow.STATES[args['state']]}”")
        if args.get("open"):
            parts.append("đang xử lý")
        if (unit_id := id_of(args.get("unit"))) is not None:
            unit = get_by_id(Unit, unit_id)
            parts.append(f"đơn vị đề nghị hoặc thực hiện: {unit.name if unit else '(không có)'}")
        if args.get("kind") in vocabulary.KINDS:
            parts.append(f"loại “{vocabulary.KINDS[args['kind']]}”")
        if args.get("source") in vocabulary.SOURCES:
            parts.append(f"nguồn “{vocabulary.SOURCES[args['source']]}”")
        for start, end, words in (("from", "to", "đề nghị"), ("closed_from", "closed_to", "đóng")):
            first, last = services.parse_date(args.get(start)), services.parse_date(args.get(end))
            if first or last:
                parts.append(" ".join(filter(None, [
                    words, first and f"từ ngày {vn_date(first)}", last and f"đến ngày {vn_date(last)}"])))
        if args.get("overdue"):
            on = services.parse_date(args.get("overdue_on"))
            parts.append(f"quá hạn tại ngày {vn_date(on)}" if on else "quá hạn")
        if args.get("missing_report"):
            parts.append("thiếu báo cáo tiến độ")
        if str(args.get("q", "")).strip():
            parts.append(f"tìm “{str(args['q']).strip()}”")
    return "Tất cả phiếu" + (": " + "; ".join(parts) if parts else "")


def binder_pdf(tickets: list[Ticket], scope: str, year: int | None = None) -> bytes:
    """The binder as PDF bytes (raises reports.ReportError). Printed in Vietnamese whatever
    language the reader's screen uses, headed by the tickets' agency (one agency's: the
    user's, or the `--agency` of a command)."""
    with force_locale("vi"), agency_of(tickets[0] if tickets else None):
        settings = current_agency()
        forms, starts, pages = [], [], 0
        for first in range(0, len(tickets), FORMS_PER_RUN):
            batch = tickets[first:first + FORMS_PER_RUN]
            data, batch_starts = render_pdf_parts(
                "bm_ctcl_01.html", [context(t, settings) for t in batch], [_marks(t) for t in batch])
            reader = PdfReader(io.BytesIO(data))
            starts += [pages + start for start in batch_starts]
            pages += len(reader.pages)
            forms.append(reader)
        rows = [{"index": index, "number": t.display_number or "(dự thảo)", "text": _excerpt(t.description),
                 "state": str(workflow.STATES[t.state])} for index, t in enumerate(tickets, 1)]
        years = [year] if year else sorted({t.year or t.requested_on.year for t in tickets})
        front_pages = 1 + -(-len(rows) // CONTENTS_ROWS)  # the cover, then the contents
        for _ in range(2):  # a second time only if a contents page overflowed after all
            front = render_pdf(
                "binder_front.html", settings=settings, scope=scope, count=len(tickets), years=years,
                today=services.today(), per_page=CONTENTS_ROWS, total_pages=front_pages + pages,
                rows=[{**row, "page": front_pages + start + 1} for row, start in zip(rows, starts)])
            front_reader = PdfReader(io.BytesIO(front))
            if len(front_reader.pages) == front_pages:
                break
            front_pages = len(front_reader.pages)
    writer = PdfWriter(clone_from=front_reader)
    for reader in forms:
        writer.append(reader)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make(file_id: int, user_id: int, args: dict, ids: list[int] | None) -> None:
    """The job (app.jobs) that makes the binder `user_id` asked for on the ticket list (the
    list's `args`, or the chosen `ids`) into their generated file `file_id`: the tickets they
    see when it runs. A PDF engine's failure is the file's reason (Vietnamese); anything else
    also fails the file, and raises so that the queue retries."""
    import logging

    from flask_babel import gettext
    from reports import ReportError

    from app.downloads import services as downloads
    from app.downloads.models import GeneratedFile
    from app.organisation.models import QmsUser
    from app.tenancy import ALL, agency_scope

    generated = db.session.get(GeneratedFile, file_id)
    if generated is None:
        return
    with agency_scope(ALL):  # the province inspector belongs to no agency: found whatever the scope
        user = db.session.get(QmsUser, user_id)
    if user is None:  # never the whole agency's tickets (tickets_for's None) for nobody
        return
    try:
        tickets = tickets_for(user, args, ids)
        if not tickets:
            with force_locale("vi"):
                downloads.finish(generated, error=gettext("No ticket to print any more: they were changed."))
            return
        data = binder_pdf(tickets, describe(args, ids), id_of(args.get("year")) if ids is None else None)
    except ReportError as error:
        db.session.rollback()
        downloads.finish(generated, error=str(error))
        return
    except Exception:
        logging.getLogger(__name__).exception("The binder of file %s failed", file_id)
        db.session.rollback()
        with force_locale("vi"):
            downloads.finish(generated, error=gettext(
                "An unexpected error stopped the binder; it will be tried again, or ask the administrator."))
        raise
    downloads.finish(generated, data=data)


def _marks(ticket: Ticket) -> tuple[str, ...]:
    """Texts on the first page of the ticket's form: its title and its number are printed
    together nowhere else."""
    return (FORM_TITLE, f"Số phiếu: {ticket.display_number}") if ticket.number else (FORM_TITLE,)


def _excerpt(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT else text[:EXCERPT].rsplit(" ", 1)[0] + " …"
