"""The conversation on records (app.conversation): one comment table for tickets, NCs, objective
plans and reviews; @mentions notify; comments show in the history; a comment never moves the
record, and a finished record takes none."""
import datetime
import io

import pytest
from sqlalchemy import func, select

from app.conversation import services as conversation
from app.conversation.models import Comment
from app.reminders.models import Notification
from app.tickets import services as tickets
from app.tickets.models import Nonconformity, Ticket
from app.workflow import Conflict, Invalid, NotFound
from tests.conftest import csrf_token
from tests.test_uploads import PDF


def _last(db) -> int:
    return db.session.scalar(select(func.max(Notification.id))) or 0


def _told_since(db, last: int) -> list[Notification]:
    return db.session.scalars(select(Notification).where(Notification.id > last).order_by(Notification.id)).all()


def _history(html: str) -> str:
    return html.split("table-striped history")[1].split("</table>")[0]


def test_a_comment_with_a_mention_notifies_and_shows_in_the_history(as_staff, db, make_ticket, user):
    ticket = make_ticket(state="unit_review")
    before = (ticket.state, ticket.version)
    last = _last(db)
    page = as_staff.get(f"/tickets/show/{ticket.id}")
    assert "Thêm ý kiến trao đổi" in page.text
    posted = as_staff.post(
        f"/comments/ticket/{ticket.id}", content_type="multipart/form-data", follow_redirects=True,
        data={"text": "Nhờ @truongphong.ktht xem giúp.", "csrf_token": csrf_token(page.text),
              "files": (io.BytesIO(PDF), "bien-ban.pdf")})
    assert posted.status_code == 200 and "Đã gửi ý kiến trao đổi." in posted.text
    history = _history(posted.text)
    assert "Nhờ @truongphong.ktht xem giúp." in history and "bien-ban.pdf" in history and "Trao đổi" in history
    assert history.index("Gửi lãnh đạo đơn vị") < history.index("Nhờ @truongphong.ktht")  # in time order

    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert (ticket.state, ticket.version) == before  # a comment never changes the record
    [note] = _told_since(db, last)
    assert note.user_id == user("truongphong.ktht").id and "nhắc đến bạn" in note.subject
    assert note.link == f"/tickets/show/{ticket.id}#conversation" and note.body == "Nhờ @truongphong.ktht xem giúp."
    [comment] = conversation.comments(ticket)
    [attachment] = comment.attachments
    assert as_staff.get(f"/tickets/file/{attachment.id}").data == PDF  # stored like evidence files


def test_who_may_comment_and_a_finished_record_takes_no_comment(db, make_ticket, user):
    staff = user("canbo.ktht")
    closed = make_ticket(state="closed")
    with pytest.raises(Conflict):
        conversation.add_comment(staff, "ticket", closed.id, "Còn một ý kiến")
    assert not conversation.thread(staff, closed).may_comment

    draft = make_ticket()
    with pytest.raises(NotFound):  # only who sees the record
        conversation.add_comment(user("canbo.tnmt"), "ticket", draft.id, "Tôi xem được không?")
    with pytest.raises(Invalid):
        conversation.add_comment(staff, "ticket", draft.id, "   ")
    with pytest.raises(NotFound):
        conversation.add_comment(staff, "contract", draft.id, "Không có loại hồ sơ này")

    last = _last(db)  # a mention of someone who cannot see the record, or of oneself, tells nobody
    conversation.add_comment(staff, "ticket", draft.id, "@canbo.tnmt @canbo.ktht @khongco xem.")
    assert _told_since(db, last) == []
    assert conversation.mentioned("email a@truongphong.ktht, và @thuky.iso.") == [user("thuky.iso")]


def test_a_deleted_draft_takes_its_conversation_with_it(db, make_ticket, user):
    from app.tickets.models import Attachment

    draft = make_ticket()
    comment = conversation.add_comment(user("canbo.ktht"), "ticket", draft.id, "Bản nháp", [("nhap.pdf", PDF)])
    comment_id, [attachment_id] = comment.id, [a.id for a in comment.attachments]
    db.session.delete(draft)
    db.session.commit()
    assert db.session.get(Comment, comment_id) is None and db.session.get(Attachment, attachment_id) is None


def test_another_agency_cannot_reach_the_conversation(make_ticket, db, client_as_user):
    ticket = make_ticket()
    client = client_as_user("xa.admin")  # the administrator of another agency
    page = client.get("/notifications/settings")  # a page with a form
    posted = client.post(f"/comments/ticket/{ticket.id}", data={"text": "Xin chào", "csrf_token": csrf_token(page.text)})
    assert posted.status_code == 404
    assert conversation.comments(ticket) == []


def test_one_comment_table_serves_every_kind_of_record(db, user, unit, client_as_user):
    from app.objectives import services as objectives
    from app.reviews import services as reviews

    head, secretary = user("truongphong.ktht"), user("thuky.iso")
    nc = next(nc for nc in db.session.scalars(select(Nonconformity).where(
        Nonconformity.unit_id == unit("KTHT").id).order_by(Nonconformity.id)) if not tickets.nonconformity_settled(nc))
    plan = objectives.create_plan(user("canbo.ktht"), 2095, unit("KTHT").id)
    review = reviews.create_review(secretary, "meeting", datetime.date(2095, 1, 1), datetime.date(2095, 12, 31))
    pages = {"nonconformity": (nc, f"/nonconformities/show/{nc.id}", "nc-history"),
             "objective_plan": (plan, f"/objectives/show/{plan.id}", "table-striped history"),
             "review": (review, f"/reviews/show/{review.id}", "table-striped history")}
    client = client_as_user("truongphong.ktht")
    for code, (record, link, table) in pages.items():
        last = _last(db)
        conversation.add_comment(secretary, code, record.id, f"Ý kiến về {code}, @truongphong.ktht")
        [comment] = conversation.comments(record)
        assert (comment.record_type, comment.record_id, comment.author_id) == (code, record.id, secretary.id)
        assert [(n.user_id, n.link) for n in _told_since(db, last)] == [(head.id, link + "#conversation")]
        html = client.get(link).text
        assert f"Ý kiến về {code}" in html.split(table)[1].split("</table>")[0], code
        assert 'id="conversation"' in html
    assert db.session.scalar(select(func.count(Comment.id)).where(
        Comment.record_type.in_(pages), Comment.text.like("Ý kiến về %"))) >= 3
