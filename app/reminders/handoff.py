"""Hand-off notifications: when a record moves (app.workflow.run) or an in-state action is
taken (app.workflow.acted), the people who must act next hear of it at once in the panel,
and the requester when their ticket moves; so does a person @mentioned in a conversation.

Who acts next is read from the workflow tables: the actors of the steps that leave the
record's new state (or of the steps an action hands to, Action.hands_to), and the people a
workflow names as watching its records (Workflow.watchers). The person who acted is never told.

Each person chooses (QmsUser.notify_email) whether the notification also comes by e-mail:
"now" — a job on the queue (app.jobs) mails it after the commit, retried, claimed like the
digest so it never goes twice; "digest" — it waits in the outbox (ReminderLog) for the next
daily digest (app.reminders.services.send_digest); "never".
"""
import uuid
from collections import namedtuple
from dataclasses import dataclass, field

from flask_appbuilder.security.sqla.models import Group, Role
from flask_babel import force_locale, gettext, lazy_gettext as _l
from sqlalchemy import select, union_all

from app import jobs
from app.conversation.kinds import conversed, kind_of, title_of
from app.extensions import db
from app.organisation.models import QmsUser
from app.reminders import services
from app.reminders.models import Notification, ReminderLog
from app.workflow import AtWork, today

EMAIL_CHOICES = {
    "now": _l("By e-mail at once"),
    "digest": _l("By e-mail in the daily digest"),
    "never": _l("Not by e-mail (only in the panel)"),
}


@dataclass
class _Holder:
    """A person as the workflow's rules read one (app.workflow.AtWork): id, unit, roles."""

    id: int
    unit_id: int | None
    roles: list = field(default_factory=list)


_RoleName = namedtuple("_RoleName", "name")


def next_actors(steps, record) -> list[QmsUser]:
    """The active people of the agency who may take one of `steps` on `record`. Every active
    person's unit and roles (given directly or through a group) are read as plain rows in
    one statement and the steps' rules asked of them; only the people admitted are loaded
    as records. (Loading the whole staff with its roles and groups on every step cost a
    quarter of a transition, and grew with the agency.) A person with no role is read too:
    some rules admit people by name (the assignee, the implementer, a review's chair)."""
    direct = select(QmsUser.id, QmsUser.unit_id, Role.name).outerjoin(QmsUser.roles)
    by_group = select(QmsUser.id, QmsUser.unit_id, Role.name).join(QmsUser.groups).join(Group.roles)
    held = union_all(*(part.where(QmsUser.active.is_(True)) for part in (direct, by_group)))
    people: dict[int, _Holder] = {}
    for person_id, unit_id, role in db.session.execute(held):
        person = people.setdefault(person_id, _Holder(person_id, unit_id))
        if role is not None:
            person.roles.append(_RoleName(role))
    admitted = [person_id for person_id, person in people.items()
                if any(step.actor.allows(AtWork(person), record) for step in steps)]
    if not admitted:
        return []
    return db.session.scalars(select(QmsUser).where(QmsUser.id.in_(admitted)).order_by(QmsUser.id)).all()


def recipients(workflow, record, name: str, moved: bool) -> list[QmsUser]:
    """Who hears of step `name` just taken on `record`: the actors of what comes next, and
    when the record moved, the people its workflow says watch it."""
    action = next((a for a in workflow.actions if a.name == name), None)
    if action is not None and action.hands_to:
        steps = [workflow.transition(step) or workflow.action(step) for step in action.hands_to]
    else:
        steps = workflow.next_steps(record.state)
    people = next_actors(steps, record)
    if moved and workflow.watchers:
        known = {person.id for person in people}
        watching = {user_id for user_id in workflow.watchers(record) if user_id and user_id not in known}
        if watching:
            people += db.session.scalars(select(QmsUser).where(
                QmsUser.id.in_(watching), QmsUser.active.is_(True)).order_by(QmsUser.id)).all()
    return people


def handed_over(workflow, record, name: str, user, from_state) -> list[QmsUser]:
    """Tell whoever acts next that `user` took step `name` (a transition or an in-state action)
    on `record`; who was told. Written in the caller's transaction."""
    people = recipients(workflow, record, name, moved=record.state != from_state)
    with force_locale("vi"):
        page = conversed(record)
        kind = kind_of(page)
        event = workflow.event_label_of(record, name)
        subject = gettext("%(record)s: %(event)s", record=title_of(record), event=event)
        body = gettext("%(person)s: “%(event)s”. Now: %(state)s.", person=user.get_full_name(),
                       event=event, state=workflow.state_label(record.state))
    return tell(people, user, subject, body, kind.link(page))


def tell(people, actor, subject: str, body: str, link: str) -> list[QmsUser]:
    """A notification in the panel for each person but the one who acted, and the e-mail
    each chose; who was told."""
    told = []
    for person in people:
        if person.id == actor.id or person in told:
            continue
        told.append(person)
        db.session.add(Notification(user_id=person.id, subject=subject[:300], body=body, link=link))
        if person.email and person.notify_email in ("now", "digest"):
            entry = ReminderLog(user_id=person.id, key=services.HANDOFF + uuid.uuid4().hex, sent_on=today(),
                                text=f"{subject} — {body}", link=link, emailed=False)
            db.session.add(entry)
            if person.notify_email == "now":
                jobs.enqueue("app.reminders.handoff.send_now", entry)  # after the commit
    return told


def send_now(entry_id: int) -> int:
    """The job that mails one hand-off at once; 1 if this job sent it, 0 if it had gone
    already (another attempt, or the digest). A failure raises, and the queue retries."""
    entry = db.session.get(ReminderLog, entry_id)
    user = db.session.get(QmsUser, entry.user_id) if entry is not None else None
    if user is None or not user.email or not user.active or user.notify_email != "now":
        return 0  # left, or chose otherwise, since the hand-off: no mail at once
    with force_locale("vi"):
        subject = gettext("[QMS improvement] %(text)s", text=entry.text.split(" — ")[0])
    return services.send_rows(user, entry.sent_on, ReminderLog.id == entry.id, subject)


def choose_email(user, choice: str) -> None:
    """The person's own choice of e-mail for their notifications (EMAIL_CHOICES)."""
    if choice not in EMAIL_CHOICES:
        raise ValueError(choice)
    user.notify_email = choice
    db.session.commit()
