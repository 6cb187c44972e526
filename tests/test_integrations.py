"""Integrations (issue 14 item 9): idempotent create with an external reference, polling with
`updated_at`, files through the API."""
import datetime
import io
import uuid

import pytest

from tests.conftest import iso_day

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _ref():
    return "HS-" + uuid.uuid4().hex[:12]


def _ticket_body(unit, ref, **extra):
    return {"kind": "corrective", "source": "feedback", "requesting_unit": unit("KTHT").id,
            "description": "Công dân phản ánh qua Một cửa", "requested_on": iso_day(),
            "external_source": "DVC", "external_ref": ref, **extra}


def _nc_body(db, unit, ref, **extra):
    from app.tickets.models import NcCategory

    category = db.session.query(NcCategory).first().id
    return {"unit": unit("KTHT").id, "detected_on": iso_day(), "description": "Hồ sơ trả trễ (Một cửa)",
            "source": "feedback", "category": category, "external_source": "DVC", "external_ref": ref, **extra}


@pytest.mark.parametrize("kind", ["tickets", "nonconformities"])
def test_the_same_post_twice_gives_the_same_record(kind, api, db, unit):
    from app.tickets.models import Nonconformity, Ticket

    model = Ticket if kind == "tickets" else Nonconformity
    ref = _ref()
    body = _ticket_body(unit, ref) if kind == "tickets" else _nc_body(db, unit, ref)
    client = api("canbo.ktht")
    first = client.post(f"/api/v1/{kind}/", json=body)
    assert first.status_code == 201, first.text
    again = client.post(f"/api/v1/{kind}/", json=body)
    assert again.status_code == 200, again.text
    assert again.json["id"] == first.json["id"]
    assert again.json["result"]["external_ref"] == ref
    # the same reference with other content: still the existing record, unchanged
    changed = client.post(f"/api/v1/{kind}/", json={**body, "description": "Nội dung khác"})
    assert changed.status_code == 200 and changed.json["id"] == first.json["id"]
    db.session.expire_all()
    rows = db.session.query(model).filter_by(external_source="DVC", external_ref=ref).all()
    assert len(rows) == 1 and rows[0].description != "Nội dung khác"
    shown = client.get(f"/api/v1/{kind}/{first.json['id']}")
    assert shown.json["result"]["external_source"] == "DVC"
    # another sending system may use the same number
    other = client.post(f"/api/v1/{kind}/", json={**body, "external_source": "HCC"})
    assert other.status_code == 201 and other.json["id"] != first.json["id"]


def test_a_reference_needs_its_source_and_without_one_posts_create(api, db, unit):
    client = api("canbo.ktht")
    refused = client.post("/api/v1/tickets/", json={**_ticket_body(unit, _ref()), "external_source": None})
    assert refused.status_code == 422 and "external_source" in refused.json["errors"], refused.text
    body = _ticket_body(unit, None)
    del body["external_source"], body["external_ref"]
    assert client.post("/api/v1/tickets/", json=body).status_code == 201
    assert client.post("/api/v1/tickets/", json=body).status_code == 201


@pytest.mark.parametrize("kind", ["tickets", "nonconformities"])
def test_a_race_lost_on_the_unique_constraint_returns_the_winner(kind, api, db, unit, monkeypatch):
    """Two simultaneous POSTs both miss the look-up; the second insert meets the unique
    constraint and answers with the first one's record."""
    from app.tickets import api as tickets_api
    from app.tickets.models import Nonconformity, Ticket

    model = Ticket if kind == "tickets" else Nonconformity
    ref = _ref()
    body = _ticket_body(unit, ref) if kind == "tickets" else _nc_body(db, unit, ref)
    client = api("canbo.ktht")
    first = client.post(f"/api/v1/{kind}/", json=body)
    assert first.status_code == 201
    real = tickets_api.ExternalRefCreate.existing
    calls = []

    def missed_first_time(self, source, ref):
        calls.append(ref)
        return None if len(calls) == 1 else real(self, source, ref)

    monkeypatch.setattr(tickets_api.ExternalRefCreate, "existing", missed_first_time)
    second = client.post(f"/api/v1/{kind}/", json=body)
    assert second.status_code == 200, second.text
    assert second.json["id"] == first.json["id"] and len(calls) == 2
    db.session.expire_all()
    assert db.session.query(model).filter_by(external_source="DVC", external_ref=ref).count() == 1


def test_another_agency_may_use_the_same_reference(api, app, unit):
    from app.extensions import db as database
    from app.organisation.models import Unit

    from tests.conftest import demo_agency

    ref = _ref()
    first = api("canbo.ktht").post("/api/v1/tickets/", json=_ticket_body(unit, ref))
    assert first.status_code == 201
    with demo_agency(app, "CAMHIEP"):
        commune_unit = database.session.query(Unit).filter_by(code="KT").one().id
    created = api("xa.canbo").post("/api/v1/tickets/", json={**_ticket_body(unit, ref), "requesting_unit": commune_unit})
    assert created.status_code == 201, created.text
    assert created.json["id"] != first.json["id"]


def test_updated_at_is_set_on_insert_and_on_transitions_and_filterable(api, db, make_ticket, user):
    from app.tickets import services
    from app.tickets.models import Ticket

    ticket = make_ticket()
    assert ticket.updated_at is not None
    old = datetime.datetime(2020, 1, 1)
    db.session.query(Ticket).filter_by(id=ticket.id).update({"updated_at": old}, synchronize_session=False)
    db.session.commit()
    services.apply_transition(user("canbo.ktht"), ticket.id, "submit", {})
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).updated_at > old

    client = api("canbo.ktht")
    listed = client.get("/api/v1/tickets/?q=(filters:!((col:updated_at,opr:gt,value:'2026-01-01T00:00:00')),"
                        "order_column:id,order_direction:desc,page_size:100)")
    assert listed.status_code == 200, listed.text
    assert "updated_at" in listed.json["list_columns"]
    ids = [row["id"] for row in listed.json["result"]]
    assert ticket.id in ids
    future = (datetime.datetime.now() + datetime.timedelta(days=1)).isoformat(timespec="seconds")
    later = client.get(f"/api/v1/tickets/?q=(filters:!((col:updated_at,opr:gt,value:'{future}')))")
    assert later.status_code == 200 and later.json["count"] == 0
    bad = client.get("/api/v1/tickets/?q=(filters:!((col:updated_at,opr:gt,value:'abc')))")
    assert bad.status_code == 400, bad.text
    ncs = client.get("/api/v1/nonconformities/?q=(filters:!((col:updated_at,opr:gt,value:'2020-01-01T00:00:00')))")
    assert ncs.status_code == 200 and "updated_at" in ncs.json["list_columns"]


def test_files_through_the_api(api, db, make_ticket, unit):
    from app.tickets.models import Attachment

    ticket = make_ticket()
    client = api("canbo.ktht")
    sent = client.post(f"/api/v1/tickets/{ticket.id}/files", content_type="multipart/form-data", data={
        "files": [(io.BytesIO(PDF), "bien-ban.pdf"), (io.BytesIO(PDF), "phu-luc.pdf")]})
    assert sent.status_code == 201, sent.text
    assert len(sent.json["ids"]) == 2
    db.session.expire_all()
    stored = db.session.query(Attachment).filter(Attachment.id.in_(sent.json["ids"])).all()
    assert {a.ticket_id for a in stored} == {ticket.id}

    refused = client.post(f"/api/v1/tickets/{ticket.id}/files", content_type="multipart/form-data",
                          data={"files": [(io.BytesIO(b"MZ..."), "virus.exe")]})
    assert refused.status_code == 422 and "virus.exe" in refused.json["message"], refused.text
    assert "không" in refused.json["message"].lower() or "chỉ" in refused.json["message"].lower()
    empty = client.post(f"/api/v1/tickets/{ticket.id}/files", content_type="multipart/form-data", data={})
    assert empty.status_code == 422

    nc = client.post("/api/v1/nonconformities/", json=_nc_body(db, unit, _ref()))
    assert nc.status_code == 201
    on_nc = client.post(f"/api/v1/nonconformities/{nc.json['id']}/files", content_type="multipart/form-data",
                        data={"files": (io.BytesIO(PDF), "anh-chup.pdf")})
    assert on_nc.status_code == 201 and len(on_nc.json["ids"]) == 1

    # a record the caller may not see: 404
    assert api("xa.canbo").post(f"/api/v1/tickets/{ticket.id}/files", content_type="multipart/form-data",
                                data={"files": (io.BytesIO(PDF), "a.pdf")}).status_code == 404
    assert api("xa.canbo").post(f"/api/v1/nonconformities/{nc.json['id']}/files",
                                content_type="multipart/form-data",
                                data={"files": (io.BytesIO(PDF), "a.pdf")}).status_code == 404


def test_two_simultaneous_posts_create_one_record(api, db, unit, database_url):
    """PostgreSQL: two requests at once (each in its own thread, transaction and connection)."""
    import threading

    from app.tickets.models import Ticket

    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent writers need PostgreSQL")
    ref = _ref()
    body = _ticket_body(unit, ref)
    clients = [api("canbo.ktht"), api("canbo.ktht")]
    start = threading.Barrier(2)
    answers = []

    def send(client):
        start.wait()
        answers.append(client.post("/api/v1/tickets/", json=body))

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
    assert answers[0].json["id"] == answers[1].json["id"]
    db.session.expire_all()
    assert db.session.query(Ticket).filter_by(external_source="DVC", external_ref=ref).count() == 1


def test_a_pair_sent_by_someone_whose_record_the_caller_may_not_see_is_a_conflict(api, db, unit):
    ref = _ref()
    assert api("canbo.ktht").post("/api/v1/tickets/", json=_ticket_body(unit, ref)).status_code == 201
    other_unit = api("canbo.tnmt").post("/api/v1/tickets/", json={
        **_ticket_body(unit, ref), "requesting_unit": unit("TNMT").id})
    assert other_unit.status_code == 409, other_unit.text
    assert "không có quyền xem" in other_unit.json["message"] and "id" not in other_unit.json


def test_polling_sorts_by_updated_at(api, make_ticket):
    import datetime

    first, second = make_ticket(), make_ticket()
    since = (first.updated_at - datetime.timedelta(seconds=1)).isoformat(timespec="seconds")
    listed = api("canbo.ktht").get(
        f"/api/v1/tickets/?q=(filters:!((col:updated_at,opr:gt,value:'{since}')),"
        "order_column:updated_at,order_direction:asc,page_size:100)")
    assert listed.status_code == 200, listed.text
    stamps = [row["updated_at"] for row in listed.json["result"]]
    assert stamps == sorted(stamps)
    ids = [row["id"] for row in listed.json["result"]]
    assert ids.index(first.id) < ids.index(second.id)
