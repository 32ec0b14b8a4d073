"""examples/django_project's settings page in a real browser (Debian's chromium via Playwright),
served by uvicorn on the project's ASGI application: inside the project's own base template,
signed in through Django's admin, a token created, its secret shown once, then revoked; in
German for a browser that asks for it, through Django's ``LocaleMiddleware``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from _browser_support import form_sign_in, watched_page
from _django_example import ADMIN, ExampleProject

pytest.importorskip("django")
pytestmark = pytest.mark.browser

PAGE = "/settings/tokens"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ExampleProject(tmp_path_factory.mktemp("notes")).serve("uvicorn-asgi") as url:
        yield url


def signed_in(browser: Any, server: str, locale: str) -> Any:
    page = watched_page(browser, viewport={"width": 1280, "height": 900}, locale=locale)
    account = {"#id_username": ADMIN[0], "#id_password": ADMIN[1]}
    form_sign_in(page, server, PAGE, "input[type=submit]", account, login_path="/admin/login/")  # login_url
    page.problems.clear()  # Django's admin sign-in page, without its static files (DEBUG off): not ours
    return page


def notes(server: str, token: str) -> int:
    answer = httpx.get(f"{server}/notes/alpha", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return answer.status_code


def test_create_see_once_and_revoke_inside_the_projects_layout(browser: Any, server: str) -> None:
    page = signed_in(browser, server, "en-US")
    layout = page.evaluate("""() => ({
        header: !!document.querySelector('#site-header'), footer: !!document.querySelector('#site-footer'),
        ours_inside: !!document.querySelector('#site-main .tokenguard .create-form'),
        our_topbar: !!document.querySelector('header.topbar'),
        user: document.querySelector('#site-header .user').textContent,
        title: document.title, lang: document.documentElement.lang })""")
    assert layout == {"header": True, "footer": True, "ours_inside": True, "our_topbar": False,
                      "user": ADMIN[0], "title": "API tokens · Notes", "lang": "en"}
    page.fill("#name", "Laptop")
    page.check("input[name=permission][value=read]")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_selector("#new-token")
    token = page.inner_text("#new-token")
    assert token.startswith("tg_") and notes(server, token) == 200
    page.reload()
    assert page.locator("#new-token").count() == 0 and token not in page.content()  # shown once
    row = page.locator("tr", has_text="Laptop")
    row.get_by_role("button", name="Revoke “Laptop”").click()
    page.wait_for_selector(".flash-success")
    assert page.inner_text(".flash-success") == "Revoked “Laptop”."
    assert row.locator(".badge.status").inner_text() == "revoked"
    assert notes(server, token) == 401
    assert page.problems == []  # no CSP violation, no script error, inside the project's layout too
    page.context.close()


def test_the_page_and_the_project_in_german(browser: Any, server: str) -> None:
    page = signed_in(browser, server, "de-DE")
    assert page.evaluate("() => document.documentElement.lang") == "de"
    assert page.inner_text("h1") == "API-Tokens"
    assert page.inner_text("#list-title") == "Ihre Tokens"
    assert page.inner_text("#site-logout") == "Abmelden"  # the project's template, Django's catalog
    assert page.title() == "API-Tokens · Notes"
    page.fill("#name", "Dashboard")
    page.get_by_role("button", name="Token erstellen").click()
    page.wait_for_selector("#new-token")
    assert page.inner_text("#secret-title") == "Neues Token erstellt: „Dashboard“"
    assert page.is_visible("#site-header")
    assert page.problems == []
    page.context.close()
