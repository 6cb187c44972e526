"""A kept statement of plain values run as its SQL text (app.tenancy.kept_rows, issue 15): the
rows SQLAlchemy's own run gives, limited to the agency as every statement is."""
import datetime
import os

import pytest
from sqlalchemy import Integer, Numeric, bindparam, cast, exc, func, select

ON_POSTGRESQL = os.environ.get("DATABASE_URL", "").startswith("postgresql")


def _ticket_states():
    from app.tickets.models import Ticket

    return (select(Ticket.state, func.count(Ticket.id))
            .where(Ticket.id >= bindparam("first", type_=Integer), Ticket.id <= bindparam("last", type_=Integer))
            .group_by(Ticket.state).order_by(Ticket.state))


STATES = _ticket_states()  # kept, as the pages keep theirs


def test_the_rows_are_sqlalchemy_s_each_agency_its_own_each_run_its_values(app, db, make_ticket):
    from app.extensions import db as database
    from app.tenancy import _text, agency_named, kept_rows

    made = [make_ticket(state="analysis").id, make_ticket().id]
    seen = {}
    for code in ("CAMLAM", "CAMHIEP", "CAMLAM"):
        with app.test_request_context(), agency_named(code):
            for bounds in ((1, 2 ** 31 - 1), (made[0], made[0]), (made[1], made[1]), (0, 0)):
                values = {"first": bounds[0], "last": bounds[1]}
                rows = kept_rows(STATES, values)
                assert rows == database.session.execute(STATES, values).all(), (code, bounds)
                seen[code, bounds] = rows
    assert seen["CAMLAM", (1, 2 ** 31 - 1)] != seen["CAMHIEP", (1, 2 ** 31 - 1)]  # each agency its own
    assert seen["CAMLAM", (made[0], made[0])] == [("analysis", 1)]  # each run its own values
    assert seen["CAMLAM", (made[1], made[1])] == [("draft", 1)]
    assert seen["CAMHIEP", (made[0], made[0])] == [] and seen["CAMLAM", (0, 0)] == []
    if ON_POSTGRESQL:  # one text per agency, whatever the values
        assert _text.cache_info().currsize >= 2


def test_the_rows_count_what_the_session_has_not_yet_written(app, db, make_ticket):
    from app.tenancy import kept_rows
    from app.tickets.models import Ticket

    ticket = make_ticket(state="analysis")
    every = {"first": 1, "last": 2 ** 31 - 1}
    before = dict(kept_rows(STATES, every))
    db.session.get(Ticket, ticket.id).state = "declined"
    after = dict(kept_rows(STATES, every))
    assert after["declined"] == before.get("declined", 0) + 1 and after["analysis"] == before["analysis"] - 1
    db.session.rollback()


def test_a_value_left_out_is_refused_as_sqlalchemy_refuses_it(app, db):
    """Not taken from an earlier run (another request's, perhaps)."""
    from app.tenancy import kept_rows

    kept_rows(STATES, {"first": 1, "last": 10})
    with pytest.raises(exc.StatementError if not ON_POSTGRESQL else exc.InvalidRequestError):
        kept_rows(STATES, {"first": 1})
    db.session.rollback()


@pytest.mark.skipif(not ON_POSTGRESQL, reason="SQLite runs the statement as SQLAlchemy does")
def test_a_list_of_values_or_a_converted_column_is_refused(app, db):
    """A list of values makes a text of its own length: kept, it would be the first run's. A
    column SQLAlchemy converts (here a decimal number) would come unconverted."""
    from app.tenancy import kept_rows
    from app.tickets.models import Ticket

    listed = select(func.count(Ticket.id)).where(Ticket.year.in_(bindparam("years", expanding=True)))
    with pytest.raises(ValueError):
        kept_rows(listed, {"years": [2000, 2001]})
    averaged = select(cast(func.avg(Ticket.year), Numeric)).where(Ticket.year >= bindparam("year", type_=Integer))
    with pytest.raises(ValueError):
        kept_rows(averaged, {"year": datetime.date.today().year})


def test_the_texts_kept_do_not_grow_with_the_people_who_see_only_their_own(app, db, client_as_user, make_ticket,
                                                                             user):
    """A statement built for one person (shared=False: a staff member's counts, the NCs of a
    ticket they may open, "My work") gives SQLAlchemy's rows; its text is made at its third run
    (one run once or twice pays nothing for it) and kept only while the statement itself is
    kept (its caller keeps a bounded number of them): in the cache of the texts everyone shares,
    a text kept for each person grew a worker by about 85 KB a person (275 MB after 1 500
    people). Those who see the whole agency share one text per statement and agency."""
    import gc

    from flask import g

    from app.extensions import db as database
    from app.reviews import services as reviews
    from app.tenancy import _OWN_TEXTS, _Text, _text, agency_named, kept_rows
    from app.tickets.models import Ticket

    ticket = make_ticket(state="analysis")
    own = select(func.count(Ticket.id)).where(Ticket.created_by_id == ticket.created_by_id,
                                              Ticket.id <= bindparam("last", type_=Integer))
    with app.test_request_context(), agency_named("CAMLAM"):
        texts = _text.cache_info().currsize
        for run, last in enumerate((ticket.id, ticket.id - 1, 2 ** 31 - 1, ticket.id), start=1):
            assert kept_rows(own, {"last": last}, shared=False) == database.session.execute(own, {"last": last}).all()
            if ON_POSTGRESQL:  # the text made at the third run
                (made,) = _OWN_TEXTS[own].values()
                assert isinstance(made, _Text) == (run >= 3), run
        assert kept_rows(own, {"last": ticket.id}, shared=False)[0][0] >= 1
        assert _text.cache_info().currsize == texts
    if ON_POSTGRESQL:  # kept with the statement, gone with it
        kept = len(_OWN_TEXTS)
        del own
        gc.collect()
        assert len(_OWN_TEXTS) == kept - 1
    leader = client_as_user("truongban.iso")
    for address in ("/", f"/tickets/show/{ticket.id}"):  # the texts everyone shares, made once
        assert leader.get(address).status_code == 200
    texts = _text.cache_info().currsize
    for person in ("canbo.ktht", "truongphong.ktht"):
        client = client_as_user(person)
        for address in ("/", f"/tickets/show/{ticket.id}"):
            assert client.get(address).status_code == 200, (person, address)
        with app.test_request_context(), agency_named("CAMLAM"):
            g.user = user(person)
            assert reviews.gather_inputs(datetime.date(2026, 1, 1), datetime.date(2026, 12, 31), g.user)
    if ON_POSTGRESQL:
        assert _text.cache_info().currsize == texts


def test_a_kept_statement_in_use_stays_while_others_come_and_go():
    """KeptStatements forgets the least recently used statement first: the one everyone who
    sees the whole agency shares, used between each newcomer's, is built once (emptied all at
    once, it was built again, and its text made again, every `size` people)."""
    from app.tickets.services import KeptStatements

    kept, built = KeptStatements(3), []

    def build(key):
        return lambda: built.append(key) or object()

    shared = kept.get((True,), build((True,)))
    for person in range(10):
        kept.get((False, person), build((False, person)))
        assert kept.get((True,), build((True,))) is shared
    assert built.count((True,)) == 1 and len(kept.kept) == 3
    assert kept.get((False, 9), build((False, 9))) is not None and built.count((False, 9)) == 1
    assert kept.get((False, 0), build((False, 0))) is not None and built.count((False, 0)) == 2  # forgotten
