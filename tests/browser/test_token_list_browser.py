"""The owner's token table in a real browser (Debian's chromium via Playwright) against a live Flask server.

At 1024 px it is a table (header shown, rows laid out as table rows, nothing scrolled
sideways); at 760 px a table that scrolls sideways with its buttons in view; at 375 px a
list of cards; the search box and the status filter work through the query string.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from _browser_support import signed_in_page
from _flask_support import PAGE, LiveServer, make_app, make_guard
from _testclock import ManualClock
from tokenguard import TokenGuard

DASH = "\N{EN DASH}"
SCREENSHOTS = os.environ.get("TOKENGUARD_SCREENSHOT_DIR", "/tmp")

pytestmark = pytest.mark.browser


@pytest.fixture
def guard() -> TokenGuard:
    clock = ManualClock()
    guard = make_guard(max_tokens_per_owner=None, clock=clock)
    for number in range(60):  # a minute apart: newest first, 58 (expiring in 3 days) is on the first page
        guard.create_token("alice", f"{('deploy', 'backup', 'report')[number % 3]} job {number:02d}",
                           scopes=[("read", "write", "management")[number % 3]],
                           projects=["alpha", "beta"] if number % 4 == 0 else None,
                           expires_in=timedelta(days=3 if number == 58 else 90))
        clock.advance(minutes=1)
    return guard


@pytest.fixture
def server(guard: TokenGuard) -> Iterator[LiveServer]:
    with LiveServer(make_app(guard)) as live:
        yield live


def open_page(browser: Any, server: LiveServer, width: int, height: int) -> Any:
    page = signed_in_page(browser, server.url, "alice", viewport={"width": width, "height": height})
    page.goto(f"{server.url}{PAGE}")
    return page


def displays(page: Any, selector: str) -> list[str]:
    shown: list[str] = page.eval_on_selector_all(selector, "els => els.map(e => getComputedStyle(e).display)")
    return shown


def test_a_table_at_1024_px_cards_at_375_px_and_the_search_box_filters(browser: Any,
                                                                         server: LiveServer) -> None:
    from playwright.sync_api import expect

    desktop = open_page(browser, server, 1024, 768)
    try:
        expect(desktop.locator("table.tokens thead")).to_be_visible()
        assert set(displays(desktop, "table.tokens tbody tr")) == {"table-row"}
        assert len(displays(desktop, "table.tokens tbody tr")) == 50
        fits = desktop.eval_on_selector(".table-wrap", "e => e.scrollWidth <= e.clientWidth")
        assert fits, "the table scrolls sideways at 1024 px"
        soon = desktop.locator("tr.expires-soon")
        expect(soon).to_have_count(1)
        expect(soon.locator(".badge.expiring")).to_have_text("expires soon")
        token_id = str(soon.get_attribute("id")).removeprefix("token-")
        expect(soon.locator("a.regenerate")).to_have_attribute("href", f"{PAGE}/{token_id}#regenerate")
        expect(soon.locator(".token-name")).to_have_text("backup job 58")
        expect(desktop.locator("#list-count")).to_have_text(f"1{DASH}50 of 60")
        desktop.eval_on_selector("#list-title", "e => e.scrollIntoView()")
        desktop.screenshot(path=f"{SCREENSHOTS}/token-list-1024.png")

        desktop.fill("#list-search", "DEPLOY")
        desktop.press("#list-search", "Enter")
        desktop.wait_for_url("**q=DEPLOY**")
        names = desktop.locator("table.tokens tbody .token-name").all_inner_texts()
        assert len(names) == 20 and all(name.startswith("deploy job") for name in names)
        expect(desktop.locator("#list-count")).to_have_text(f"1{DASH}20 of 20")
        expect(desktop.locator("nav.pager")).to_have_count(0)
        desktop.select_option("#list-status", "revoked")
        desktop.get_by_role("button", name="Show").click()
        desktop.wait_for_url("**status=revoked**")
        expect(desktop.locator("#no-match")).to_have_text("No token matches.")  # no deploy job is revoked
        expect(desktop.locator("#list-search")).to_have_value("DEPLOY")
        assert desktop.problems == []
    finally:
        desktop.context.close()

    tablet = open_page(browser, server, 760, 1024)  # a table still, scrolled sideways: its buttons in view
    try:
        assert set(displays(tablet, "table.tokens tbody tr")) == {"table-row"}
        wrap = tablet.locator(".table-wrap")
        assert wrap.evaluate("e => e.scrollWidth > e.clientWidth && e.scrollLeft === 0")
        seen = wrap.bounding_box()
        first_row = tablet.locator("table.tokens tbody tr").first
        revoke = first_row.get_by_role("button", name="Revoke").bounding_box()
        assert seen is not None and revoke is not None
        assert seen["x"] <= revoke["x"] and revoke["x"] + revoke["width"] <= seen["x"] + seen["width"]
        assert tablet.problems == []
    finally:
        tablet.context.close()

    phone = open_page(browser, server, 375, 812)
    try:
        expect(phone.locator("table.tokens thead")).to_be_hidden()
        assert set(displays(phone, "table.tokens tbody tr")) == {"block"}
        fits = phone.eval_on_selector(".table-wrap", "e => e.scrollWidth <= e.clientWidth")
        assert fits, "the cards scroll sideways at 375 px"
        expect(phone.locator("tr.expires-soon .badge.expiring")).to_be_visible()
        phone.screenshot(path=f"{SCREENSHOTS}/token-list-375.png")
        assert phone.problems == []
    finally:
        phone.context.close()


def test_revoke_and_delete_from_a_sorted_searched_second_page_come_back_to_it(
        browser: Any, server: LiveServer, guard: TokenGuard) -> None:
    from playwright.sync_api import expect

    page = open_page(browser, server, 1024, 768)
    try:
        view = f"{server.url}{PAGE}?sort=name&q=job&page=2"
        page.goto(view)
        first = page.locator("table.tokens tbody tr").first
        expect(first.locator(".token-name")).to_have_text("report job 32")  # 51st by name
        first.get_by_role("button", name="Revoke").click()
        page.wait_for_url(view)
        expect(page.locator(".flash")).to_have_text("Revoked “report job 32”.")
        expect(page.locator("#list-count")).to_have_text(f"51{DASH}60 of 60")
        page.once("dialog", lambda dialog: dialog.accept())  # the script's confirm, then confirm=yes
        page.locator("table.tokens tbody tr").last.get_by_role("button", name="Delete").click()
        page.wait_for_url(view)
        expect(page.locator(".flash")).to_have_text("Deleted “report job 59”.")
        expect(page.locator("#list-count")).to_have_text(f"51{DASH}59 of 59")
        assert len(guard.list_tokens("alice")) == 59
        assert page.problems == []
    finally:
        page.context.close()
