"""Issue 16 item 6: forms preset to the user's unit, language switch stays on the page,
delete/edit shown only where allowed, a ticket's NC evidence on the ticket, the NC list's
description."""
import datetime
import re

from tests.conftest import csrf_token


def _selected_unit(html, name):
    select = re.search(r'<select[^>]*name="%s".*?</select>' % name, html, re.S)
    assert select, f"no {name} select"
    chosen = re.findall(r'<option[^>]*selected[^>]*value="([^"]*)"|<option[^>]*value="([^"]*)"[^>]*selected',
                        select.group(0))
    return [a or b for a, b in chosen]


# --- 1. the unit of a new NC or ticket preset to the user's own unit ------------------

def test_new_nc_and_ticket_forms_preset_the_users_unit(client_as_user, user):
    staff = user("canbo.ktht")
    client = client_as_user("canbo.ktht")
    assert _selected_unit(client.get("/nonconformities/add").text, "unit") == [str(staff.unit_id)]
    assert _selected_unit(client.get("/tickets/add").text, "requesting_unit") == [str(staff.unit_id)]


# --- 2. switching language returns to the page the user was on ------------------------

def test_language_switch_returns_to_the_page(client_as_user):
    client = client_as_user("canbo.ktht")
    client.get("/nonconformities/list/")  # the browser sends the page as Referer (same-origin policy)
    back = client.get("/lang/en", headers={"Referer": "http://localhost/nonconformities/list/?page=2"})
    assert back.status_code == 302 and back.headers["Location"] == "/nonconformities/list/?page=2"
    back = client.get("/lang/vi?next=/tickets/list/%3Fstate%3Ddraft")
    assert back.headers["Location"] == "/tickets/list/?state=draft"


def test_language_switch_never_leaves_the_site(client_as_user):
    client = client_as_user("canbo.ktht")
    for target in ("https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        back = client.get("/lang/vi", query_string={"next": target})
        assert back.status_code == 302 and back.headers["Location"] == "/", target
    back = client.get("/lang/vi", headers={"Referer": "https://evil.example/nonconformities/list/"})
    assert back.headers["Location"] == "/"


# --- 3. delete and edit shown only where they are allowed ------------------------------

def _new_nc(db, user, unit, description, **fields):
    from app.tickets.models import NcCategory, Nonconformity

    nc = Nonconformity(
        unit_id=unit("KTHT").id, detected_on=datetime.date.today(), description=description,
        source="nonconforming_activity", category_id=db.session.query(NcCategory).first().id,
        created_by_id=user("canbo.ktht").id, detected_by_id=user("canbo.ktht").id, **fields,
    )
    db.session.add(nc)
    db.session.commit()
    return nc


def _row_links(html, pk):
    return set(re.findall(r'/nonconformities/(edit|delete)/%d\b' % pk, html))


def test_nc_list_offers_delete_and_edit_only_where_allowed(client_as, client_as_user, db, user, unit):
    open_nc = _new_nc(db, user, unit, "KPH còn sửa được")
    settled = _new_nc(db, user, unit, "KPH đã kiểm tra khắc phục", correction_checked=True)
    listing = "/nonconformities/list/?q=KPH"
    admin = client_as("Admin")  # the only role that deletes NCs
    page = admin.get(listing).text
    assert _row_links(page, open_nc.id) == {"edit", "delete"}
    assert _row_links(page, settled.id) == set()
    page = client_as_user("canbo.ktht").get(listing).text
    assert _row_links(page, open_nc.id) == {"edit"}
    assert _row_links(page, settled.id) == set()
    # the same rule as the delete itself: the settled one is refused
    token = csrf_token(admin.get(f"/nonconformities/show/{open_nc.id}").text)
    admin.post(f"/nonconformities/delete/{settled.id}", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(type(settled), settled.id) is not None


# --- 4. the ticket page shows the evidence files of its nonconformities ---------------

def test_ticket_page_shows_its_nonconformities_evidence(make_ticket, client_as_user, db, user, unit):
    from app.tickets import services

    ticket = make_ticket(state="leader_review")
    nc = _new_nc(db, user, unit, "KPH có tệp bằng chứng", ticket_id=ticket.id)
    (stored,) = services.attach_to_nonconformity(user("canbo.ktht"), nc.id, [("bien-ban-kph.pdf", b"%PDF-1.4 x")])
    page = client_as_user("thuky.iso").get(f"/tickets/show/{ticket.id}").text
    assert "Tệp bằng chứng của các điểm không phù hợp" in page
    link = f"/tickets/file/{stored.id}"
    assert link in page and "bien-ban-kph.pdf" in page
    assert client_as_user("thuky.iso").get(link).status_code == 200


# --- 5. the NC list shows the description, shortened -----------------------------------

def test_nc_list_shows_the_description_shortened(client_as_user, db, user, unit):
    long_text = "Hồ sơ cấp phép xây dựng trả kết quả trễ hạn " + "rất dài " * 30 + "ĐOẠN CUỐI"
    nc = _new_nc(db, user, unit, long_text)
    client = client_as_user("canbo.ktht")
    assert "ĐOẠN CUỐI" in client.get(f"/nonconformities/show/{nc.id}").text  # whole on its page
    page = client.get("/nonconformities/list/?q=trả kết quả trễ hạn").text
    assert re.search(r"<th>(<a [^>]*>)?Mô tả", page)
    assert "Hồ sơ cấp phép xây dựng trả kết quả trễ hạn" in page
    assert "ĐOẠN CUỐI" not in page and "…" in page
