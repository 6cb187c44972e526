"""Issue 16 item 6: forms preset to the user's unit, language switch stays on the page,
delete/edit shown only where allowed, a ticket's NC evidence on the ticket, the NC list's
description."""
import re


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
    page = client.get("/nonconformities/list/")
    assert 'href="/lang/en?next=' in page.text  # the navbar names the page to return to
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
