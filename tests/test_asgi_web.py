"""The management API and settings page mounted by TokenGuardMiddleware: translation, owner loading."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from tokenguard import TokenGuard
from tokenguard_asgi import TokenGuardMiddleware, require_scope

ORIGIN = {"Origin": "http://testserver"}


async def sign_in(request: Request) -> PlainTextResponse:
    request.session["user"] = request.path_params["user"]
    return PlainTextResponse("signed in")


@require_scope("read")
async def read_notes(request: Request) -> JSONResponse:
    return JSONResponse({"owner": request.auth.token.owner})


def sync_loader(request: Request) -> str | None:
    return request.session.get("user")


async def async_loader(request: Request) -> str | None:
    await asyncio.sleep(0)
    return request.session.get("user")


def make_app(guard: TokenGuard, **options: Any) -> Starlette:
    options.setdefault("owner_loader", sync_loader)
    return Starlette(
        routes=[Route("/login/{user}", sign_in), Route("/api/notes", read_notes)],
        middleware=[Middleware(SessionMiddleware, secret_key=secrets.token_hex(16)),
                    Middleware(TokenGuardMiddleware, guard=guard, **options)],
    )


@pytest.fixture(params=[sync_loader, async_loader], ids=["sync-owner-loader", "async-owner-loader"])
def client(request: pytest.FixtureRequest, tokenguard_guard: TokenGuard) -> Iterator[TestClient]:
    with TestClient(make_app(tokenguard_guard, owner_loader=request.param)) as test_client:
        yield test_client


def signed_in_csrf(client: TestClient, user: str = "alice") -> str:
    client.get(f"/login/{user}")
    listing = client.get("/api/tokens")
    assert listing.status_code == 200
    return listing.headers["x-csrf-token"]


def create(client: TestClient, csrf: str, **fields: Any) -> httpx.Response:
    return client.post("/api/tokens", json={"name": "ci", "scopes": ["read"], **fields},
                       headers={"X-CSRF-Token": csrf, **ORIGIN})


def test_api_needs_a_signed_in_owner_or_token(client: TestClient) -> None:
    response = client.get("/api/tokens")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


def test_signed_in_owner_creates_uses_and_revokes_a_token(client: TestClient) -> None:
    csrf = signed_in_csrf(client, "alice")
    created = create(client, csrf)
    assert created.status_code == 201
    token, info = created.json()["token"], created.json()["info"]
    assert created.headers["location"] == f"/api/tokens/{info['id']}"
    assert created.headers["cache-control"] == "no-store"
    assert info["owner"] == "alice"
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/notes", headers=bearer).json() == {"owner": "alice"}
    listed = client.get("/api/tokens").json()["tokens"]
    assert [t["id"] for t in listed] == [info["id"]]
    revoked = client.post(f"/api/tokens/{info['id']}/revoke", headers={"X-CSRF-Token": csrf, **ORIGIN})
    assert revoked.status_code == 200
    refused = client.get("/api/notes", headers=bearer)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]


def test_cookie_write_without_csrf_is_refused(client: TestClient) -> None:
    signed_in_csrf(client)
    refused = client.post("/api/tokens", json={"name": "x", "scopes": ["read"]}, headers=ORIGIN)
    assert refused.status_code == 403
    assert refused.json()["error"] == "csrf_failed"
    assert client.get("/api/tokens").json()["tokens"] == []


def test_management_token_acts_for_its_owner(client: TestClient, make_token: Callable[..., str]) -> None:
    token = make_token("management", owner="bob")
    listing = client.get("/api/tokens", headers={"Api-Token": token})
    assert listing.status_code == 200
    assert "x-csrf-token" not in listing.headers
    assert [t["owner"] for t in listing.json()["tokens"]] == ["bob"]
    read_only = client.get("/api/tokens", headers={"Api-Token": make_token("read", owner="bob")})
    assert read_only.status_code == 403
    assert 'scope="management"' in read_only.headers["www-authenticate"]


def test_bad_token_on_api_is_answered_by_the_web_layer(client: TestClient) -> None:
    response = client.get("/api/tokens", headers={"Authorization": "Bearer tg_" + "2" * 38})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_another_owners_token_is_404(client: TestClient, tokenguard_guard: TokenGuard) -> None:
    theirs = tokenguard_guard.create_token("mallory", "theirs", scopes=["read"])
    signed_in_csrf(client, "alice")
    assert client.get(f"/api/tokens/{theirs.info.id}").status_code == 404


def test_body_over_the_limit_is_413(tokenguard_guard: TokenGuard) -> None:
    with TestClient(make_app(tokenguard_guard, max_body_size=2048)) as client:
        csrf = signed_in_csrf(client)
        response = client.post("/api/tokens", content=b"{" + b" " * 5000 + b"}",
                               headers={"X-CSRF-Token": csrf, "Content-Type": "application/json", **ORIGIN})
        assert response.status_code == 413
        assert response.json()["error"] == "request_too_large"
        assert create(client, csrf).status_code == 201


def test_can_manage_restricts_management(tokenguard_guard: TokenGuard) -> None:
    with TestClient(make_app(tokenguard_guard, can_manage=lambda owner: owner == "admin")) as client:
        client.get("/login/alice")
        assert client.get("/api/tokens").status_code == 403
        client.get("/login/admin")
        assert client.get("/api/tokens").status_code == 200


def test_owner_ids_that_are_not_strings_are_converted(tokenguard_guard: TokenGuard) -> None:
    with TestClient(make_app(tokenguard_guard, owner_loader=lambda request: 42)) as client:
        csrf = client.get("/api/tokens").headers["x-csrf-token"]
        assert create(client, csrf).json()["info"]["owner"] == "42"


def test_owner_loader_sees_the_request_body(tokenguard_guard: TokenGuard) -> None:
    seen: list[bytes] = []

    async def loader(request: Request) -> str:
        seen.append(await request.body())
        return "alice"

    with TestClient(make_app(tokenguard_guard, owner_loader=loader)) as client:
        csrf = client.get("/api/tokens").headers["x-csrf-token"]
        response = create(client, csrf, name="from body")
        assert response.status_code == 201
        assert b'"from body"' in seen[-1]


def test_no_owner_loader_means_nobody_is_signed_in(tokenguard_guard: TokenGuard) -> None:
    app = Starlette(middleware=[Middleware(TokenGuardMiddleware, guard=tokenguard_guard)])
    with TestClient(app) as client:
        assert client.get("/api/tokens").status_code == 401


def test_openapi_document_and_methods(client: TestClient) -> None:
    document = client.get("/api/tokens/openapi.json")
    assert document.status_code == 200 and document.json()["openapi"].startswith("3.")
    not_allowed = client.put("/api/tokens")
    assert (not_allowed.status_code, not_allowed.headers["allow"]) == (405, "GET, POST")
    assert client.delete("/api/tokens/openapi.json").status_code == 405


def test_revoke_by_value_rfc7009(client: TestClient, tokenguard_guard: TokenGuard) -> None:
    issued = tokenguard_guard.create_token("carol", "leaked", scopes=["read"])
    response = client.post("/api/tokens/revoke", data={"token": issued.token})
    assert response.status_code == 200
    assert tokenguard_guard.get_token(issued.info.id).status == "revoked"
    assert client.post("/api/tokens/revoke", data={"token": "tg_unknown"}).status_code == 200


def test_settings_page_requires_sign_in(client: TestClient) -> None:
    page = client.get("/settings/tokens")
    assert page.status_code == 401
    assert "text/html" in page.headers["content-type"]


def test_settings_page_redirects_to_login_url(tokenguard_guard: TokenGuard) -> None:
    with TestClient(make_app(tokenguard_guard, login_url="/login"), follow_redirects=False) as client:
        page = client.get("/settings/tokens")
        assert page.status_code in (302, 303)
        assert page.headers["location"] == "/login?next=/settings/tokens"


def test_settings_page_for_signed_in_owner(client: TestClient) -> None:
    client.get("/login/alice")
    page = client.get("/settings/tokens")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert '<meta name="csrf-token"' in page.text


def test_app_under_a_prefix_mount_paths_are_below_root_path(tokenguard_guard: TokenGuard) -> None:
    inner = make_app(tokenguard_guard)
    outer = Starlette(routes=[Mount("/app", app=inner)])
    with TestClient(outer, follow_redirects=False) as client:
        client.get("/app/login/alice")
        assert client.get("/app/api/tokens").status_code == 200
        assert client.get("/api/tokens").status_code == 404
        page = client.get("/app/settings/tokens")
        assert 'action="/app/settings/tokens"' in page.text
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        created = client.post("/app/settings/tokens", data={"name": "under prefix", "permission": "read",
                                                            "csrf_token": csrf}, headers=ORIGIN)
        assert created.status_code == 200
        assert 'id="new-token"' in created.text
        assert client.get("/app/api/tokens/openapi.json").json()["servers"] == [{"url": "/app"}]


def test_web_paths_run_off_the_event_loop(tokenguard_guard: TokenGuard) -> None:
    threads: list[threading.Thread] = []

    def loader(request: Request) -> str:
        threads.append(threading.current_thread())
        return "alice"

    app = make_app(tokenguard_guard, owner_loader=loader)

    async def run() -> threading.Thread:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            assert (await client.get("/api/tokens")).status_code == 200
        return threading.current_thread()

    loop_thread = asyncio.run(run())
    assert threads and threads[0] is not loop_thread
