"""The rules of a record's conversation: who may read and write it, @mentions, and the
timeline that shows the comments among the record's history. A comment never changes the
record's state."""
import re
from dataclasses import dataclass

from flask_babel import force_locale, gettext
from sqlalchemy import event, exists, func, select
from sqlalchemy.orm import Session, selectinload

from app.conversation.kinds import KINDS, Kind, conversed, kind_of
from app.conversation.models import Comment
from app.extensions import db
from app.organisation.models import QmsUser
from app.workflow import Conflict, Forbidden, Invalid, NotFound, WorkflowError, commit, id_of

MENTION = re.compile(r"(?<![\w.@])@([A-Za-z0-9_][A-Za-z0-9_.\-]*[A-Za-z0-9_]|[A-Za-z0-9_])")


def kind_named(code: str) -> Kind:
    kind = KINDS.get(code)
    if kind is None:
        raise NotFound(gettext("Record not found."))
    return kind


def load(user, code: str, record_id):
    """The record a conversation is about, as `user` may see it (404 otherwise)."""
    return kind_named(code).load(user, id_of(record_id))


def may_see(user, record) -> bool:
    kind = kind_of(record)
    try:
        kind.load(user, record.id)
    except WorkflowError:
        return False
    return True


def check_comment(user, record) -> None:
    """Who may write: the people of the record's agency who may see it (403 for the others,
    e.g. the province inspector, who reads and changes nothing), while it is not finished (409:
    a closed record is kept as it was closed)."""
    if user.agency_id is None or user.agency_id != record.agency_id:
        raise Forbidden(gettext("Only the people of the agency may take part in the conversation."))
    if kind_of(record).settled(record):
        raise Conflict(gettext("This record is finished: its conversation is closed."))


def may_comment(user, record) -> bool:
    try:
        check_comment(user, record)
    except WorkflowError:
        return False
    return True


def commented(model):
    """Whether a record of `model` has any comment: an EXISTS to read with the record, as its
    `has_comments` (a query expression), so that its page reads no comments when it has none."""
    kind = next(kind for kind in KINDS.values() if kind.model is model)
    return exists().where(Comment.agency_id == model.agency_id, Comment.record_type == kind.code,
                          Comment.record_id == model.id)


def comments(record) -> list[Comment]:
    record = conversed(record)
    if getattr(record, "has_comments", None) is False:  # read with the record: it has none
        return []
    return db.session.scalars(
        select(Comment).where(Comment.record_type == kind_of(record).code, Comment.record_id == record.id)
        .options(selectinload(Comment.author), selectinload(Comment.attachments)).order_by(Comment.id)
    ).all()


def mentioned(text: str) -> list[QmsUser]:
    """The active people of the agency named in `text` as @username."""
    names = {name.lower() for name in MENTION.findall(text or "")}
    if not names:
        return []
    return db.session.scalars(select(QmsUser).where(
        QmsUser.active.is_(True), func.lower(QmsUser.username).in_(sorted(names))).order_by(QmsUser.id)).all()


def add_comment(user, code: str, record_id, text: str, uploads=()) -> Comment:
    """Post a comment (and its files, checked as evidence files are) on a record the user
    sees; each person @mentioned who may see the record is notified."""
    from app.reminders import handoff
    from app.tickets.services import checked_attachments

    record = load(user, code, record_id)
    check_comment(user, record)
    text = (text or "").strip()
    if not text:
        raise Invalid(gettext("Some fields are missing or invalid."), {"text": gettext("This field is required.")})
    comment = Comment(record_type=kind_of(record).code, record_id=record.id, author_id=user.id, text=text)
    comment.attachments = checked_attachments(user, uploads)  # all checked before any is kept
    db.session.add(comment)
    people = [person for person in mentioned(text) if may_see(person, record)]
    with force_locale("vi"):
        kind = kind_of(record)
        subject = gettext("%(record)s: %(person)s mentioned you", record=kind.title(record),
                          person=user.get_full_name())
    handoff.tell(people, user, subject, text, kind.link(record) + "#conversation")
    commit()
    return comment


@event.listens_for(Session, "before_flush")
def _deleted_with_its_record(session, flush_context, instances) -> None:
    """A record deleted (a draft, on any path: page, REST, command) takes its conversation and
    the conversation's files with it. (An archived ticket's go into its archive: app.records.)"""
    gone = [record for record in session.deleted
            if any(type(record) is kind.model for kind in KINDS.values())]
    with session.no_autoflush:
        for record in gone:
            for comment in session.scalars(select(Comment).where(
                    Comment.record_type == kind_of(record).code, Comment.record_id == record.id)):
                session.delete(comment)


def timeline(events, thread) -> list:
    """The history entries and the comments of a record in the order they happened (an
    entry may come as (entry, its changes), as a nonconformity's page shows them)."""
    def at(item):
        return (item[0] if isinstance(item, tuple) else item).at

    return sorted([*events, *thread], key=at)


@dataclass(frozen=True)
class Thread:
    """A record's conversation as its page shows it."""

    kind: str
    record_id: int
    comments: list
    may_comment: bool
    closed: bool = False  # finished: the conversation is closed too
    draft: str = ""  # the text of a comment just refused, given back to its author


def thread(user, record) -> Thread:
    record = conversed(record)
    kind = kind_of(record)
    return Thread(kind.code, record.id, comments(record), may_comment(user, record), kind.settled(record))
