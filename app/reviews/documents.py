"""BM.CTCL.02 minutes, the QMS operation report and the notice of results, as PDF."""
import datetime

from flask_babel import force_locale, gettext

from reports import ReportError, abbreviate, agency_heading, agency_in_sentence, render_pdf, signature_lines

from app.organisation import roles
from app.organisation.services import current_agency, holder_of
from app.reviews import services, workflow
from app.tenancy import agency_of
from app.workflow import NotFound


def discussion_topics() -> list[list[str]]:
    """Table 4.2 of BM.CTCL.02 line by line, naming this agency where the seed names its own."""
    agency = agency_in_sentence(abbreviate(current_agency().agency_name))
    return [[line.format(agency=agency) for line in topic] for topic in workflow.DISCUSSION_TOPICS]


def _context(review=None) -> dict:
    settings = current_agency()
    # the notice is the agency's, signed by its top leader (5.8.2.2); until issued, by whom it will be
    signer = review.approved_by if review and review.approved_by else holder_of(roles.TOP_LEADER)
    return {
        "settings": settings, "review": review,
        # the committee's documents: "UBND HUYỆN CAM LÂM" over "BAN CHỈ ĐẠO ISO", as on BM.CTCL.02
        "committee": agency_heading(settings.steering_committee, abbreviate(settings.agency_name)),
        "agency": agency_heading(settings.agency_name),
        "agency_in_sentence": agency_in_sentence(abbreviate(settings.agency_name)),
        "committee_in_sentence": agency_in_sentence(settings.steering_committee),
        "notice_signature": signature_lines(signer.position if signer else None, settings.agency_name, "Chủ tịch"),
        "topics": discussion_topics(), "sections": services.INPUT_SECTIONS,
        "figure_label": services.figure_label,
    }


def _time_words(value: str | None) -> str:
    if not value:
        return ".... giờ ...."
    hours, minutes = value.split(":")
    return f"{hours} giờ {minutes}"


# The documents of a review by their address (…/<id>/<kind>.pdf) → app.official.documents codes.
REVIEW_DOCUMENTS = {"minutes": "minutes", "report": "qms_report", "notice": "notice"}


def review_pdf(review, document: str) -> tuple[bytes, str]:
    """The documents are Vietnamese whatever language the reader's screen uses, and print the
    review's own agency."""
    with force_locale("vi"), agency_of(review):
        return _review_pdf(review, document)


def _review_pdf(review, document: str) -> tuple[bytes, str]:
    number = f"{review.number}-{review.year}"
    if document == "minutes":
        if review.form != "meeting":
            raise NotFound("This review is not a meeting.")
        data = render_pdf("bm_ctcl_02.html", start_words=_time_words(review.start_time),
                          end_words=_time_words(review.end_time), draft=review.state != "minutes_approved",
                          **_context(review))
        return data, f"BM.CTCL.02-{number}.pdf"
    if document == "notice":
        if review.form != "report":
            raise NotFound("This review has no notice.")
        return render_pdf("review_notice.html", draft=review.state != "issued", **_context(review)), \
            f"ThongBao-XXLD-{number}.pdf"
    return render_pdf("qms_report.html", year=review.year, period=(review.period_start, review.period_end),
                      figures=review.figures or {}, texts=review.inputs or {},
                      draft=review.report_approved_on is None, **_context(review)), \
        f"BaoCao-HTQLCL-{number}.pdf"


def annual_report_pdf(year: int) -> bytes:
    """The yearly QMS operation report straight from the records, without a review record,
    counted as the ISO secretary who drafts it (5.8.2.1) sees the records; a draft until a
    review approves it."""
    start, end = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    secretary = holder_of(roles.ISO_SECRETARY)
    if secretary is None:
        raise ReportError(gettext("No active user holds the ISO secretary role."))
    with force_locale("vi"):
        return render_pdf("qms_report.html", year=year, period=(start, end), draft=True,
                          figures=services.gather_inputs(start, end, secretary), texts={}, **_context())
