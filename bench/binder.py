"""Benchmark: the records binder of 100 forms (target: at most 10 s on a 2-core machine).

Run: .venv/bin/python bench/binder.py   (uses a temporary SQLite database with the demo)
The demo's tickets are copied, numbers and all, into a year of their own until there are 100
of them; `flask qms report tickets --agency CAMLAM --year …` then makes their binder, and the bench prints
the seconds it took (query, forms, cover and contents, page numbers, file written).
"""
import datetime
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.demo import demo_app  # noqa: E402
from app.tenancy import agency_named  # noqa: E402

FORMS = 100
YEAR = 2001  # far from the demo's own year, so the binder holds only the copies


def main(rounds: int = 3) -> None:
    app, folder = demo_app()
    with app.app_context(), agency_named("CAMLAM"):
        _copy_demo_tickets()
    out = os.path.join(folder, "binder.pdf")
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = app.test_cli_runner().invoke(args=["qms", "report", "tickets", "--agency", "CAMLAM", "--year", str(YEAR), "--out", out])
        timings.append(time.perf_counter() - start)
        assert result.exit_code == 0, result.output
    info = subprocess.run(["pdfinfo", out], capture_output=True, text=True).stdout
    pages = next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:"))
    print(f"binder of {FORMS} forms: best {min(timings):5.2f} s   worst {max(timings):5.2f} s   "
          f"(target ≤ 10 s; {pages} pages, {os.path.getsize(out) // 1024} KB, {rounds} runs)")


def _copy_demo_tickets() -> None:
    from sqlalchemy import select

    from app.extensions import db
    from app.tickets.models import Ticket

    demo = db.session.scalars(select(Ticket).where(Ticket.number.is_not(None)).order_by(Ticket.id)).all()
    columns = [c.key for c in Ticket.__table__.columns if c.key not in ("id", "number", "year", "follows_id")]
    for number in range(1, FORMS + 1):
        source = demo[number % len(demo)]
        values = {key: getattr(source, key) for key in columns}
        for key, value in values.items():
            if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
                values[key] = value.replace(year=YEAR, day=min(value.day, 28))
        db.session.add(Ticket(number=number, year=YEAR, **values))
    db.session.commit()


if __name__ == "__main__":
    main()
