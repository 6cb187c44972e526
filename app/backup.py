"""Backups (`flask qms backup` / `flask qms restore`): the database — evidence files and official
copies live in it — the instance secrets and the retention archives, in one timestamped folder
with a manifest.json of SHA-256 digests.

PostgreSQL is dumped with `pg_dump --format=custom` and restored with `pg_restore`; SQLite is
copied with the sqlite3 online backup API. A restore goes only into an empty database, after every
file of the backup has matched its digest. A custom-format dump names its schema: it is restored
into the same schema (the URL's `options=-csearch_path=…`), in a new database."""
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import sqlalchemy as sa

MANIFEST = "manifest.json"
PG_FILE = "database.dump"
SQLITE_FILE = "database.sqlite3"
# (file in the instance folder, configuration key, environment variable)
SECRETS = (("secret_key", "SECRET_KEY", "SECRET_KEY"),
           ("signing_key_secret", "SIGNING_KEY_SECRET", "QMS_SIGNING_KEY_SECRET"))
NO_PG_CLIENT = ("Không tìm thấy lệnh {tool} (công cụ của PostgreSQL). Hãy cài gói postgresql-client "
                "(sudo apt-get install -y postgresql-client), cùng phiên bản chính với máy chủ CSDL.")


class BackupError(Exception):
    """A backup or restore that cannot go on; `message` is one Vietnamese sentence or two."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- database URLs ------------------------------------------------------------------

def _kind(url: str) -> str:
    backend = sa.engine.make_url(url).get_backend_name()
    if backend not in ("postgresql", "sqlite"):
        raise BackupError(f"Chỉ sao lưu / khôi phục được PostgreSQL và SQLite, không phải {backend}.")
    return backend


def _search_path(options: str) -> list[str]:
    """The schemas of a libpq `options` value such as `-csearch_path=a,b` or `-c search_path=a`."""
    tokens = shlex.split(options or "")
    settings = []
    for i, token in enumerate(tokens):
        if token == "-c" and i + 1 < len(tokens):
            settings.append(tokens[i + 1])
        elif token.startswith("-c"):
            settings.append(token[2:])
        elif token.startswith("--"):
            settings.append(token[2:])
    for setting in settings:
        key, _, value = setting.partition("=")
        if key.strip().replace("-", "_") == "search_path":
            return [s.strip().strip('"') for s in value.split(",") if s.strip()]
    return []


def pg_arguments(url: str) -> tuple[list[str], dict[str, str], str | None]:
    """pg_dump / pg_restore connection arguments of a SQLAlchemy PostgreSQL URL, the environment
    they need (the password never goes on the command line) and the schema of the URL's
    search_path (None: the default, public)."""
    parsed = sa.engine.make_url(url)
    args = []
    if parsed.host:
        args += ["--host", parsed.host]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    if parsed.database:
        args += ["--dbname", parsed.database]
    env = {}
    if parsed.password is not None:
        env["PGPASSWORD"] = parsed.password
    query = {key: value if isinstance(value, str) else value[0] for key, value in parsed.query.items()}
    for key, variable in (("sslmode", "PGSSLMODE"), ("connect_timeout", "PGCONNECT_TIMEOUT"),
                          ("sslrootcert", "PGSSLROOTCERT"), ("application_name", "PGAPPNAME")):
        if query.get(key):
            env[variable] = query[key]
    schemas = [s for s in _search_path(query.get("options", "")) if s != "$user"]
    schema = schemas[0] if schemas and schemas[0] != "public" else None
    return args, env, schema


def _run(tool: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    program = shutil.which(tool)
    if program is None:
        raise BackupError(NO_PG_CLIENT.format(tool=tool))
    return subprocess.run([program, *args], env={**os.environ, **env}, capture_output=True, text=True)


def _sqlite_path(url: str) -> str:
    path = sa.engine.make_url(url).database
    if not path or path == ":memory:":
        raise BackupError("CSDL SQLite trong bộ nhớ không sao lưu / khôi phục được: hãy dùng một tệp.")
    return path


# --- backup ---------------------------------------------------------------------------

def dump_database(url: str, folder: Path) -> dict:
    """Write the database into `folder`; what the manifest says about it."""
    folder = Path(folder)
    if _kind(url) == "postgresql":
        args, env, schema = pg_arguments(url)
        if schema:
            args += ["--schema", schema]
        folder.mkdir(parents=True, exist_ok=True)
        done = _run("pg_dump", ["--format=custom", "--file", str(folder / PG_FILE), *args], env)
        if done.returncode != 0:
            raise BackupError(f"pg_dump không sao lưu được CSDL: {done.stderr.strip()}")
        return {"kind": "postgresql", "file": PG_FILE, "schema": schema, "extensions": _extensions(url)}
    path = _sqlite_path(url)
    if not os.path.exists(path):
        raise BackupError(f"Không có tệp CSDL SQLite {path}.")
    folder.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    target = sqlite3.connect(folder / SQLITE_FILE)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return {"kind": "sqlite", "file": SQLITE_FILE, "schema": None}


def _revision(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.DBAPIError:
        return None
    finally:
        engine.dispose()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    os.chmod(path, 0o600)


def _secrets(config, instance_dir: Path, folder: Path) -> dict[str, str]:
    """Copy the secrets kept in instance files; name the ones from the environment."""
    kept = {}
    for filename, key, variable in SECRETS:
        path = Path(instance_dir) / filename
        value = config.get(key)
        if path.exists() and value and path.read_text().strip() == value:
            (folder / "secrets").mkdir(mode=0o700, exist_ok=True)
            _write_secret(folder / "secrets" / filename, value)
            kept[variable] = f"secrets/{filename}"
        else:
            kept[variable] = "environment"
    if "environment" in kept.values():
        (folder / "secrets").mkdir(mode=0o700, exist_ok=True)
        names = ", ".join(v for v, where in kept.items() if where == "environment")
        (folder / "secrets" / "LUU_Y.txt").write_text(
            f"Các khóa sau lấy từ biến môi trường, không có trong bản sao lưu này: {names}.\n"
            "Hãy giữ tệp môi trường của dịch vụ (ví dụ /etc/qms/qms.env) ở nơi an toàn ngoài máy chủ.\n")
    return kept


def backup(url: str, out: Path, *, config, instance_dir: Path, archives: Path | None = None,
           now: datetime.datetime | None = None) -> tuple[Path, dict]:
    """One timestamped backup folder under `out`: the database, the secrets, the retention
    archives and manifest.json. Nothing is left under `out` if a step fails."""
    out = Path(out)
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    final = out / f"qms-backup-{stamp}"
    n = 1
    while final.exists():
        n += 1
        final = out / f"qms-backup-{stamp}-{n}"
    partial = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=out))  # mode 0700
    try:
        database = dump_database(url, partial)
        secrets = _secrets(config, instance_dir, partial)
        if archives is not None:
            archives = Path(archives)
            if not archives.is_dir():
                raise BackupError(f"Không có thư mục lưu trữ {archives}.")
            shutil.copytree(archives, partial / "archives")
        files = {path.relative_to(partial).as_posix(): _sha256(path)
                 for path in sorted(partial.rglob("*")) if path.is_file()}
        manifest = {
            "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "database": {**database, "revision": _revision(url)},
            "secrets": secrets,
            "archives": str(archives) if archives is not None else None,
            "files": files,
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final, manifest


# --- restore ------------------------------------------------------------------------

def verified_manifest(folder: Path) -> dict:
    """The backup's manifest, once every file it lists matches its SHA-256."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        files = manifest["files"]
        database = manifest["database"]
    except (OSError, ValueError, KeyError, TypeError):
        raise BackupError(f"{folder} không phải một bản sao lưu: thiếu hoặc hỏng {MANIFEST}.") from None
    for name, digest in files.items():
        path = folder / name
        if not path.is_file():
            raise BackupError(f"Thiếu tệp {name} của bản sao lưu: không khôi phục.")
        if _sha256(path) != digest:
            raise BackupError(f"Tệp {name} không khớp mã SHA-256 trong {MANIFEST} "
                              "(bản sao lưu hỏng hoặc đã bị sửa): không khôi phục.")
    if database.get("file") not in files:
        raise BackupError(f"{MANIFEST} không ghi tệp CSDL: không khôi phục.")
    return manifest


def _tables(url: str, schema: str | None) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                return list(connection.execute(sa.text(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = :schema"),
                    {"schema": schema or "public"}).scalars())
            return sa.inspect(connection).get_table_names()
    finally:
        engine.dispose()


def _extensions(url: str) -> dict[str, str]:
    """The database's extensions and their schemas (the search index uses pg_trgm and unaccent):
    a dump of one schema does not carry them, so a restore creates them first."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(sa.text(
                "SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                "WHERE e.extname <> 'plpgsql' ORDER BY e.extname")).all())
    finally:
        engine.dispose()


def _create_extensions(url: str, extensions: dict[str, str]) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            for name, schema in extensions.items():
                connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                connection.execute(sa.text(f'CREATE EXTENSION IF NOT EXISTS "{name}" SCHEMA "{schema}"'))
    except sa.exc.DBAPIError as error:
        raise BackupError(f"Không tạo được phần mở rộng PostgreSQL {', '.join(extensions)} trong CSDL đích "
                          f"(cần quyền tạo extension): {error.orig}") from None
    finally:
        engine.dispose()


def _schemas(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(sa.text("SELECT nspname FROM pg_namespace")).scalars())
    finally:
        engine.dispose()


def restore_database(folder: Path, manifest: dict, url: str) -> None:
    """Load the backup's database into the empty database at `url`."""
    folder = Path(folder)
    database = manifest["database"]
    kind = _kind(url)
    if database.get("kind") != kind:
        raise BackupError(f"Bản sao lưu là CSDL {database.get('kind')}, CSDL đích là {kind}: "
                          "không khôi phục chéo được.")
    schema = pg_arguments(url)[2] if kind == "postgresql" else None
    if kind == "postgresql" and database.get("schema") != schema:
        raise BackupError(
            f"Bản sao lưu là schema {database.get('schema') or 'public'}, CSDL đích dùng schema "
            f"{schema or 'public'}: hãy khôi phục vào một CSDL mới với cùng schema "
            f"(options=-csearch_path={database.get('schema') or 'public'} trong DATABASE_URL).")
    tables = _tables(url, schema)
    if tables:
        raise BackupError(f"CSDL đích không trống (đã có {len(tables)} bảng, ví dụ {sorted(tables)[0]}): "
                          "chỉ khôi phục vào một CSDL trống mới tạo.")
    source = folder / database["file"]
    if kind == "sqlite":
        path = _sqlite_path(url)
        reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        writer = sqlite3.connect(path)
        try:
            reader.backup(writer)
        finally:
            writer.close()
            reader.close()
        return
    _create_extensions(url, database.get("extensions") or {})
    args, env, _ = pg_arguments(url)
    listing = _run("pg_restore", ["--list", str(source)], env)
    if listing.returncode != 0:
        raise BackupError(f"pg_restore không đọc được {source.name}: {listing.stderr.strip()}")
    existing = _schemas(url)
    entries = []
    for line in listing.stdout.splitlines():  # schemas the target already has are not created again
        match = re.match(r"^\d+; \d+ \d+ SCHEMA - (\S+) ", line)
        entries.append(";" + line if match and match.group(1) in existing else line)
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as f:
        f.write("\n".join(entries) + "\n")
    try:
        done = _run("pg_restore", ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                                   "--use-list", f.name, *args, str(source)], env)
    finally:
        os.unlink(f.name)
    if done.returncode != 0:
        raise BackupError(f"pg_restore không khôi phục được CSDL (CSDL đích không đổi): {done.stderr.strip()}")


def restore_secrets(folder: Path, manifest: dict, *, config, instance_dir: Path, replace: bool) -> list[str]:
    """Put the backup's secrets back in the instance folder (`replace`) or say where they differ;
    one Vietnamese line per secret, never the secret itself."""
    lines = []
    for filename, key, variable in SECRETS:
        where = manifest.get("secrets", {}).get(variable)
        if where in (None, "environment"):
            lines.append(f"{variable}: lấy từ biến môi trường lúc sao lưu — hãy đặt lại đúng giá trị cũ "
                         "(từ tệp môi trường đã cất giữ).")
            continue
        value = (Path(folder) / where).read_text().strip()
        if os.environ.get(variable):
            same = "trùng" if os.environ[variable] == value else "KHÁC"
            lines.append(f"{variable}: đang lấy từ biến môi trường, {same} bản sao lưu ({where}).")
            continue
        target = Path(instance_dir) / filename
        if replace:
            _write_secret(target, value)
            lines.append(f"{variable}: đã đặt lại {target} từ bản sao lưu.")
        elif config.get(key) == value:
            lines.append(f"{variable}: {target} trùng bản sao lưu.")
        else:
            lines.append(f"{variable}: {target} KHÁC bản sao lưu — chạy lại với --with-secrets "
                         f"hoặc chép {where} vào {target}.")
    return lines
