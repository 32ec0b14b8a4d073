"""Items 9 and 23 over HTTP: PostgreSQL cut mid-run behind real servers of both adapters.

Protected endpoints answer 503 (JSON, no traceback, never anonymous, never
401); public ones answer as before; when the database is back, requests
succeed again without a restart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from _security_helpers import SECRET
from _servers import ADAPTERS, API, PAGE, serve, signed_in

from faults import TcpProxy, through
from tokenguard import TokenGuard

PG_PORT = 5432
CACHE_TTL = 0.3
SCOPES = {"read": [], "write": ["read"], "management": ["write"]}


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    with TcpProxy("127.0.0.1", PG_PORT) as running:
        yield running


@pytest.fixture(params=ADAPTERS)
def world(
    request: pytest.FixtureRequest, postgres_url: str, proxy: TcpProxy,
) -> Iterator[tuple[str, TokenGuard]]:
    guard = TokenGuard(through(postgres_url, proxy, PG_PORT), secret_key=SECRET, load_entry_points=False,
                       cache_ttl=CACHE_TTL, scopes=SCOPES)
    with serve(request.param, guard) as url:
        yield url, guard
    guard.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_unavailable(response: httpx.Response, secret: str = "") -> None:
    assert response.status_code == 503, response.text[:300]
    text = response.text
    assert "Traceback" not in text and "psycopg" not in text.lower()
    assert not secret or secret[3:] not in text


def test_outage_gives_503_public_unchanged_and_recovery(
    world: tuple[str, TokenGuard], proxy: TcpProxy,
) -> None:
    url, guard = world
    used = guard.create_token("alice", "used", scopes=["read"]).token
    unseen = guard.create_token("alice", "unseen", scopes=["read"]).token
    manager = guard.create_token("alice", "manager", scopes=["management"]).token
    http = httpx.Client(base_url=url, timeout=15)
    browser, csrf = signed_in(url)
    public_before = http.get("/public")
    assert http.get("/notes", headers=bearer(used)).status_code == 200

    proxy.cut()
    time.sleep(CACHE_TTL + 0.05)    # past the verification cache's bound
    for token in (used, unseen):
        response = http.get("/notes", headers=bearer(token))
        assert_unavailable(response, token)
        assert response.headers["Content-Type"].startswith("application/json")
        assert json.loads(response.text)["error"] == "temporarily_unavailable"
        assert response.headers.get("Cache-Control") == "no-store"
    assert_unavailable(http.get(API, headers=bearer(manager)), manager)
    assert_unavailable(browser.get(API))
    assert_unavailable(browser.get(PAGE))
    assert_unavailable(browser.post(API, json={"name": "during outage"}, headers=csrf))
    public_during = http.get("/public")
    assert (public_during.status_code, public_during.content) == (public_before.status_code,
                                                                  public_before.content)
    assert http.get("/notes").status_code == 401   # no credentials: no storage needed, same answer

    proxy.restore()
    assert http.get("/notes", headers=bearer(unseen)).status_code == 200
    assert http.get("/notes", headers=bearer(used)).status_code == 200
    assert http.get(API, headers=bearer(manager)).status_code == 200
    created = browser.post(API, json={"name": "after outage"}, headers=csrf)
    assert created.status_code == 201, created.text
    names = {t.name for t in guard.list_tokens("alice")}
    assert "during outage" not in names and "after outage" in names
    http.close()
    browser.close()
