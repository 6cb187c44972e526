"""Benchmark: one BM.CTCL.01 form through render_pdf against a bare wkhtmltopdf run of the
same HTML (issue 11, item 8: target ≤ 1.3×).

Run: .venv/bin/python bench/pdf.py   (uses a temporary SQLite database with the demo)
The bare run is the engine's own command line run directly on the page the engine sends
(the rendered template, completed with zoom and pagination script); render_pdf adds the
Jinja rendering, the page-number stamps and pypdf. Prints the median of each and their
ratio, for the demo's closed form (1 page) and a long form (3 pages, numbered), and the
first render_pdf of the process, which also makes the page-number stamps once.
"""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.demo import demo_app  # noqa: E402
from app.tenancy import agency_named  # noqa: E402


def _median(action, rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main(rounds: int = 9) -> None:
    app, folder = demo_app()
    import reports
    from app.extensions import db
    from app.tickets.documents import context as form_context
    from app.tickets.models import Ticket

    with app.app_context(), agency_named("CAMLAM"):
        ticket = db.session.query(Ticket).filter_by(state="closed").order_by(Ticket.id).first()
        forms = (("closed demo form", ticket.description),
                 ("long form", "Hồ sơ trả chậm vì thiếu phối hợp giữa các phòng chuyên môn. " * 110))
        for label, description in forms:
            ticket.description = description
            context = form_context(ticket)
            start = time.perf_counter()
            document = reports.render_pdf("bm_ctcl_01.html", **context)
            first = time.perf_counter() - start
            command, page = reports._command(reports.render_html("bm_ctcl_01.html", **context),
                                             False, reports.MARGINS_MM)

            def bare():
                subprocess.run(command, input=page.encode("utf-8"), capture_output=True, check=True,
                               env=reports.environment())

            bare_time = _median(bare, rounds)
            engine_time = _median(lambda: reports.render_pdf("bm_ctcl_01.html", **context), rounds)
            info = subprocess.run(["pdfinfo", "-"], input=document, capture_output=True).stdout.decode()
            pages = next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:"))
            print(f"{label:16} ({pages} p.)  bare wkhtmltopdf {bare_time * 1000:5.0f} ms   "
                  f"render_pdf {engine_time * 1000:5.0f} ms   ratio {engine_time / bare_time:4.2f}×   "
                  f"(first render_pdf of the process {first * 1000:.0f} ms; medians of {rounds})")
        db.session.rollback()


if __name__ == "__main__":
    main()
