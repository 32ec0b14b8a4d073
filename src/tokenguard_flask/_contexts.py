"""Flask's current contexts, read without a proxy look-up per attribute where Flask allows it.

Flask keeps its contexts in context variables (``flask.globals._cv_app`` and
``_cv_request`` in Flask 3.0 and 3.1). They are not public API: where a Flask
release moves them, the public proxies stand in, at a small cost per request.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import flask


class PublicAppContext:
    """``get()`` like Flask's app-context variable: an object with ``.app`` and ``.g``."""

    def get(self, *default: Any) -> Any:
        if not flask.has_app_context():
            if default:
                return default[0]
            raise LookupError("working outside of application context")
        return SimpleNamespace(app=flask.current_app._get_current_object(),  # type: ignore[attr-defined]
                               g=flask.g._get_current_object())


class PublicRequestContext:
    """``get()`` like Flask's request-context variable: an object with ``.request``."""

    def get(self, *default: Any) -> Any:
        if not flask.has_request_context():
            if default:
                return default[0]
            raise LookupError("working outside of request context")
        return SimpleNamespace(request=flask.request._get_current_object())  # type: ignore[attr-defined]


app_context_var: Any
request_context_var: Any
try:
    from flask.globals import _cv_app, _cv_request

    app_context_var, request_context_var = _cv_app, _cv_request
except ImportError:  # pragma: no cover - a Flask release that moved them
    app_context_var, request_context_var = PublicAppContext(), PublicRequestContext()
