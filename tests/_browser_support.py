"""A page in a fresh browser context that keeps every script error and console error it sees."""

from __future__ import annotations

from typing import Any


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
