"""The settings page of the Starlette and FastAPI examples in a real browser (Debian's chromium).

The same scenario as the Flask page: sign in, create a token, see it once,
reload and it is gone, call the API with it, revoke it in the page, the API
answers 401.
"""

from __future__ import annotations

import importlib.util
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from _browser_support import form_sign_in
from _live import serve_asgi
from tokenguard import TokenGuard

pytestmark = pytest.mark.browser

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"browser_example_{name}", EXAMPLES / f"{name}_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["starlette", "fastapi"])
def server(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[str]:
    guard = TokenGuard(sqlite_url, secret_key=secrets.token_bytes(32), load_entry_points=False)
    app = load_example(request.param).create_app(guard)
    try:
        with serve_asgi(app) as url:
            yield url
    finally:
        guard.close()


def test_create_see_once_use_and_revoke_in_the_browser(server: str, browser: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context()
    try:
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        form_sign_in(page, server, "/settings/tokens", "button[value=alice]", login_path="/")  # as alice
        expect(page.get_by_text("You have no API tokens yet.")).to_be_visible()

        page.get_by_label("Name").fill("laptop script")
        page.get_by_role("button", name="Create token").click()
        secret = page.locator("#new-token").inner_text().strip()
        assert secret.startswith("tg_") and len(secret) == 41
        expect(page.locator("#export-line")).to_contain_text(f"NOTES_API_TOKEN={secret}")

        page.reload()
        expect(page.locator("#new-token")).to_have_count(0)
        assert secret not in page.content()
        row = page.locator("tr", has_text="laptop script")
        expect(row.locator(".badge.status")).to_have_text("active")

        bearer = {"Authorization": f"Bearer {secret}"}
        listed = httpx.get(f"{server}/api/notes", headers=bearer, timeout=5)
        assert (listed.status_code, listed.json()["owner"]) == (200, "alice")

        row.get_by_role("button", name="Revoke").click()
        status = page.locator("tr", has_text="laptop script").locator(".badge.status")
        expect(status).to_have_text("revoked")

        refused = httpx.get(f"{server}/api/notes", headers=bearer, timeout=5)
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    finally:
        context.close()
