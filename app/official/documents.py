"""The documents of the procedure that get an official copy (SPEC §11), declared once: what
each is, which record it prints, how a person who may see the record loads it, how it is
rendered, and who approved it (who may add a personal signature). The workflows say in
which states a record's document becomes official (`Workflow.official`)."""
from dataclasses import dataclass
from typing import Callable

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Document:
    code: str
    label: object
    model: Callable[[], type]  # the record's class (imported late: the domains import this package)
    load: Callable  # (user, record id) -> record, or a WorkflowError (404) when the user may not see it
    render: Callable  # (record) -> (pdf bytes, file name)
    approver: Callable  # (record) -> the person who approved it, or None
    page: Callable  # (record) -> the record's page in the panel
    workflow: Callable  # (record) -> its Workflow, whose `official` says when the document is final
    name: Callable = str  # (record) -> how a person names the record

    def title(self, record) -> str:
        return f"{self.label} – {self.name(record)}"


def _ticket():
    from app.tickets.models import Ticket
    return Ticket


def _load_ticket(user, pk):
    from app.tickets.services import get_ticket
    return get_ticket(user, pk)


def _render_ticket(ticket):
    from app.tickets.documents import ticket_pdf
    return ticket_pdf(ticket), f"BM.CTCL.01-{(ticket.display_number or str(ticket.id)).replace('/', '-')}.pdf"


def _review():
    from app.reviews.models import Review
    return Review


def _load_review(user, pk):
    from app.reviews.services import get_review
    return get_review(pk)


def _review_renderer(kind):
    def render(review):
        from app.reviews.documents import review_pdf
        return review_pdf(review, kind)
    return render


def _plan():
    from app.objectives.models import ObjectivePlan
    return ObjectivePlan


def _objective_report():
    from app.objectives.models import ObjectiveReport
    return ObjectiveReport


def _load_plan(user, pk):
    from app.objectives.services import get_plan
    return get_plan(pk)


def _load_report(user, pk):
    from app.objectives.services import get_report
    return get_report(pk)


def _render_plan(plan):
    from app.objectives.documents import export
    return export(plan, "plan", "pdf")


def _render_report(report):
    from app.objectives.documents import export
    return export(report.plan, "report", "pdf")


def _ticket_workflow(ticket):
    from app.tickets.workflow import WORKFLOW
    return WORKFLOW


def _review_workflow(review):
    from app.reviews.workflow import workflow_for
    return workflow_for(review)


def _objective_workflow(record):
    from app.objectives.workflow import WORKFLOW
    return WORKFLOW


def _objective_name(plan) -> str:
    """'2025 – Phòng Tài nguyên và Môi trường': the year and whose plan it is."""
    from app.organisation.services import current_agency
    return f"{plan.year} – {plan.unit.name if plan.unit else current_agency().agency_name}"


def _url(endpoint, **values):
    def page(record):
        from flask import url_for
        return url_for(endpoint, **{k: getattr(record, v) for k, v in values.items()})
    return page


DOCUMENTS = {document.code: document for document in (
    Document("ticket", _l("Action request (BM.CTCL.01)"), _ticket, _load_ticket, _render_ticket,
             lambda t: t.verified_by, _url("TicketView.show", pk="id"),
             _ticket_workflow),
    Document("minutes", _l("Management review minutes (BM.CTCL.02)"), _review, _load_review,
             _review_renderer("minutes"), lambda r: r.chair, _url("ReviewView.show", pk="id"),
             _review_workflow),
    Document("qms_report", _l("QMS operation report"), _review, _load_review, _review_renderer("report"),
             lambda r: r.report_approved_by, _url("ReviewView.show", pk="id"),
             _review_workflow),
    Document("notice", _l("Notice of the management review results"), _review, _load_review,
             _review_renderer("notice"), lambda r: r.approved_by, _url("ReviewView.show", pk="id"),
             _review_workflow),
    Document("objective_plan", _l("Quality objective plan (Phụ lục 3)"), _plan, _load_plan, _render_plan,
             lambda p: p.approved_by, _url("ObjectivePlanView.show", pk="id"), _objective_workflow,
             _objective_name),
    Document("objective_report", _l("Quality objective report (Phụ lục 3)"), _objective_report, _load_report,
             _render_report, lambda r: r.approved_by, _url("ObjectivePlanView.show", pk="plan_id"),
             _objective_workflow, lambda report: _objective_name(report.plan)),
)}
