"""Retention of ticket records (VII: 03 years after closing, an agency setting).

The archive holds every column of every row that leaves the database with the ticket, and of
every row of another record whose link to it is emptied, read from the table metadata, so a
column or table added later is archived too. It is written to a temporary folder, every file
is read back against its checksum, the folder is renamed into place, and only then are exactly
the archived rows deleted — one transaction per record. A record whose archive could not be
written stays in the database.
"""
import datetime
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

from sqlalchemy import Column, Table, and_, delete, select, update
from sqlalchemy.orm import joinedload

from app.conversation.models import Comment
from app.extensions import db
from app.organisation.models import QmsUser, Unit
from app.organisation.services import current_agency
from app.tickets import workflow
from app.tickets.documents import ticket_pdf
from app.tickets.files import safe_filename
from app.tickets.models import Ticket
from app.workflow import today

log = logging.getLogger(__name__)


def retention_limit(on: datetime.date | None = None) -> datetime.date:
    """Tickets closed on or before this day are past retention."""
    on = on or today()
    years = current_agency().retention_years
    try:
        return on.replace(year=on.year - years)
    except ValueError:  # 29/02
        return on.replace(year=on.year - years, day=28)


def past_retention_query(on: datetime.date | None = None):
    """The tickets past retention, oldest closing first."""
    return (select(Ticket).where(Ticket.state.in_(workflow.FINAL_STATES), Ticket.closed_on.is_not(None),
                                 Ticket.closed_on <= retention_limit(on))
            .order_by(Ticket.closed_on, Ticket.id))


def past_retention(on: datetime.date | None = None) -> list[Ticket]:
    return db.session.scalars(past_retention_query(on)).all()


def past_retention_page(query, page: int, size: int) -> list[Ticket]:
    """One page of past_retention_query, each ticket with its requesting unit (the page names it)."""
    return db.session.scalars(query.options(joinedload(Ticket.requesting_unit))
                              .limit(size).offset((page - 1) * size)).all()


# Rows of other records that point at a ticket outlive it: their link is emptied, and the
# row as it was goes into the archive. Every other row that points at the ticket, or at a row
# leaving with it, is the ticket's own and leaves with it into the archive — so a table added
# later is archived whole by default, never forgotten.
KEPT_LINKS = {
    ("nonconformity", "ticket_id"),  # an NC (5.1) is a record of its own
    ("ticket", "follows_id"),  # a follow-up ticket
    ("review_action", "ticket_id"),
    ("report_row", "ticket_id"),
}
PEOPLE_AND_UNITS = ("ab_user", "unit")


def _official_table() -> Table:
    from app.official.models import OfficialCopy

    return OfficialCopy.__table__


def official_file(row) -> str:
    """Where an official copy revision (app.official) is kept in the archive, as signed."""
    return f"official/BM.CTCL.01-r{row['revision']}.pdf"


def _key(table: Table, row) -> tuple:
    return tuple(row[c.name] for c in table.primary_key)


def _rows(table: Table, column: Column, values: set) -> dict[tuple, dict]:
    """Rows of `table` whose `column` is in `values`, locked until the transaction ends."""
    if not values:
        return {}
    rows = db.session.execute(select(table).where(column.in_(values)).with_for_update()).mappings()
    return {_key(table, row): dict(row) for row in rows}


def ticket_rows(ticket_id: int) -> tuple[dict, dict]:
    """(removed, unlinked): the rows that leave with the ticket and the rows whose link to one
    of them is emptied, as {table: {primary key: row}}, found by following every foreign key
    of the table metadata."""
    tickets = Ticket.__table__
    removed = {tickets: _rows(tickets, tickets.c.id, {ticket_id})}
    unlinked: dict = {}
    pending = [tickets]
    # The ticket's conversation names it by kind and id, with no foreign key: it leaves with
    # the ticket, and the comments' files (which point at them) follow it.
    comments = Comment.__table__
    for ticket in removed[tickets].values():
        rows = db.session.execute(select(comments).where(
            comments.c.record_type == "ticket", comments.c.record_id == ticket["id"],
            comments.c.agency_id == ticket["agency_id"]).with_for_update()).mappings()
        found = {_key(comments, row): dict(row) for row in rows}
        if found:
            removed.setdefault(comments, {}).update(found)
            pending.append(comments)
    while pending:
        parent = pending.pop()
        for table in Ticket.metadata.sorted_tables:
            for fk in table.foreign_keys:
                if fk.column.table is not parent:
                    continue
                found = _rows(table, fk.parent, {row[fk.column.name] for row in removed[parent].values()})
                if (table.name, fk.parent.name) in KEPT_LINKS:
                    unlinked.setdefault(table, {}).update(found)
                elif found.keys() - removed.get(table, {}).keys():
                    removed.setdefault(table, {}).update(found)
                    pending.append(table)
    # The ticket's official copy revisions name it by id, with no foreign key: they leave too.
    official = _official_table()
    for ticket in list(removed[tickets].values()):
        rows = db.session.execute(select(official).where(
            official.c.document == "ticket", official.c.record_id == ticket["id"],
            official.c.agency_id == ticket["agency_id"]).with_for_update()).mappings()
        found = {_key(official, row): dict(row) for row in rows}
        if found:
            removed.setdefault(official, {}).update(found)
    for table, rows in removed.items():  # a row leaving is not merely unlinked
        for key in rows:
            unlinked.get(table, {}).pop(key, None)
    return removed, {t: rows for t, rows in unlinked.items() if rows}


def _json_row(table: Table, row: dict, files: dict) -> dict:
    """Every column of a row as JSON: dates in ISO form, bytes as a file of the archive."""
    data = {}
    for column in table.columns:
        value = row[column.name]
        if isinstance(value, (bytes, memoryview)):
            name = safe_filename(row["filename"]) if row.get("filename") else column.name
            relative = f"files/{table.name}-{'-'.join(map(str, _key(table, row)))}-{name}"
            if table is _official_table():
                relative = official_file(row)
            if relative in files:
                raise ValueError(f"two files named {relative}")
            files[relative] = bytes(value)
            value = {"file": relative}
        elif isinstance(value, (datetime.date, datetime.time)):
            value = value.isoformat()
        data[column.name] = value
    return data


def _directory(tables: list[dict]) -> dict:
    """Names of the people and units the archived rows refer to (they stay in the database)."""
    ids: dict[str, set] = {name: set() for name in PEOPLE_AND_UNITS}
    for rows_by_table in tables:
        for table, rows in rows_by_table.items():
            for fk in table.foreign_keys:
                if fk.column.table.name in ids:
                    ids[fk.column.table.name] |= {r[fk.parent.name] for r in rows.values()} - {None}
    people = db.session.scalars(select(QmsUser).where(QmsUser.id.in_(ids["ab_user"]))).all()
    units = db.session.scalars(select(Unit).where(Unit.id.in_(ids["unit"]))).all()
    return {"people": {p.id: {"username": p.username, "name": p.get_full_name()} for p in people},
            "units": {u.id: u.name for u in units}}


def ticket_record(ticket: Ticket, removed: dict, unlinked: dict, files: dict) -> dict:
    """The archive's ticket.json; fills `files` with the bytes columns, kept as files."""
    def tables(rows_by_table):
        return {table.name: [_json_row(table, rows[key], files) for key in sorted(rows)]
                for table in Ticket.metadata.sorted_tables if (rows := rows_by_table.get(table))}

    return {"ticket": ticket.display_number, "id": ticket.id, "archived_on": today().isoformat(),
            "removed": tables(removed), "unlinked": tables(unlinked),
            **_directory([removed, unlinked])}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_archive(ticket: Ticket, removed: dict, unlinked: dict, out_dir: Path) -> Path:
    """Write and verify the ticket's archive folder; return it. Raises on any failure.
    The official copy revisions are kept as signed (official/…) and listed in the manifest
    with the check of their signatures."""
    from app.official import services as official

    name = f"phieu-{ticket.year or 'nhap'}-{ticket.number or 0:03d}-id{ticket.id}"
    final = out_dir / name
    partial = out_dir / f".{name}.partial"
    if final.exists():
        raise FileExistsError(f"{final} already exists")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        (partial / "files").mkdir(parents=True)
        files: dict[str, bytes] = {}
        record = ticket_record(ticket, removed, unlinked, files)
        files["ticket.json"] = json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8")
        files["BM.CTCL.01.pdf"] = ticket_pdf(ticket)
        copies = sorted(removed.get(_official_table(), {}).values(), key=lambda row: row["revision"])
        listed = [{"file": official_file(row), "revision": row["revision"], "source": row["source"],
                   "sha256": hashlib.sha256(files[official_file(row)]).hexdigest(),
                   "verification": official.verify(files[official_file(row)]).as_json()} for row in copies]
        manifest = {}
        for relative, data in files.items():
            (partial / relative).parent.mkdir(parents=True, exist_ok=True)
            (partial / relative).write_bytes(data)
            manifest[relative] = hashlib.sha256(data).hexdigest()
        (partial / "manifest.json").write_text(json.dumps(
            {"ticket": ticket.display_number, "id": ticket.id, "archived_on": today().isoformat(),
             "sha256": manifest, "official_copies": listed}, ensure_ascii=False, indent=2), encoding="utf-8")
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


def _where_key(table: Table, key: tuple):
    return and_(*(column == value for column, value in zip(table.primary_key, key)))


def _remove(removed: dict, unlinked: dict) -> None:
    """Empty the kept links, then delete exactly the archived rows, dependants first."""
    for table, rows in unlinked.items():
        for key, row in rows.items():
            links = {fk.parent.name: None for fk in table.foreign_keys
                     if (table.name, fk.parent.name) in KEPT_LINKS and fk.column.table in removed
                     and row[fk.parent.name] is not None}
            db.session.execute(update(table).where(_where_key(table, key)).values(links))
    for table in reversed(Ticket.metadata.sorted_tables):
        for key in removed.get(table, {}):
            db.session.execute(delete(table).where(_where_key(table, key)))


def archive_past_retention(out_dir: str | Path, on: datetime.date | None = None) -> tuple[list, list]:
    """Archive then remove each ticket past retention; returns (archived folders, failures)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    archived, failed = [], []
    for ticket_id in [t.id for t in past_retention(on)]:
        ticket = db.session.get(Ticket, ticket_id)
        label = ticket.display_number or f"#{ticket.id}"
        try:
            removed, unlinked = ticket_rows(ticket.id)
            folder = write_archive(ticket, removed, unlinked, out)
        except Exception as error:  # this record stays; the others go on
            log.error("Archive of ticket %s failed: %s", label, error)
            db.session.rollback()
            failed.append((label, str(error)))
            continue
        try:
            _remove(removed, unlinked)
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            shutil.rmtree(folder, ignore_errors=True)
            log.error("Removing ticket %s failed: %s", label, error)
            failed.append((label, str(error)))
            continue
        archived.append(folder)
    return archived, failed
