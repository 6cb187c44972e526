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

