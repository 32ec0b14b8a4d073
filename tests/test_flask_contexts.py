"""The public stand-ins for Flask's context variables answer as the variables do."""

from __future__ import annotations

import pytest
from flask import Flask, g, request

from tokenguard_flask._contexts import (
    PublicAppContext,
    PublicRequestContext,
    app_context_var,
    request_context_var,
)


@pytest.mark.parametrize(("app_var", "request_var"), [
    (app_context_var, request_context_var),  # what this Flask provides
    (PublicAppContext(), PublicRequestContext()),  # what a Flask that moved them gets
])
def test_contexts_give_the_app_g_and_request(app_var: object, request_var: object) -> None:
    app = Flask(__name__)
    assert app_var.get(None) is None and request_var.get(None) is None  # type: ignore[attr-defined]
    with pytest.raises(LookupError):
        app_var.get()  # type: ignore[attr-defined]
    with app.test_request_context("/notes?x=1"):
        g.marker = "seen"
        context = app_var.get()  # type: ignore[attr-defined]
        assert context.app is app and context.g.marker == "seen"
        assert request_var.get().request is request._get_current_object()  # type: ignore[attr-defined]
        assert request_var.get().request.path == "/notes"  # type: ignore[attr-defined]
