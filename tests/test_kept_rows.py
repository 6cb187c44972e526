"""A kept statement of plain values run as its SQL text (app.tenancy.kept_rows, issue 15): the
rows SQLAlchemy's own run gives, limited to the agency as every statement is."""
import datetime
import os

import pytest
from sqlalchemy import Integer, bindparam, func, select


def _ticket_states():
    from app.tickets.models import Ticket

    return (select(Ticket.state, func.count(Ticket.id)).where(Ticket.year >= bindparam("year", type_=Integer))
            .group_by(Ticket.state).order_by(Ticket.state))


STATES = _ticket_states()  # kept, as the pages keep theirs


def test_the_rows_are_sqlalchemy_s_each_agency_its_own(app, db, make_ticket):
    from app.extensions import db as database
    from app.tenancy import _TEXTS, agency_named, kept_rows

    make_ticket(state="analysis")
    seen = {}
    for code in ("CAMLAM", "CAMHIEP", "CAMLAM"):
        with app.test_request_context(), agency_named(code):
            for year in (2000, datetime.date.today().year):
                rows = kept_rows(STATES, {"year": year})
                assert rows == database.session.execute(STATES, {"year": year}).all(), (code, year)
                seen[code, year] = rows
    assert seen["CAMLAM", 2000] != seen["CAMHIEP", 2000]  # each agency counts its own tickets
    if database.engine.dialect.name == "postgresql":  # one text per agency, whatever the year
        assert len([key for key in _TEXTS if key[0] == id(STATES)]) == 2


def test_the_rows_count_what_the_session_has_not_yet_written(app, db, make_ticket):
    from app.tenancy import kept_rows
    from app.tickets.models import Ticket

    ticket = make_ticket(state="analysis")
    before = dict(kept_rows(STATES, {"year": 2000}))
    db.session.get(Ticket, ticket.id).state = "declined"
    after = dict(kept_rows(STATES, {"year": 2000}))
    assert after["declined"] == before.get("declined", 0) + 1 and after["analysis"] == before["analysis"] - 1
    db.session.rollback()


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="SQLite runs the statement as SQLAlchemy does")
def test_a_list_of_values_is_refused_not_run_with_the_first_list_s_length(app, db):
    """A list of values makes a text of its own length: kept, it would be the first run's."""
    from app.tenancy import kept_rows
    from app.tickets.models import Ticket

    listed = select(func.count(Ticket.id)).where(Ticket.year.in_(bindparam("years", expanding=True)))
    with pytest.raises(ValueError):
        kept_rows(listed, {"years": [2000, 2001]})
