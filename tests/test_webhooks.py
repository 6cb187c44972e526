"""Outbound webhooks (issue 14 item 9): every transition and every new NC is POSTed, signed,
to the agency's registered URLs, without ever failing the request that caused it."""
import hashlib
import hmac
import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests.conftest import csrf_token, iso_day

SECRET = "bi-mat-thu-nghiem-0123456789"


class Receiver:
    """A local HTTP server (127.0.0.1, a free port) recording what it is sent."""

    def __init__(self):
        self.received, self.status = [], 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((self.headers, body))  # case-insensitive names
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/qms-hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def events(self, event):
        return [(headers, json.loads(body)) for headers, body in self.received if headers["X-QMS-Event"] == event]


@contextmanager
def serving():
    server = Receiver()
    try:
        yield server
    finally:
        server.close()


@contextmanager
def registered(db, url):
    """The demo agency's webhook to `url`; removed with its log afterwards."""
    from app.webhooks.models import Webhook, WebhookDelivery

    hook = Webhook(url=url, secret=SECRET, active=True)
    db.session.add(hook)
    db.session.commit()
    try:
        yield hook
    finally:
        db.session.rollback()
        db.session.query(WebhookDelivery).filter_by(webhook_id=hook.id).delete()
        db.session.query(Webhook).filter_by(id=hook.id).delete()
        db.session.commit()


def deliveries(db, hook):
    from app.webhooks.models import WebhookDelivery

    db.session.expire_all()
    return db.session.query(WebhookDelivery).filter_by(webhook_id=hook.id).order_by(WebhookDelivery.id).all()


def verify(headers, body: bytes) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-QMS-Signature"], expected)


def test_a_transition_is_posted_signed(receiver, webhook, make_ticket, db):
    ticket = make_ticket(state="unit_review")
    [(headers, body)] = receiver.received
    assert verify(headers, body)
    payload = json.loads(body)
    assert headers["X-QMS-Event"] == "transition" and headers["Content-Type"].startswith("application/json")
    assert {k: payload[k] for k in ("event", "workflow", "name", "record_type", "id", "state")} == {
        "event": "transition", "workflow": "tickets", "name": "submit", "record_type": "ticket",
        "id": ticket.id, "state": "unit_review"}
    assert payload["at"]
    [delivery] = deliveries(db, webhook)
    assert headers["X-QMS-Delivery"] == str(delivery.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("sent", 1, 200)
    assert delivery.sent_at is not None and json.loads(delivery.payload) == payload


def test_a_new_nonconformity_is_posted_from_the_page_and_the_api(receiver, webhook, client_as_user, api, unit, db):
    from app.tickets.models import NcCategory, Nonconformity

    category = db.session.query(NcCategory).first()
    client = client_as_user("canbo.ktht")
    page = client.get("/nonconformities/add")
    response = client.post("/nonconformities/add", data={
        "detected_on": iso_day(), "description": "KPH gửi webhook", "source": "nonconforming_activity",
        "category": str(category.id), "unit": str(unit("KTHT").id), "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    nc = db.session.query(Nonconformity).filter_by(description="KPH gửi webhook").one()
    created = api("canbo.ktht").post("/api/v1/nonconformities/", json={
        "unit": unit("KTHT").id, "detected_on": iso_day(), "description": "KPH webhook qua API",
        "source": "feedback", "category": category.id})
    assert created.status_code == 201, created.text
    sent = receiver.events("nonconformity_created")
    assert [payload["id"] for _, payload in sent] == [nc.id, created.json["id"]]
    assert sent[0][1]["description"] == "KPH gửi webhook" and sent[0][1]["record_type"] == "nonconformity"
    assert all(verify(headers, body) for headers, body in receiver.received)
    assert [d.status for d in deliveries(db, webhook)] == ["sent", "sent"]


def test_a_failing_receiver_never_fails_the_request(receiver, webhook, make_ticket, db):
    receiver.status = 500
    ticket = make_ticket(state="unit_review")  # the transition itself went through
    db.session.expire_all()
    assert ticket.state == "unit_review"
    [delivery] = deliveries(db, webhook)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 500)
    assert delivery.last_error == "HTTP 500" and delivery.sent_at is None


def test_an_unreachable_receiver_is_logged_as_failed(webhook, make_ticket, db):
    webhook.url = "http://127.0.0.1:9/khong-co"  # discard port: connection refused
    db.session.commit()
    make_ticket(state="unit_review")
    [delivery] = deliveries(db, webhook)
    assert delivery.status == "failed" and delivery.attempts == 1 and delivery.last_status_code is None
    assert delivery.last_error and len(delivery.last_error) <= 300


def test_inactive_webhooks_and_other_agencies_are_not_told(receiver, webhook, make_ticket, db):
    from app.tenancy import agency_named
    from app.webhooks.models import Webhook

    webhook.active = False
    db.session.commit()
    make_ticket(state="unit_review")
    assert receiver.received == [] and deliveries(db, webhook) == []
    with agency_named("CAMHIEP"):  # another agency sees neither the webhook nor its log
        assert db.session.query(Webhook).filter_by(id=webhook.id).count() == 0


def test_only_the_admin_manages_webhooks_and_sees_the_log(client_as_user, receiver, db):
    from app.webhooks.models import Webhook

    admin = client_as_user("admin")
    page = admin.get("/webhookview/add")
    assert page.status_code == 200
    added = admin.post("/webhookview/add", data={
        "url": receiver.url, "secret": SECRET, "active": "y", "csrf_token": csrf_token(page.text)})
    assert added.status_code == 302
    hook = db.session.query(Webhook).filter_by(url=receiver.url).one()
    try:
        listing = admin.get("/webhookview/list/")
        assert receiver.url in listing.text and SECRET not in listing.text
        assert SECRET not in admin.get(f"/webhookview/show/{hook.id}").text
        assert admin.get("/webhookdeliveryview/list/").status_code == 200
        for username in ("canbo.ktht", "thuky.iso"):
            client = client_as_user(username)
            assert client.get("/webhookview/list/").status_code in (302, 403)
            assert client.get("/webhookdeliveryview/list/").status_code in (302, 403)
    finally:
        db.session.delete(hook)
        db.session.commit()


@pytest.mark.parametrize("url", ["/webhookview/list/", "/webhookview/add", "/webhookdeliveryview/list/",
                                 "/jobs/failed/"])
def test_the_webhook_and_job_screens_are_vietnamese(as_admin, url):
    from tests.test_i18n import english_left

    response = as_admin.get(url)
    assert response.status_code == 200 and english_left(response.text) == []
