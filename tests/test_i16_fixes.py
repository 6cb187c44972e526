"""Defects found walking issue 16's daily work as users: nothing typed is lost on a refusal,
several tickets at once are offered only to whoever may take the step."""
import io

from tests.conftest import csrf_token


def test_a_refused_comment_comes_back_in_the_box(as_staff, make_ticket):
    ticket = make_ticket(state="unit_review")
    page = as_staff.get(f"/tickets/show/{ticket.id}")
    refused = as_staff.post(
        f"/comments/ticket/{ticket.id}", content_type="multipart/form-data", follow_redirects=True,
        data={"text": "Tệp không hợp lệ kèm theo", "csrf_token": csrf_token(page.text),
              "files": (io.BytesIO(b"MZ\x90\x00"), "virus.exe")})
    assert "virus.exe" in refused.text  # the reason, in Vietnamese
    assert ">Tệp không hợp lệ kèm theo</textarea>" in refused.text
    again = as_staff.get(f"/tickets/show/{ticket.id}").text  # once: not on every later visit
    assert "Tệp không hợp lệ kèm theo" not in again


def test_a_comment_refused_because_the_record_closed_meanwhile_is_shown_to_keep(as_staff, make_ticket, db):
    ticket = make_ticket(state="unit_review")
    page = as_staff.get(f"/tickets/show/{ticket.id}")
    ticket.state = "closed"
    db.session.commit()
    refused = as_staff.post(f"/comments/ticket/{ticket.id}", follow_redirects=True,
                            data={"text": "Ý kiến gửi muộn", "csrf_token": csrf_token(page.text)})
    assert "Hồ sơ đã kết thúc" in refused.text
    assert "Ý kiến chưa được gửi" in refused.text and ">Ý kiến gửi muộn</textarea>" in refused.text


def test_several_tickets_at_once_only_for_who_may_take_the_step(make_ticket, as_staff):
    ticket = make_ticket(state="iso_review")
    refused = as_staff.get(f"/tickets/several/present?ids={ticket.id}")
    assert refused.status_code == 403 and "Chỉ Thư ký ISO" in refused.text


def test_the_same_refusal_for_every_ticket_keeps_the_form(make_ticket, as_iso_leader, unit, user):
    tickets = [make_ticket(state="leader_review") for _ in range(2)]
    ids = "&".join(f"ids={t.id}" for t in tickets)
    form = as_iso_leader.get(f"/tickets/several/assign?{ids}")
    data = {"csrf_token": csrf_token(form.text), "ids": [t.id for t in tickets], "offered": [t.id for t in tickets],
            **{f"version-{t.id}": t.version for t in tickets},
            "assignee_unit": unit("TNMT").id, "assignee": user("canbo.ktht").id, "comment": "Phân công một lượt"}
    page = as_iso_leader.post("/tickets/several/assign", data=data)
    assert page.status_code == 422 and "không công tác tại" in page.text
    assert page.text.count('class="several-ticket"') == 2 and ">Phân công một lượt</textarea>" in page.text
    assert "Đã thực hiện" not in page.text

    none_ticked = as_iso_leader.post("/tickets/several/assign", data={**data, "ids": []})
    assert none_ticked.status_code == 422 and "Hãy chọn ít nhất một phiếu." in none_ticked.text
    assert none_ticked.text.count('class="several-ticket"') == 2 and "Phân công một lượt" in none_ticked.text


def test_a_finished_record_says_its_conversation_is_closed(db, make_ticket, as_iso_secretary):
    from app.tickets.models import Nonconformity

    ticket = make_ticket(state="closed")
    nc = db.session.query(Nonconformity).filter(Nonconformity.correction_checked.is_(True)).first()
    assert nc is not None  # the demo has NCs whose correction was checked
    for url in (f"/tickets/show/{ticket.id}", f"/nonconformities/show/{nc.id}"):
        page = as_iso_secretary.get(url).text
        assert "Hồ sơ đã kết thúc" in page and 'class="conversation-form"' not in page, url


def test_the_profile_shows_the_choice_of_hand_off_mail(as_staff):
    page = as_staff.get("/users/userinfo/").text
    assert "Thông báo qua thư" in page and "Không gửi thư (chỉ thông báo trong hệ thống)" in page
