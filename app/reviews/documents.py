"""BM.CTCL.02 minutes, the QMS operation report and the notice of results, as PDF."""
import datetime

from flask_appbuilder.security.sqla.models import Role
from flask_babel import force_locale, gettext
from sqlalchemy import select

from reports import ReportError, render_pdf

from app.extensions import db
from app.organisation import roles
from app.organisation.models import QmsUser
from app.organisation.services import get_settings
from app.reviews import services, workflow
from app.workflow import NotFound


def _context(review=None) -> dict:
    settings = get_settings()
    return {
        "settings": settings,
        # the form's header: "UBND HUYỆN CAM LÂM" over "BAN CHỈ ĐẠO ISO"
        "agency_short": settings.agency_name.replace("ỦY BAN NHÂN DÂN", "UBND"),
        "topics": workflow.DISCUSSION_TOPICS, "sections": services.INPUT_SECTIONS,
        "figure_label": services.figure_label, "review": review,
    }


def _time_words(value: str | None) -> str:
    if not value:
        return ".... giờ ...."
    hours, minutes = value.split(":")
    return f"{hours} giờ {minutes}"


def review_pdf(review, document: str) -> tuple[bytes, str]:
    """The documents are Vietnamese whatever language the reader's screen uses."""
    with force_locale("vi"):
        return _review_pdf(review, document)


def _review_pdf(review, document: str) -> tuple[bytes, str]:
    number = f"{review.number}-{review.year}"
    if document == "minutes":
        if review.form != "meeting":
            raise NotFound("This review is not a meeting.")
        data = render_pdf("bm_ctcl_02.html", start_words=_time_words(review.start_time),
                          end_words=_time_words(review.end_time), **_context(review))
        return data, f"BM.CTCL.02-{number}.pdf"
    if document == "notice":
        if review.form != "report":
            raise NotFound("This review has no notice.")
        return render_pdf("review_notice.html", **_context(review)), f"ThongBao-XXLD-{number}.pdf"
    return render_pdf("qms_report.html", year=review.year, period=(review.period_start, review.period_end),
                      figures=review.figures or {}, texts=review.inputs or {}, **_context(review)), \
        f"BaoCao-HTQLCL-{number}.pdf"


def annual_report_pdf(year: int) -> bytes:
    """The yearly QMS operation report straight from the records, without a review record,
    counted as the ISO secretary who drafts it (5.8.2.1) sees the records."""
    start, end = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    secretary = db.session.scalar(select(QmsUser).join(QmsUser.roles).where(
        Role.name == roles.ISO_SECRETARY, QmsUser.active.is_(True)).order_by(QmsUser.id))
    if secretary is None:
        raise ReportError(gettext("No active user holds the ISO secretary role."))
    with force_locale("vi"):
        return render_pdf("qms_report.html", year=year, period=(start, end),
                          figures=services.gather_inputs(start, end, secretary), texts={}, **_context())
