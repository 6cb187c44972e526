"""`flask qms remind` against a real SMTP server started by the test (aiosmtpd)."""
import datetime
import email
import email.policy
import re
import socket

from sqlalchemy import func, select

from app.reminders import services
from app.reminders.models import Notification, ReminderLog
from tests.conftest import csrf_token


def read_all(client):
    """Every notification of the client's person marked read, with the page's button."""
    token = csrf_token(client.get("/notifications/settings").text)
    assert client.post("/notifications/read-all", data={"csrf_token": token}).status_code == 302


def _subjects(inbox, address):
    return [str(email.header.make_header(email.header.decode_header(m["Subject"])))
            for rcpt, m in inbox.messages if address in rcpt]


def test_one_digest_a_day_by_mail_and_in_the_panel(app, db, smtp, make_ticket, user, client_as_user):
    day = datetime.date.today() + datetime.timedelta(days=400)  # a day no other test reminded
    ticket = make_ticket(state="implementation")
    ticket.due_date = day + datetime.timedelta(days=7)
    db.session.commit()
    stats = services.remind(day)
    assert stats["emails"] >= 1 and stats["mail_failures"] == 0
    subjects = _subjects(smtp, "canbo.ktht@camlam.example.vn")
    assert len(subjects) == 1 and subjects[0].startswith(f"[Cải tiến HTQLCL] Việc cần làm ngày {day:%d/%m/%Y}")
    [(rcpt, message)] = [(r, m) for r, m in smtp.messages if "canbo.ktht@camlam.example.vn" in r]
    text = message.get_body(("plain",)).get_content()
    assert ticket.display_number in text and f"{ticket.due_date:%d/%m/%Y}" in text
    assert message.get_body(("html",)) is not None

    # the same day again: nothing new is sent
    count = len(smtp.messages)
    again = services.remind(day)
    assert again["emails"] == 0 and len(smtp.messages) == count
    logs = db.session.query(ReminderLog).filter_by(user_id=user("canbo.ktht").id, sent_on=day).all()
    assert logs and all(entry.emailed for entry in logs)
    assert db.session.query(Notification).filter_by(user_id=user("canbo.ktht").id).count() >= 1


def _closed_port() -> int:
    """A local port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mail_failure_is_retried_on_the_next_run(app, db, make_ticket, user, smtp):
    day = datetime.date.today() + datetime.timedelta(days=500)
    make_ticket(state="unit_review")  # work for truongphong.ktht
    listening = app.config["MAIL_PORT"]
    app.config.update(MAIL_PORT=_closed_port())
    failed = services.remind(day)
    assert failed["mail_failures"] >= 1
    head = user("truongphong.ktht")
    pending = db.session.query(ReminderLog).filter_by(user_id=head.id, sent_on=day, emailed=False).count()
    assert pending >= 1
    notifications = db.session.query(Notification).filter_by(user_id=head.id).count()

    app.config.update(MAIL_PORT=listening)
    retried = services.remind(day)
    assert retried["emails"] >= 1
    assert any("truongphong.ktht@camlam.example.vn" in rcpt for rcpt, _ in smtp.messages)
    assert db.session.query(ReminderLog).filter_by(user_id=head.id, sent_on=day, emailed=False).count() == 0
    assert db.session.query(Notification).filter_by(user_id=head.id).count() == notifications  # not doubled


def test_deadline_leads_before_30_january(db, user):
    year = 2095  # no other test makes plans for it
    leads = services.leads_for(user("canbo.ktht"), datetime.date(year, 1, 16))
    assert any(lead.key.startswith(f"plan-due:{year}:") and ":14" in lead.key for lead in leads)
    assert not any(lead.key.startswith("plan-due") for lead in services.leads_for(user("canbo.ktht"),
                                                                                 datetime.date(year, 1, 17)))
    steering = services.leads_for(user("thuky.iso"), datetime.date(year, 12, 2))
    assert any(lead.key == f"review-missing:{year}" for lead in steering)


def test_unread_count_in_the_navbar(client_as_user, db, user):
    client = client_as_user("truongban.iso")
    read_all(client)
    db.session.add(Notification(user_id=user("truongban.iso").id, subject="Kiểm thử", body="Nội dung nhắc"))
    db.session.commit()
    assert 'class="badge notification-count"' in client.get("/tickets/list/").text
    page = client.get("/notifications/")
    assert "Nội dung nhắc" in page.text
    assert 'class="badge notification-count"' not in page.text  # read as soon as shown
    assert 'class="badge notification-count"' not in client.get("/tickets/list/").text


def test_notifications_page_runs_a_few_queries(client_as_user, count_queries, db, user):
    """Marking read happens before the page is drawn and is committed after: a commit first
    would expire the user, roles and permissions the menu reads (19 statements, measured)."""
    from app.reminders.models import Notification

    client = client_as_user("truongban.iso")
    read_all(client)
    db.session.add_all([Notification(user_id=user("truongban.iso").id, subject=f"Thử {i}", body="Nội dung")
                        for i in range(30)])
    db.session.commit()
    with count_queries() as counter:
        page = client.get("/notifications/")
    assert page.status_code == 200 and page.text.count("Thử ") == 25  # a page of them
    assert counter.count <= 9, counter.statements


def test_notifications_page_writes_only_when_something_is_unread(client_as_user, count_queries, db, user):
    """Opening the page with every notification already read changes nothing: no UPDATE, no
    commit of one (it was a write on every visit); an unread one is still marked read."""
    client = client_as_user("truongban.iso")
    read_all(client)
    with count_queries() as counter:
        page = client.get("/notifications/")
    assert page.status_code == 200
    assert not [s for s in counter.statements if s.lstrip().upper().startswith("UPDATE")], counter.statements
    db.session.add(Notification(user_id=user("truongban.iso").id, subject="Chưa đọc", body="Nội dung"))
    db.session.commit()
    with count_queries() as counter:
        page = client.get("/notifications/")
    assert "Chưa đọc" in page.text and 'class="badge notification-count"' not in page.text
    assert [s for s in counter.statements if s.lstrip().upper().startswith("UPDATE")]
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user("truongban.iso").id, Notification.read_at.is_(None))) == 0


def test_the_notifications_page_shows_25_at_a_time_and_reaches_the_oldest(client_as_user, count_queries, db, user):
    """The page showed the 50 latest and no way to older ones: now 25 a page, newest first,
    with links to older and newer pages (no count of them all: one statement for the page)."""
    import datetime

    person = user("truongban.iso")
    earlier = db.session.query(Notification).filter_by(user_id=person.id).count()
    start = datetime.datetime(2098, 1, 1, 8, 0)  # newer than every other test's
    db.session.add_all([Notification(user_id=person.id, subject=f"Trang {i:02d}", body="Nội dung",
                                     created_at=start + datetime.timedelta(hours=i)) for i in range(30)])
    db.session.commit()
    client = client_as_user("truongban.iso")
    client.get("/notifications/")
    with count_queries() as counter:
        first = client.get("/notifications/").text
    shown = re.findall(r"<strong>Trang (\d+)</strong>", first)
    assert shown == [f"{i:02d}" for i in range(29, 4, -1)]  # the 25 latest, newest first
    assert 'href="/notifications/?page=2"' in first and "?page=0" not in first
    assert len([s for s in counter.statements if s.lstrip().startswith("SELECT notification.")]) == 1
    assert not [s for s in counter.statements if "count(" in s and "ab_user" not in s], counter.statements
    second = client.get("/notifications/?page=2").text
    assert re.findall(r"<strong>Trang (\d+)</strong>", second) == [f"{i:02d}" for i in range(4, -1, -1)]
    assert 'href="/notifications/?page=1"' in second and ("?page=3" in second) == (earlier > 20)
    assert client.get("/notifications/?page=abc").status_code == 200
    assert "Trang 29" in client.get("/notifications/?page=-4").text
    assert client.get("/notifications/?page=10000000000000000000").status_code == 200
    db.session.query(Notification).filter(Notification.subject.like("Trang %")).delete()
    db.session.commit()


def test_opening_a_page_of_notifications_reads_those_shown_only(client_as_user, db, user):
    """Those on other pages stay unread, highlighted, and counted by the bell until their page
    is opened."""
    import datetime

    person = user("truongban.iso")
    client = client_as_user("truongban.iso")
    read_all(client)
    start = datetime.datetime(2097, 1, 1, 8, 0)
    db.session.add_all([Notification(user_id=person.id, subject=f"Đọc {i:02d}", body="Nội dung",
                                     created_at=start + datetime.timedelta(hours=i)) for i in range(30)])
    db.session.commit()
    first = client.get("/notifications/").text
    assert first.count("alert alert-info") == 25  # shown as new, then read
    assert '<span class="badge notification-count">5</span>' in first.replace("\n", "")
    assert '<span class="badge notification-count">5</span>' in client.get("/notifications/settings").text
    assert "Đánh dấu tất cả là đã đọc (còn 5 ở các trang khác)" in first
    second = client.get("/notifications/?page=2").text
    assert second.count("alert alert-info") == 5 and 'class="badge notification-count"' not in second
    assert "Đánh dấu tất cả là đã đọc" not in second
    db.session.query(Notification).filter(Notification.subject.like("Đọc %")).update({"read_at": None})
    db.session.commit()
    assert '<span class="badge notification-count">30</span>' in client.get("/notifications/settings").text
    read_all(client)
    assert "Đã đánh dấu mọi thông báo là đã đọc." in client.get("/notifications/").text
    assert 'class="badge notification-count"' not in client.get("/notifications/settings").text
    db.session.query(Notification).filter(Notification.subject.like("Đọc %")).delete()
    db.session.commit()


def test_remind_command(app):
    result = app.test_cli_runner().invoke(args=["qms", "remind", "--date", "2099-01-16"])
    assert result.exit_code == 0 and "Thông báo trong hệ thống" in result.output


def test_unread_count_comes_with_the_person(client_as_user, count_queries, db, user):
    """The bell's count is read in the statement that loads the signed-in person, not in one
    of its own on every page; it is exact, and 0 on the page that marks them read."""
    client = client_as_user("truongban.iso")
    read_all(client)
    db.session.add_all([Notification(user_id=user("truongban.iso").id, subject=f"Đếm {i}", body="Nội dung")
                        for i in range(3)])
    db.session.commit()
    with count_queries() as counter:
        page = client.get("/notifications/settings")
    assert '<span class="badge notification-count">3</span>' in page.text.replace("\n", "")
    counting = [s for s in counter.statements if "notification" in s.lower()]
    assert len(counting) == 1 and "ab_user" in counting[0].lower(), counting
    page = client.get("/notifications/")
    assert "Đếm 2" in page.text and 'class="badge notification-count"' not in page.text


def test_unread_count_after_a_commit_in_the_request(app, db, user):
    """A request that commits before its page is drawn expires the person: the count is then
    read on its own, still exact."""
    from flask import g
    from flask_login import login_user

    from app.reminders.services import unread_count

    person = user("truongban.iso")
    with app.test_request_context("/"):
        g.user = app.appbuilder.sm.get_user_by_id(person.id)
        login_user(g.user)
        before = unread_count(g.user)
        db.session.add(Notification(user_id=person.id, subject="Sau khi lưu", body="Nội dung"))
        db.session.commit()  # expires the person
        assert unread_count(g.user) == before + 1


def test_each_person_reads_their_own_notifications_through_the_page_s_kept_statement(client_as_user, db, user):
    """The page's statement is built once and, on PostgreSQL, run as its text kept per agency
    (app.tenancy.kept_rows), the person and the page its values: whoever opens the page after
    another reads their own notifications, page by page."""
    import datetime

    when = datetime.datetime(2096, 1, 1, 8, 0)
    for username, subject in (("truongban.iso", "Riêng trưởng ban"), ("canbo.ktht", "Riêng cán bộ")):
        db.session.add_all([Notification(user_id=user(username).id, subject=f"{subject} {i:02d}", body="Nội dung",
                                         created_at=when + datetime.timedelta(minutes=i)) for i in range(27)])
    db.session.commit()
    for username, mine, theirs in (("truongban.iso", "Riêng trưởng ban", "Riêng cán bộ"),
                                   ("canbo.ktht", "Riêng cán bộ", "Riêng trưởng ban")):
        client = client_as_user(username)
        first, second = client.get("/notifications/").text, client.get("/notifications/?page=2").text
        assert re.findall(rf"<strong>{mine} (\d+)</strong>", first) == [f"{i:02d}" for i in range(26, 1, -1)]
        assert re.findall(rf"<strong>{mine} (\d+)</strong>", second)[:2] == ["01", "00"]
        assert theirs not in first + second
    db.session.query(Notification).filter(Notification.subject.like("Riêng %")).delete(synchronize_session=False)
    db.session.commit()
