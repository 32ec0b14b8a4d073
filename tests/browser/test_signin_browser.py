"""Signing in, and signing in again after a deactivation, in a real browser (Debian's chromium).

A flask-login host app whose ``login_manager.login_view`` is its own sign-in form: the
settings page sends an anonymous browser there with ``next=`` and the form brings it
back. An administrator deactivates an owner from the admin inventory; the owner signs
in again and the re-approve of their revoked token is refused with a clear message.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("flask_login")

from flask import Flask, redirect, request
from flask_login import LoginManager, UserMixin, login_user

from _browser_support import form_sign_in, watched_page
from _flask_support import PAGE, LiveServer
from tokenguard import TokenGuard
from tokenguard_flask import FlaskTokenGuard

pytestmark = pytest.mark.browser

ADMIN = f"{PAGE}/admin"
LOGIN_FORM = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title>
<link rel="icon" href="data:,"></head>
<body><h1>Sign in to Maple Notes</h1>
<form method="post"><label for="user">User</label> <input id="user" name="user">
<input type="hidden" name="next" value="{next}"><button type="submit">Sign in</button></form></body></html>"""
NAMES = {"1": "Alice Example", "2": "Root Admin"}


class User(UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id

    def __str__(self) -> str:
        return NAMES[self.id]


def host_app(guard: TokenGuard) -> Flask:
    app = Flask("maple_notes_signin")
    app.config.update(SECRET_KEY=secrets.token_urlsafe(32))
    manager = LoginManager(app)
    manager.login_view = "login"
    manager.user_loader(lambda user_id: User(user_id) if user_id in NAMES else None)

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        target = request.values.get("next", "/")
        if request.method == "POST":
            login_user(User(request.form["user"]))
            return redirect(target if target.startswith("/") and not target.startswith("//") else "/")
        return LOGIN_FORM.replace("{next}", target.replace('"', ""))

    tokens = FlaskTokenGuard(app, guard)  # no owner_loader: flask-login's current_user
    tokens.can_administer(lambda owner: owner == "2")
    return app


@pytest.fixture
def guard() -> TokenGuard:
    guard = TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False)
    guard.create_token("1", "CI pipeline", scopes=["write"], token_id="ci-pipeline")
    return guard


@pytest.fixture
def server(guard: TokenGuard) -> Iterator[LiveServer]:
    with LiveServer(host_app(guard)) as live:
        yield live


def sign_in(page: Any, server: LiveServer, user: str, path: str = PAGE) -> None:
    """Opens ``path`` signed out, and signs in on the host's form it is sent to."""
    form_sign_in(page, server.url, path, "button[type=submit]", {"#user": user}, login_path="/login")


def test_an_anonymous_browser_signs_in_and_lands_back_on_the_page(browser: Any, server: LiveServer) -> None:
    page = watched_page(browser, viewport={"width": 1280, "height": 800})
    sign_in(page, server, "1")
    assert page.get_by_role("heading", name="API tokens", exact=True).is_visible()
    assert page.inner_text(".whoami") == "Signed in as Alice Example"  # str(current_user), not the id
    assert page.is_visible("#token-ci-pipeline")
    assert page.problems == []
    page.context.close()


def test_a_deactivated_owner_signs_in_again_and_cannot_reapprove(browser: Any, server: LiveServer,
                                                                 guard: TokenGuard) -> None:
    admin = watched_page(browser, viewport={"width": 1280, "height": 900})
    admin.on("dialog", lambda dialog: dialog.accept())  # the data-confirm prompt
    sign_in(admin, server, "2", ADMIN)
    admin.get_by_role("button", name="Deactivate 1").click()
    assert "Deactivated 1: 1 token(s) revoked." in admin.get_by_role("status").inner_text()
    assert not guard.is_owner_active("1") and guard.get_token("ci-pipeline").status == "revoked"
    assert admin.problems == []
    admin.context.close()

    owner = watched_page(browser, viewport={"width": 1280, "height": 800})
    sign_in(owner, server, "1")
    row = owner.locator("#token-ci-pipeline")
    assert "revoked" in row.inner_text()
    with owner.expect_response(lambda r: r.url.endswith("/ci-pipeline/reapprove")) as answer:
        row.get_by_role("button", name="Re-approve “CI pipeline”").click()
    assert answer.value.status == 403
    assert "Your account is deactivated: no token of yours can be created, re-approved or rotated" \
        in owner.inner_text("main")
    assert guard.get_token("ci-pipeline").status == "revoked"  # refused: it stays revoked
    owner.context.close()
