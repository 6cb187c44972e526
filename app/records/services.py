"""Retention of ticket records (VII: 03 years after closing, an agency setting).

An archive is written to a temporary folder, every file is read back against its checksum,
the folder is renamed into place, and only then is the record deleted — one transaction
per record. A record whose archive could not be written stays in the database.
"""
import datetime
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

from sqlalchemy import select, update

from app.extensions import db
from app.objectives.models import ReportRow
from app.organisation.services import get_settings
from app.reviews.models import ReviewAction
from app.tickets import workflow
from app.tickets.documents import ticket_pdf
from app.tickets.files import safe_filename
from app.tickets.models import Attachment, Ticket
from app.workflow import today

log = logging.getLogger(__name__)


def retention_limit(on: datetime.date | None = None) -> datetime.date:
    """Tickets closed on or before this day are past retention."""
    on = on or today()
    years = get_settings().retention_years
    try:
        return on.replace(year=on.year - years)
    except ValueError:  # 29/02
        return on.replace(year=on.year - years, day=28)


def past_retention(on: datetime.date | None = None) -> list[Ticket]:
    return db.session.scalars(
        select(Ticket).where(Ticket.state.in_(workflow.FINAL_STATES), Ticket.closed_on.is_not(None),
                             Ticket.closed_on <= retention_limit(on))
        .order_by(Ticket.closed_on, Ticket.id)
    ).all()


def _user(user) -> dict | None:
    return {"id": user.id, "username": user.username, "name": user.get_full_name()} if user else None


def _columns(obj) -> dict:
    data = {}
    for column in obj.__table__.columns:
        value = getattr(obj, column.key)
        if column.key == "data":
            continue
        data[column.key] = value.isoformat() if isinstance(value, (datetime.date, datetime.datetime)) else value
    return data


def ticket_record(ticket: Ticket) -> dict:
    """Everything the database holds about a ticket, as JSON-ready data."""
    return {
        "ticket": _columns(ticket),
        "display_number": ticket.display_number,
        "people": {name: _user(getattr(ticket, name)) for name in (
            "requester", "created_by", "assignee", "implementer", "implementing_unit_head",
            "approved_by", "verifier", "verified_by", "closed_by")},
        "units": {name: getattr(ticket, name).name if getattr(ticket, name) else None
                  for name in ("requesting_unit", "assignee_unit", "implementing_unit")},
        "history": [{**_columns(e), "actor": _user(e.actor)} for e in ticket.events],
        "box2_revisions": [_columns(r) for r in ticket.box2_revisions],
        "progress_reports": [{**_columns(p), "files": [a.id for a in p.attachments]} for p in ticket.progress_reports],
        "change_requests": [_columns(c) for c in ticket.change_requests],
        "nonconformities": [nc.id for nc in ticket.nonconformities],
        "follow_ups": [t.id for t in ticket.follow_ups],
        "attachments": [_columns(a) for a in _all_attachments(ticket)],
    }


def _all_attachments(ticket: Ticket) -> list[Attachment]:
    return db.session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id)
                              .order_by(Attachment.id)).all()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_archive(ticket: Ticket, out_dir: Path) -> Path:
    """Write and verify the ticket's archive folder; return it. Raises on any failure."""
    name = f"phieu-{ticket.year or 'nhap'}-{ticket.number or 0:03d}-id{ticket.id}"
    final = out_dir / name
    partial = out_dir / f".{name}.partial"
    if final.exists():
        raise FileExistsError(f"{final} already exists")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        (partial / "files").mkdir(parents=True)
        files = {"ticket.json": json.dumps(ticket_record(ticket), ensure_ascii=False, indent=2).encode("utf-8"),
                 "BM.CTCL.01.pdf": ticket_pdf(ticket)}
        for attachment in _all_attachments(ticket):
            files[f"files/{attachment.id}-{safe_filename(attachment.filename)}"] = attachment.data
        manifest = {}
        for relative, data in files.items():
            (partial / relative).write_bytes(data)
            manifest[relative] = hashlib.sha256(data).hexdigest()
        (partial / "manifest.json").write_text(json.dumps(
            {"ticket": ticket.display_number, "id": ticket.id, "archived_on": today().isoformat(),
             "sha256": manifest}, ensure_ascii=False, indent=2), encoding="utf-8")
        for relative, digest in manifest.items():  # read back before anything is deleted
            if _sha256(partial / relative) != digest:
                raise IOError(f"checksum mismatch for {relative}")
        os.replace(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def verify_archive(folder: Path) -> bool:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return all(_sha256(folder / relative) == digest for relative, digest in manifest["sha256"].items())


def _delete(ticket: Ticket) -> None:
    for model in (ReviewAction, ReportRow):  # links from other records are kept, emptied
        db.session.execute(update(model).where(model.ticket_id == ticket.id).values(ticket_id=None))
    for nc in ticket.nonconformities:
        nc.ticket_id = None
    for follow_up in ticket.follow_ups:
        follow_up.follows_id = None
    for attachment in _all_attachments(ticket):
        db.session.delete(attachment)
    db.session.delete(ticket)


def archive_past_retention(out_dir: str | Path, on: datetime.date | None = None) -> tuple[list, list]:
    """Archive then remove each ticket past retention; returns (archived folders, failures)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    archived, failed = [], []
    for ticket_id in [t.id for t in past_retention(on)]:
        ticket = db.session.get(Ticket, ticket_id)
        label = ticket.display_number or f"#{ticket.id}"
        try:
            folder = write_archive(ticket, out)
        except Exception as error:  # this record stays; the others go on
            log.error("Archive of ticket %s failed: %s", label, error)
            db.session.rollback()
            failed.append((label, str(error)))
            continue
        try:
            _delete(ticket)
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            shutil.rmtree(folder, ignore_errors=True)
            log.error("Removing ticket %s failed: %s", label, error)
            failed.append((label, str(error)))
            continue
        archived.append(folder)
    return archived, failed
