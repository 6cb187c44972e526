"""Load: C simulated users for T seconds against a running server, with issue 15's mix of lists,
ticket pages, dashboards, searches and transitions (open a draft ticket and send it to the
unit head, through the REST API). Prints requests/s, p50/p95/p99, errors per kind, and the RSS of
the gunicorn workers afterwards (read from /proc).

    .venv/bin/python bench/load.py --target product --base http://127.0.0.1:8010 --db postgresql+psycopg://... \\
        --users 200 --seconds 60 --master-pid 1234
    .venv/bin/python bench/load.py --target floor --base http://127.0.0.1:8011 --db ... --master-pid 1235

Threads with `requests` (already installed with the test extra); each simulated user waits
for its answer before the next request: with no think time (the default, the harshest case) it
asks again at once; with `--think S` it first reads the page for a time drawn uniformly
between S/2 and 3S/2 seconds, as a person does (and each user's first request comes after a
pause drawn between 0 and S, rather than all 200 in the same millisecond). bench/run_load.sh starts both servers and runs
both passes.
"""
import argparse
import os
import random
import re
import statistics
import sys
import threading
import time
from collections import defaultdict

import requests
import sqlalchemy as sa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_PASSWORD = "CamLam@2026"
AGENCY = "CAMLAM"

# kind, weight, product path, floor path ({t}: a ticket id, {a}: the agency id, {u}: the leader's id)
MIX = [
    ("list: tickets", 12, "/tickets/list/", "/tickets?agency={a}"),
    ("list: NCs", 6, "/nonconformities/list/", "/ncs?agency={a}"),
    ("list: plans", 3, "/objectives/list/", "/plans?agency={a}"),
    ("list: reviews", 3, "/reviews/list/", "/reviews?agency={a}"),
    ("list: notifications", 4, "/notifications/", "/notifications?agency={a}&user={u}"),
    ("list: recurring", 3, "/recurring/", "/recurring?agency={a}"),
    ("ticket page", 25, "/tickets/show/{t}", "/ticket?agency={a}&id={t}"),
    ("dashboard", 15, "/", "/home?agency={a}"),
    ("search", 14, "/tickets/list/?q=t%C3%A1ch+th%E1%BB%ADa", "/search?agency={a}&q=t%C3%A1ch+th%E1%BB%ADa"),
    ("transition", 10, None, "/transition?agency={a}"),
]


def web_login(base, username):
    s = requests.Session()
    page = s.get(base + "/login/", timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    r = s.post(base + "/login/", data={"username": username, "password": DEMO_PASSWORD,
                                       "csrf_token": token.group(1)}, allow_redirects=False, timeout=30)
    assert r.status_code == 302 and "/login" not in r.headers["Location"], f"login {username}: {r.status_code}"
    return s.cookies.get_dict()


def api_token(base, username):
    r = requests.post(base + "/api/v1/security/login", json={"username": username, "password": DEMO_PASSWORD,
                                                            "provider": "db"}, timeout=30)
    r.raise_for_status()
    return r.json()["access_token"]


def facts(db):
    engine = sa.create_engine(db)
    with engine.connect() as c:
        agency = c.execute(sa.text("SELECT id FROM agency WHERE code = :c"), {"c": AGENCY}).scalar()
        tickets = c.execute(sa.text("SELECT id FROM ticket WHERE agency_id = :a ORDER BY random() LIMIT 500"),
                            {"a": agency}).scalars().all()
        leader = c.execute(sa.text("SELECT id FROM ab_user WHERE username = 'truongban.iso'")).scalar()
        unit = c.execute(sa.text("SELECT unit_id FROM ab_user WHERE username = 'canbo.ktht'")).scalar()
    engine.dispose()
    return agency, tickets, leader, unit


def worker_rss(master_pid):
    """{pid: RSS in MB} of the processes whose parent is the gunicorn master."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != master_pid:
                continue
            with open(f"/proc/{pid}/status") as f:
                rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
            found[int(pid)] = rss / 1024
        except (OSError, StopIteration, ValueError):
            continue
    return found


def run(base, target, db, users, seconds, master_pid=None, out=print, think=0.0):
    agency, tickets, leader, unit = facts(db)
    cookies = web_login(base, "truongban.iso") if target == "product" else {}
    token = api_token(base, "canbo.ktht") if target == "product" else None
    kinds = [m[0] for m in MIX]
    weights = [m[1] for m in MIX]
    paths = {m[0]: (m[2] if target == "product" else m[3]) for m in MIX}
    timings = defaultdict(list)
    errors = defaultdict(int)
    samples = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    start_gate = threading.Barrier(users + 1)

    def one(session, kind, rng):
        fmt = {"t": rng.choice(tickets), "a": agency, "u": leader}
        if kind == "transition" and target == "product":
            headers = {"Authorization": "Bearer " + token}
            r = session.post(base + "/api/v1/tickets/", headers=headers, timeout=60, json={
                "kind": "corrective", "source": "feedback", "requesting_unit": unit,
                "description": "Phiếu tải thử: hồ sơ trả kết quả trễ hẹn", "requested_on": time.strftime("%Y-%m-%d")})
            if r.status_code != 201:
                return r.status_code
            r = session.post(f"{base}/api/v1/tickets/{r.json()['id']}/transitions/submit", headers=headers,
                             json={"comment": "Gửi trưởng phòng"}, timeout=60)
            return r.status_code
        method = session.post if kind == "transition" else session.get
        return method(base + paths[kind].format(**fmt), timeout=60, allow_redirects=False).status_code

    def user(n):
        rng = random.Random(n)
        session = requests.Session()
        session.cookies.update(cookies)
        start_gate.wait()
        if think:  # people arrive one by one, not all in the same millisecond
            time.sleep(rng.uniform(0, think))
        while time.monotonic() < stop:
            kind = rng.choices(kinds, weights)[0]
            began = time.perf_counter()
            try:
                status = one(session, kind, rng)
            except requests.RequestException as error:
                status = type(error).__name__
            spent = (time.perf_counter() - began) * 1000
            with lock:
                timings[kind].append(spent)
                samples.append(spent)
                if status not in (200, 201):
                    errors[f"{kind}: {status}"] += 1
            if think:
                time.sleep(min(rng.uniform(think / 2, think * 3 / 2), max(0.0, stop - time.monotonic())))

    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(users)]
    for t in threads:
        t.start()
    began = time.monotonic()
    start_gate.wait()
    for t in threads:
        t.join(seconds + 120)
    elapsed = time.monotonic() - began

    def pct(values, p):
        return statistics.quantiles(values, n=100)[p - 1] if len(values) > 1 else (values or [0])[0]

    result = {"target": target, "users": users, "think": think, "seconds": round(elapsed, 1), "requests": len(samples),
              "rps": round(len(samples) / elapsed, 1), "p50": round(pct(samples, 50)),
              "p95": round(pct(samples, 95)), "p99": round(pct(samples, 99)), "errors": sum(errors.values())}
    out(f"{target}: {users} users, think time {think:g} s, {elapsed:.0f} s: {len(samples)} requests, {result['rps']} req/s, "
        f"p50 {result['p50']} ms, p95 {result['p95']} ms, p99 {result['p99']} ms, errors {result['errors']}")
    for kind in kinds:
        if timings[kind]:
            out(f"  {kind:<22} n={len(timings[kind]):<6} p50 {pct(timings[kind], 50):7.0f} ms  "
                f"p95 {pct(timings[kind], 95):7.0f} ms")
    for what, n in sorted(errors.items()):
        out(f"  error {what}: {n}")
    if master_pid:
        rss = worker_rss(master_pid)
        result["worker_rss_mb"] = round(max(rss.values()), 1) if rss else None
        out("  worker RSS after the load: " + ", ".join(f"{pid}: {mb:.0f} MB" for pid, mb in sorted(rss.items())))
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description="Load: simulated users with issue 15's mix.")
    p.add_argument("--base", required=True, help="server, e.g. http://127.0.0.1:8010")
    p.add_argument("--target", choices=["product", "floor"], default="product")
    p.add_argument("--db", required=True, help="the bench database (to pick ticket ids)")
    p.add_argument("--users", type=int, default=200)
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--think", type=float, default=0.0, help="mean seconds a user reads a page before the next")
    p.add_argument("--master-pid", type=int, default=None, help="gunicorn master, for the workers' RSS")
    p.add_argument("--warmup", type=int, default=15, help="seconds of the mix with 8 users first, not counted")
    args = p.parse_args(argv)
    if args.warmup:
        run(args.base, args.target, args.db, 8, args.warmup, out=lambda *a: None)
    run(args.base, args.target, args.db, args.users, args.seconds, args.master_pid, think=args.think)


if __name__ == "__main__":
    main()
