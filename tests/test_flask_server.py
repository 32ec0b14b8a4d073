"""The example Flask app on a real server (werkzeug, 127.0.0.1, ephemeral port), driven with httpx."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from _flask_support import API, PAGE, LiveServer, load_example_app

KEY = secrets.token_urlsafe(40)


@pytest.fixture
def server(tmp_path: Any) -> Iterator[LiveServer]:
    app = load_example_app({"TOKENGUARD_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db",
                            "TOKENGUARD_SECRET_KEY": KEY})
    with LiveServer(app) as live:
        yield live


@pytest.fixture
def browser(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as client:
        signed_in = client.post("/login", data={"user": "alice", "next": PAGE})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == PAGE
        yield client


def page_csrf(client: httpx.Client) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get(PAGE).text)
    assert match is not None
    return match.group(1)


def create_on_page(client: httpx.Client, server: LiveServer, **fields: str) -> str:
    data = {"csrf_token": page_csrf(client), "name": "laptop", "permission": "write", "expires": "7",
            **fields}
    response = client.post(PAGE, data=data, headers={"Origin": server.url})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    match = re.search(r'id="new-token" class="secret-value">([^<]+)<', response.text)
    assert match is not None
    return match.group(1)


def test_sign_in_create_on_the_page_and_use_the_notes_api(server: LiveServer, browser: httpx.Client) -> None:
    token = create_on_page(browser, server)
    with httpx.Client(base_url=server.url, timeout=10) as api:
        headers = {"Authorization": f"Bearer {token}"}
        created = api.post("/api/notes", json={"text": "from a real socket"}, headers=headers)
        assert created.status_code == 201
        listed = api.get("/api/notes", headers={"Api-Token": token})
        assert listed.status_code == 200
        assert listed.json() == {"owner": "alice", "notes": [{"id": 1, "text": "from a real socket"}]}


def test_rfc6750_answers_over_the_wire(server: LiveServer, browser: httpx.Client) -> None:
    token = create_on_page(browser, server, permission="read")
    with httpx.Client(base_url=server.url, timeout=10) as api:
        none = api.get("/api/notes")
        assert none.status_code == 401 and none.headers["www-authenticate"] == 'Bearer realm="api"'
        assert none.headers["cache-control"] == "no-store"
        bad = api.get("/api/notes", headers={"Authorization": "Bearer tg_nope"})
        assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
        scope = api.post("/api/notes", json={"text": "x"}, headers={"Authorization": f"Bearer {token}"})
        assert scope.status_code == 403
        assert scope.headers["www-authenticate"].endswith('scope="write"')
        twice = api.get("/api/notes", headers=[("Authorization", f"Bearer {token}")] * 2)
        assert twice.status_code == 400 and twice.json()["error"] == "invalid_request"
        # (?access_token= is covered through the test client: a real server would log the URL)


def test_management_api_with_cookie_csrf_and_revocation(server: LiveServer, browser: httpx.Client) -> None:
    listed = browser.get(API)
    csrf = listed.headers["x-csrf-token"]
    headers = {"X-CSRF-Token": csrf, "Origin": server.url}
    created = browser.post(API, json={"name": "script", "scopes": ["read"]}, headers=headers)
    assert created.status_code == 201
    token, token_id = created.json()["token"], created.json()["info"]["id"]
    refused = browser.post(f"{API}/{token_id}/revoke", headers={"X-CSRF-Token": csrf,
                                                                "Origin": "https://evil.example"})
    assert refused.status_code == 403
    with httpx.Client(base_url=server.url, timeout=10) as api:
        assert api.get("/api/notes", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert api.post(f"{API}/revoke", data={"token": token}).status_code == 200
        assert api.get("/api/notes", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert browser.get(f"{API}/{token_id}").json()["status"] == "revoked"
    assert browser.delete(f"{API}/{token_id}", headers=headers).status_code == 204


def test_large_bodies_and_bad_json_over_the_wire(server: LiveServer, browser: httpx.Client) -> None:
    headers = {"X-CSRF-Token": browser.get(API).headers["x-csrf-token"], "Origin": server.url,
               "Content-Type": "application/json"}
    big = browser.post(API, content=b"{" + b" " * 200_000 + b"}", headers=headers)
    assert big.status_code == 413
    deep = browser.post(API, content=b"[" * 30_000, headers=headers)
    assert deep.status_code == 400


def test_page_security_headers_and_assets(server: LiveServer, browser: httpx.Client) -> None:
    page = browser.get(PAGE)
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    css = re.search(r'href="([^"]+tokenguard\.css[^"]*)"', page.text)
    assert css is not None and browser.get(css.group(1)).status_code == 200
    head = browser.head(PAGE)
    assert head.status_code == 200 and head.content == b""


def test_anonymous_page_redirects_to_the_example_login(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as anonymous:
        response = anonymous.get(PAGE)
        assert response.status_code == 303
        assert response.headers["location"] == "/?next=/settings/tokens"
        assert "Sign in as alice" in anonymous.get("/?next=/settings/tokens").text
