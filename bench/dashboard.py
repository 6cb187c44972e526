"""Benchmark: the landing page with the demo data (target: well under a second).

Run: .venv/bin/python bench/dashboard.py   (uses a temporary SQLite database with the demo)
Prints the median and worst time of the dashboard for a steering user and for staff.
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.demo import demo_app  # noqa: E402


def main(rounds: int = 20) -> None:
    app, folder = demo_app()
    for username in ("truongban.iso", "canbo.ktht"):
        client = app.test_client()
        page = client.get("/login/").text
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        login = client.post("/login/", data={"username": username, "password": "CamLam@2026", "csrf_token": token})
        assert "/login" not in login.headers["Location"], "login failed"
        timings = []
        for _ in range(rounds):
            start = time.perf_counter()
            assert client.get("/").status_code == 200
            timings.append(time.perf_counter() - start)
        print(f"{username:15} median {statistics.median(timings) * 1000:6.1f} ms   "
              f"worst {max(timings) * 1000:6.1f} ms   ({rounds} loads)")


if __name__ == "__main__":
    main()
