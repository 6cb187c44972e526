"""The REST API as other systems use it: JWT login, tickets, transitions, PDF."""
import datetime


from tests.conftest import future, iso_day, new_client


def _do(client, ticket_id, name, **fields):
    return client.post(f"/api/v1/tickets/{ticket_id}/transitions/{name}", json=fields)


def _available(client, ticket_id):
    response = client.get(f"/api/v1/tickets/{ticket_id}/transitions")
    assert response.status_code == 200, response.text
    return {t["name"]: t for t in response.json["result"]}


def test_login_and_openapi(api):
    client = api("canbo.ktht")
    spec = client.get("/api/v1/_openapi").json
    assert "/api/v1/tickets/{pk}/transitions/{name}" in spec["paths"]
    assert "/api/v1/nonconformities/" in spec["paths"]
    info = client.get("/api/v1/tickets/_info").json
    assert {"kind", "source", "description"} <= {f["name"] for f in info["add_columns"]}
    assert new_client(client.application).get("/api/v1/tickets/").status_code == 401


def test_happy_path_through_the_api(api, unit, user):
    staff, head, leader, top, secretary = (api(u) for u in (
        "canbo.ktht", "truongphong.ktht", "truongban.iso", "chutich", "thuky.iso"))
    created = staff.post("/api/v1/tickets/", json={
        "kind": "corrective", "source": "feedback", "requesting_unit": unit("KTHT").id,
        "description": "Công dân phản ánh qua API", "requested_on": iso_day()})
    assert created.status_code == 201, created.text
    ticket_id = created.json["id"]
    assert set(_available(staff, ticket_id)) == {"submit"}
    assert _do(staff, ticket_id, "submit").json["result"]["state"] == "unit_review"

    forward = _available(head, ticket_id)["forward"]
    signs = next(f for f in forward["fields"] if f["name"] == "signs")
    assert signs["type"] == "choice" and signs["required"] and signs["multiple"]
    assert {"value": "recurring", "label": "KPH có tính chất lặp lại"} in signs["choices"]
    assert _do(head, ticket_id, "forward", signs=["recurring"]).status_code == 200

    assert _do(secretary, ticket_id, "present", note="Tổng hợp, trình Trưởng ban").status_code == 200
    assign = _available(leader, ticket_id)["assign"]
    assert [f["type"] for f in assign["fields"]] == ["unit", "user", "text"]
    assert any(c["value"] == str(unit("KTHT").id) for c in assign["fields"][0]["choices"])
    response = _do(leader, ticket_id, "assign", assignee_unit=unit("KTHT").id,
                   assignee=user("canbo.ktht").id)
    assert response.json["result"]["state"] == "analysis"
    _do(staff, ticket_id, "propose", cause="Thiếu kiểm tra chéo", measures="Thêm bước kiểm tra",
        completion_date=future(10))
    _do(leader, ticket_id, "approve", implementing_unit=unit("KTHT").id,
        implementer=user("canbo.ktht").id, due_date=future(10))
    _do(staff, ticket_id, "report_done", result_summary="Đã áp dụng")
    _do(top, ticket_id, "verify", result="pass", verified_on=iso_day())
    closed = _do(secretary, ticket_id, "close", evidence="Quyết định 12/QĐ")
    assert closed.status_code == 200
    result = closed.json["result"]
    assert result["state"] == "closed" and result["evidence_text"] == "Quyết định 12/QĐ"
    assert result["number"] and result["year"] == datetime.date.today().year
    assert _available(secretary, ticket_id) == {}

    pdf = staff.get(f"/api/v1/tickets/{ticket_id}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert staff.delete(f"/api/v1/tickets/{ticket_id}").status_code == 409


def test_ineffective_path_through_the_api(api, make_ticket):
    ticket = make_ticket(state="verification")
    top = api("chutich")
    response = _do(top, ticket.id, "verify", result="new_measure", verified_on=iso_day())
    assert response.status_code == 200
    assert response.json["result"]["state"] == "closed_ineffective"
    follow_ups = top.get("/api/v1/tickets/?q=(filters:!((col:state,opr:eq,value:iso_review)),page_size:100)").json["result"]
    follow_up = [t for t in follow_ups if t["number"] == ticket.number + 1]
    assert follow_up, follow_ups
    shown = top.get(f"/api/v1/tickets/{follow_up[0]['id']}").json["result"]
    assert shown["follows"]["id"] == ticket.id and shown["source"] == "earlier_actions"
    assert "present" in _available(api("thuky.iso"), follow_up[0]["id"])


def test_error_codes(api, make_ticket, unit):
    ticket = make_ticket(state="unit_review")
    assert _do(api("canbo.tnmt"), ticket.id, "forward", signs=["serious"]).status_code == 404
    assert _do(api("canbo.ktht"), ticket.id, "forward", signs=["serious"]).status_code == 403
    head = api("truongphong.ktht")
    assert _do(head, ticket.id, "approve").status_code == 409
    missing = _do(head, ticket.id, "forward")
    assert missing.status_code == 422 and "signs" in missing.json["errors"]
    bad = _do(head, ticket.id, "forward", signs=["nonsense"])
    assert bad.status_code == 422
    stale = _do(head, ticket.id, "forward", signs=["serious"], version=ticket.version - 1)
    assert stale.status_code == 409
    assert _do(head, ticket.id, "no_such_step").status_code == 404
    assert _do(head, 999999, "forward").status_code == 404
    assert api("canbo.tnmt").get(f"/api/v1/tickets/{ticket.id}").status_code == 404
    assert api("canbo.tnmt").get(f"/api/v1/tickets/{ticket.id}/pdf").status_code == 404
    other_unit = api("canbo.ktht").post("/api/v1/tickets/", json={
        "kind": "corrective", "source": "feedback", "requesting_unit": unit("TNMT").id,
        "description": "x", "requested_on": iso_day()})
    assert other_unit.status_code == 403
    bad_kind = api("canbo.ktht").post("/api/v1/tickets/", json={
        "kind": "whatever", "source": "feedback", "requesting_unit": unit("KTHT").id,
        "description": "x", "requested_on": iso_day()})
    assert bad_kind.status_code == 422
    assert api("canbo.ktht").put(f"/api/v1/tickets/{ticket.id}", json={"description": "sửa"}).status_code == 409


def test_lists_follow_the_row_rules(api, make_ticket):
    ticket = make_ticket(creator="canbo.tnmt", unit_code="TNMT", state="unit_review")
    ids = {t["id"] for t in api("canbo.ktht").get("/api/v1/tickets/?q=(page_size:100)").json["result"]}
    assert ticket.id not in ids
    seen = api("danhgia").get(f"/api/v1/tickets/{ticket.id}")
    assert seen.status_code == 200


def test_nonconformities_api(api, unit, db):
    from app.tickets.models import NcCategory

    category = db.session.query(NcCategory).first()
    client = api("canbo.tnmt")
    created = client.post("/api/v1/nonconformities/", json={
        "unit": unit("TNMT").id, "detected_on": iso_day(), "description": "KPH qua API",
        "source": "feedback", "category": category.id})
    assert created.status_code == 201, created.text
    nc_id = created.json["id"]
    assert client.get(f"/api/v1/nonconformities/{nc_id}").json["result"]["description"] == "KPH qua API"
    assert api("canbo.ktht").get(f"/api/v1/nonconformities/{nc_id}").status_code == 404
    refused = client.post("/api/v1/nonconformities/", json={
        "unit": unit("KTHT").id, "detected_on": iso_day(), "description": "x", "source": "feedback",
        "category": category.id})
    assert refused.status_code == 403
