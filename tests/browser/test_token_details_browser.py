"""A token's details page in a real browser (Debian's chromium via Playwright) against a live Flask server:
open it from the list, edit the name and description, save, and see them in the list."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from _browser_support import signed_in_page
from _flask_support import PAGE, LiveServer, make_app, make_guard
from _testclock import ManualClock
from tokenguard import TokenGuard

SCREENSHOTS = os.environ.get("TOKENGUARD_SCREENSHOT_DIR", "/tmp")

pytestmark = pytest.mark.browser


@pytest.fixture
def guard() -> TokenGuard:
    guard = make_guard(clock=ManualClock())
    guard.create_token("alice", "CI pipeline", scopes=["write"], token_id="ci", projects=["alpha"])
    guard.create_token("alice", "Nightly backup", token_id="backup")
    return guard


@pytest.fixture
def server(guard: TokenGuard) -> Iterator[LiveServer]:
    with LiveServer(make_app(guard)) as live:
        yield live


def test_edit_name_and_description_on_the_details_page(browser: Any, server: LiveServer,
                                                       guard: TokenGuard) -> None:
    page = signed_in_page(browser, server.url, "alice", viewport={"width": 1280, "height": 900})
    page.goto(f"{server.url}{PAGE}")

    page.get_by_role("link", name="CI pipeline", exact=True).click()
    page.wait_for_url(f"{server.url}{PAGE}/ci")
    assert page.inner_text("#detail-name") == "CI pipeline"
    assert page.inner_text("#detail-projects") == "alpha"
    page.screenshot(path=os.path.join(SCREENSHOTS, "token-details.png"), full_page=True)

    page.fill("#name", "Deploy pipeline")
    page.fill("#description", "Deploys main to production <on merge>")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_selector(".flash-success")
    assert page.url == f"{server.url}{PAGE}/ci"
    assert page.inner_text(".flash-success") == "Changes saved."
    assert page.inner_text("#detail-name") == "Deploy pipeline"
    assert page.inner_text("#detail-description") == "Deploys main to production <on merge>"

    page.get_by_role("link", name="← All API tokens").click()
    page.wait_for_url(f"{server.url}{PAGE}")
    row = page.locator("tr#token-ci")
    assert row.locator(".token-name").inner_text() == "Deploy pipeline"
    assert page.locator("tr#token-backup .token-name").inner_text() == "Nightly backup"
    info = guard.get_token("ci")
    assert (info.name, info.description) == ("Deploy pipeline", "Deploys main to production <on merge>")
    assert page.problems == []
    page.context.close()


def test_the_details_page_fits_a_phone(browser: Any, server: LiveServer) -> None:
    page = signed_in_page(browser, server.url, "alice", viewport={"width": 390, "height": 844},
                          is_mobile=True, has_touch=True)
    page.goto(f"{server.url}{PAGE}/ci")
    wide: int = page.evaluate("document.scrollingElement.scrollWidth")
    assert wide <= 390  # nothing scrolls sideways
    terms = page.eval_on_selector_all("dl.details dt", "els => els.map(e => e.getBoundingClientRect().left)")
    values = page.eval_on_selector_all("dl.details dd", "els => els.map(e => e.getBoundingClientRect().left)")
    assert terms[0] == values[0]  # one column: each value under its label
    assert page.is_hidden("#expires_on")  # the custom date shows only for "Custom date"
    page.select_option("#expires", "custom")
    assert page.is_visible("#expires_on")
    page.screenshot(path=os.path.join(SCREENSHOTS, "token-details-phone.png"), full_page=True)
    assert page.problems == []
    page.context.close()
