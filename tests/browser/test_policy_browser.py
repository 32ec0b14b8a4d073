"""Token policies on the settings page in a real browser (Debian's chromium via Playwright).

A Flask app with a maximum lifetime, "never expires" off, a limit of two tokens and the
management level kept for administrators: the create form offers what the policy allows,
counts the tokens in use, and is disabled at the limit; the admin page shows the policies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from _browser_support import signed_in_page
from _flask_support import PAGE, LiveServer, make_app, make_guard
from tokenguard import TokenGuard

pytestmark = pytest.mark.browser


def levels(owner: str) -> Iterable[str]:
    return ["read", "write", "management"] if owner == "root" else ["read", "write"]


@pytest.fixture
def guard() -> TokenGuard:
    return make_guard(max_tokens_per_owner=2, max_lifetime=timedelta(days=30),
                      default_lifetime=timedelta(days=7))


@pytest.fixture
def server(guard: TokenGuard) -> Iterator[LiveServer]:
    app = make_app(guard, permission_levels=levels, allow_never_expires=False,
                   can_administer=lambda owner: owner == "root")
    with LiveServer(app) as live:
        yield live


def signed_in(browser: Any, server: LiveServer, user: str) -> Any:
    return signed_in_page(browser, server.url, user, viewport={"width": 1280, "height": 900})


def test_the_create_form_follows_the_policy_up_to_the_limit(browser: Any, server: LiveServer,
                                                            guard: TokenGuard) -> None:
    page = signed_in(browser, server, "alice")
    page.goto(f"{server.url}{PAGE}")
    levels_offered = page.eval_on_selector_all("input[name=permission]", "l => l.map(e => e.value)")
    assert levels_offered == ["read", "write"]
    expiries = page.eval_on_selector_all("#expires option", "l => l.map(e => e.value)")
    assert expiries == ["7", "30", "custom"] and page.input_value("#expires") == "7"
    assert page.get_by_text("0 of 2 tokens in use").is_visible()
    for name in ("first", "second"):
        page.goto(f"{server.url}{PAGE}")
        page.fill("#name", name)
        page.get_by_role("button", name="Create token").click()
        page.wait_for_selector("#new-token")
    page.goto(f"{server.url}{PAGE}")
    assert page.get_by_text("2 of 2 tokens in use").is_visible()
    assert page.is_visible("#limit-reached") and page.is_disabled("#name")
    assert sorted(t.name for t in guard.list_tokens("alice")) == ["first", "second"]
    assert all(t.expires_at is not None and t.expires_at - t.created_at == timedelta(days=7)
               for t in guard.list_tokens("alice"))
    assert page.problems == []
    page.context.close()


def test_an_administrator_is_offered_management_and_sees_the_policies(browser: Any,
                                                                      server: LiveServer) -> None:
    page = signed_in(browser, server, "root")
    page.goto(f"{server.url}{PAGE}")
    levels_offered = page.eval_on_selector_all("input[name=permission]", "l => l.map(e => e.value)")
    assert levels_offered == ["read", "write", "management"]
    page.goto(f"{server.url}{PAGE}/admin")
    assert page.inner_text("#policy-max-lifetime") == "30 days"
    assert page.inner_text("#policy-default-lifetime") == "7 days"
    assert page.inner_text("#policy-never-expires") == "No"
    assert page.inner_text("#policy-limit") == "2"
    assert page.problems == []
    page.context.close()
