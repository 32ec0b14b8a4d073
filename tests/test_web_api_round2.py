"""Round 2 of the management API, through Flask's test client and Starlette's TestClient alike.

Descriptions and allowed networks on create and PATCH, the new fields of the JSON,
rotation with a grace period, a token rotating itself (``/self/rotate``), and the
OpenAPI document naming all of it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask, session
from starlette.applications import Starlette
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from _testclock import ManualClock
from tokenguard import AuthenticationError, TokenGuard
from tokenguard.web.app import TokenWeb
from tokenguard_asgi import TokenGuardMiddleware
from tokenguard_flask import FlaskTokenGuard

API = "/api/tokens"
ORIGIN = "http://localhost"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Client:
    """One adapter's test client, answering in one shape: ``call`` → :class:`Reply`."""

    name: str
    web: TokenWeb

    def raw(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        raise NotImplementedError

    def sign_in(self, user: str) -> None:
        raise NotImplementedError

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None,
             headers: dict[str, str] | None = None, csrf: bool = False) -> Reply:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if csrf:
            sent["X-CSRF-Token"] = self.raw("GET", API, {}, b"").headers["x-csrf-token"]
            sent["Origin"] = ORIGIN
        data = b""
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        return self.raw(method, path, sent, data)


def _reply(status: int, headers: dict[str, str], raw: bytes) -> Reply:
    lowered = {k.lower(): v for k, v in headers.items()}
    body = json.loads(raw) if raw and lowered.get("content-type", "").startswith("application/json") else raw
    return Reply(status, body, lowered)


class FlaskClient(Client):
    name = "flask"

    def __init__(self, guard: TokenGuard) -> None:
        app = Flask("round2")
        app.secret_key = secrets.token_hex(16)
        FlaskTokenGuard(app, guard, owner_loader=lambda: session.get("user"))

        @app.get("/login/<user>")
        def login(user: str) -> str:
            session["user"] = user
            return "signed in"

        self.client = app.test_client()
        self.web = app.extensions["tokenguard"].web

    def raw(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        response = self.client.open(path, method=method, headers=headers, data=body)
        return _reply(response.status_code, dict(response.headers), response.get_data())

    def sign_in(self, user: str) -> None:
        assert self.client.get(f"/login/{user}").status_code == 200


class AsgiClient(Client):
    name = "asgi"

    def __init__(self, guard: TokenGuard) -> None:
        async def login(request: Request) -> PlainTextResponse:
            request.session["user"] = request.path_params["user"]
            return PlainTextResponse("signed in")

        middleware = TokenGuardMiddleware(Starlette(routes=[Route("/login/{user}", login)]), guard=guard,
                                          owner_loader=lambda request: request.session.get("user"))
        self.web = middleware.web
        app = SessionMiddleware(middleware, secret_key=secrets.token_hex(16))
        self.client = TestClient(app, base_url=ORIGIN, follow_redirects=False)

    def raw(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        response = self.client.request(method, path, headers=headers, content=body)
        return _reply(response.status_code, dict(response.headers), response.content)

    def sign_in(self, user: str) -> None:
        assert self.client.get(f"/login/{user}").status_code == 200


def make_guard(clock: ManualClock, **options: Any) -> TokenGuard:
    options.setdefault("max_tokens_per_owner", None)
    return TokenGuard("memory://", secret_key=secrets.token_bytes(32), clock=clock,
                      load_entry_points=False, **options)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def guard(clock: ManualClock) -> Iterator[TokenGuard]:
    made = make_guard(clock)
    yield made
    made.close()


@pytest.fixture(params=["flask", "asgi"])
def client(request: pytest.FixtureRequest, guard: TokenGuard) -> Client:
    return FlaskClient(guard) if request.param == "flask" else AsgiClient(guard)


def manager(guard: TokenGuard, owner: str = "alice", **options: Any) -> str:
    return guard.create_token(owner, f"m{secrets.token_hex(3)}", scopes=["management"], **options).token


# -- description and allowed networks -------------------------------------------------------------


def test_create_with_a_description_and_networks_shows_them(client: Client) -> None:
    client.sign_in("alice")
    reply = client.call("POST", API, {"name": "ci", "description": "  deploys from CI ",
                                      "allowed_networks": ["10.0.0.0/8", "2001:db8::/32"]}, csrf=True)
    assert reply.status == 201, reply.body
    info = reply.body["info"]
    assert info["description"] == "deploys from CI"
    assert info["allowed_networks"] == ["10.0.0.0/8", "2001:db8::/32"]
    assert info["last_used_ip"] is None and info["last_used_agent"] is None
    assert info["parent_id"] is None
    got = client.call("GET", f"{API}/{info['id']}", csrf=False, headers={})
    assert got.status == 200 and got.body == info


def test_the_json_shows_the_last_client(client: Client, guard: TokenGuard) -> None:
    issued = guard.create_token("alice", "used", scopes=["management"])
    assert client.call("GET", f"{API}/{issued.info.id}", token=issued.token,
                       headers={"User-Agent": "deploy-bot/1.0"}).status == 200
    stored = guard.get_token(issued.info.id)
    again = client.call("GET", f"{API}/{issued.info.id}", token=issued.token).body
    assert (again["last_used_ip"], again["last_used_agent"]) == (stored.last_used_ip, stored.last_used_agent)
    assert again["last_used_at"] is not None


def test_the_shape_of_the_last_client_and_a_minted_token() -> None:
    from datetime import UTC, datetime

    from tokenguard.models import TokenInfo
    from tokenguard.scopes import ScopeHierarchy
    from tokenguard.web.shapes import token_json

    now = datetime(2030, 1, 1, tzinfo=UTC)
    info = TokenInfo("c", "alice", "child", frozenset({"read"}), created_at=now, last_used_at=now,
                     last_used_ip="2001:db8::1", last_used_agent="curl/8.5", parent_id="p",
                     description="for cron", allowed_networks=frozenset({"2001:db8::/32", "10.0.0.0/8"}))
    shown = token_json(info, ScopeHierarchy(None), now)
    assert shown["last_used_ip"] == "2001:db8::1" and shown["last_used_agent"] == "curl/8.5"
    assert shown["parent_id"] == "p" and shown["description"] == "for cron"
    assert shown["allowed_networks"] == ["10.0.0.0/8", "2001:db8::/32"]
    json.dumps(shown)


@pytest.mark.parametrize(("field", "value"), [
    ("description", 42), ("description", "x" * 501), ("description", "bidi \u202e"),
    ("allowed_networks", "10.0.0.0/8"), ("allowed_networks", ["10.1.2.3/8"]),
    ("allowed_networks", ["not a network"]), ("allowed_networks", [7]),
])
def test_bad_descriptions_and_networks_are_400_naming_the_field(client: Client, guard: TokenGuard,
                                                                 field: str, value: Any) -> None:
    client.sign_in("alice")
    created = client.call("POST", API, {"name": "ci", field: value}, csrf=True)
    assert (created.status, created.body["error"], created.body["field"]) == (400, "invalid_request", field)
    token_id = guard.create_token("alice", "t").info.id
    patched = client.call("PATCH", f"{API}/{token_id}", {field: value}, csrf=True)
    assert (patched.status, patched.body["field"]) == (400, field)
    assert guard.get_token(token_id).description == ""


def test_patch_changes_description_and_networks_and_null_clears_them(client: Client,
                                                                       guard: TokenGuard) -> None:
    token = manager(guard)
    target = guard.create_token("alice", "t").info.id
    reply = client.call("PATCH", f"{API}/{target}", {"description": "nightly",
                                                      "allowed_networks": ["192.0.2.0/24"]}, token=token)
    assert reply.status == 200
    assert (reply.body["description"], reply.body["allowed_networks"]) == ("nightly", ["192.0.2.0/24"])
    assert guard.get_token(target).allowed_networks == frozenset({"192.0.2.0/24"})
    cleared = client.call("PATCH", f"{API}/{target}", {"description": None, "allowed_networks": None},
                          token=token)
    assert (cleared.body["description"], cleared.body["allowed_networks"]) == ("", [])
    untouched = client.call("PATCH", f"{API}/{target}", {"name": "renamed"}, token=token).body
    assert (untouched["name"], untouched["description"]) == ("renamed", "")


# -- rotation with a grace period -----------------------------------------------------------------


@pytest.mark.parametrize(("grace", "span"), [
    ("1h", timedelta(hours=1)), ("24h", timedelta(hours=24)), ("7d", timedelta(days=7)),
    (90, timedelta(seconds=90)), ("600", timedelta(seconds=600)),
])
def test_rotate_with_a_grace_keeps_the_old_secret_until_then(client: Client, guard: TokenGuard,
                                                              clock: ManualClock, grace: Any,
                                                              span: timedelta) -> None:
    token = manager(guard)
    target = guard.create_token("alice", "t", expires_in=timedelta(days=30))
    reply = client.call("POST", f"{API}/{target.info.id}/rotate", {"grace": grace}, token=token)
    assert reply.status == 201, reply.body
    assert reply.headers["location"] == f"{API}/{target.info.id}"
    new = reply.body["token"]
    assert guard.authenticate(new).id == target.info.id
    assert guard.authenticate(target.token).id == target.info.id  # still, during the grace
    clock.advance(seconds=span.total_seconds())
    with pytest.raises(AuthenticationError):
        guard.authenticate(target.token)
    assert guard.authenticate(new).id == target.info.id


@pytest.mark.parametrize("body", [None, {"grace": "none"}, {"grace": None}, {"grace": 0}])
def test_rotate_without_grace_stops_the_old_secret_at_once(client: Client, guard: TokenGuard,
                                                          body: Any) -> None:
    token = manager(guard)
    target = guard.create_token("alice", "t")
    reply = client.call("POST", f"{API}/{target.info.id}/rotate", body, token=token)
    assert reply.status == 201
    with pytest.raises(AuthenticationError):
        guard.authenticate(target.token)


def test_the_grace_is_capped_by_the_tokens_remaining_life(client: Client, guard: TokenGuard,
                                                          clock: ManualClock) -> None:
    token = manager(guard)
    target = guard.create_token("alice", "t", expires_in=timedelta(hours=2))
    reply = client.call("POST", f"{API}/{target.info.id}/rotate", {"grace": "7d"}, token=token)
    assert reply.status == 201
    clock.advance(hours=2)
    for secret in (target.token, reply.body["token"]):
        with pytest.raises(AuthenticationError):
            guard.authenticate(secret)


@pytest.mark.parametrize("grace", ["2h", "forever", -5, True, 1.5, [], 10 ** 12, "1h", "x"])
def test_a_bad_grace_is_400_naming_it(client: Client, guard: TokenGuard, grace: Any) -> None:
    if grace == "1h":  # a valid one, sent with an unknown field
        body: dict[str, Any] = {"grace": grace, "expires_in_days": 3}
        field = "expires_in_days"
    else:
        body, field = {"grace": grace}, "grace"
    token = manager(guard)
    target = guard.create_token("alice", "t")
    reply = client.call("POST", f"{API}/{target.info.id}/rotate", body, token=token)
    assert (reply.status, reply.body["field"]) == (400, field)
    assert guard.authenticate(target.token).id == target.info.id  # nothing rotated


def test_a_browser_rotates_with_a_grace_too(client: Client, guard: TokenGuard) -> None:
    client.sign_in("alice")
    target = guard.create_token("alice", "t")
    reply = client.call("POST", f"{API}/{target.info.id}/rotate", {"grace": "1h"}, csrf=True)
    assert reply.status == 201
    assert guard.authenticate(target.token).id == target.info.id
    no_csrf = client.call("POST", f"{API}/{target.info.id}/rotate", {"grace": "1h"})
    assert no_csrf.status == 403


# -- a token rotates itself -------------------------------------------------------------------------


def test_self_rotate_needs_no_management_scope(client: Client, guard: TokenGuard) -> None:
    issued = guard.create_token("alice", "reader", scopes=["read"], expires_in=timedelta(days=10))
    reply = client.call("POST", f"{API}/self/rotate", token=issued.token)
    assert reply.status == 201, reply.body
    assert set(reply.body) == {"token", "info"}
    assert reply.body["info"]["id"] == issued.info.id
    assert reply.headers["location"] == f"{API}/{issued.info.id}"
    assert guard.get_token(issued.info.id).expires_at == issued.info.expires_at  # kept
    with pytest.raises(AuthenticationError):
        guard.authenticate(issued.token)
    assert guard.authenticate(reply.body["token"]).id == issued.info.id


def test_self_rotate_with_a_grace_and_a_new_expiry(client: Client, guard: TokenGuard,
                                                   clock: ManualClock) -> None:
    issued = guard.create_token("alice", "reader", scopes=["read"], expires_in=timedelta(days=2))
    reply = client.call("POST", f"{API}/self/rotate", {"grace": "24h", "expires_in_days": 30},
                        token=issued.token)
    assert reply.status == 201
    assert guard.get_token(issued.info.id).expires_at == clock.now + timedelta(days=30)
    clock.advance(hours=23)
    assert guard.authenticate(issued.token).id == issued.info.id
    clock.advance(hours=1)
    with pytest.raises(AuthenticationError):
        guard.authenticate(issued.token)


def test_self_rotate_never_beyond_the_max_lifetime(clock: ManualClock) -> None:
    guard = make_guard(clock, default_lifetime=timedelta(days=30), max_lifetime=timedelta(days=60))
    for client in (FlaskClient(guard), AsgiClient(guard)):
        issued = guard.create_token("alice", "r", scopes=["read"])
        for days in (61, None):
            reply = client.call("POST", f"{API}/self/rotate", {"expires_in_days": days}, token=issued.token)
            assert (reply.status, reply.body["field"]) == (400, "expires_in_days"), client.name
        assert guard.authenticate(issued.token).id == issued.info.id  # nothing rotated
        within = client.call("POST", f"{API}/self/rotate", {"expires_in_days": 60}, token=issued.token)
        assert within.status == 201
    guard.close()


@pytest.mark.parametrize("days", [0, -1, "7", True, 36501])
def test_self_rotate_refuses_a_bad_expiry(client: Client, guard: TokenGuard, days: Any) -> None:
    issued = guard.create_token("alice", "r", scopes=["read"])
    reply = client.call("POST", f"{API}/self/rotate", {"expires_in_days": days}, token=issued.token)
    assert (reply.status, reply.body["field"]) == (400, "expires_in_days")


def test_a_minted_token_renews_itself_no_further_than_its_parent(client: Client, guard: TokenGuard,
                                                                 clock: ManualClock) -> None:
    parent = guard.create_token("alice", "p", scopes=["management"], expires_in=timedelta(days=10))
    child = guard.create_token("alice", "c", scopes=["read"], parent=parent.info)
    too_long = client.call("POST", f"{API}/self/rotate", {"expires_in_days": 11}, token=child.token)
    assert (too_long.status, too_long.body["field"]) == (400, "expires_in_days")
    ok = client.call("POST", f"{API}/self/rotate", {"expires_in_days": 9}, token=child.token)
    assert ok.status == 201 and ok.body["info"]["parent_id"] == parent.info.id


def test_self_rotate_for_a_browser_is_400_and_for_nobody_401(client: Client) -> None:
    anonymous = client.call("POST", f"{API}/self/rotate")
    assert anonymous.status == 401 and anonymous.headers["www-authenticate"] == 'Bearer realm="api"'
    client.sign_in("alice")
    browser = client.call("POST", f"{API}/self/rotate", {"grace": "1h"}, csrf=True)
    assert (browser.status, browser.body["field"]) == (400, "token")


def test_self_rotate_refuses_dead_admin_and_foreign_field_tokens(client: Client, guard: TokenGuard) -> None:
    revoked = guard.create_token("alice", "r", scopes=["read"])
    guard.revoke(revoked.info.id)
    assert client.call("POST", f"{API}/self/rotate", token=revoked.token).status == 401
    admin = guard.create_token("root", "a", admin=True)
    refused = client.call("POST", f"{API}/self/rotate", token=admin.token)
    assert (refused.status, refused.body["field"]) == (400, "id")
    assert guard.authenticate(admin.token).id == admin.info.id
    live = guard.create_token("alice", "l", scopes=["read"])
    unknown = client.call("POST", f"{API}/self/rotate", {"name": "x"}, token=live.token)
    assert (unknown.status, unknown.body["field"]) == (400, "name")
    assert client.call("GET", f"{API}/self/rotate", token=live.token).status in (401, 403, 404, 405)


def test_self_rotate_of_a_deactivated_owner_is_refused(client: Client, guard: TokenGuard) -> None:
    issued = guard.create_token("bob", "r", scopes=["read"])
    guard.deactivate_owner("bob")
    assert client.call("POST", f"{API}/self/rotate", token=issued.token).status == 401


def test_self_rotate_respects_can_manage(clock: ManualClock) -> None:
    guard = make_guard(clock)
    app = Flask("closed")
    app.secret_key = "k"
    FlaskTokenGuard(app, guard, owner_loader=lambda: None, can_manage=lambda owner: owner == "admin")
    issued = guard.create_token("alice", "r", scopes=["read"])
    reply = app.test_client().post(f"{API}/self/rotate", headers={"Authorization": f"Bearer {issued.token}"})
    assert reply.status_code == 403
    assert guard.authenticate(issued.token).id == issued.info.id
    guard.close()


# -- OpenAPI ---------------------------------------------------------------------------------------


def test_openapi_documents_the_round_2_fields_and_routes(client: Client) -> None:
    doc = client.call("GET", f"{API}/openapi.json").body
    info = doc["components"]["schemas"]["TokenInfo"]["properties"]
    for field in ("description", "allowed_networks", "last_used_ip", "last_used_agent", "parent_id"):
        assert field in info
    for schema in ("CreateToken", "UpdateToken"):
        properties = doc["components"]["schemas"][schema]["properties"]
        assert {"description", "allowed_networks"} <= set(properties)
    assert doc["paths"][f"{API}/{{id}}/rotate"]["post"]["requestBody"]["content"]["application/json"]
    assert "grace" in doc["components"]["schemas"]["Rotate"]["properties"]
    self_rotate = doc["paths"][f"{API}/self/rotate"]["post"]
    assert "201" in self_rotate["responses"] and "400" in self_rotate["responses"]
    assert set(doc["components"]["schemas"]["SelfRotate"]["properties"]) == {"grace", "expires_in_days"}
    assert f"{API}/secret-scanning" not in doc["paths"]  # off by default
