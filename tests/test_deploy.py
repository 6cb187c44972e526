"""The README's *Production deployment* followed by a machine (issue 14, items 1 and 12).

PostgreSQL and Redis only. A fresh role and database made with the README's own SQL, the
environment file made from deploy/qms.env.example with the README's own `sed` lines and loaded
as the README loads it
(`set -a && . /etc/qms/qms.env && set +a`), every `flask` line of the blocks marked
`# deploy-test` run as written, then TWO gunicorn instances started with deploy/qms.service's
command on two ports sharing the database and Redis: a login through one works through the
other (no sticky sessions), and the login limit counts across both. Then the reminder unit's
command, and both instances stop cleanly."""
import gc
import http.cookiejar
import os
import re
import runpy
import secrets
import shlex
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PASSWORD = "Quan-Tri#2026x"
LIMIT = 6  # AUTH_RATE_LIMIT of this test: attempts per address and minute
REDIS_DB = 5

pytestmark = pytest.mark.slow


def _redis_answers() -> bool:
    try:
        import redis

        return bool(redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_timeout=1).ping())
    except Exception:
        return False


needs_services = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgresql") or not _redis_answers(),
    reason="needs DATABASE_URL on PostgreSQL and Redis at 127.0.0.1:6379")


def readme_blocks() -> list[str]:
    """The shell blocks of the README's production section that this test follows."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Production deployment / Triển khai"):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.S), section


def test_a_gunicorn_worker_keeps_its_start_up_objects_out_of_the_collectors_walks():
    """deploy/gunicorn.conf.py's hook, run by each worker once it has built the app: the
    objects made so far are frozen (a full collection walked all of them, about 75 ms)."""
    hook = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))["post_worker_init"]
    frozen = gc.get_freeze_count()
    try:
        hook(None)
        assert gc.get_freeze_count() > frozen
        assert len(gc.get_objects(generation=2)) < gc.get_freeze_count() / 10
    finally:
        gc.unfreeze()


def test_the_readme_marks_the_steps_this_test_runs():
    blocks, section = readme_blocks()
    marked = [b for b in blocks if b.startswith("# deploy-test")]
    flask_lines = [line for b in marked for line in b.splitlines() if line.startswith(".venv/bin/flask")]
    assert [line.split()[3:5] for line in flask_lines] == [
        ["qms", "setup"], ["qms", "agency"], ["qms", "create-admin"]]
    for step in ("CREATE ROLE qms", "CREATE DATABASE qms", "make -C /srv/qms install-prod",
                 "/etc/qms/qms.env", "secrets.token_hex(32)", "systemctl enable --now qms.service qms-remind.timer",
                 "nginx-qms.conf", "systemctl stop qms.service"):
        assert step in section, step
    service = (DEPLOY / "qms.service").read_text()
    assert "EnvironmentFile=/etc/qms/qms.env" in service
    assert "EnvironmentFile=/etc/qms/qms.env" in (DEPLOY / "qms-remind.service").read_text()
    assert "flask --app app qms remind" in (DEPLOY / "qms-remind.service").read_text()
    assert "OnCalendar=" in (DEPLOY / "qms-remind.timer").read_text()
    assert "EnvironmentFile=/etc/qms/qms.env" in (DEPLOY / "qms-sweep.service").read_text()
    assert "flask --app app qms jobs sweep" in (DEPLOY / "qms-sweep.service").read_text()
    assert "OnUnitActiveSec=5min" in (DEPLOY / "qms-sweep.timer").read_text()
    assert "systemctl enable --now qms-worker.service qms-sweep.timer" in section
    nginx = (DEPLOY / "nginx-qms.conf").read_text()
    for line in ("listen 443 ssl", "X-Forwarded-For", "X-Request-ID", "client_max_body_size 64m"):
        assert line in nginx
    env = (DEPLOY / "qms.env.example").read_text()
    for name in ("QMS_ENV=production", "SECRET_KEY=", "DATABASE_URL=", "RATELIMIT_STORAGE_URI=redis://",
                 "QMS_BASE_URL=", "MAIL_SERVER=", "QMS_SIGNING_KEY_SECRET=", "QMS_SIGNING_TRUST_ROOTS=",
                 "SESSION_COOKIE_SECURE=1", "PROXY_FIX_X_FOR=1", "QMS_METRICS_TOKEN="):
        assert name in env, name
    lock = (ROOT / "requirements.lock").read_text()
    assert "redis==" in lock and "gunicorn==" in lock
    assert not re.search(r"^(pytest|playwright|aiosmtpd)==", lock, flags=re.M | re.I)


def _sql(section: str, statement: str) -> str:
    """The README's psql statement starting with `statement`."""
    match = re.search(r'psql -c "(' + re.escape(statement) + r'[^"]*)"', section)
    assert match, statement
    return match.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env_file(path: Path, section: str, url: str, instance: Path) -> None:
    """/etc/qms/qms.env made as step 4 makes it: the template, its secrets generated by the
    README's own `sed` lines; then what a test machine needs instead of the placeholders."""
    path.write_text((DEPLOY / "qms.env.example").read_text())
    seds = [line for line in section.splitlines() if line.startswith("sed -i ") and "/etc/qms/qms.env" in line]
    assert len(seds) == 3, seds
    for line in seds:
        subprocess.run(["bash", "-c", line.replace("/etc/qms/qms.env", shlex.quote(str(path)))], check=True)
    generated = dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    for name in ("SECRET_KEY", "QMS_SIGNING_KEY_SECRET", "QMS_METRICS_TOKEN"):
        assert re.fullmatch(r"[0-9a-f]{64}", generated[name]), name
    assert generated["SECRET_KEY"] != generated["QMS_SIGNING_KEY_SECRET"]
    values = {
        "DATABASE_URL": url,
        "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "SESSION_COOKIE_SECURE": "0",          # plain HTTP to gunicorn in this test, no nginx
        "QMS_SIGNING_TRUST_ROOTS": "",
        "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": "9",  # nothing to send; never a real server
        "QMS_WORKERS": "2",          # each instance has several workers, as in production
    }
    lines = []
    for line in path.read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values.pop(name)}" if not line.startswith("#") and name in values else line)
    lines += [f"{name}={value}" for name, value in values.items()]
    lines += [f"AUTH_RATE_LIMIT='{LIMIT} per 1 minute'", f"QMS_INSTANCE_DIR={instance}"]
    path.write_text("\n".join(lines) + "\n")


def _shell(env_file: Path, command: str, extra: dict | None = None, **kwargs):
    """`command` run as the README runs it: in the checkout, the environment file loaded."""
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL") if k in os.environ}
    script = f"cd {shlex.quote(str(ROOT))} && set -a && . {shlex.quote(str(env_file))} && set +a && {command}"
    return subprocess.Popen(["bash", "-c", script], env={**base, **(extra or {})}, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def _run(env_file, command, extra=None):
    process = _shell(env_file, command, extra)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, f"{command}\n{output}"
    return output


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A cookie jar shared across ports (cookies belong to the host, as in a browser)."""

    def __init__(self):
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect())

    def open(self, url, data=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(url, body, timeout=30) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode(errors="replace")

    def login(self, base, username, password):
        status, _, page = self.open(base + "/login/")
        assert status == 200, page[:300]
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', page)
        return self.open(base + "/login/", {"username": username, "password": password,
                                            "csrf_token": token.group(1)})


def _wait_ready(base, process, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            with urllib.request.urlopen(base + "/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"{base} never became ready")


@needs_services
def test_the_readme_deploys_two_app_servers_sharing_postgresql_and_redis(tmp_path):
    import redis

    blocks, section = readme_blocks()
    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).flushdb()
    name = "qms_deploy_" + secrets.token_hex(4)
    admin_url = sa.engine.make_url(os.environ["DATABASE_URL"])
    admin = sa.create_engine(admin_url.set(query={}), isolation_level="AUTOCOMMIT")
    role_sql = _sql(section, "CREATE ROLE qms").replace("ROLE qms ", f"ROLE {name} ")
    database_sql = _sql(section, "CREATE DATABASE qms").replace("DATABASE qms OWNER qms", f"DATABASE {name} OWNER {name}")
    processes = []
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(role_sql))
            connection.execute(sa.text(database_sql))
        password = re.search(r"PASSWORD '([^']+)'", role_sql).group(1)
        url = admin_url.set(username=name, password=password, database=name, query={})
        env_file = tmp_path / "qms.env"
        _env_file(env_file, section, url.render_as_string(hide_password=False), tmp_path / "instance")

        for block in (b for b in blocks if b.startswith("# deploy-test")):
            for line in block.splitlines():
                if line.startswith(".venv/bin/flask"):
                    _run(env_file, line, {"QMS_ADMIN_PASSWORD": PASSWORD})

        command = re.search(r"^ExecStart=(.*)$", (DEPLOY / "qms.service").read_text(), flags=re.M).group(1)
        command = command.replace("/srv/qms", str(ROOT))
        bases = []
        for number in (1, 2):
            port = _free_port()
            metrics = tmp_path / f"metrics{number}"
            metrics.mkdir()
            # the unit's command; its own address, and its RuntimeDirectory's metrics folder
            processes.append(_shell(
                env_file, f"export QMS_BIND=127.0.0.1:{port} PROMETHEUS_MULTIPROC_DIR={metrics} && exec {command}",
                start_new_session=True))
            bases.append(f"http://127.0.0.1:{port}")
        for base, process in zip(bases, processes):
            _wait_ready(base, process)
        one, other = bases

        person = Browser()
        status, headers, _ = person.login(one, "admin.vp", PASSWORD)
        assert status == 302 and "/login" not in headers["Location"]
        status, _, page = person.open(other + "/tickets/list/")
        assert status == 200 and 'name="password"' not in page, page[:300]  # signed in there too, not the login form
        assert person.open(other + "/tickets/list/")[0] == 200

        # wrong passwords alternating between the instances: the one counter in Redis stops
        # the attempt after the limit (the good login above was the first attempt)
        codes = []
        for attempt in range(1, LIMIT + 1):
            codes.append(Browser().login(bases[attempt % 2], "admin.vp", "Sai-Mat#Khau99")[0])
        assert 429 not in codes[:LIMIT - 1], codes
        assert codes[LIMIT - 1] == 429, codes
        assert Browser().login(one, "admin.vp", PASSWORD)[0] == 429
        assert Browser().login(other, "admin.vp", PASSWORD)[0] == 429

        remind = re.search(r"^ExecStart=/srv/qms/(.*)$", (DEPLOY / "qms-remind.service").read_text(),
                           flags=re.M).group(1)
        assert "Thông báo trong hệ thống" in _run(env_file, remind)

        for process in processes:
            process.send_signal(signal.SIGTERM)
        logs = []
        for process in processes:
            output, _ = process.communicate(timeout=40)
            assert process.returncode == 0, output
            assert "Traceback" not in output
            logs.append(output)
        # gunicorn's access line: address, the request id the app answered with, path without query
        assert re.search(r'^127\.0\.0\.1 [0-9a-f]{32} \[.*\] "GET /tickets/list/ HTTP/1\.1" 200 ', logs[1], flags=re.M), logs[1]
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(sa.text(f'DROP ROLE IF EXISTS "{name}"'))
        admin.dispose()
