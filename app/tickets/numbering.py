"""Số phiếu NNN/YYYY: consecutive within a year, safe under concurrent creation."""
import datetime

from flask_babel import gettext
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.tickets.models import Ticket, TicketCounter
from app.workflow import Conflict


def next_number(year: int) -> int:
    """Next consecutive number of a year. The counter row's update lock makes
    concurrent callers wait for each other, so no number is given twice."""
    for _ in range(3):
        number = db.session.execute(
            update(TicketCounter).where(TicketCounter.year == year)
            .values(last_number=TicketCounter.last_number + 1)
            .returning(TicketCounter.last_number)
        ).scalar()
        if number is not None:
            return number
        try:
            with db.session.begin_nested():
                db.session.add(TicketCounter(year=year, last_number=0))
        except IntegrityError:
            pass  # another transaction created the year's row first: update it
    raise Conflict(gettext("Could not number the ticket, please try again."))


def give_number(ticket: Ticket, on: datetime.date) -> None:
    if ticket.number is None:
        ticket.year = on.year
        ticket.number = next_number(on.year)
