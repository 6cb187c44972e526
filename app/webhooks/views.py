from flask_babel import lazy_gettext as _l
from wtforms.validators import URL, Length

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
    base_order = ("id", "desc")
