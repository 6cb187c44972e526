"""Who must be reminded of what today (SPEC §3–§5), and the daily digest by mail and in the panel."""
import datetime
import functools
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from html import escape
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import Integer, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value

from app import jobs
from app.dashboard.services import my_work
from app.extensions import db
from app.objectives import services as objectives
from app.objectives import workflow as objective_workflow
from app.objectives.models import ObjectivePlan
from app.organisation import roles
from app.organisation.models import QmsUser, Unit
from app.reminders.models import Notification, ReminderLog
from app.reviews import workflow as review_workflow
from app.reviews.models import Review
from app.tickets import services as tickets
from app.tickets.models import Ticket
from app.tenancy import current_agency_id, each_agency, kept_rows
from app.ui import listed_records
from app.workflow import has_role, is_admin, today

log = logging.getLogger(__name__)
DEADLINE_WARNINGS = (14, 3)  # days before 30/01 and 31/12
HANDOFF = "handoff:"  # the key of a hand-off's row (app.reminders.handoff): mailed by the next digest


@dataclass
class Lead:
    key: str
    text: str
    link: str | None = None


def leads_for(user, on: datetime.date) -> list[Lead]:
    """Everything the user should hear about today; keys make them once-a-day."""
    leads = []
    for item in my_work(user, on):
        text = gettext("%(what)s: %(action)s — due on %(date)s", what=item.title, action=item.action,
                       date=f"{item.due:%d/%m/%Y}") if item.due else f"{item.title}: {item.action}"
        leads.append(Lead(f"work:{item.key}", text, item.link))
    mine = db.session.scalars(select(Ticket).where(
        Ticket.state == "implementation", Ticket.implementer_id == user.id)).all()
    for ticket in mine:
        label = gettext("Ticket %(number)s", number=ticket.display_number)
        if ticket.due_date and (ticket.due_date - on).days in (7, 0):
            leads.append(Lead(f"due:{ticket.id}:{ticket.due_date}", gettext(
                "%(ticket)s is due on %(date)s.", ticket=label, date=f"{ticket.due_date:%d/%m/%Y}"),
                f"/tickets/show/{ticket.id}"))
        elif tickets.is_overdue(ticket, on):
            leads.append(Lead(f"overdue:{ticket.id}", gettext(
                "%(ticket)s is overdue since %(date)s.", ticket=label, date=f"{ticket.due_date:%d/%m/%Y}"),
                f"/tickets/show/{ticket.id}"))
    leads += _deadline_leads(user, on)
    if on >= datetime.date(on.year, 12, 1) and has_role(user, *roles.STEERING):
        done = db.session.scalar(select(func.count(Review.id)).where(
            Review.year == on.year, Review.state.in_(review_workflow.FINAL_STATES)))
        if not done:
            leads.append(Lead(f"review-missing:{on.year}", gettext(
                "%(year)s has no approved management review yet.", year=on.year), "/reviews/list/"))
    return leads


def _deadline_leads(user, on: datetime.date) -> list[Lead]:
    """Plans due 30/01 and reports due 31/12: 14 and 3 days before, to those who draft them."""
    leads = []
    checks = [(objectives.plan_due(on.year), "plan"), (objectives.plan_due(on.year + 1), "plan"),
              (objectives.report_due(on.year), "report")]
    for due, kind in checks:
        days = (due - on).days
        if days not in DEADLINE_WARNINGS:
            continue
        owners = [None] + db.session.scalars(select(Unit.id).where(Unit.active.is_(True), Unit.in_qms_scope.is_(True))).all()
        plans = objectives.current_plans(due.year)
        for unit_id in owners:
            plan = plans.get(unit_id)
            probe = plan or ObjectivePlan(year=due.year, unit_id=unit_id)
            if not objective_workflow.may_draft(user, probe) or is_admin(user):
                continue
            document = plan if kind == "plan" else (plan.report if plan else None)
            if document is not None and document.state == "approved":
                continue
            name = gettext("Quality objective plan %(year)s", year=due.year) if kind == "plan" \
                else gettext("Quality objective report %(year)s", year=due.year)
            leads.append(Lead(f"{kind}-due:{due.year}:{unit_id}:{days}", gettext(
                "%(document)s is due before %(date)s (in %(days)s days).", document=name,
                date=f"{due:%d/%m/%Y}", days=days), f"/objectives/show/{plan.id}" if plan else "/objectives/add"))
    return leads


def _mail(user, on: datetime.date, logs: list[ReminderLog], subject: str | None = None) -> None:
    config = current_app.config
    base = config.get("QMS_BASE_URL", "").rstrip("/")
    subject = subject or gettext("[QMS improvement] What waits for you on %(date)s (%(count)s)",
                                 date=f"{on:%d/%m/%Y}", count=len(logs))
    lines = [gettext("Hello %(name)s,", name=user.get_full_name()), "",
             gettext("These items of the QT.CTCL procedure wait for you:"), ""]
    lines += [f"- {entry.text}" + (f"\n  {base}{entry.link}" if entry.link else "") for entry in logs]
    html = "<p>{}</p><p>{}</p><ul>{}</ul>".format(
        escape(lines[0]), escape(lines[2]),
        "".join(f'<li><a href="{escape(base + (e.link or "/"))}">{escape(e.text)}</a></li>' for e in logs))
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())  # one line: a record's title may hold line breaks
    message["From"] = config["MAIL_DEFAULT_SENDER"]
    message["To"] = user.email
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=_mail_domain(config))
    message.set_content("\n".join(lines))
    message.add_alternative(html, subtype="html")
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=20) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)


def _mail_domain(config) -> str:
    """The domain of the Message-IDs: the panel's host, else the sender's domain."""
    host = urlsplit(config.get("QMS_BASE_URL") or "").hostname
    if host:
        return host
    return parseaddr(config.get("MAIL_DEFAULT_SENDER") or "")[1].rpartition("@")[2] or "localhost"


def remind(on: datetime.date | None = None) -> dict:
    """Send each user of each active agency one digest of today's new leads (and retry
    today's unmailed ones); what a digest lists is the user's own agency's.

    Runs may overlap (cron, a manual run): each (user, lead, day) row is claimed by an
    insert that skips a row another run already holds, and each row's mail by an update
    that only one run wins, so nothing is sent twice and nothing fails on the unique key.
    The mails are jobs on the queue (send_digest): `emails` counts the digests queued (or,
    with no queue, sent), `mail_failures` those that could not be queued (or sent)."""
    on = on or today()
    stats = {"users": 0, "notifications": 0, "emails": 0, "mail_failures": 0}
    with force_locale("vi"):
        for _agency in each_agency():
            _remind_agency(on, stats)
    return stats


def unchanged_days() -> int:
    return max(1, int(current_app.config["QMS_REMIND_UNCHANGED_DAYS"]))


def _due(user, on: datetime.date, leads: list[Lead]) -> list[Lead]:
    """New and changed leads every day; a lead whose text is the one last sent for its key
    only once that was QMS_REMIND_UNCHANGED_DAYS days ago (a week by default)."""
    since = on - datetime.timedelta(days=unchanged_days())
    recent: dict[str, set[str]] = {}
    for key, text in db.session.execute(select(ReminderLog.key, ReminderLog.text).where(
            ReminderLog.user_id == user.id, ReminderLog.sent_on > since, ReminderLog.sent_on < on)):
        recent.setdefault(key, set()).add(text)
    return [lead for lead in leads if lead.text not in recent.get(lead.key, ())]


def _claim(user, on: datetime.date, lead: Lead) -> bool:
    """Insert the lead's row for today unless a row is there already; whether this run did."""
    dialect = db.session.get_bind(mapper=ReminderLog.__mapper__).dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    statement = insert(ReminderLog.__table__).values(
        agency_id=current_agency_id(), user_id=user.id, key=lead.key, sent_on=on, text=lead.text,
        link=lead.link, emailed=False,
    ).on_conflict_do_nothing(index_elements=["user_id", "key", "sent_on"]).returning(ReminderLog.__table__.c.id)
    return db.session.execute(statement).scalar() is not None


def _remind_agency(on: datetime.date, stats: dict) -> None:
    for user in db.session.scalars(select(QmsUser).where(QmsUser.active.is_(True)).order_by(QmsUser.id)).all():
        leads = leads_for(user, on)
        sent = set(db.session.scalars(select(ReminderLog.key).where(
            ReminderLog.user_id == user.id, ReminderLog.sent_on == on)))
        claimed = [lead for lead in _due(user, on, [lead for lead in leads if lead.key not in sent])
                   if _claim(user, on, lead)]
        if claimed:
            db.session.add(Notification(
                user_id=user.id, subject=gettext("What waits for you on %(date)s", date=f"{on:%d/%m/%Y}"),
                body="\n".join(lead.text for lead in claimed)))
            stats["notifications"] += 1
        db.session.commit()
        if not user.email:
            stats["users"] += bool(claimed)
            continue
        waiting = db.session.scalar(select(func.count(ReminderLog.id)).where(unmailed(user.id, on)))
        db.session.commit()  # the job (inline: at once, on a session of its own) finds no lock held
        if not waiting:
            continue
        # the mail of today's unmailed rows (this run's and those a failed mail left) is a job
        # on the queue (app.jobs), never sent in this loop; with no queue it runs here, inline
        outcome = jobs.enqueue("app.reminders.services.send_digest", user.id, on.isoformat())
        if outcome.state in (jobs.FAILED, jobs.UNQUEUED):
            stats["mail_failures"] += 1
        elif outcome.state != jobs.DONE or outcome.value:  # inline, another run may have sent them
            stats["users"] += 1
            stats["emails"] += 1


def unmailed(user_id: int, day: datetime.date):
    """The rows a user's digest of `day` mails: the day's rows not mailed yet, and the hand-offs
    (HANDOFF) of earlier days that wait for a digest."""
    return and_(ReminderLog.user_id == user_id, ReminderLog.emailed.is_(False),
                or_(ReminderLog.sent_on == day, and_(ReminderLog.key.startswith(HANDOFF), ReminderLog.sent_on < day)))


def send_digest(user_id: int, on: str) -> int:
    """The job that mails a user today's unmailed rows (`on`: an ISO date) in one digest; how
    many rows it sent (send_rows)."""
    day = datetime.date.fromisoformat(on)
    user = db.session.get(QmsUser, user_id)
    if user is None or not user.email:
        return 0
    return send_rows(user, day, unmailed(user.id, day))


def send_rows(user, day: datetime.date, condition, subject: str | None = None) -> int:
    """Mail the user the unmailed rows `condition` selects, in one mail (the digest's subject
    unless one is given); how many rows it sent. Overlapping runs and retried jobs may ask at
    once: the rows go to the job whose update marks them, the other's update then finds none,
    so nothing is sent twice. An SMTP or network failure gives the rows back and raises, so
    that the queue retries the job with backoff (inline, the next remind run sends them)."""
    ids = db.session.scalars(update(ReminderLog).where(condition, ReminderLog.emailed.is_(False))
                             .values(emailed=True).returning(ReminderLog.id)
                             .execution_options(synchronize_session=False)).all()
    db.session.commit()
    if not ids:
        return 0
    unmailed_rows = db.session.scalars(select(ReminderLog).where(ReminderLog.id.in_(ids)).order_by(ReminderLog.id)).all()
    try:
        with force_locale("vi"):
            _mail(user, day, unmailed_rows, subject)
    except Exception as error:  # SMTP, network, or the mail itself: the rows are not lost
        log.warning("Reminder mail to %s failed (will be retried): %s", user.email, error)
        db.session.rollback()
        db.session.execute(update(ReminderLog).where(ReminderLog.id.in_(ids)).values(emailed=False)
                           .execution_options(synchronize_session=False))
        db.session.commit()
        raise
    return len(ids)


def unread_of_person():
    """The person's unread notifications of their own agency, as a column of the statement
    that loads them (QmsUser.unread_notifications)."""
    return (select(func.count(Notification.id))
            .where(Notification.user_id == QmsUser.id, Notification.agency_id == QmsUser.agency_id,
                   Notification.read_at.is_(None)).scalar_subquery())


NOTIFICATIONS_PAGE = 25  # notifications on a page of the notifications page
LAST_PAGE = 10 ** 6  # a page asked beyond is this one (an offset the databases still take)


@functools.cache
def _notifications_statement():
    """A page of a person's notifications, newest first, a row more than the page, as plain
    rows of what the page shows and marks read."""
    return (select(Notification.id, Notification.created_at, Notification.subject, Notification.body,
                   Notification.link, Notification.read_at)
            .where(Notification.user_id == bindparam("person", type_=Integer))
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .offset(bindparam("skipped", type_=Integer)).limit(NOTIFICATIONS_PAGE + 1))


def notifications_page(user, page: int) -> tuple[list, bool]:
    """Page `page` of the user's notifications, newest first, and whether older ones follow:
    one statement (its text kept per agency, kept_rows), a row more than the page read instead
    of counting them all. Built and loaded as records on each visit, the page spent about
    0.7 ms on it besides the database's 0.3 ms."""
    found = listed_records(kept_rows(_notifications_statement(),
                                     {"person": user.id, "skipped": (page - 1) * NOTIFICATIONS_PAGE}))
    return found[:NOTIFICATIONS_PAGE], len(found) > NOTIFICATIONS_PAGE


def _read(user, *among) -> None:
    db.session.execute(update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None),
                                                  *among).values(read_at=datetime.datetime.now()))


def mark_all_read(user) -> None:
    """"Mark all as read" on the notifications page: those of every page."""
    _read(user)


def mark_read(user, notifications: list) -> None:
    """A page of notifications opened reads those it shows (the others stay unread until their
    page is opened); the bell drawn on it counts the others. Nothing written when all are read."""
    ids = [n.id for n in notifications if n.read_at is None]
    if not ids:
        return
    left = max(0, unread_count(user) - len(ids))
    _read(user, Notification.id.in_(ids))
    person = user._get_current_object() if hasattr(user, "_get_current_object") else user
    set_committed_value(person, "unread_notifications", left)


def unread_count(user) -> int:
    """The bell's count: as read with the signed-in person, else (a person of no agency, who
    sees the agency they inspect, or a person a commit expired) read now."""
    if user.agency_id is not None and user.unread_notifications is not None:
        return user.unread_notifications
    return db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0
