"""The compliance board of the Sở KHCN (SPEC §10) as plain functions.

One row per active agency for a year: objective plan approved by 30/01, objective report by
31/12, internal audit, management review, tickets (open, overdue, closed as not effective,
share closed as effective) and recurring-NC series. Figures for every agency come from a fixed
number of GROUP BY queries, whatever the number of agencies; the ticket figures are counted
with the ticket list's own query (tickets.services.ticket_list_query), so each figure equals
the agency's list it opens.
"""
import datetime
from urllib.parse import urlencode, urlparse

from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import case, func, literal, select, union_all

from app.extensions import db
from app.objectives import services as objectives
from app.objectives.models import ObjectivePlan, ObjectiveReport
from app.organisation.models import Agency
from app.reviews import workflow as review_workflow
from app.reviews.models import InternalAudit, Review
from app.tenancy import ALL, agency_scope
from app.tickets import services as tickets
from app.tickets import workflow as ticket_workflow
from app.tickets.models import Ticket
from app.ui import format_date
from app.workflow import today

# The board's columns: key (also the `sort` argument), heading.
COLUMNS = (
    ("code", _l("Code")),
    ("name", _l("Agency")),
    ("plan_on", _l("Objective plan approved by 30/01")),
    ("report_on", _l("Objective report by 31/12")),
    ("audits", _l("Internal audit")),
    ("review_on", _l("Management review")),
    ("open", _l("Open tickets")),
    ("overdue", _l("Overdue tickets")),
    ("ineffective", _l("Closed as not effective")),
    ("effective_share", _l("Share closed as effective")),
    ("recurring", _l("Recurring nonconformity series")),
    ("late", _l("Late")),
)
SORT_KEYS = tuple(key for key, _ in COLUMNS)
LATE_REASONS = {
    "plan": _l("objective plan not approved by 30/01"),
    "report": _l("objective report not done by 31/12"),
    "audit": _l("no internal audit in the year"),
    "review": _l("no management review in the year"),
    "overdue": _l("overdue tickets"),
}
PLAN_FLAGS = {"ok": _l("On time"), "late": _l("Late"), "missing": _l("Missing"), "pending": _l("Not yet due")}


def ticket_filters(year: int) -> dict[str, dict]:
    """The ticket list's arguments behind each ticket figure of a year: open and overdue now
    among the tickets requested up to 31/12 of the year; closed (effective or not) in the year."""
    end = objectives.report_due(year).isoformat()
    closed = {"closed_from": datetime.date(year, 1, 1).isoformat(), "closed_to": end}
    return {
        "open": {"open": 1, "to": end},
        "overdue": {"overdue": 1, "to": end},
        "closed": {"state": ticket_workflow.WORKFLOW.groups["effective"][0], **closed},
        "ineffective": {"state": ticket_workflow.WORKFLOW.groups["not_effective"][0], **closed},
    }


def list_links(year: int) -> dict[str, str]:
    """The agency's pages behind each figure (opened read-only once the agency is chosen)."""
    filters = ticket_filters(year)
    return {
        "plan_on": f"/objectives/list/?year={year}",
        "report_on": f"/objectives-summary/?year={year}",
        "audits": f"/internal-audits/list/?_flt_0_year={year}",
        "review_on": f"/reviews/list/?year={year}",
        **{key: "/tickets/list/?" + urlencode(args) for key, args in filters.items()},
        "effective_share": "/tickets/list/?" + urlencode(filters["closed"]),
        "recurring": "/recurring/",
    }


def inspect_links(links: dict[str, str]):
    """The links that open each of `links` in an agency, given its code: the targets, the same
    for every agency, encoded once (the board encoded them for each of 300 agencies, 14 each)."""
    encoded = {key: urlencode({"next": target}) for key, target in links.items()}
    return lambda code: {key: f"/compliance/inspect/{code}?{query}" for key, query in encoded.items()}


def _per_agency(query) -> dict:
    return {agency_id: rest for agency_id, *rest in db.session.execute(query)}


def _ticket_counts(filters: dict[str, dict]) -> dict[str, dict[int, int]]:
    """Each ticket figure of every agency in one statement: {figure: {agency id: count}}, each
    figure counted under the ticket list's own conditions for its arguments, in a branch of its
    own (a UNION ALL) so that each reads only its index (migration 0017), not the whole table."""
    branches = [select(literal(key).label("figure"), Ticket.agency_id, func.count())
                .where(tickets.ticket_list_query(None, args).whereclause).group_by(Ticket.agency_id)
                for key, args in filters.items()]
    counts: dict[str, dict[int, int]] = {key: {} for key in filters}
    for key, agency_id, count in db.session.execute(union_all(*branches)):
        counts[key][agency_id] = count
    return counts


def _recurring_counts(agency_ids=None) -> dict[int, int]:
    """The recurring series of each agency (of these ids only, when given), by its own
    recurrence threshold: one grouped query over their kept open runs (app.tickets.runs)."""
    runs = tickets.open_runs_query(agencies=agency_ids).subquery("run")
    return dict(db.session.execute(
        select(runs.c.agency_id, func.count()).join(Agency, Agency.id == runs.c.agency_id)
        .where(runs.c.size > Agency.recurrence_threshold).group_by(runs.c.agency_id)).all())


def board(year: int, on: datetime.date | None = None, recurring: bool = True) -> list[dict]:
    """One row per active agency, ordered by code (see the module's docstring). The recurring
    series of every agency only when `recurring` (see board_page)."""
    on = on or today()
    with agency_scope(ALL):
        agencies = db.session.scalars(
            select(Agency).where(Agency.active.is_(True)).order_by(Agency.code)).all()
        # the agency's own plan (no unit): first approval of any of its revisions; its report
        plans = _per_agency(
            select(ObjectivePlan.agency_id, func.min(ObjectivePlan.approved_on),
                   func.min(ObjectiveReport.approved_on), func.max(ObjectiveReport.submitted_on))
            .outerjoin(ObjectiveReport, ObjectiveReport.plan_id == ObjectivePlan.id)
            .where(ObjectivePlan.year == year, ObjectivePlan.unit_id.is_(None))
            .group_by(ObjectivePlan.agency_id))
        audits = _per_agency(
            select(InternalAudit.agency_id, func.count(), func.max(InternalAudit.done_on))
            .where(InternalAudit.year == year).group_by(InternalAudit.agency_id))
        # held on the meeting's date (5.8.1), or when the notice of results was issued (5.8.2)
        held_on = case((Review.form == "meeting", Review.meeting_date), else_=Review.approved_on)
        reviews: dict[int, tuple] = {}
        for agency_id, form, held in db.session.execute(
                select(Review.agency_id, Review.form, func.min(held_on))
                .where(Review.year == year, Review.state.in_(review_workflow.GROUPS["final"]))
                .group_by(Review.agency_id, Review.form)):
            kept = reviews.get(agency_id)
            if kept is None or (held and (kept[1] is None or held < kept[1])):
                reviews[agency_id] = (form, held)
        counts = _ticket_counts(ticket_filters(year))
        series = _recurring_counts() if recurring else {}
    links_of = inspect_links(list_links(year))
    rows = []
    for agency in agencies:
        plan_on, report_on, report_submitted_on = plans.get(agency.id) or (None, None, None)
        audit_count, audit_on = audits.get(agency.id) or (0, None)
        review_form, review_on = reviews.get(agency.id) or (None, None)
        figures = {key: values.get(agency.id, 0) for key, values in counts.items()}
        finished = figures["closed"] + figures["ineffective"]
        row = {
            "id": agency.id, "code": agency.code, "name": agency.agency_name,
            "plan_on": plan_on, "plan_flag": objectives._flag(plan_on, objectives.plan_due(year), on),
            "report_on": report_on, "report_submitted_on": report_submitted_on,
            "report_flag": objectives._flag(report_on, objectives.report_due(year), on),
            "audits": audit_count, "audit_on": audit_on,
            "review_held": review_form is not None, "review_form": review_form, "review_on": review_on,
            **figures,
            "effective_share": round(100 * figures["closed"] / finished) if finished else None,
            "recurring": series.get(agency.id, 0) if recurring else None,
            "links": links_of(agency.code),
        }
        row["reasons"] = late_reasons(row)
        row["late"] = bool(row["reasons"])
        rows.append(row)
    return rows


BOARD_ROWS = 25  # agencies on a page of the board


def board_page(year: int, sort: str = "code", descending: bool = False, late_only: bool = False,
               page: int = 1) -> tuple[list[dict], int, int]:
    """One page of the board as asked: its rows (BOARD_ROWS agencies), the page shown and the
    number of pages. Sorting and the late filter read every agency's cheap figures; the
    recurring series only those of the agencies shown, unless the board is sorted by them."""
    by_recurring = sort == "recurring"
    rows = arrange(board(year, recurring=by_recurring), sort, descending, late_only)
    pages = max(1, -(-len(rows) // BOARD_ROWS))
    page = min(max(page, 1), pages)
    shown = rows[(page - 1) * BOARD_ROWS:page * BOARD_ROWS]
    if not by_recurring and shown:
        with agency_scope(ALL):
            series = _recurring_counts([row["id"] for row in shown])
        for row in shown:
            row["recurring"] = series.get(row["id"], 0)
    return shown, page, pages


def _dated(label, day) -> str:
    return f"{label} ({format_date(day)})" if day else str(label)


def cell_texts(row: dict) -> list:
    """One agency's line as the board page, the workbook and the PDF all print it, column by
    column (COLUMNS), in the current locale: the figures stay numbers."""
    if row["report_on"]:
        report = _dated(PLAN_FLAGS[row["report_flag"]], row["report_on"])
    elif row["report_submitted_on"]:
        report = gettext("Submitted on %(day)s", day=format_date(row["report_submitted_on"]))
    else:
        report = str(PLAN_FLAGS[row["report_flag"]])
    if row["review_held"]:
        review = _dated(gettext("Yes"), row["review_on"]) + " — " + str(
            review_workflow.FORMS.get(row["review_form"], row["review_form"]))
    else:
        review = gettext("No")
    late = "; ".join(str(LATE_REASONS[r]) for r in row["reasons"])
    return [
        row["code"], row["name"], _dated(PLAN_FLAGS[row["plan_flag"]], row["plan_on"]), report,
        _dated(gettext("Yes"), row["audit_on"]) if row["audits"] else gettext("No"), review,
        row["open"], row["overdue"], row["ineffective"],
        f"{row['effective_share']} %" if row["effective_share"] is not None else "—",
        row["recurring"], late or gettext("No"),
    ]


def province_line() -> str | None:
    """The body above the Sở on the board's heading: the parent body the active agencies all
    share (e.g. ỦY BAN NHÂN DÂN TỈNH KHÁNH HÒA), or None when they differ."""
    with agency_scope(ALL):
        bodies = set(db.session.scalars(select(Agency.parent_body).where(Agency.active.is_(True))))
    bodies = {(body or "").strip() for body in bodies}
    return bodies.pop() if len(bodies) == 1 and "" not in bodies else None


def late_reasons(row: dict) -> list[str]:
    """Why an agency is late: plan not approved by 30/01; once the year is over, report not
    done by 31/12; no internal audit or no management review in the year; overdue tickets."""
    reasons = []
    if row["plan_flag"] in ("late", "missing"):
        reasons.append("plan")
    if row["report_flag"] in ("late", "missing"):
        reasons.append("report")
    if not row["audits"]:
        reasons.append("audit")
    if not row["review_held"]:
        reasons.append("review")
    if row["overdue"]:
        reasons.append("overdue")
    return reasons


def arrange(rows: list[dict], sort: str | None = None, descending: bool = False,
            late_only: bool = False) -> list[dict]:
    """The board as asked: only the late agencies, sorted by a column (empty values last)."""
    if late_only:
        rows = [r for r in rows if r["late"]]
    key = sort if sort in SORT_KEYS else "code"
    present = [r for r in rows if r[key] is not None]
    missing = [r for r in rows if r[key] is None]
    present.sort(key=lambda r: (r[key], r["code"]), reverse=descending)
    return present + missing


def years(on: datetime.date | None = None) -> list[int]:
    """The years offered on the board: this year and the five before it."""
    this_year = (on or today()).year
    return list(range(this_year, this_year - 6, -1))


def find_agency(code: str) -> Agency | None:
    with agency_scope(ALL):
        return db.session.scalar(select(Agency).where(Agency.code == code))


def safe_next(target: str | None) -> str | None:
    """A local path to go to after choosing the agency, or None (another site, a scheme…)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parsed = urlparse(target)
    return target if not parsed.scheme and not parsed.netloc else None


def inspected_agency() -> Agency | None:
    """The agency the signed-in province inspector is looking at, for the banner; None for
    everyone else (no query unless the session holds a chosen agency)."""
    from flask import g, has_request_context, session

    from app.tenancy import INSPECTED_AGENCY, current_scope

    if not has_request_context() or not session.get(INSPECTED_AGENCY):
        return None
    user = g.get("user")
    if user is None or not user.is_authenticated or user.agency_id is not None:
        return None
    scope = current_scope()
    return db.session.get(Agency, scope) if isinstance(scope, int) else None
