"""Reminders run by cron may overlap: two runs at once send each digest once and neither fails
(on SQLite and on PostgreSQL); mails carry Date and Message-ID; unchanged items wait a week."""
import datetime
import threading


from app.extensions import db as database
from app.reminders import services
from app.reminders.models import ReminderLog
from tests.conftest import demo_agency


def _to(smtp, address):
    return [message for rcpt, message in smtp.messages if address in rcpt]


def _run_together(app, count, job):
    barrier = threading.Barrier(count)
    results = [None] * count

    def worker(index):
        with demo_agency(app):
            database.session.close()
            try:
                barrier.wait(30)
                results[index] = job()
            except Exception as error:  # asserted by the test
                database.session.rollback()
                results[index] = error
            finally:
                database.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_two_overlapping_runs_send_each_digest_once(app, db, smtp, leads, monkeypatch):
    day = datetime.date(2101, 3, 2)
    leads["canbo.ktht"] = [services.Lead("overlap:1", "Phiếu A quá hạn", "/tickets/show/1"),
                           services.Lead("overlap:2", "Phiếu B quá hạn", "/tickets/show/2")]
    leads["truongphong.ktht"] = [services.Lead("overlap:3", "Phiếu C chờ duyệt", None)]
    both_read = threading.Barrier(2)
    original = services.leads_for

    def in_step(user, on):  # both runs have read the log and found the leads before either writes
        if user.username == "canbo.ktht":
            both_read.wait(30)
        return original(user, on)

    monkeypatch.setattr(services, "leads_for", in_step)
    results = _run_together(app, 2, lambda: services.remind(day))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len(_to(smtp, "canbo.ktht@camlam.example.vn")) == 1
    assert len(_to(smtp, "truongphong.ktht@camlam.example.vn")) == 1
    assert sum(r["emails"] for r in results) == 2
    assert sum(r["notifications"] for r in results) == 2
    rows = db.session.query(ReminderLog).filter(ReminderLog.sent_on == day,
                                                ReminderLog.key.like("overlap:%")).all()
    assert len(rows) == 3 and all(row.emailed for row in rows)


def test_mail_has_date_and_message_id(app, db, smtp, leads):
    app.config["QMS_BASE_URL"] = "https://iso.camlam.gov.vn/"
    try:
        leads["canbo.ktht"] = [services.Lead("headers:1", "Phiếu D quá hạn", "/tickets/show/4")]
        services.remind(datetime.date(2101, 4, 2))
    finally:
        app.config["QMS_BASE_URL"] = ""
    [message] = _to(smtp, "canbo.ktht@camlam.example.vn")
    assert message["Date"] and message["Message-ID"]
    assert message["Message-ID"].endswith("@iso.camlam.gov.vn>")
    assert "https://iso.camlam.gov.vn/tickets/show/4" in message.get_body(("plain",)).get_content()


def test_message_id_falls_back_to_the_sender_domain(app, db, smtp, leads):
    leads["canbo.ktht"] = [services.Lead("headers:2", "Phiếu E quá hạn", None)]
    services.remind(datetime.date(2101, 4, 3))
    [message] = _to(smtp, "canbo.ktht@camlam.example.vn")
    sender = app.config["MAIL_DEFAULT_SENDER"].rpartition("@")[2].strip(">")
    assert message["Message-ID"].endswith(f"@{sender}>")


def test_unchanged_items_are_reminded_weekly_new_and_changed_daily(app, db, smtp, leads):
    start = datetime.date(2101, 6, 1)
    address = "canbo.ktht@camlam.example.vn"
    old = services.Lead("cadence:1", "Phiếu F quá hạn từ 01/05/2101.", "/tickets/show/6")

    def sent_on(day, *items):
        leads["canbo.ktht"] = list(items)
        before = len(_to(smtp, address))
        services.remind(day)
        mails = _to(smtp, address)[before:]
        return [line for m in mails for line in m.get_body(("plain",)).get_content().splitlines()
                if line.startswith("- ")]

    assert sent_on(start, old) == ["- Phiếu F quá hạn từ 01/05/2101."]
    for days in range(1, 7):  # unchanged: not again before a week
        assert sent_on(start + datetime.timedelta(days=days), old) == []
    new = services.Lead("cadence:2", "Phiếu G mới chờ duyệt", None)
    assert sent_on(start + datetime.timedelta(days=3), old, new) == ["- Phiếu G mới chờ duyệt"]  # a new item: today
    assert sent_on(start + datetime.timedelta(days=4), old, new) == []
    assert sent_on(start + datetime.timedelta(days=7), old, new) == ["- Phiếu F quá hạn từ 01/05/2101."]
    changed = services.Lead("cadence:1", "Phiếu F quá hạn từ 01/05/2101, đã gia hạn.", "/tickets/show/6")
    assert sent_on(start + datetime.timedelta(days=8), changed, new) == ["- Phiếu F quá hạn từ 01/05/2101, đã gia hạn."]


def test_unchanged_cadence_is_configurable(app, db, smtp, leads, monkeypatch):
    start = datetime.date(2101, 8, 1)
    assert app.config["QMS_REMIND_UNCHANGED_DAYS"] == 7  # config.py: a week by default
    monkeypatch.setitem(app.config, "QMS_REMIND_UNCHANGED_DAYS", 1)
    leads["canbo.ktht"] = [services.Lead("daily:1", "Phiếu H quá hạn", None)]
    services.remind(start)
    services.remind(start + datetime.timedelta(days=1))
    assert len(_to(smtp, "canbo.ktht@camlam.example.vn")) == 2


def test_remind_warns_when_the_base_url_is_unset(app, leads):
    app.config["QMS_BASE_URL"] = ""
    result = app.test_cli_runner().invoke(args=["qms", "remind", "--date", "2101-09-01"])
    assert result.exit_code == 0 and "QMS_BASE_URL" in result.output
    app.config["QMS_BASE_URL"] = "https://iso.camlam.gov.vn"
    try:
        result = app.test_cli_runner().invoke(args=["qms", "remind", "--date", "2101-09-02"])
    finally:
        app.config["QMS_BASE_URL"] = ""
    assert result.exit_code == 0 and "QMS_BASE_URL" not in result.output


def test_start_up_warning_when_the_base_url_is_unset(app, caplog):
    from app.reminders import warn_if_no_base_url

    caplog.set_level("WARNING")
    app.config["QMS_BASE_URL"] = ""
    assert warn_if_no_base_url(app)
    assert "QMS_BASE_URL" in caplog.text
    app.config["QMS_BASE_URL"] = "https://iso.camlam.gov.vn"
    try:
        assert not warn_if_no_base_url(app)
    finally:
        app.config["QMS_BASE_URL"] = ""
