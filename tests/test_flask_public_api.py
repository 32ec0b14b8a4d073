"""The Flask adapter reads the request through Flask's public API only, and each request keeps its own token.

It once read Flask's private context variables (``flask.globals._cv_request``),
with a stand-in for Flask releases without them that answered every protected
view with a 500. Now ``flask.request`` (through ``_get_current_object()``, the
documented way to reach the object behind a proxy) and its WSGI environ are
all it uses, whatever the Flask release.
"""

from __future__ import annotations

import ast
import secrets
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import tokenguard_flask
from tokenguard import TokenGuard
from tokenguard_flask import FlaskTokenGuard, current_token, require_scope

PACKAGE = Path(tokenguard_flask.__file__).parent


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def guard() -> TokenGuard:
    return TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False,
                      max_tokens_per_owner=None)


@pytest.mark.parametrize("module", sorted(PACKAGE.glob("*.py")), ids=lambda path: path.name)
def test_no_private_name_of_flask_or_werkzeug_is_used(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names = node.module.split(".") if isinstance(node, ast.ImportFrom) and node.module else []
        if names and names[0] in ("flask", "werkzeug"):
            assert not any(name.startswith("_") for name in names), ast.unparse(node)
            assert not any(alias.name.startswith("_") for alias in node.names), ast.unparse(node)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_cv"):
            pytest.fail(f"{module.name}:{node.lineno} reads Flask's context variable {node.attr}")


def test_a_protected_view_called_in_a_bare_request_context_checks_the_token_itself(
    guard: TokenGuard,
) -> None:
    """No before_request ran (a test calling the view): it reads and verifies the headers on its own."""
    app = Flask("direct")
    FlaskTokenGuard(app, guard)

    @app.get("/notes")
    @require_scope("read")
    def notes() -> Any:
        return {"owner": current_token.owner}

    token = guard.create_token("alice", "r", scopes=["read"]).token
    with app.test_request_context("/notes", headers=bearer(token)):
        assert notes() == {"owner": "alice"}
    with app.test_request_context("/notes", headers=bearer("tg_" + "A" * 38)):
        refused = notes()
        assert refused.status_code == 401 and refused.json["error"] == "invalid_token"
    with app.test_request_context("/notes"):
        assert notes().status_code == 401


def test_a_request_made_inside_a_view_has_its_own_token(guard: TokenGuard) -> None:
    app = Flask("nested")
    FlaskTokenGuard(app, guard)
    inner_token = guard.create_token("bob", "inner", scopes=["read"]).token

    @app.get("/inner")
    @require_scope("read")
    def inner() -> Any:
        return {"owner": current_token.owner}

    @app.get("/outer")
    @require_scope("read")
    def outer() -> Any:
        before = current_token.owner
        answer = app.test_client().get("/inner", headers=bearer(inner_token)).json
        anonymous = app.test_client().get("/inner").status_code
        return {"before": before, "inner": answer["owner"], "anonymous": anonymous,
                "after": current_token.owner}

    token = guard.create_token("alice", "outer", scopes=["read"]).token
    assert app.test_client().get("/outer", headers=bearer(token)).json == {
        "before": "alice", "inner": "bob", "anonymous": 401, "after": "alice"}


def test_current_token_outside_a_request(guard: TokenGuard) -> None:
    app = Flask("outside")
    FlaskTokenGuard(app, guard)
    with app.app_context():
        assert not current_token  # None in an app context without a request
    with pytest.raises(RuntimeError):  # Flask's own error with no context at all
        current_token.owner  # noqa: B018


def test_guard_require_in_the_apps_own_view_is_answered_by_the_extension(guard: TokenGuard) -> None:
    """Round 2: the extension's error handlers answer tokenguard's refusals raised by the app itself."""
    app = Flask("own checks")
    FlaskTokenGuard(app, guard)

    @app.post("/projects/<project>/publish")
    @require_scope("read")
    def publish(project: str) -> Any:
        guard.require(current_token._get_current_object(), "write", project=project)  # type: ignore[attr-defined]
        return {"published": project}

    client = app.test_client()
    reader = guard.create_token("alice", "r", scopes=["read"]).token
    refused = client.post("/projects/alpha/publish", headers=bearer(reader))
    assert refused.status_code == 403
    assert refused.headers["WWW-Authenticate"].endswith('error="insufficient_scope", '
                                                        'error_description="the access token lacks the '
                                                        'required scope", scope="write"')
    assert refused.json == {"error": "insufficient_scope", "scope": "write",
                            "error_description": "the access token lacks the required scope"}
    writer = guard.create_token("alice", "w", scopes=["write"]).token
    assert client.post("/projects/alpha/publish", headers=bearer(writer)).json == {"published": "alpha"}
