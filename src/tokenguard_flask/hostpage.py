"""The settings page inside the Flask app: its templates, its language, its login view, its user's name.

What ``init_app`` adds to the ``WebOptions`` it read from ``TOKENGUARD_*``:

- ``templates``: the app's own ``jinja_env`` (overlaid, never changed), so
  ``templates/tokenguard/layout.html`` (or any ``tokenguard/<name>.html``) of the app
  or a blueprint replaces ours, and a ``TOKENGUARD_BASE_TEMPLATE`` of the app sees
  ``url_for``, ``request``, ``config`` and its context processors (``current_user``…);
- ``locale_selector``: ``TOKENGUARD_LOCALE_SELECTOR(request)`` with Flask's request,
  else Flask-Babel's ``get_locale()`` when the app set up Flask-Babel, else
  ``Accept-Language``;
- ``login_url``: flask-login's ``login_manager.login_view`` when ``TOKENGUARD_LOGIN_URL``
  is not set (resolved when ``init_app`` runs: register the login view first, or set the URL);
- ``owner_display``: ``str(current_user)`` when flask-login names the owner and the
  user's class defines ``__str__``, else the owner id.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, request, url_for
from werkzeug.routing import BuildError

from tokenguard.web.http import WebRequest
from tokenguard.web.options import WebOptions

HAS_FLASK_BABEL = importlib.util.find_spec("flask_babel") is not None


def host_page_options(app: Flask, options: WebOptions, *, flask_login_owner: bool) -> dict[str, Any]:
    """The fields of ``options`` the app itself supplies (for ``dataclasses.replace``)."""
    changes: dict[str, Any] = {}
    if options.templates is None:
        changes["templates"] = app.jinja_env
    if options.template_context is None:
        changes["template_context"] = lambda: _template_context(app)
    selector = options.locale_selector
    if selector is not None:
        changes["locale_selector"] = _with_flask_request(selector)
    elif HAS_FLASK_BABEL and "babel" in app.extensions:
        changes["locale_selector"] = _flask_babel_locale
    login_manager = getattr(app, "login_manager", None)
    if options.login_url is None and login_manager is not None:
        login_url = _login_view_url(app, getattr(login_manager, "login_view", None))
        if login_url:
            changes["login_url"] = login_url
    if options.owner_display is None and flask_login_owner and login_manager is not None:
        changes["owner_display"] = _flask_login_display
    return changes


def _template_context(app: Flask) -> Mapping[str, Any]:
    """What ``render_template`` gives the app's templates: ``g``, ``request``, context processors."""
    context: dict[str, Any] = {}
    app.update_template_context(context)
    return context


def _with_flask_request(selector: Callable[..., object]) -> Callable[[WebRequest], object]:
    def locale_of(_request: WebRequest) -> object:
        return selector(request)

    return locale_of


def _flask_babel_locale(_request: WebRequest) -> object:
    from flask_babel import get_locale  # type: ignore[import-untyped,import-not-found,unused-ignore]

    return get_locale()


def _login_view_url(app: Flask, view: object) -> str | None:
    """flask-login's ``login_view``: a URL as it is, an endpoint through ``url_for``."""
    if not isinstance(view, str) or not view:
        return None
    if view.startswith(("/", "http://", "https://")):
        return view
    try:
        with app.test_request_context():
            return url_for(view)
    except BuildError:  # not registered yet: TOKENGUARD_LOGIN_URL says where
        return None


def _flask_login_display(owner: str) -> str:
    from flask_login import current_user  # type: ignore[import-untyped]

    user = current_user._get_current_object() if current_user is not None else None
    if (user is not None and getattr(user, "is_authenticated", False) and str(user.get_id()) == owner
            and any("__str__" in vars(kind) for kind in type(user).__mro__ if kind is not object)):
        return str(user)
    return owner
