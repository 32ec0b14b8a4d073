"""Browser pages for the tests: a page in a fresh context that keeps every script and console error
it sees, and the ways a test signs it in (the test app's session route, or a host's sign-in form)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit


def watched_page(browser: Any, **context_options: Any) -> Any:
    """A new page (in a context of its own) whose ``problems`` list its console and script errors."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems
    page.set_default_timeout(10_000)
    return page


def signed_in_page(browser: Any, url: str, user: str, **context_options: Any) -> Any:
    """A :func:`watched_page` signed in as ``user`` through the ``/_login`` route of ``_flask_support``'s app
    at ``url``."""
    page = watched_page(browser, **context_options)
    assert page.request.post(f"{url}/_login", form={"user": user}).status == 204
    return page


def form_sign_in(page: Any, url: str, path: str, submit: str, fields: dict[str, str] | None = None, *,
                 login_path: str) -> None:
    """Opens ``path`` signed out, is sent to the host's sign-in form at ``login_path`` (``next=path``),
    fills in ``fields`` (selector: value), clicks ``submit`` (a selector) and lands back on ``path``."""
    page.goto(f"{url}{path}")
    address = urlsplit(page.url)
    assert (address.path, parse_qs(address.query).get("next")) == (login_path, [path]), page.url
    for selector, value in (fields or {}).items():
        page.fill(selector, value)
    page.click(submit)
    page.wait_for_url(f"{url}{path}")
