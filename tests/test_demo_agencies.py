"""The demo's two agencies (issue 12 item 7): UBND xã Cam Hiệp has records of its own, run
under its scope, numbered from 001 of the year whatever Cam Lâm's numbers are; running the demo
again adds nothing."""
import datetime

from sqlalchemy import func, select

from tests.conftest import demo_agency

YEAR = datetime.date.today().year


def _counts(app, code) -> dict:
    from app.extensions import db
    from app.objectives.models import ObjectivePlan
    from app.organisation.models import QmsUser, Unit
    from app.reviews.models import InternalAudit, Review
    from app.tickets.models import NcCategory, Nonconformity, Ticket

    with demo_agency(app, code):
        return {model.__name__: db.session.scalar(select(func.count()).select_from(model)) for model in (
            Unit, QmsUser, NcCategory, Nonconformity, Ticket, ObjectivePlan, Review, InternalAudit)}


def test_the_commune_has_its_own_records(app):
    from app.extensions import db
    from app.objectives.models import ObjectivePlan
    from app.reviews.models import Review
    from app.tickets.models import Nonconformity, Ticket

    with demo_agency(app, "CAMHIEP"):
        tickets = db.session.scalars(select(Ticket)).all()
        states = {t.state for t in tickets}
        assert {"draft", "unit_review", "iso_review", "analysis", "implementation", "closed"} <= states
        assert all(t.created_by.username.startswith("xa.") for t in tickets)
        assert {e.actor.username for t in tickets for e in t.events if e.actor}.issubset(
            {"xa.canbo", "xa.truongphong", "xa.thuky", "xa.truongban", "xa.chutich", "xa.admin"})
        assert db.session.scalar(select(func.count(Nonconformity.id))) >= 6
        [plan] = db.session.scalars(select(ObjectivePlan).where(
            ObjectivePlan.unit_id.is_(None), ObjectivePlan.year == YEAR).order_by(ObjectivePlan.id)).all()[:1]
        assert plan.state == "approved" and plan.year == YEAR and plan.approved_by.username == "xa.chutich"
        review = db.session.scalars(select(Review).order_by(Review.id)).first()
        assert review.state == "minutes_approved" and review.place == "Phòng họp UBND xã Cam Hiệp"
        assert {u.username for u in review.attendees} <= {"xa.chutich", "xa.truongban", "xa.truongphong", "xa.thuky"}


def test_the_communes_numbers_start_at_001(app):
    """Demo tickets are numbered when they leave draft: Cam Hiệp's first is 001 of the year,
    with no gap, whatever Cam Lâm gave."""
    from app.extensions import db
    from app.tickets.models import Ticket

    numbers = {}
    for code in ("CAMLAM", "CAMHIEP"):
        with demo_agency(app, code):
            numbers[code] = sorted(db.session.scalars(select(Ticket.number).where(
                Ticket.year == YEAR, Ticket.number.is_not(None))))
    assert numbers["CAMHIEP"][:6] == [1, 2, 3, 4, 5, 6]
    assert numbers["CAMLAM"][:22] == list(range(1, 23))


def test_running_the_demo_again_adds_nothing(app):
    before = {code: _counts(app, code) for code in ("CAMLAM", "CAMHIEP")}
    result = app.test_cli_runner().invoke(args=["qms", "demo"])
    assert result.exit_code == 0, result.output
    for login in ("xa.admin", "xa.canbo", "xa.truongphong", "xa.thuky", "xa.truongban", "xa.chutich",
                  "so.khcn", "quantri", "admin", "chutich"):
        assert login in result.output
    assert {code: _counts(app, code) for code in ("CAMLAM", "CAMHIEP")} == before
