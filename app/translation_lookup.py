"""Flask-Babel's lookup of the request's translations, without werkzeug's proxies.

Every `gettext`, every lazy label shown and every `_()` in a template asks Flask-Babel for
the request's translations. Flask-Babel 4 reads `flask.g` through werkzeug's proxy nine times
and formats the locale's name to key its cache: about 16 µs a call, and a list page makes
100–200 calls. Reading the application context directly, and keeping the translations found
for the request's locale object, makes a call about 1.5 µs. The answers are the same:
`force_locale` and `refresh` put another locale object in place, and the translations are
then looked up again.
"""
from types import SimpleNamespace

import flask_babel
from flask.globals import _cv_app
from jinja2 import pass_context
from markupsafe import Markup

_find_translations = flask_babel.Domain.get_translations


def _babel_state():
    """What flask_babel._get_current_context returns: Flask-Babel's state on `g`, None
    outside an application context."""
    context = _cv_app.get(None)
    if context is None:
        return None
    try:
        return context.g._flask_babel
    except AttributeError:
        context.g._flask_babel = SimpleNamespace()
        return context.g._flask_babel


def _kept_translations(domain):
    state = _babel_state()
    if state is None:
        return _find_translations(domain)
    locale = flask_babel.get_locale()
    kept = getattr(state, "qms_translations", None)
    if kept is None or kept[0] is not locale or kept[1] is not domain:
        kept = state.qms_translations = (locale, domain, _find_translations(domain))
    return kept[2]


def install():
    flask_babel._get_current_context = _babel_state
    flask_babel.Domain.get_translations = _kept_translations


TEMPLATE_TEXTS = 5000  # a language's template texts kept; more are translated at each use


def install_template_gettext(environment) -> None:
    """`_()` and `gettext()` in a template, after Flask-Babel has installed them: a literal
    text without variables, in an escaping template, is translated, made Markup and formatted once
    per language, then read from the language's translations. Jinja's own way costs about 3 µs
    more a call (two context calls, a Markup and a `%` formatting), and a page makes 30 to 200
    such calls. Any other call goes to Jinja's, as before."""
    jinja_gettext = environment.globals["gettext"]

    @pass_context
    def template_gettext(__context, __string, **variables):
        if variables or type(__string) is not str or not __context.eval_ctx.autoescape:
            return jinja_gettext(__context, __string, **variables)
        translations = flask_babel.get_translations()
        kept = translations.__dict__.setdefault("qms_template_texts", {})
        text = kept.get(__string)
        if text is None:
            text = Markup(translations.ugettext(__string)) % {}  # as Jinja's: "%%" reads "%"
            if len(kept) < TEMPLATE_TEXTS:
                kept[__string] = text
        return text

    environment.globals["gettext"] = environment.globals["_"] = template_gettext
