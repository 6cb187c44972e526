from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext, lazy_gettext as _l
from wtforms.validators import URL, Length

from app.tenancy import current_scope
from app.ui import QmsInterface, QmsModelView
from app.webhooks.models import Webhook, WebhookDelivery


class WebhookView(QmsModelView):
    """The agency's webhooks (Admin only): a URL told of every transition and new NC, and the
    secret its signature is made with. The secret is asked for, never shown again."""

    datamodel = QmsInterface(Webhook)
    list_title = _l("Webhooks")
    show_title = _l("Webhook")
    add_title = _l("Add webhook")
    edit_title = _l("Edit webhook")
    label_columns = {"url": _l("Receiving URL"), "secret": _l("Signing secret"), "active": _l("Active"),
                     "created_at": _l("Created at")}
    description_columns = {
        "secret": _l("Each POST carries X-QMS-Signature: sha256=<HMAC-SHA256 of the body with this secret>."),
    }
    list_columns = ["url", "active", "created_at"]
    show_columns = ["url", "active", "created_at"]
    add_columns = edit_columns = ["url", "secret", "active"]
    validators_columns = {
        "url": [URL(require_tld=False, message=_l("Enter a URL starting with http:// or https://."))],
        "secret": [Length(min=16, max=200, message=_l("The secret must have 16 to 200 characters."))],
    }
    base_order = ("created_at", "desc")


# A delivery's status code (stored) and its label (shown)
DELIVERY_STATUSES = {"pending": _l("Delivery pending"), "sent": _l("Delivered"),
                     "failed": _l("Delivery failed (retried by the queue)")}


class WebhookDeliveryView(QmsModelView):
    """The delivery log: every event sent to every webhook, newest first."""

    datamodel = QmsInterface(WebhookDelivery, eager=("webhook",))
    base_permissions = ["can_list", "can_show"]
    list_title = show_title = _l("Webhook deliveries")
    label_columns = {
        "webhook": _l("Webhook"), "event": _l("Event"), "payload": _l("Content"), "status": _l("Status"),
        "attempts": _l("Attempts"), "last_status_code": _l("Last HTTP status"), "last_error": _l("Last error"),
        "created_at": _l("Created at"), "sent_at": _l("Sent at"),
    }
    list_columns = ["created_at", "webhook", "event", "status", "attempts", "last_status_code", "sent_at"]
    show_columns = list(label_columns)
    search_columns = ["event", "status"]
    formatters_columns = {"status": lambda code: str(DELIVERY_STATUSES.get(code, code))}
    base_order = ("id", "desc")


class FailedJobsView(BaseView):
    """Background jobs RQ gave up on after every retry (its FailedJobRegistry), the agency's
    own only, each with a button that puts it back on the queue. Admin only."""

    route_base = "/jobs/failed"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        from app import jobs

        rows = []
        if jobs.queue_url():
            for job in jobs.failed_jobs(agency_id=current_scope()):
                result = job.latest_result()
                reason = (result.exc_string or "").strip().splitlines()[-1:] if result else []
                rows.append({"id": job.id, "what": job.description, "ended_at": job.ended_at,
                             "reason": (reason[0] if reason else "")[:200]})
        return self.render_template("failed_jobs.html", jobs=rows, queued=bool(jobs.queue_url()))

    @expose("/retry", methods=["POST"])
    @has_access
    @permission_name("retry")
    def retry(self):
        from app import jobs

        job_id = request.form.get("job_id", "")
        if not jobs.queue_url() or job_id not in {job.id for job in jobs.failed_jobs(agency_id=current_scope())}:
            abort(404)
        jobs.retry_failed(job_id)
        flash(gettext("The job is back on the queue."), "success")
        return redirect(url_for(".index"))
