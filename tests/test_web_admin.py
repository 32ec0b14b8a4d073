"""The admin inventory (``{api_path}/admin/…``, ``{settings_path}/admin``), through Flask and Starlette."""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from _flask_support import API, ORIGIN, PAGE, Browser, bearer, make_app, make_guard
from _reserved_ids import token_under_reserved_id
from _testclock import ManualClock as Clock
from tokenguard import TokenGuard
from tokenguard_asgi import TokenGuardMiddleware
from tokenguard_flask import FlaskTokenGuard

ADMIN_API = f"{API}/admin"
ADMIN_PAGE = f"{PAGE}/admin"
AUDIT = "tokenguard.audit"
_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def admins(owner: str) -> bool:
    return owner == "root"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def guard(clock: Clock) -> TokenGuard:
    return make_guard(clock=clock, max_tokens_per_owner=None)


@pytest.fixture
def app(guard: TokenGuard) -> Flask:
    return make_app(guard, can_administer=admins)


@pytest.fixture
def root(app: Flask) -> Browser:
    return Browser(app, "root")


def audit_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == AUDIT]


def listing(browser: Browser, **params: Any) -> Any:
    response = browser.client.get(f"{ADMIN_API}/tokens", query_string=params)
    assert response.status_code == 200, response.data
    return response.json


def names(body: Any) -> list[str]:
    return [t["name"] for t in body["tokens"]]


def page_csrf(browser: Browser) -> str:
    match = _META_CSRF.search(browser.client.get(ADMIN_PAGE).get_data(as_text=True))
    assert match is not None
    return match.group(1)


# -- who may call ---------------------------------------------------------------------------------


def test_anonymous_is_401_and_a_non_admin_403(app: Flask, guard: TokenGuard) -> None:
    anonymous = app.test_client().get(f"{ADMIN_API}/tokens")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    refused = Browser(app, "alice").client.get(f"{ADMIN_API}/tokens")
    assert refused.status_code == 403 and refused.json["error"] == "forbidden"
    assert refused.headers["Cache-Control"] == "no-store"
    assert refused.headers["X-Content-Type-Options"] == "nosniff"


def test_nobody_administers_by_default(guard: TokenGuard) -> None:
    app = make_app(guard)
    assert Browser(app, "root").client.get(f"{ADMIN_API}/tokens").status_code == 403
    assert Browser(app, "root").client.get(ADMIN_PAGE).status_code == 403


def test_the_flask_decorator_registers_the_check(guard: TokenGuard) -> None:
    app = make_app(guard)
    tokens: FlaskTokenGuard = app.extensions["tokenguard"].extension

    @tokens.can_administer
    def check(owner: str) -> bool:
        return owner == "root"

    assert Browser(app, "root").client.get(f"{ADMIN_API}/tokens").status_code == 200


def test_a_management_token_of_an_admin_works_others_do_not(app: Flask, guard: TokenGuard) -> None:
    guard.create_token("alice", "hers")
    client = app.test_client()
    admin_token = guard.create_token("root", "ops", scopes=["management"]).token
    response = client.get(f"{ADMIN_API}/tokens", headers=bearer(admin_token))
    assert response.status_code == 200 and "X-CSRF-Token" not in response.headers
    assert sorted(names(response.json)) == ["hers", "ops"]
    writer = guard.create_token("root", "w", scopes=["write"]).token
    refused = client.get(f"{ADMIN_API}/tokens", headers=bearer(writer))
    assert refused.status_code == 403 and refused.json["error"] == "insufficient_scope"
    alices = guard.create_token("alice", "m", scopes=["management"]).token
    forbidden = client.get(f"{ADMIN_API}/tokens", headers=bearer(alices))
    assert forbidden.status_code == 403 and forbidden.json["error"] == "forbidden"


def test_unknown_routes_and_methods(root: Browser) -> None:
    assert root.client.get(f"{ADMIN_API}/tokens/x/rotate").status_code == 404
    wrong = root.client.put(f"{ADMIN_API}/tokens")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET"
    assert root.client.get(f"{ADMIN_API}/tokens/x").headers["Allow"] == "DELETE"


def test_a_token_whose_id_is_admin_stays_reachable(app: Flask, guard: TokenGuard) -> None:
    """The id is reserved now; a token made under it before stays manageable through the API."""
    token_under_reserved_id(guard, "alice", "named admin", "admin")
    alice = Browser(app, "alice")
    assert alice.client.get(f"{API}/admin").json["name"] == "named admin"
    assert alice.write("POST", f"{API}/admin/revoke").json["status"] == "revoked"


# -- the inventory: shape, filters, sort, pages ---------------------------------------------------


def test_every_owners_tokens_in_the_apis_shape(root: Browser, guard: TokenGuard) -> None:
    issued = guard.create_token("alice", "a1", scopes=["write"], projects=["alpha"])
    guard.create_token("bob", "b1")
    body = listing(root)
    assert body["total"] == 2 and body["page"] == 1 and body["pages"] == 1 and body["per_page"] == 50
    mine = next(t for t in body["tokens"] if t["name"] == "a1")
    assert mine["owner"] == "alice" and mine["id"] == issued.info.id
    assert mine["scopes"] == ["write"] and mine["projects"] == ["alpha"]
    assert issued.token not in json.dumps(body)
    assert set(mine) >= {"id", "name", "owner", "permission", "status", "hint", "created_at",
                         "expires_at", "last_used_at", "revoked_at"}


def test_filters(root: Browser, guard: TokenGuard, clock: Clock) -> None:
    guard.create_token("alice", "alice-read", scopes=["read"], expires_in=timedelta(days=3))
    clock.advance(seconds=1)
    guard.create_token("alice", "alice-write", scopes=["write"], projects=["alpha"])
    clock.advance(seconds=1)
    b = guard.create_token("bob", "bob-mgmt", scopes=["management"], projects=["beta"])
    guard.revoke(b.info.id)
    clock.advance(days=2)
    assert names(listing(root, owner="alice")) == ["alice-write", "alice-read"]
    assert names(listing(root, status="revoked")) == ["bob-mgmt"]
    assert names(listing(root, scope="write")) == ["bob-mgmt", "alice-write"]  # management has write
    assert sorted(names(listing(root, project="alpha"))) == ["alice-read", "alice-write"]  # all reach
    assert names(listing(root, expiring_within_days="1")) == ["alice-read"]
    assert names(listing(root, owner="alice", scope="read", project="beta")) == ["alice-read"]
    used = guard.create_token("carol", "carol-used", expires_in=None)
    clock.advance(days=38)
    guard.authenticate(used.token)
    clock.advance(days=1)
    assert names(listing(root, unused_for_days="30", status="")) == ["alice-write"]  # b revoked, a expired
    assert listing(root, owner="nobody")["total"] == 0


@pytest.mark.parametrize(("field", "value"), [
    ("status", "gone"), ("scope", "superuser"), ("sort", "hint"), ("page", "0"), ("page", "x"),
    ("expiring_within_days", "-1"), ("expiring_within_days", "0"), ("unused_for_days", "٣"),
    ("unused_for_days", "36501"), ("page", "9" * 5000), ("expiring_within_days", "0" * 5000 + "1"),
])
def test_bad_filters_are_400_naming_the_field(root: Browser, field: str, value: str) -> None:
    response = root.client.get(f"{ADMIN_API}/tokens", query_string={field: value})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request" and field in response.json["error_description"]


def test_sort_orders_and_unset_times_last(root: Browser, guard: TokenGuard, clock: Clock) -> None:
    secrets_of = {}
    for owner, name in (("carol", "b"), ("alice", "C"), ("bob", "a")):
        secrets_of[name] = guard.create_token(
            owner, name, expires_in=None if name == "C" else timedelta(days=len(owner))).token
        clock.advance(minutes=1)
    assert names(listing(root)) == ["a", "C", "b"]  # newest first
    assert names(listing(root, sort="created_at")) == ["b", "C", "a"]
    assert names(listing(root, sort="name")) == ["a", "b", "C"]  # case-insensitive
    assert names(listing(root, sort="-name")) == ["C", "b", "a"]
    assert names(listing(root, sort="owner")) == ["C", "a", "b"]
    assert names(listing(root, sort="expires_at")) == ["a", "b", "C"]  # never expires: last
    assert names(listing(root, sort="-expires_at")) == ["b", "a", "C"]
    issued = {t.name: t for t in guard.list_tokens()}
    assert names(listing(root, sort="last_used_at")) == sorted(names(listing(root)),
                                                              key=lambda n: issued[n].id)  # none used
    guard.authenticate(secrets_of["b"])
    clock.advance(minutes=2)
    guard.authenticate(secrets_of["a"])
    assert names(listing(root, sort="last_used_at")) == ["b", "a", "C"]  # never used: last
    assert names(listing(root, sort="-last_used_at")) == ["a", "b", "C"]  # either way


def test_120_tokens_are_three_pages_of_50(root: Browser, guard: TokenGuard, clock: Clock) -> None:
    for number in range(120):
        guard.create_token(f"user{number % 7}", f"t{number:03d}")
        clock.advance(seconds=1)
    first, second, third = (listing(root, page=str(p), sort="name") for p in (1, 2, 3))
    assert [b["pages"] for b in (first, second, third)] == [3, 3, 3]
    assert [b["total"] for b in (first, second, third)] == [120, 120, 120]
    assert [len(b["tokens"]) for b in (first, second, third)] == [50, 50, 20]
    assert names(first)[0] == "t000" and names(second)[0] == "t050" and names(third)[-1] == "t119"
    beyond = listing(root, page="4")
    assert beyond["tokens"] == [] and beyond["page"] == 4 and beyond["pages"] == 3


# -- actions, CSRF and audit ----------------------------------------------------------------------


def test_admin_revokes_and_deletes_anyones_token_with_csrf(
    root: Browser, guard: TokenGuard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT)
    one = guard.create_token("alice", "one").info.id
    two = guard.create_token("alice", "two").info.id
    refused = root.write("POST", f"{ADMIN_API}/tokens/{one}/revoke", csrf=False)
    assert refused.status_code == 403 and refused.json["error"] == "csrf_failed"
    foreign = root.write("POST", f"{ADMIN_API}/tokens/{one}/revoke", headers={"Origin": "https://evil"})
    assert foreign.status_code == 403 and foreign.json["error"] == "csrf_failed"
    assert guard.get_token(one).status == "active"
    revoked = root.write("POST", f"{ADMIN_API}/tokens/{one}/revoke")
    assert revoked.status_code == 200 and revoked.json["status"] == "revoked"
    deleted = root.write("DELETE", f"{ADMIN_API}/tokens/{two}")
    assert deleted.status_code == 204 and deleted.headers["Cache-Control"] == "no-store"
    assert root.write("DELETE", f"{ADMIN_API}/tokens/{two}").status_code == 404
    events = [(e["event"], e["token_id"], e["actor"]) for e in audit_events(caplog)
              if e["event"] in ("token_revoked", "token_deleted")]
    assert events == [("token_revoked", one, "admin:root"), ("token_deleted", two, "admin:root")]


def test_a_token_acting_as_admin_is_the_actor(
    app: Flask, guard: TokenGuard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT)
    ops = guard.create_token("root", "ops", scopes=["management"])
    target = guard.create_token("alice", "x").info.id
    response = app.test_client().post(f"{ADMIN_API}/tokens/{target}/revoke", headers=bearer(ops.token))
    assert response.status_code == 200  # no CSRF for a bearer token
    revoked = [e for e in audit_events(caplog) if e["event"] == "token_revoked"]
    assert revoked[0]["actor"] == f"admin:token:{ops.info.id}"


def test_deactivation_sticks_and_reactivation_revives_nothing(
    app: Flask, root: Browser, guard: TokenGuard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT)
    tokens = [guard.create_token("alice", name, scopes=["management"]) for name in ("a", "b")]
    refused = root.write("POST", f"{ADMIN_API}/owners/alice/deactivate", csrf=False)
    assert refused.status_code == 403 and refused.json["error"] == "csrf_failed"
    response = root.write("POST", f"{ADMIN_API}/owners/alice/deactivate")
    assert response.status_code == 200
    assert response.json == {"owner": "alice", "active": False, "revoked": 2}
    client = app.test_client()
    for issued in tokens:
        assert client.get("/notes", headers=bearer(issued.token)).status_code == 401
    state = root.client.get(f"{ADMIN_API}/owners/alice").json
    assert state["active"] is False and state["tokens"] == 2 and state["active_tokens"] == 0
    assert state["deactivated_by"] == "admin:root"

    alice = Browser(app, "alice")  # signs in again: still kept out
    created = alice.create("again")
    assert created.status_code == 403 and created.json["error"] == "owner_inactive"
    reapproved = alice.write("POST", f"{API}/{tokens[0].info.id}/reapprove")
    assert reapproved.status_code == 403 and reapproved.json["error"] == "owner_inactive"
    rotated = alice.write("POST", f"{API}/{tokens[0].info.id}/rotate")  # revoked by the deactivation
    assert rotated.status_code == 400 and "token" not in rotated.json
    assert len(guard.list_tokens("alice")) == 2  # nothing created

    back = root.write("POST", f"{ADMIN_API}/owners/alice/reactivate")
    assert back.json == {"owner": "alice", "active": True, "reactivated": True}
    for issued in tokens:
        assert client.get("/notes", headers=bearer(issued.token)).status_code == 401
    assert alice.create("fresh").status_code == 201
    events = {e["event"]: e for e in audit_events(caplog)}
    assert events["owner_deactivated"]["actor"] == "admin:root"
    assert events["owner_deactivated"]["revoked"] == 2
    assert events["owner_revoked"]["actor"] == "admin:root"
    assert events["owner_reactivated"]["actor"] == "admin:root"


def test_rotating_a_live_token_of_an_inactive_owner_is_owner_inactive(app: Flask, guard: TokenGuard) -> None:
    """A token made live again behind the guard's back (a race with a re-approval): still refused."""
    issued = guard.create_token("alice", "a")
    guard.deactivate_owner("alice")
    guard.store.update(issued.info.id, {"revoked_at": None})
    alice = Browser(app, "alice")
    rotated = alice.write("POST", f"{API}/{issued.info.id}/rotate")
    assert rotated.status_code == 403 and rotated.json["error"] == "owner_inactive"
    page = alice.form(f"{PAGE}/{issued.info.id}/rotate", {"hint": issued.info.hint})
    assert page.status_code == 403 and b"deactivated" in page.data
    assert page.headers["Content-Type"].startswith("text/html")


def test_an_owner_with_a_slash_in_their_id(root: Browser, guard: TokenGuard) -> None:
    guard.create_token("team/ops", "t")
    response = root.write("POST", f"{ADMIN_API}/owners/team%2Fops/deactivate")
    assert response.status_code == 200 and response.json["owner"] == "team/ops"
    assert guard.is_owner_active("team/ops") is False


# -- the page -------------------------------------------------------------------------------------


def test_page_anonymous_non_admin_and_admin(app: Flask, root: Browser, guard: TokenGuard) -> None:
    guard.create_token("alice", "alice's <b>token</b>")
    anonymous = app.test_client().get(ADMIN_PAGE)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    refused = Browser(app, "alice").client.get(ADMIN_PAGE)
    assert refused.status_code == 403 and b"administer" in refused.data
    page = root.client.get(ADMIN_PAGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "alice&#39;s &lt;b&gt;token&lt;/b&gt;" in html and "<b>token</b>" not in html
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
    assert '<html lang="en">' in html and "Signed in as <strong>root</strong>" in html


def test_page_login_url_sends_to_sign_in_with_next(guard: TokenGuard) -> None:
    app = make_app(guard, can_administer=admins, login_url="/login")
    response = app.test_client().get(ADMIN_PAGE)
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/settings/tokens/admin"


def test_page_filters_sort_links_and_pages(root: Browser, guard: TokenGuard, clock: Clock) -> None:
    for number in range(120):
        guard.create_token("alice" if number % 2 else "bob", f"t{number:03d}")
        clock.advance(seconds=1)
    html = root.client.get(ADMIN_PAGE, query_string={"sort": "name"}).get_data(as_text=True)
    assert html.count('class="status-active"') == 50 and "t000" in html and "t050" not in html
    assert "Page 1 of 3" in html and 'href="/settings/tokens/admin?sort=name&amp;page=2"' in html
    assert 'href="/settings/tokens/admin?sort=-name"' in html  # the column sorted: the other way
    filtered = root.client.get(ADMIN_PAGE, query_string={"owner": "alice", "page": "2"})
    text = filtered.get_data(as_text=True)
    assert "Page 2 of 2" in text and "t000" not in text and "60 tokens" in text
    assert "/owners/alice/deactivate" in text
    bad = root.client.get(ADMIN_PAGE, query_string={"status": "gone"})
    assert bad.status_code == 400 and b"Choose a status from the list." in bad.data


def marked_soon(page: str) -> dict[str, bool]:
    """Each row's token name: does its row carry the "expires soon" mark (class and badge)?"""
    marks = {}
    for row in re.findall(r"<tr id=\"token-.*?</tr>", page, re.S):
        name = re.search(r'class="token-name">([^<]*)<', row)
        assert name is not None
        badge = '<span class="badge expiring">expires soon</span>' in row
        assert badge == ("expires-soon" in row.split(">", 1)[0]), row
        marks[name.group(1)] = badge
    return marks


def test_page_marks_the_active_tokens_that_expire_within_7_days(
        root: Browser, guard: TokenGuard, clock: Clock) -> None:
    guard.create_token("alice", "in 7 days", expires_in=timedelta(days=7))
    guard.create_token("bob", "in 8 days", expires_in=timedelta(days=8))
    guard.create_token("bob", "in 90 days", expires_in=timedelta(days=90))
    guard.create_token("carol", "never", expires_in=None)
    guard.revoke(guard.create_token("carol", "revoked, in 1 day", expires_in=timedelta(days=1)).info.id)
    guard.create_token("alice", "expired", expires_in=timedelta(seconds=1))
    clock.advance(seconds=1)
    assert marked_soon(root.client.get(ADMIN_PAGE).get_data(as_text=True)) == {
        "in 7 days": True, "in 8 days": False, "in 90 days": False, "never": False,
        "revoked, in 1 day": False, "expired": False}
    clock.advance(days=1, seconds=-1)  # 8 days was 7 days to the second
    marks = marked_soon(root.client.get(ADMIN_PAGE, query_string={"owner": "bob"}).get_data(as_text=True))
    assert marks == {"in 8 days": True, "in 90 days": False}


def test_asgi_page_marks_what_expires_soon(asgi: TestClient, guard: TokenGuard) -> None:
    guard.create_token("alice", "in 2 days", expires_in=timedelta(days=2))
    guard.create_token("bob", "in 30 days", expires_in=timedelta(days=30))
    asgi.get("/login/root")
    assert marked_soon(asgi.get(ADMIN_PAGE).text) == {"in 2 days": True, "in 30 days": False}


def test_page_revoke_delete_and_deactivate_with_csrf(
    root: Browser, guard: TokenGuard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT)
    one = guard.create_token("alice", "one").info.id
    two = guard.create_token("alice", "two").info.id
    client = root.client
    no_csrf = client.post(f"{ADMIN_PAGE}/tokens/{one}/revoke", data={}, headers={"Origin": ORIGIN})
    assert no_csrf.status_code == 403 and guard.get_token(one).status == "active"
    csrf = page_csrf(root)
    revoked = client.post(f"{ADMIN_PAGE}/tokens/{one}/revoke",
                          data={"csrf_token": csrf, "back": "owner=alice&sort=name&evil=1"},
                          headers={"Origin": ORIGIN})
    assert revoked.status_code == 303
    assert revoked.headers["Location"] == "/settings/tokens/admin?owner=alice&sort=name"
    assert guard.get_token(one).status == "revoked"
    assert "Revoked “one” of alice." in client.get(revoked.headers["Location"]).get_data(as_text=True)
    confirm = client.post(f"{ADMIN_PAGE}/tokens/{two}/delete", data={"csrf_token": csrf},
                          headers={"Origin": ORIGIN})
    assert confirm.status_code == 200 and b'name="confirm" value="yes"' in confirm.data
    assert guard.get_token(two)
    deleted = client.post(f"{ADMIN_PAGE}/tokens/{two}/delete", data={"csrf_token": csrf, "confirm": "yes"},
                          headers={"Origin": ORIGIN})
    assert deleted.status_code == 303 and len(guard.list_tokens("alice")) == 1
    off = client.post(f"{ADMIN_PAGE}/owners/alice/deactivate", data={"csrf_token": csrf},
                      headers={"Origin": ORIGIN})
    assert off.status_code == 303 and not guard.is_owner_active("alice")
    html = client.get(f"{ADMIN_PAGE}?owner=alice").get_data(as_text=True)
    assert "/owners/alice/reactivate" in html and "deactivated" in html
    on = client.post(f"{ADMIN_PAGE}/owners/alice/reactivate", data={"csrf_token": csrf},
                     headers={"Origin": ORIGIN})
    assert on.status_code == 303 and guard.is_owner_active("alice")
    assert client.post(f"{ADMIN_PAGE}/tokens/nope/revoke", data={"csrf_token": csrf},
                       headers={"Origin": ORIGIN}).status_code == 404
    actors = {(e["event"], e["actor"]) for e in audit_events(caplog) if "actor" in e}
    assert {("token_revoked", "admin:root"), ("token_deleted", "admin:root"),
            ("owner_deactivated", "admin:root"), ("owner_reactivated", "admin:root")} <= actors


def test_the_settings_page_refuses_an_inactive_owner_with_403(app: Flask, guard: TokenGuard) -> None:
    guard.deactivate_owner("alice")
    alice = Browser(app, "alice")
    response = alice.form(PAGE, {"name": "again", "permission": "read", "expires": "30"})
    assert response.status_code == 403
    assert b"deactivated" in response.data
    assert guard.list_tokens("alice") == []


def test_the_settings_page_answers_403_to_an_inactive_owners_reapprove(app: Flask, guard: TokenGuard) -> None:
    token_id = guard.create_token("alice", "a").info.id
    guard.deactivate_owner("alice")
    response = Browser(app, "alice").form(f"{PAGE}/{token_id}/reapprove", {})
    assert response.status_code == 403 and b"deactivated" in response.data
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert guard.get_token(token_id).status == "revoked"


# -- Starlette: the same through the middleware ---------------------------------------------------


async def sign_in(request: Request) -> PlainTextResponse:
    request.session["user"] = request.path_params["user"]
    return PlainTextResponse("signed in")


@pytest.fixture
def asgi(guard: TokenGuard) -> Iterator[TestClient]:
    app = Starlette(routes=[Route("/login/{user}", sign_in)], middleware=[
        Middleware(SessionMiddleware, secret_key=secrets.token_hex(16)),
        Middleware(TokenGuardMiddleware, guard=guard, can_administer=admins,
                   owner_loader=lambda request: request.session.get("user"))])
    with TestClient(app) as client:
        yield client


def test_asgi_admin_api_and_page(asgi: TestClient, guard: TokenGuard) -> None:
    target = guard.create_token("alice", "a").info.id
    assert asgi.get(f"{ADMIN_API}/tokens").status_code == 401
    asgi.get("/login/alice")
    assert asgi.get(f"{ADMIN_API}/tokens").status_code == 403
    assert asgi.get(ADMIN_PAGE).status_code == 403
    asgi.get("/login/root")
    body = asgi.get(f"{ADMIN_API}/tokens", params={"owner": "alice"})
    assert body.status_code == 200 and body.json()["total"] == 1
    csrf = body.headers["x-csrf-token"]
    origin = {"Origin": "http://testserver"}
    assert asgi.post(f"{ADMIN_API}/tokens/{target}/revoke", headers=origin).status_code == 403
    revoked = asgi.post(f"{ADMIN_API}/tokens/{target}/revoke", headers={"X-CSRF-Token": csrf, **origin})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    off = asgi.post(f"{ADMIN_API}/owners/alice/deactivate", headers={"X-CSRF-Token": csrf, **origin})
    assert off.json() == {"owner": "alice", "active": False, "revoked": 0}
    page = asgi.get(ADMIN_PAGE)
    assert page.status_code == 200 and "/owners/alice/reactivate" in page.text
    asgi.get("/login/alice")
    created = asgi.post(API, json={"name": "x"}, headers={
        "X-CSRF-Token": asgi.get(API).headers["x-csrf-token"], **origin})
    assert created.status_code == 403 and created.json()["error"] == "owner_inactive"


def test_asgi_page_forms_with_csrf(asgi: TestClient, guard: TokenGuard) -> None:
    target = guard.create_token("alice", "a").info.id
    asgi.get("/login/root")
    match = _META_CSRF.search(asgi.get(ADMIN_PAGE).text)
    assert match is not None
    origin = {"Origin": "http://testserver"}
    refused = asgi.post(f"{ADMIN_PAGE}/tokens/{target}/revoke", data={}, headers=origin,
                        follow_redirects=False)
    assert refused.status_code == 403 and guard.get_token(target).status == "active"
    revoked = asgi.post(f"{ADMIN_PAGE}/tokens/{target}/revoke", data={"csrf_token": match.group(1)},
                        headers=origin, follow_redirects=False)
    assert revoked.status_code == 303 and revoked.headers["location"] == ADMIN_PAGE
    off = asgi.post(f"{ADMIN_PAGE}/owners/alice/deactivate", data={"csrf_token": match.group(1),
                    "back": "owner=alice"}, headers=origin, follow_redirects=False)
    assert off.status_code == 303 and off.headers["location"] == f"{ADMIN_PAGE}?owner=alice"
    assert "Deactivated alice: 0 token(s) revoked." in asgi.get(off.headers["location"]).text
    assert guard.is_owner_active("alice") is False
