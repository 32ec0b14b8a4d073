"""The settings page inside a Flask host's own layout, in a real browser: its header, our table, its colours.

A host app with its own ``base.html`` (``TOKENGUARD_BASE_TEMPLATE``) and a maroon
theme set in its own stylesheet (``--tg-accent``); the page is in German for a
browser that asks for ``de``. With ``TOKENGUARD_SCREENSHOTS=docs/screenshots`` the
test saves the screenshots the README shows (desktop 1280x800, phone 390x844).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, redirect, session

from _browser_support import watched_page
from _flask_support import PAGE, LiveServer
from tokenguard import TokenGuard
from tokenguard.web.app import TokenWeb
from tokenguard.web.options import WebOptions
from tokenguard_flask import FlaskTokenGuard


def _page_takes_options() -> bool:
    guard = TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False)
    return TokenWeb(guard, WebOptions(theme="dark")).page.renderer.options.theme == "dark"


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not _page_takes_options(),
                       reason="web/page.py does not hand its WebOptions to Renderer yet"),
]

SCREENSHOTS = os.environ.get("TOKENGUARD_SCREENSHOTS")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
MAROON = "rgb(128, 0, 0)"
BASE = """<!doctype html>
<html lang="{{ tokenguard.lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{% endblock %} · Maple Notes</title>
{% block head %}<link rel="stylesheet" href="{{ url_for('static', filename='site.css') }}">{% endblock %}
</head>
<body>
<header id="site-header"><a class="logo" href="{{ url_for('index') }}">Maple Notes</a>
  <nav><a href="{{ url_for('index') }}">Notes</a> <a href="/settings/tokens">API tokens</a>
  <span class="user">{{ session.get('user', '') }}</span> <a href="{{ url_for('logout') }}">Sign out</a></nav>
</header>
<main id="site-main">{% block content %}{% endblock %}</main>
<footer id="site-footer">Maple Notes · a host app</footer>
</body>
</html>
"""
SITE_CSS = """:root { --tg-accent: #800000; --tg-accent-text: #fff; --tg-radius: 4px;
  --tg-font: Georgia, "DejaVu Serif", serif; }
body { margin: 0; background: #faf6f1; font-family: Georgia, "DejaVu Serif", serif; color: #2b1d16; }
#site-header { display: flex; justify-content: space-between; align-items: center; flex-wrap: wrap; gap: 8px;
  padding: 14px 28px; background: #800000; color: #fff; }
#site-header a { color: #fff; margin-right: 14px; text-decoration: none; }
#site-header .logo { font-size: 1.3rem; font-weight: bold; }
#site-header .user { opacity: .85; margin-right: 14px; }
#site-main { max-width: 1200px; margin: 0 auto; padding: 24px 20px; }
#site-footer { text-align: center; color: #7a6a5f; padding: 16px; font-size: .85rem; }
"""


def host_app(folder: Path, guard: TokenGuard) -> Flask:
    (folder / "templates").mkdir()
    (folder / "static").mkdir()
    (folder / "templates" / "base.html").write_text(BASE)
    (folder / "static" / "site.css").write_text(SITE_CSS)
    app = Flask("maple_notes", template_folder=str(folder / "templates"),
                static_folder=str(folder / "static"))
    app.config.update(SECRET_KEY=secrets.token_urlsafe(32), TOKENGUARD_BASE_TEMPLATE="base.html",
                      TOKENGUARD_THEME="light", TOKENGUARD_APP_NAME="Maple Notes",
                      TOKENGUARD_LOGOUT_URL="/logout")

    @app.get("/")
    def index() -> str:
        return "notes"

    @app.get("/login")
    def login() -> Any:
        session["user"] = "alice"
        return redirect(PAGE)

    @app.get("/logout")
    def logout() -> Any:
        session.clear()
        return redirect("/")

    FlaskTokenGuard(app, guard, owner_loader=lambda: session.get("user"))
    return app


def default_app(guard: TokenGuard) -> Flask:
    app = Flask("plain_host")
    app.config.update(SECRET_KEY=secrets.token_urlsafe(32), TOKENGUARD_APP_NAME="Maple Notes",
                      TOKENGUARD_LOGOUT_URL="/logout")

    @app.get("/login")
    def login() -> Any:
        session["user"] = "alice"
        return redirect(PAGE)

    FlaskTokenGuard(app, guard, owner_loader=lambda: session.get("user"))
    return app


@pytest.fixture
def guard() -> TokenGuard:
    guard = TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False,
                       max_tokens_per_owner=10)
    guard.create_token("alice", "CI pipeline", scopes=["write"], expires_in=timedelta(days=30),
                       projects=["alpha"], token_id="ci-pipeline")
    guard.create_token("alice", "Nightly backup", scopes=["read"], expires_in=timedelta(days=90),
                       token_id="nightly-backup")
    deploy = guard.create_token("alice", "Old deploy key", scopes=["management"], token_id="old-deploy")
    guard.revoke(deploy.info.id)
    return guard


def open_page(browser: Any, url: str, viewport: dict[str, int], locale: str = "en-US") -> Any:
    page = watched_page(browser, viewport=viewport, locale=locale)
    page.goto(f"{url}/login")
    page.wait_for_url(f"{url}{PAGE}")
    return page


def shoot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=True)


@pytest.fixture
def host(tmp_path: Path, guard: TokenGuard) -> Iterator[LiveServer]:
    with LiveServer(host_app(tmp_path, guard)) as live:
        yield live


def test_the_page_inside_the_hosts_layout_in_german(browser: Any, host: LiveServer) -> None:
    page = open_page(browser, host.url, DESKTOP, locale="de-DE")
    one_page = page.evaluate("""() => ({
        header: !!document.querySelector('#site-header'), footer: !!document.querySelector('#site-footer'),
        table: !!document.querySelector('#site-main .tokenguard table.tokens'),
        ours: !!document.querySelector('header.topbar'), lang: document.documentElement.lang,
        title: document.title, rows: document.querySelectorAll('table.tokens tbody tr').length })""")
    assert one_page == {"header": True, "footer": True, "table": True, "ours": False, "lang": "de",
                        "title": "API-Tokens · Maple Notes", "rows": 3}
    assert page.inner_text("h1") == "API-Tokens"
    assert page.inner_text("#list-title") == "Ihre Tokens"
    assert "Mit Tokens können Skripte" in page.inner_text(".lede")
    assert "aktiv" in page.inner_text("#token-ci-pipeline")
    assert "widerrufen" in page.inner_text("#token-old-deploy")
    accent = page.eval_on_selector(".create-form button.primary", "b => getComputedStyle(b).backgroundColor")
    assert accent == MAROON  # the host's --tg-accent, from the host's own stylesheet
    assert page.eval_on_selector(".tokenguard", "e => e.dataset.theme") == "light"
    assert page.problems == []  # no CSP violation, no script error
    shoot(page, "settings-host-desktop.png")
    page.context.close()


def test_creating_a_token_inside_the_hosts_layout(browser: Any, host: LiveServer) -> None:
    page = open_page(browser, host.url, DESKTOP, locale="de")
    page.fill("#name", "Dashboard")
    page.get_by_role("button", name="Token erstellen").click()
    page.wait_for_selector("#new-token")
    assert page.inner_text("#secret-title") == "Neues Token erstellt: „Dashboard“"
    assert page.is_visible("#site-header")
    assert page.problems == []
    page.context.close()


def test_the_host_layout_on_a_phone(browser: Any, host: LiveServer) -> None:
    page = open_page(browser, host.url, PHONE, locale="en-GB")
    assert page.inner_text("#list-title") == "Your tokens"
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # the table became cards: nothing scrolls sideways
    shoot(page, "settings-host-phone.png")
    page.context.close()


@pytest.mark.parametrize(("viewport", "name"), [(DESKTOP, "settings-default-desktop.png"),
                                                (PHONE, "settings-default-phone.png")])
def test_our_own_layout(browser: Any, guard: TokenGuard, viewport: dict[str, int], name: str) -> None:
    with LiveServer(default_app(guard)) as live:
        page = open_page(browser, live.url, viewport)
        assert page.is_visible("header.topbar") and page.inner_text(".whoami") == "Signed in as alice"
        assert page.inner_text("a.signout") == "Sign out"
        assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
        assert page.problems == []
        shoot(page, name)
        page.context.close()
