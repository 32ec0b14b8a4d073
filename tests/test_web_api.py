"""The management API through Flask's test client: every route and status of DESIGN.md."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from _flask_support import API, ORIGIN, Browser, bearer, make_app, make_guard
from _testclock import ManualClock as Clock
from tokenguard import TokenGuard

CHALLENGE = 'Bearer realm="api"'


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def guard(clock: Clock) -> TokenGuard:
    return make_guard(clock=clock)


@pytest.fixture
def app(guard: TokenGuard) -> Flask:
    return make_app(guard)


@pytest.fixture
def alice(app: Flask) -> Browser:
    return Browser(app, "alice")


def assert_json_safety(response: Any) -> None:
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# -- who may call ---------------------------------------------------------------------------


def test_anonymous_list_is_401_with_a_bare_challenge(app: Flask) -> None:
    response = app.test_client().get(API)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert response.json is not None and response.json["error"] == "unauthorized"
    assert_json_safety(response)


def test_signed_in_list_shows_only_own_tokens_and_a_csrf_header(app: Flask, guard: TokenGuard) -> None:
    guard.create_token("bob", "bob's")
    alice = Browser(app, "alice")
    assert alice.create("mine").status_code == 201
    response = alice.client.get(API)
    assert response.status_code == 200
    assert [t["name"] for t in response.json["tokens"]] == ["mine"]
    assert response.json["max_tokens"] == 5
    assert len(response.headers["X-CSRF-Token"]) > 20
    assert_json_safety(response)


def test_list_and_get_with_a_management_token_need_no_csrf(alice: Browser, guard: TokenGuard) -> None:
    token = guard.create_token("alice", "manager", scopes=["management"]).token
    client = alice.client.application.test_client()
    response = client.get(API, headers=bearer(token))
    assert response.status_code == 200
    assert "X-CSRF-Token" not in response.headers
    token_id = response.json["tokens"][0]["id"]
    revoked = client.post(f"{API}/{token_id}/revoke", headers={"Api-Token": token})
    assert revoked.status_code == 200 and revoked.json["status"] == "revoked"


def test_a_write_token_cannot_manage(app: Flask, guard: TokenGuard) -> None:
    token = guard.create_token("alice", "writer", scopes=["write"]).token
    response = app.test_client().get(API, headers=bearer(token))
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="the access token lacks the required scope", scope="management"')
    assert response.json == {"error": "insufficient_scope",
                             "error_description": "the access token lacks the required scope",
                             "scope": "management"}


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer tg_notatoken"},
    {"Api-Token": "tg_0000000000000000000000000000000000000000"},
])
def test_an_invalid_token_is_401_invalid_token(app: Flask, headers: dict[str, str]) -> None:
    response = app.test_client().get(API, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="the access token is invalid, expired or revoked"')
    assert response.json["error"] == "invalid_token"


def test_an_invalid_token_wins_over_a_session_cookie(alice: Browser) -> None:
    response = alice.client.get(API, headers=bearer("tg_garbage"))
    assert response.status_code == 401


def test_duplicate_credentials_are_400_invalid_request(app: Flask, guard: TokenGuard) -> None:
    token = guard.create_token("alice", "m", scopes=["management"]).token
    client = app.test_client()
    twice = client.get(API, headers=[("Authorization", f"Bearer {token}")] * 2)
    both = client.get(API, headers={"Authorization": f"Bearer {token}", "Api-Token": token})
    for response in (twice, both):
        assert response.status_code == 400
        assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]
        assert response.json["error"] == "invalid_request"


def test_a_token_in_the_query_string_is_ignored(app: Flask, guard: TokenGuard) -> None:
    token = guard.create_token("alice", "m", scopes=["management"]).token
    response = app.test_client().get(API, query_string={"access_token": token})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == CHALLENGE


def test_can_manage_false_is_403_for_cookie_and_token_callers(guard: TokenGuard) -> None:
    app = make_app(guard, can_manage=lambda owner: owner == "admin")
    token = guard.create_token("alice", "m", scopes=["management"]).token
    assert Browser(app, "alice").client.get(API).status_code == 403
    response = app.test_client().get(API, headers=bearer(token))
    assert response.status_code == 403 and response.json["error"] == "forbidden"
    assert Browser(app, "admin").client.get(API).status_code == 200


# -- CSRF on cookie writes --------------------------------------------------------------------


def test_cookie_write_without_csrf_is_refused(alice: Browser) -> None:
    response = alice.write("POST", API, {"name": "x"}, csrf=False)
    assert response.status_code == 403
    assert response.json["error"] == "csrf_failed"


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "http://localhost:8080"},
    {"Origin": "null"},
    {"Origin": ""},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": "null"},
])
def test_cookie_write_from_another_origin_is_refused(alice: Browser, headers: dict[str, str]) -> None:
    response = alice.write("POST", API, {"name": "x"}, headers=headers)
    assert response.status_code == 403
    assert response.json["error"] == "csrf_failed"


def test_cookie_write_without_origin_or_referer_is_refused(alice: Browser) -> None:
    csrf = alice.csrf()
    response = alice.client.post(API, json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 403


@pytest.mark.parametrize("headers", [
    {"Referer": f"{ORIGIN}/settings/tokens"},
    {"Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "same-origin", "Origin": "null"},
    {"Sec-Fetch-Site": "same-origin", "Origin": ORIGIN},
])
def test_cookie_write_with_same_origin_evidence_passes(alice: Browser, headers: dict[str, str]) -> None:
    csrf = alice.csrf()
    response = alice.client.post(API, json={"name": "x"}, headers={"X-CSRF-Token": csrf, **headers})
    assert response.status_code == 201


def test_a_csrf_token_is_bound_to_its_owner(app: Flask) -> None:
    bobs = Browser(app, "bob").csrf()
    alice = Browser(app, "alice")
    response = alice.write("POST", API, {"name": "x"}, csrf=False, headers={"X-CSRF-Token": bobs})
    assert response.status_code == 403
    genuine = alice.csrf()
    tampered = genuine[:-2] + ("xx" if genuine[-2:] != "xx" else "yy")
    response = alice.write("POST", API, {"name": "x"}, csrf=False, headers={"X-CSRF-Token": tampered})
    assert response.status_code == 403


def test_a_csrf_token_expires(alice: Browser, guard: TokenGuard, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    csrf = alice.csrf()
    later = time.time() + 25 * 3600
    monkeypatch.setattr(time, "time", lambda: later)
    response = alice.write("POST", API, {"name": "x"}, csrf=False, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 403


# -- create ---------------------------------------------------------------------------------------


def test_create_returns_the_secret_once_with_201(alice: Browser, clock: Clock) -> None:
    response = alice.create("deploy", scopes=["write"], projects=["alpha"], id="deploy-bot",
                            expires_in_days=30)
    assert response.status_code == 201
    assert_json_safety(response)
    body = response.json
    assert body["token"].startswith("tg_")
    info = body["info"]
    assert info["id"] == "deploy-bot" and response.headers["Location"] == f"{API}/deploy-bot"
    assert info["permission"] == "write" and info["scopes"] == ["write"]
    assert info["projects"] == ["alpha"] and info["status"] == "active"
    assert info["expires_at"] == "2030-01-31T12:00:00Z" and info["created_at"] == "2030-01-01T12:00:00Z"
    assert info["hint"].endswith(body["token"][-4:])
    assert body["token"] not in json.dumps(alice.client.get(f"{API}/deploy-bot").json)
    works = alice.client.application.test_client().post("/notes", headers=bearer(body["token"]))
    assert works.status_code == 201


def test_create_defaults_to_the_lowest_scope_and_the_default_lifetime(alice: Browser) -> None:
    info = alice.create("plain").json["info"]
    assert info["scopes"] == ["read"]
    assert info["expires_at"] == "2030-04-01T12:00:00Z"  # 90 days


def test_create_with_no_expiry_and_with_a_date(alice: Browser) -> None:
    assert alice.create("forever", expires_in_days=None).json["info"]["expires_at"] is None
    dated = alice.create("dated", expires_at="2030-02-10").json["info"]
    assert dated["expires_at"] == "2030-02-11T00:00:00Z"  # valid through that day
    exact = alice.create("exact", expires_at="2030-03-01T08:30:00+02:00").json["info"]
    assert exact["expires_at"] == "2030-03-01T06:30:00Z"


DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize(("body", "field"), [
    ({}, "name"),
    ({"name": 12}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "x" * 60000}, "name"),
    ({"name": "bidi \u202e"}, "name"),
    ({"name": "x", "scopes": "write"}, "scopes"),
    ({"name": "x", "scopes": []}, "scopes"),
    ({"name": "x", "scopes": ["root"]}, "scopes"),
    ({"name": "x", "scopes": [["read"]]}, "scopes"),
    ({"name": "x", "projects": "alpha"}, "projects"),
    ({"name": "x", "projects": [1]}, "projects"),
    ({"name": "x", "projects": ["no spaces"]}, "projects"),
    ({"name": "x", "id": "Bad Id"}, "id"),
    ({"name": "x", "id": 7}, "id"),
    ({"name": "x", "id": "self"}, "id"),
    ({"name": "x", "admin": True}, "admin"),
    ({"name": "x", "owner": "bob"}, "owner"),
    ({"name": "x", "expires_in_days": 0}, "expires_in_days"),
    ({"name": "x", "expires_in_days": True}, "expires_in_days"),
    ({"name": "x", "expires_in_days": "30"}, "expires_in_days"),
    ({"name": "x", "expires_in_days": 10**30}, "expires_in_days"),
    ({"name": "x", "expires_at": "2030-05-01T00:00:00"}, "expires_at"),
    ({"name": "x", "expires_at": "yesterday"}, "expires_at"),
    ({"name": "x", "expires_at": "2029-01-01"}, "expires_at"),
    ({"name": "x", "expires_at": "2031-01-01", "expires_in_days": 3}, "expires_at"),
])
def test_bad_fields_are_400_naming_the_field(alice: Browser, body: dict[str, Any], field: str) -> None:
    response = alice.write("POST", API, body)
    assert response.status_code == 400, response.json
    assert response.json["error"] == "invalid_request"
    assert response.json["field"] == field
    assert_json_safety(response)


@pytest.mark.parametrize("raw", [b"{", b"[]", b'"name"', b"null", DEEP.encode(), b"\xff\xfe",
                                 b'{"name": NaN'])
def test_bad_json_is_400_never_500(alice: Browser, raw: bytes) -> None:
    response = alice.write("POST", API, csrf=True, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json["field"] == "body"


def test_a_body_that_is_not_json_is_415(alice: Browser) -> None:
    response = alice.write("POST", API, data="name=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_a_body_over_64_kib_is_413(alice: Browser) -> None:
    body = b"{" + b" " * (64 * 1024) + b"}"
    response = alice.write("POST", API, data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json["error"] == "request_too_large"


def test_an_id_taken_is_409(alice: Browser) -> None:
    assert alice.create("a", id="same").status_code == 201
    response = alice.create("b", id="same")
    assert response.status_code == 409 and response.json["error"] == "token_id_conflict"


def test_the_limit_is_409(alice: Browser) -> None:
    for n in range(5):
        assert alice.create(f"t{n}").status_code == 201
    response = alice.create("one too many")
    assert response.status_code == 409 and response.json["error"] == "token_limit_exceeded"


def test_max_lifetime_is_enforced(guard: TokenGuard, clock: Clock) -> None:
    capped = make_guard(clock=clock, max_lifetime=timedelta(days=30), default_lifetime=timedelta(days=7))
    alice = Browser(make_app(capped))
    assert alice.create("never", expires_in_days=None).json["field"] == "expires_in_days"
    assert alice.create("long", expires_in_days=31).status_code == 400
    assert alice.create("ok", expires_in_days=30).status_code == 201


def test_a_bearer_token_cannot_create_by_default(app: Flask, guard: TokenGuard) -> None:
    token = guard.create_token("alice", "m", scopes=["management"]).token
    response = app.test_client().post(API, json={"name": "child"}, headers=bearer(token))
    assert response.status_code == 403 and response.json["error"] == "forbidden"


def test_minting_when_allowed_is_bounded_by_the_parent(guard: TokenGuard) -> None:
    app = make_app(guard, allow_token_minting=True)
    parent = guard.create_token("alice", "m", scopes=["management"], projects=["alpha"],
                                expires_in=timedelta(days=10))
    client = app.test_client()
    wider = client.post(API, json={"name": "c", "scopes": ["read"]}, headers=bearer(parent.token))
    assert wider.status_code == 400 and wider.json["field"] == "projects"
    child = client.post(API, json={"name": "c", "scopes": ["read"], "projects": ["alpha"],
                                   "expires_in_days": None}, headers=bearer(parent.token))
    assert child.status_code == 201
    info = child.json["info"]
    assert info["parent_id"] == parent.info.id and info["owner"] == "alice"
    assert info["expires_at"] == "2030-01-11T12:00:00Z"  # capped at the parent's expiry
    client.post(f"{API}/{parent.info.id}/revoke", headers=bearer(parent.token))
    assert client.get("/notes", headers=bearer(child.json["token"])).status_code == 401


def test_a_write_token_cannot_mint_even_when_minting_is_on(guard: TokenGuard) -> None:
    app = make_app(guard, allow_token_minting=True)
    token = guard.create_token("alice", "w", scopes=["write"]).token
    assert app.test_client().post(API, json={"name": "c"}, headers=bearer(token)).status_code == 403


# -- one token ------------------------------------------------------------------------------------


def test_get_own_token_and_404_for_others(alice: Browser, guard: TokenGuard) -> None:
    mine = alice.create("mine").json["info"]["id"]
    bobs = guard.create_token("bob", "bob's").info.id
    assert alice.client.get(f"{API}/{mine}").json["name"] == "mine"
    for path in (f"{API}/{bobs}", f"{API}/nope", f"{API}/..%2F..", f"{API}/UPPER"):
        response = alice.client.get(path)
        assert response.status_code == 404, path
        assert response.json["error"] == "not_found"
    for method, path in (("PATCH", f"{API}/{bobs}"), ("DELETE", f"{API}/{bobs}"),
                         ("POST", f"{API}/{bobs}/revoke"), ("POST", f"{API}/{bobs}/rotate"),
                         ("POST", f"{API}/{bobs}/reapprove")):
        assert alice.write(method, path, {"name": "x"} if method == "PATCH" else None).status_code == 404
    assert guard.get_token(bobs).status == "active"


def test_patch_renames_and_restricts(alice: Browser) -> None:
    token_id = alice.create("old").json["info"]["id"]
    response = alice.write("PATCH", f"{API}/{token_id}", {"name": "new", "projects": ["beta"]})
    assert response.status_code == 200
    assert response.json["name"] == "new" and response.json["projects"] == ["beta"]
    assert alice.write("PATCH", f"{API}/{token_id}", {"scopes": ["management"]}).json["field"] == "scopes"
    assert alice.write("PATCH", f"{API}/{token_id}", {"name": None}).json["field"] == "name"
    assert alice.write("PATCH", f"{API}/{token_id}", {"name": "x"}, csrf=False).status_code == 403


def test_revoke_reapprove_rotate_delete(alice: Browser, clock: Clock) -> None:
    created = alice.create("cycle", scopes=["read"]).json
    token_id, token = created["info"]["id"], created["token"]
    api = alice.client.application.test_client()
    assert api.get("/notes", headers=bearer(token)).status_code == 200

    revoked = alice.write("POST", f"{API}/{token_id}/revoke")
    assert revoked.status_code == 200 and revoked.json["status"] == "revoked"
    assert api.get("/notes", headers=bearer(token)).status_code == 401

    reapproved = alice.write("POST", f"{API}/{token_id}/reapprove")
    assert reapproved.status_code == 200 and reapproved.json["status"] == "active"
    assert api.get("/notes", headers=bearer(token)).status_code == 200

    rotated = alice.write("POST", f"{API}/{token_id}/rotate")
    assert rotated.status_code == 201 and rotated.json["token"] != token
    assert rotated.headers["Cache-Control"] == "no-store"
    assert api.get("/notes", headers=bearer(token)).status_code == 401
    assert api.get("/notes", headers=bearer(rotated.json["token"])).status_code == 200

    deleted = alice.write("DELETE", f"{API}/{token_id}")
    assert deleted.status_code == 204 and deleted.data == b""
    assert alice.client.get(f"{API}/{token_id}").status_code == 404
    assert api.get("/notes", headers=bearer(rotated.json["token"])).status_code == 401


def test_an_expired_token_cannot_be_reapproved_or_rotated(alice: Browser, clock: Clock) -> None:
    token_id = alice.create("short", expires_in_days=1).json["info"]["id"]
    alice.write("POST", f"{API}/{token_id}/revoke")
    clock.advance(days=2)
    response = alice.write("POST", f"{API}/{token_id}/reapprove")
    assert response.status_code == 400 and response.json["field"] == "id"
    assert alice.client.get(f"{API}/{token_id}").json["status"] == "revoked"
    assert alice.write("POST", f"{API}/{token_id}/rotate").status_code == 400


def test_admin_tokens_are_not_reissued_through_the_web(alice: Browser, guard: TokenGuard) -> None:
    admin = guard.create_token("alice", "root", admin=True).info.id
    assert alice.write("POST", f"{API}/{admin}/rotate").json["field"] == "id"
    assert alice.write("POST", f"{API}/{admin}/revoke").status_code == 200
    assert alice.write("POST", f"{API}/{admin}/reapprove").status_code == 400
    assert alice.client.get(f"{API}/{admin}").json["permission"] == "admin"


def test_unknown_routes_and_methods(alice: Browser) -> None:
    token_id = alice.create("x").json["info"]["id"]
    assert alice.client.get(f"{API}/{token_id}/explode").status_code == 404
    response = alice.write("PUT", f"{API}/{token_id}", {"name": "y"})
    assert response.status_code == 405 and response.headers["Allow"] == "DELETE, GET, PATCH"
    assert alice.client.get(f"{API}/{token_id}/revoke").status_code == 405
    assert alice.write("DELETE", API).headers["Allow"] == "GET, POST"


# -- RFC 7009 and RFC 7662 --------------------------------------------------------------------------


def test_revocation_endpoint_kills_a_token_by_value(app: Flask, guard: TokenGuard) -> None:
    token = guard.create_token("alice", "leaked").token
    client = app.test_client()
    response = client.post(f"{API}/revoke", data={"token": token})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert client.get("/notes", headers=bearer(token)).status_code == 401
    assert client.post(f"{API}/revoke", data={"token": token}).status_code == 200  # idempotent
    assert client.post(f"{API}/revoke", data={"token": "tg_unknown"}).status_code == 200
    assert client.post(f"{API}/revoke", json={"token": "x" * 5000}).status_code == 200
    missing = client.post(f"{API}/revoke", data={"token_type_hint": "access_token"})
    assert missing.status_code == 400 and missing.json["field"] == "token"


def test_introspection_for_a_management_token(app: Flask, guard: TokenGuard, clock: Clock) -> None:
    manager = guard.create_token("alice", "m", scopes=["management"]).token
    target = guard.create_token("alice", "ci", scopes=["write"], projects=["alpha"],
                                expires_in=timedelta(days=1))
    client = app.test_client()
    response = client.post(f"{API}/introspect", data={"token": target.token}, headers=bearer(manager))
    assert response.status_code == 200
    assert_json_safety(response)
    body = response.json
    assert body["active"] is True and body["scope"] == "read write"
    assert body["username"] == body["client_id"] == "alice" and body["token_type"] == "Bearer"
    assert body["exp"] == int((clock.now + timedelta(days=1)).timestamp())
    assert body["iat"] == int(clock.now.timestamp()) and body["projects"] == ["alpha"]
    assert guard.get_token(target.info.id).last_used_at is None  # introspection is not a use

    guard.revoke(target.info.id)
    inactive = client.post(f"{API}/introspect", data={"token": target.token}, headers=bearer(manager))
    assert inactive.json == {"active": False}
    unknown = client.post(f"{API}/introspect", data={"token": "tg_nothing"}, headers=bearer(manager))
    assert unknown.json == {"active": False}


def test_introspection_hides_other_owners_from_non_admins(app: Flask, guard: TokenGuard) -> None:
    manager = guard.create_token("alice", "m", scopes=["management"]).token
    admin = guard.create_token("root", "admin", admin=True).token
    bobs = guard.create_token("bob", "b").token
    client = app.test_client()
    assert client.post(f"{API}/introspect", data={"token": bobs}, headers=bearer(manager)).json == {
        "active": False}
    assert client.post(f"{API}/introspect", data={"token": bobs}, headers=bearer(admin)).json["active"]


def test_introspection_needs_the_management_scope(alice: Browser, guard: TokenGuard) -> None:
    reader = guard.create_token("alice", "r").token
    client = alice.client
    cookie_only = alice.write("POST", f"{API}/introspect", data={"token": reader})
    assert cookie_only.status_code == 401 and cookie_only.headers["WWW-Authenticate"] == CHALLENGE
    scoped = client.post(f"{API}/introspect", data={"token": reader}, headers=bearer(reader))
    assert scoped.status_code == 403 and 'scope="management"' in scoped.headers["WWW-Authenticate"]
    manager = guard.create_token("alice", "m", scopes=["management"]).token
    assert client.post(f"{API}/introspect", headers=bearer(manager)).json["field"] == "token"
    # only POST introspects: GET asks for a token whose id is "introspect", and there is none
    assert client.get(f"{API}/introspect", headers=bearer(manager)).status_code == 404


# -- OpenAPI ----------------------------------------------------------------------------------------


def test_openapi_document_describes_every_route(app: Flask, guard: TokenGuard) -> None:
    client = app.test_client()
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    doc = response.json
    assert doc["openapi"] == "3.1.0"
    operations = {(path, method.upper()) for path, item in doc["paths"].items()
                  for method in item if method != "parameters"}
    expected = {(API, "GET"), (API, "POST"), (f"{API}/{{id}}", "GET"), (f"{API}/{{id}}", "PATCH"),
                (f"{API}/{{id}}", "DELETE"), (f"{API}/{{id}}/revoke", "POST"),
                (f"{API}/{{id}}/reapprove", "POST"), (f"{API}/{{id}}/rotate", "POST"),
                (f"{API}/openapi.json", "GET"), (f"{API}/revoke", "POST"), (f"{API}/introspect", "POST"),
                (f"{API}/self/rotate", "POST"), (f"{API}/admin/tokens", "GET"),
                (f"{API}/admin/tokens/{{id}}", "DELETE"), (f"{API}/admin/tokens/{{id}}/revoke", "POST"),
                (f"{API}/admin/owners/{{owner}}", "GET"),
                (f"{API}/admin/owners/{{owner}}/deactivate", "POST"),
                (f"{API}/admin/owners/{{owner}}/reactivate", "POST")}
    assert operations == expected
    manager = guard.create_token("alice", "m", scopes=["management"])
    for path, method in sorted(operations):
        concrete = path.replace("{id}", manager.info.id).replace("{owner}", "bob")
        answer = client.open(concrete, method=method, headers=bearer(manager.token),
                             data={"token": "tg_x"} if path.endswith(("/revoke", "/introspect")) else None)
        assert answer.status_code not in (404, 405), (path, method, answer.status_code)
    _assert_refs_resolve(doc, doc)


def _assert_refs_resolve(node: Any, doc: dict[str, Any]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            target: Any = doc
            for part in ref.removeprefix("#/").split("/"):
                target = target[part]
            assert isinstance(target, dict)
        for value in node.values():
            _assert_refs_resolve(value, doc)
    elif isinstance(node, list):
        for value in node:
            _assert_refs_resolve(value, doc)


# -- a token manages nothing that reaches further than itself ---------------------------------


def test_a_project_bound_manager_cannot_rotate_a_broader_sibling(app: Flask, guard: TokenGuard) -> None:
    manager = guard.create_token("alice", "ci alpha", scopes=["management"], projects=["alpha"]).token
    broad = guard.create_token("alice", "laptop", scopes=["write"], token_id="broad")
    guard.create_token("alice", "alpha reader", scopes=["read"], projects=["alpha"],
                                token_id="narrow")
    client = app.test_client()
    refused = client.post(f"{API}/broad/rotate", headers=bearer(manager))
    assert refused.status_code == 403 and "token" not in refused.json
    assert guard.authenticate(broad.token).id == "broad"  # the old secret still works: nothing rotated
    allowed = client.post(f"{API}/narrow/rotate", headers=bearer(manager))
    assert allowed.status_code == 201
    assert guard.authenticate(allowed.json["token"]).projects == {"alpha"}
    guard.revoke("broad")
    assert client.post(f"{API}/broad/reapprove", headers=bearer(manager)).status_code == 403
    assert guard.get_token("broad").status == "revoked"
    assert client.post(f"{API}/broad/revoke", headers=bearer(manager)).status_code == 200  # killing is fine


def test_a_short_lived_manager_cannot_renew_a_token_that_outlives_it(app: Flask, guard: TokenGuard) -> None:
    """Minting is off; rotating or re-approving a longer-lived sibling would be minting by another name."""
    manager = guard.create_token("alice", "ci", scopes=["management"], expires_in=timedelta(hours=1))
    guard.create_token("alice", "forever", scopes=["write"], expires_in=None, token_id="forever")
    guard.create_token("alice", "longer", scopes=["read"], expires_in=timedelta(days=2), token_id="longer")
    guard.create_token("alice", "shorter", scopes=["read"], expires_in=timedelta(minutes=5),
                       token_id="shorter")
    client = app.test_client()
    for target in ("forever", "longer"):
        refused = client.post(f"{API}/{target}/rotate", headers=bearer(manager.token))
        assert refused.status_code == 403 and "token" not in refused.json and "outlives" in refused.text
        guard.revoke(target)
        assert client.post(f"{API}/{target}/reapprove", headers=bearer(manager.token)).status_code == 403
        assert guard.get_token(target).status == "revoked"
    assert client.post(f"{API}/shorter/rotate", headers=bearer(manager.token)).status_code == 201
    own = client.post(f"{API}/{manager.info.id}/rotate", headers=bearer(manager.token))
    assert own.status_code == 201  # itself: the new secret lives no longer than the old


def test_a_project_bound_manager_cannot_widen_projects(app: Flask, guard: TokenGuard) -> None:
    issued = guard.create_token("alice", "ci alpha", scopes=["management"], projects=["alpha"])
    client = app.test_client()
    own = f"{API}/{issued.info.id}"
    for projects in ([], ["alpha", "beta"], ["beta"]):
        response = client.patch(own, json={"projects": projects}, headers=bearer(issued.token))
        assert response.status_code == 403, projects
    assert guard.get_token(issued.info.id).projects == {"alpha"}
    renamed = client.patch(own, json={"name": "ci alpha (renamed)"}, headers=bearer(issued.token))
    assert renamed.status_code == 200 and renamed.json["name"] == "ci alpha (renamed)"


def test_a_signed_in_owner_still_manages_every_token(alice: Browser, guard: TokenGuard) -> None:
    guard.create_token("alice", "laptop", scopes=["write"], projects=["alpha"], token_id="laptop")
    assert alice.write("PATCH", f"{API}/laptop", {"projects": []}).status_code == 200
    assert guard.get_token("laptop").projects == frozenset()
    assert alice.write("POST", f"{API}/laptop/rotate").status_code == 201
