"""The admin page in a real browser (Debian's chromium via Playwright) against a live Flask server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from _browser_support import signed_in_page
from _flask_support import LiveServer, make_app, make_guard
from tokenguard import TokenGuard

ADMIN = "/settings/tokens/admin"
SCREENSHOTS = os.environ.get("TOKENGUARD_SCREENSHOT_DIR", "/tmp")

pytestmark = pytest.mark.browser


@pytest.fixture
def guard() -> TokenGuard:
    guard = make_guard(max_tokens_per_owner=None)
    for number in range(60):
        guard.create_token(("alice", "bob", "carol")[number % 3], f"token {number:02d}",
                           scopes=["read", "write", "management"][number % 3:][:1],
                           projects=["alpha"] if number % 4 == 0 else None)
    return guard


@pytest.fixture
def server(guard: TokenGuard) -> Iterator[LiveServer]:
    with LiveServer(make_app(guard, can_administer=lambda owner: owner == "root")) as live:
        yield live


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    opened = signed_in_page(browser, server.url, "root", viewport={"width": 1280, "height": 900})
    opened.on("dialog", lambda dialog: dialog.accept())  # the data-confirm prompts
    yield opened
    opened.context.close()


def test_the_admin_page_lists_filters_pages_and_acts(page: Any, server: LiveServer,
                                                      guard: TokenGuard) -> None:
    page.goto(f"{server.url}{ADMIN}")
    assert page.get_by_role("heading", name="All API tokens").is_visible()
    assert page.locator("table.admin-tokens tbody tr").count() == 50
    page.screenshot(path=f"{SCREENSHOTS}/admin.png", full_page=True)
    page.get_by_role("link", name="Next").click()
    assert page.locator("table.admin-tokens tbody tr").count() == 10
    assert page.get_by_text("Page 2 of 2").is_visible()

    page.fill("#filter-owner", "bob")
    page.select_option("#filter-scope", "write")
    page.get_by_role("button", name="Apply filters").click()
    assert "owner=bob" in page.url and page.locator("table.admin-tokens tbody tr").count() == 20
    page.get_by_role("link", name="Name").click()
    first = page.locator("table.admin-tokens tbody tr .token-name").first.inner_text()
    assert first == "token 01"

    page.get_by_role("button", name="Revoke “token 01”").click()
    assert page.get_by_role("status").inner_text() == "Revoked “token 01” of bob."
    assert "owner=bob" in page.url and "sort=name" in page.url  # back to the same table
    page.get_by_role("button", name="Deactivate bob").click()
    assert "Deactivated bob: 19 token(s) revoked." in page.get_by_role("status").inner_text()
    assert not guard.is_owner_active("bob")
    page.get_by_role("button", name="Reactivate bob").click()
    assert guard.is_owner_active("bob")
    assert all(t.status == "revoked" for t in guard.list_tokens("bob"))

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}{ADMIN}?owner=alice")
    page.screenshot(path=f"{SCREENSHOTS}/admin-phone.png", full_page=True,
                    clip={"x": 0, "y": 0, "width": 390, "height": 1400})
    assert page.problems == []


def test_a_non_admin_gets_the_403_page(browser: Any, server: LiveServer) -> None:
    opened = signed_in_page(browser, server.url, "alice")
    response = opened.goto(f"{server.url}{ADMIN}")
    assert response.status == 403
    assert opened.get_by_role("heading", name="Not allowed").is_visible()
    opened.context.close()
