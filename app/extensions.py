"""Flask extensions, created unbound and initialised in the app factory."""
from flask_appbuilder import AppBuilder
from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

db = SQLA()
appbuilder = AppBuilder(update_perms=False)
migrate = Migrate()
csrf = CSRFProtect()

# qms_fold (accent- and case-free search) on every SQLite connection, registered before the
# first connection is made
from app.tickets import search  # noqa: E402

search.install()

# Flask-Babel's lookup of the request's translations without werkzeug's proxies (10× faster)
from app import translation_lookup  # noqa: E402

translation_lookup.install()
