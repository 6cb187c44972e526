"""/health: the process answers. /ready: the database answers and its schema is at the
migrations' head (a load balancer sends traffic only then). JSON, no login, no menu."""
import functools
import logging

from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Blueprint, jsonify
from flask_babel import gettext as _
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db

log = logging.getLogger(__name__)
blueprint = Blueprint("observability", __name__)


@functools.cache
def migrations_head() -> str:
    from app import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    return ",".join(sorted(ScriptDirectory.from_config(config).get_heads()))


def database_revisions() -> str:
    """The revision(s) the database is at; SQLAlchemyError when it cannot be reached."""
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        try:
            with connection.begin_nested():
                rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
                return ",".join(sorted(rows))
        except SQLAlchemyError:
            return ""  # reachable, but never migrated


@blueprint.route("/health")
def health():
    return jsonify(status="ok")


@blueprint.route("/ready")
def ready():
    try:
        current = database_revisions()
    except SQLAlchemyError as error:
        log.warning("readiness: database unreachable: %s", type(error).__name__)
        return jsonify(status="unavailable", database="error",
                       message=_("Cannot connect to the database.")), 503
    expected = migrations_head()
    if current != expected:
        return jsonify(status="not ready", database="ok", migrations=current or None, expected=expected,
                       message=_("The database is not at the latest version: run flask db upgrade.")), 503
    return jsonify(status="ready", database="ok", migrations=current)
