"""Files made by a background job for the user who asked: started in a request, made by the
queue (app.jobs), downloaded by their user only (and only in their agency: app.tenancy)."""
import datetime

from flask_babel import force_locale, gettext
from sqlalchemy import select
from sqlalchemy.orm import load_only

from app import jobs
from app.downloads.models import FAILED, PENDING, READY, GeneratedFile
from app.extensions import db
from app.reminders.models import Notification

LISTED = 50  # the newest files on the page


def start(user, kind: str, name: str, func_path: str, *args) -> GeneratedFile:
    """Record the file `user` asked for and queue the job that makes it; commits. The job is
    `func_path(file_id, *args)` and ends with finish()."""
    generated = GeneratedFile(user_id=user.id, kind=kind, name=name, status=PENDING)
    db.session.add(generated)
    db.session.flush()
    jobs.enqueue(func_path, generated.id, *args)
    db.session.commit()
    return generated


def finish(generated: GeneratedFile, data: bytes | None = None, error: str | None = None) -> None:
    """The job's end: the file ready with `data`, or failed with `error` (Vietnamese, for the
    user); its user is told in the panel. Commits."""
    generated.status = FAILED if error else READY
    generated.error = error[:500] if error else None
    generated.content = None if error else data
    generated.size = None if error else len(data)
    generated.finished_at = datetime.datetime.now()
    with force_locale("vi"):
        if error:
            subject = gettext("The file %(name)s could not be made", name=generated.name)
        else:
            subject = gettext("The file %(name)s is ready to download", name=generated.name)
        db.session.add(Notification(user_id=generated.user_id, subject=subject, body=error or subject,
                                    link=f"/downloads/#file-{generated.id}"))
    db.session.commit()


def own_files(user) -> list[GeneratedFile]:
    """The user's newest files, without their content."""
    return list(db.session.scalars(
        select(GeneratedFile).options(load_only(
            GeneratedFile.id, GeneratedFile.kind, GeneratedFile.name, GeneratedFile.status, GeneratedFile.error,
            GeneratedFile.size, GeneratedFile.created_at, GeneratedFile.finished_at))
        .where(GeneratedFile.user_id == user.id)
        .order_by(GeneratedFile.created_at.desc(), GeneratedFile.id.desc()).limit(LISTED)))


def own_file(user, file_id: int) -> GeneratedFile | None:
    """One of the user's files that is ready; None for anyone else's (another agency's is not
    found by the query layer at all)."""
    return db.session.scalar(select(GeneratedFile).where(
        GeneratedFile.id == file_id, GeneratedFile.user_id == user.id, GeneratedFile.status == READY))
