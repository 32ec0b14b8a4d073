"""The settings page in a real browser: Debian's chromium driven by Playwright, against a live server."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from _browser_support import form_sign_in
from _flask_support import PAGE, LiveServer, load_example_app

SCREENSHOT = os.environ.get("TOKENGUARD_SCREENSHOT", "/tmp/settings.png")

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Any) -> Iterator[LiveServer]:
    app = load_example_app({"TOKENGUARD_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db",
                            "TOKENGUARD_SECRET_KEY": secrets.token_urlsafe(40)})
    with LiveServer(app) as live:
        yield live


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    problems: list[str] = []
    def console(message: Any) -> None:
        # the example app has no favicon.ico; anything else (CSP violations, script errors) counts
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append(message.text)

    opened.on("console", console)
    opened.on("pageerror", lambda e: problems.append(str(e)))
    opened.problems = problems
    opened.set_default_timeout(10_000)
    yield opened
    context.close()


def sign_in(page: Any, server: LiveServer) -> None:
    form_sign_in(page, server.url, PAGE, "button[value=alice]", login_path="/")  # "Sign in as alice"


def create(page: Any, name: str, permission: str = "write", **extra: str) -> str:
    page.fill("#name", name)
    page.check(f"input[name=permission][value={permission}]")
    if "expires" in extra:
        page.select_option("#expires", extra["expires"])
    if "projects" in extra:
        page.click("summary")
        page.fill("#projects", extra["projects"])
    page.get_by_role("button", name="Create token").click()
    page.wait_for_selector("#new-token")
    token: str = page.inner_text("#new-token").strip()
    return token


def api(server: LiveServer, token: str) -> int:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        return client.get("/api/notes", headers={"Authorization": f"Bearer {token}"}).status_code


def test_create_see_once_use_revoke(page: Any, server: LiveServer) -> None:
    sign_in(page, server)
    assert page.inner_text(".empty") == "You have no API tokens yet."
    create(page, "Nightly backup", "read", expires="90")
    page.goto(f"{server.url}{PAGE}")
    create(page, "Dashboard <script>alert(1)</script>", "management", projects="alpha, beta")
    page.goto(f"{server.url}{PAGE}")
    token = create(page, "CI pipeline", "write", expires="30")
    assert token.startswith("tg_") and len(token) == 41
    assert page.url == f"{server.url}{PAGE}"  # replaceState: a reload will GET
    assert page.inner_text("#export-line") == f"export NOTES_API_TOKEN={token}"
    assert page.is_visible("button[data-copy=new-token]")  # the script un-hid the copy button
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.reload()
    assert page.locator("#new-token").count() == 0
    assert token not in page.content()
    assert page.locator("table.tokens tbody tr").count() == 3  # the reload did not create again
    assert page.locator("text=Dashboard <script>alert(1)</script>").count() == 1  # shown as text
    assert api(server, token) == 200

    # each row's buttons say whose they are: a screen reader lists them out of their rows
    assert page.get_by_role("button", name="Revoke “CI pipeline”", exact=True).count() == 1
    assert page.get_by_role("button", name="Revoke", exact=True).count() == 0
    row = page.locator("tr", has_text="CI pipeline")
    row.get_by_role("button", name="Revoke").click()
    page.wait_for_selector(".flash-success")
    assert page.inner_text(".flash-success") == "Revoked “CI pipeline”."
    assert row.locator(".badge.status").inner_text() == "revoked"
    assert api(server, token) == 401

    row.get_by_role("button", name="Re-approve").click()
    page.wait_for_selector(".flash-success")
    assert api(server, token) == 200
    assert page.problems == []


def test_delete_with_javascript_confirm(page: Any, server: LiveServer) -> None:
    sign_in(page, server)
    token = create(page, "Throwaway")
    page.goto(f"{server.url}{PAGE}")
    dialogs: list[str] = []

    def answer(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss() if len(dialogs) == 1 else dialog.accept()

    page.on("dialog", answer)
    delete = page.locator("tr", has_text="Throwaway").get_by_role("button", name="Delete")
    delete.click()  # dismissed: nothing happens
    assert page.locator("tr", has_text="Throwaway").count() == 1
    delete.click()  # accepted: deleted without the confirmation page
    page.wait_for_selector(".flash-success")
    assert page.inner_text(".flash-success") == "Deleted “Throwaway”."
    assert dialogs[0].startswith("Delete “Throwaway”?")
    assert api(server, token) == 401
    assert page.problems == []


def test_rotate_in_the_page(page: Any, server: LiveServer) -> None:
    sign_in(page, server)
    old = create(page, "Rotating")
    page.goto(f"{server.url}{PAGE}")
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("tr", has_text="Rotating").get_by_role("button", name="Rotate").click()
    page.wait_for_selector("#new-token")
    new = page.inner_text("#new-token").strip()
    assert new != old and api(server, old) == 401 and api(server, new) == 200


def test_phone_layout(browser: Any, server: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone = context.new_page()
    try:
        sign_in(phone, server)
        create(phone, "Phone token", "read")
        phone.goto(f"{server.url}{PAGE}")
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        assert phone.locator("table.tokens thead").is_hidden()  # rows become cards
        phone.screenshot(path=SCREENSHOT.replace(".png", "-phone.png"), full_page=True)
    finally:
        context.close()


def test_without_javascript(browser: Any, server: LiveServer) -> None:
    context = browser.new_context(java_script_enabled=False)
    plain = context.new_page()
    try:
        sign_in(plain, server)
        token = create(plain, "No script")
        plain.goto(f"{server.url}{PAGE}")
        plain.locator("tr", has_text="No script").get_by_role("button", name="Delete").click()
        plain.wait_for_selector("text=Delete “No script”?")
        assert api(server, token) == 200  # not deleted before confirming
        plain.get_by_role("button", name="Delete token").click()
        plain.wait_for_selector(".flash-success")
        assert api(server, token) == 401
    finally:
        context.close()
