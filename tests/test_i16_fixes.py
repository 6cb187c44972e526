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
