"""Flask, Starlette and FastAPI answer identically: the same requests through every adapter, on one guard.

Each case is sent to a Flask app (``FlaskTokenGuard`` and ``require_scope``), a
Starlette app (``TokenGuardMiddleware`` and ``require_scope``) and a FastAPI app
(the middleware and the ``current_token`` / ``token_for_project`` dependencies)
with the same routes, and the responses are compared: status, the headers that
carry meaning, and the body. Every case also states what the answer must be,
so adapters that are wrong the same way still fail.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Protocol

import pytest
from fastapi import FastAPI, Security
from flask import Flask, request, session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import tokenguard_asgi
import tokenguard_flask
from _reserved_ids import token_under_reserved_id
from tokenguard import MemoryStore, StoreUnavailable, TokenGuard, TokenInfo, TokenRecord, ValidationError
from tokenguard_asgi.fastapi import current_token, token_for_project

COMPARED_HEADERS = (
    "www-authenticate", "content-type", "cache-control", "pragma", "x-content-type-options",
    "retry-after", "allow", "location", "content-security-policy", "x-frame-options", "referrer-policy",
)
ORIGIN = "http://localhost"


class SwitchableStore(MemoryStore):
    """A memory store that can be made unreachable, as a database whose connection dropped."""

    down = False

    def find(self, digest: str) -> TokenRecord | None:
        if self.down:
            raise StoreUnavailable("connection refused")
        return super().find(digest)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    csrf: str | None = None


class Adapter(Protocol):
    name: str

    def send(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> Answer: ...


def normalised(status: int, header_items: list[tuple[str, str]], raw: bytes) -> Answer:
    lowered = [(k.lower(), v) for k, v in header_items]
    headers = {name: ", ".join(v for k, v in lowered if k == name) for name in COMPARED_HEADERS
               if any(k == name for k, _ in lowered)}
    content_type = headers.get("content-type", "")
    body: Any = json.loads(raw) if content_type.startswith("application/json") and raw else raw.decode()
    csrf = next((v for k, v in lowered if k == "x-csrf-token"), None)
    return Answer(status, headers, body, csrf)


# -- the two apps ---------------------------------------------------------------------------------


def build_flask(guard: TokenGuard) -> Flask:
    app = Flask("parity")
    app.secret_key = secrets.token_hex(16)
    tokenguard_flask.FlaskTokenGuard(app, guard, owner_loader=lambda: session.get("user"))
    current = tokenguard_flask.current_token

    @app.get("/login/<user>")
    def login(user: str) -> str:
        session["user"] = user
        return "signed in"

    @app.get("/notes")
    @tokenguard_flask.require_scope("read")
    def read_notes() -> Any:
        return {"owner": current.owner}

    @app.post("/notes")
    @tokenguard_flask.require_scope("write")
    def write_notes() -> Any:
        return {"owner": current.owner}, 201

    @app.get("/projects/<project>/notes")
    @tokenguard_flask.require_scope("read", project_from="project")
    def project_notes(project: str) -> Any:
        return {"project": project}

    @app.get("/any")
    @tokenguard_flask.require_scope
    def any_token() -> Any:
        return {"owner": current.owner}

    @app.get("/public")
    def public() -> Any:
        return {"public": True}

    @app.get("/publish/<project>")
    @tokenguard_flask.require_scope("read")
    def publish(project: str) -> Any:
        guard.require(current._get_current_object(), "write", project=project)  # type: ignore[attr-defined]
        return {"published": project}

    @app.get("/verify")
    def verify() -> Any:  # a token from elsewhere, checked by the app's own code
        return {"owner": guard.authenticate(request.headers.get("X-Other-Token", "")).owner}

    return app


def build_asgi(guard: TokenGuard) -> Starlette:
    require_scope = tokenguard_asgi.require_scope

    async def login(request: Request) -> PlainTextResponse:
        request.session["user"] = request.path_params["user"]
        return PlainTextResponse("signed in")

    @require_scope("read")
    async def read_notes(request: Request) -> JSONResponse:
        return JSONResponse({"owner": request.auth.token.owner})

    @require_scope("write")
    def write_notes(request: Request) -> JSONResponse:
        return JSONResponse({"owner": request.auth.token.owner}, status_code=201)

    @require_scope("read", project_from="project")
    async def project_notes(request: Request) -> JSONResponse:
        return JSONResponse({"project": request.path_params["project"]})

    @require_scope
    async def any_token(request: Request) -> JSONResponse:
        return JSONResponse({"owner": request.auth.token.owner})

    async def public(request: Request) -> JSONResponse:
        return JSONResponse({"public": True})

    @require_scope("read")
    async def publish(request: Request) -> JSONResponse:
        project = request.path_params["project"]
        guard.require(request.auth.token, "write", project=project)
        return JSONResponse({"published": project})

    def verify(request: Request) -> JSONResponse:
        return JSONResponse({"owner": guard.authenticate(request.headers.get("X-Other-Token", "")).owner})

    return Starlette(
        routes=[Route("/login/{user}", login), Route("/notes", read_notes, methods=["GET"]),
                Route("/notes", write_notes, methods=["POST"]),
                Route("/projects/{project}/notes", project_notes), Route("/any", any_token),
                Route("/public", public), Route("/publish/{project}", publish), Route("/verify", verify)],
        middleware=[Middleware(SessionMiddleware, secret_key=secrets.token_hex(16)),
                    Middleware(tokenguard_asgi.TokenGuardMiddleware, guard=guard,
                               owner_loader=lambda request: request.session.get("user"))],
    )


Reader = Annotated[TokenInfo, Security(current_token, scopes=["read"])]


def build_fastapi(guard: TokenGuard) -> FastAPI:
    app = FastAPI(openapi_url=None)

    @app.get("/login/{user}")
    def login(user: str, request: Request) -> PlainTextResponse:
        request.session["user"] = user
        return PlainTextResponse("signed in")

    @app.get("/notes")
    def read_notes(token: Reader) -> dict[str, str]:
        return {"owner": token.owner}

    @app.post("/notes", status_code=201)
    def write_notes(token: Annotated[TokenInfo, Security(current_token, scopes=["write"])]) -> dict[str, str]:
        return {"owner": token.owner}

    @app.get("/projects/{project}/notes")
    def project_notes(project: str, token: Annotated[TokenInfo, Security(
            token_for_project("project"), scopes=["read"])]) -> dict[str, str]:
        return {"project": project}

    @app.get("/any")
    def any_token(token: Annotated[TokenInfo, Security(current_token)]) -> dict[str, str]:
        return {"owner": token.owner}

    @app.get("/public")
    def public() -> dict[str, bool]:
        return {"public": True}

    @app.get("/publish/{project}")
    def publish(project: str, token: Reader) -> dict[str, str]:
        guard.require(token, "write", project=project)
        return {"published": project}

    @app.get("/verify")
    def verify(request: Request) -> dict[str, str]:
        return {"owner": guard.authenticate(request.headers.get("X-Other-Token", "")).owner}

    app.add_middleware(tokenguard_asgi.TokenGuardMiddleware, guard=guard,
                       owner_loader=lambda request: request.session.get("user"))
    app.add_middleware(SessionMiddleware, secret_key=secrets.token_hex(16))
    return app


class FlaskAdapter:
    name = "flask"

    def __init__(self, guard: TokenGuard) -> None:
        self.client = build_flask(guard).test_client()

    def send(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
        response = self.client.open(path, method=method, headers=headers, data=body)
        return normalised(response.status_code, list(response.headers.items()), response.get_data())


class AsgiAdapter:
    name = "asgi"

    def __init__(self, guard: TokenGuard) -> None:
        self.client = TestClient(build_asgi(guard), base_url=ORIGIN, follow_redirects=False)

    def send(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
        response = self.client.request(method, path, headers=headers, content=body)
        return normalised(response.status_code, list(response.headers.multi_items()), response.content)


class FastApiAdapter(AsgiAdapter):
    name = "fastapi"

    def __init__(self, guard: TokenGuard) -> None:
        self.client = TestClient(build_fastapi(guard), base_url=ORIGIN, follow_redirects=False)


# -- fixtures -----------------------------------------------------------------------------------


@dataclass
class World:
    guard: TokenGuard
    store: SwitchableStore
    now: list[datetime]
    adapters: list[Adapter] = field(default_factory=list)

    def token(self, *scopes: str, owner: str = "alice", **options: Any) -> str:
        return self.guard.create_token(owner, f"t{secrets.token_hex(3)}", scopes=list(scopes) or None,
                                       **options).token

    def both(self, method: str, path: str, headers: list[tuple[str, str]] | None = None,
             body: bytes = b"") -> Answer:
        """Send to every adapter, require identical answers, return the answer."""
        answers = {a.name: a.send(method, path, list(headers or []), body) for a in self.adapters}
        flask = answers["flask"]
        for name, other in answers.items():
            assert (other.status, other.headers, other.body) == (flask.status, flask.headers,
                                                                 flask.body), name
            assert (other.csrf is None) == (flask.csrf is None), name
        return flask


@pytest.fixture
def world() -> Iterator[World]:
    store = SwitchableStore()
    now = [datetime.now(UTC).replace(microsecond=0)]
    guard = TokenGuard(store, secret_key=secrets.token_bytes(32), clock=lambda: now[0],
                       max_tokens_per_owner=None, load_entry_points=False)
    built = World(guard, store, now)
    built.adapters = [FlaskAdapter(guard), AsgiAdapter(guard), FastApiAdapter(guard)]
    yield built
    guard.close()


@pytest.fixture(params=["flask", "asgi", "fastapi"])
def adapter(request: pytest.FixtureRequest, world: World) -> Adapter:
    """Each adapter on its own, for the expectations stated per adapter."""
    return next(a for a in world.adapters if a.name == request.param)


def bearer(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}")]


REALM = 'Bearer realm="api"'
MALFORMED = 'Bearer realm="api", error="invalid_request", error_description="the credentials are malformed"'
INVALID = ('Bearer realm="api", error="invalid_token", '
           'error_description="the access token is invalid, expired or revoked"')


def insufficient(scope: str) -> str:
    return ('Bearer realm="api", error="insufficient_scope", '
            f'error_description="the access token lacks the required scope", scope="{scope}"')


# -- protected endpoints ---------------------------------------------------------------------------


def test_no_credentials(world: World) -> None:
    answer = world.both("GET", "/notes")
    assert (answer.status, answer.headers["www-authenticate"]) == (401, REALM)
    assert answer.body == {"error": "unauthorized",
                           "error_description": "this endpoint requires an API token"}
    assert answer.headers["cache-control"] == "no-store"


def test_valid_token_in_either_header(world: World) -> None:
    token = world.token("read")
    assert world.both("GET", "/notes", bearer(token)).body == {"owner": "alice"}
    assert world.both("GET", "/notes", [("Api-Token", token)]).body == {"owner": "alice"}
    assert world.both("GET", "/notes", [("Authorization", f"bearer secret-token:{token}")]).status == 200
    assert world.both("GET", "/any", [("Api-Token", token)]).body == {"owner": "alice"}


@pytest.mark.parametrize("headers", [
    [("Authorization", "Bearer")],
    [("Authorization", "Bearer a b")],
    [("Api-Token", "a,b")],
    [("Authorization", "Bearer tg_a"), ("Authorization", "Bearer tg_a")],
    [("Authorization", "Bearer tg_a"), ("Api-Token", "tg_a")],
    [("Api-Token", "tg_a"), ("Api-Token", "tg_b")],
    [("Authorization", "Basic YTpi"), ("Authorization", "Bearer tg_a")],
    [("Authorization", "Bearer tg_a"), ("Authorization", "Basic YTpi")],
], ids=["bare-bearer", "two-words", "bad-characters", "two-authorization", "both-headers", "two-api-token",
        "basic-then-bearer", "bearer-then-basic"])
def test_malformed_or_duplicated_credentials(world: World, headers: list[tuple[str, str]]) -> None:
    answer = world.both("GET", "/notes", headers)
    assert (answer.status, answer.headers["www-authenticate"]) == (400, MALFORMED)
    assert answer.body["error"] == "invalid_request"


def test_invalid_revoked_and_expired_tokens(world: World) -> None:
    revoked = world.guard.create_token("alice", "gone", scopes=["read"])
    world.guard.revoke(revoked.info.id)
    expiring = world.token("read", expires_in=timedelta(minutes=5))
    for token in ("tg_" + "A" * 38, "garbage", revoked.token):
        answer = world.both("GET", "/notes", bearer(token))
        assert (answer.status, answer.headers["www-authenticate"]) == (401, INVALID)
    assert world.both("GET", "/notes", bearer(expiring)).status == 200
    world.now[0] += timedelta(minutes=5)
    assert world.both("GET", "/notes", bearer(expiring)).headers["www-authenticate"] == INVALID


def test_query_string_is_never_read(world: World) -> None:
    token = world.token("read")
    answer = world.both("GET", f"/notes?access_token={token}&api_token={token}")
    assert (answer.status, answer.headers["www-authenticate"]) == (401, REALM)


def test_other_scheme_is_no_token(world: World) -> None:
    assert world.both("GET", "/notes", [("Authorization", "Basic YTpi")]).headers["www-authenticate"] == REALM


def test_missing_scope_and_project(world: World) -> None:
    read = world.token("read")
    answer = world.both("POST", "/notes", bearer(read))
    assert (answer.status, answer.headers["www-authenticate"]) == (403, insufficient("write"))
    assert answer.body["scope"] == "write"
    assert world.both("POST", "/notes", bearer(world.token("write"))).status == 201
    alpha = world.token("read", projects=["alpha"])
    assert world.both("GET", "/projects/alpha/notes", bearer(alpha)).body == {"project": "alpha"}
    denied = world.both("GET", "/projects/beta/notes", bearer(alpha))
    assert (denied.status, denied.headers["www-authenticate"]) == (403, insufficient("read"))


def test_store_down_fails_closed(world: World) -> None:
    token = world.token("read")
    world.store.down = True
    answer = world.both("GET", "/notes", bearer(token))
    assert (answer.status, answer.headers["retry-after"]) == (503, "5")
    assert answer.body["error"] == "temporarily_unavailable"
    assert world.both("GET", "/notes").status == 401


# -- refusals the app raises itself ----------------------------------------------------------------


def test_guard_require_in_the_apps_own_view_is_the_answer_require_scope_gives(world: World) -> None:
    """Round 2: ``guard.require`` inside a view is a 403 naming the scope, never a 500."""
    reader, alpha_writer = world.token("read"), world.token("write", projects=["alpha"])
    refused = world.both("GET", "/publish/alpha", bearer(reader))
    assert (refused.status, refused.headers["www-authenticate"]) == (403, insufficient("write"))
    assert refused.body == {"error": "insufficient_scope", "scope": "write",
                            "error_description": "the access token lacks the required scope"}
    assert refused == world.both("POST", "/notes", bearer(reader))  # require_scope("write")'s own answer
    elsewhere = world.both("GET", "/publish/beta", bearer(alpha_writer))
    assert (elsewhere.status, elsewhere.headers["www-authenticate"]) == (403, insufficient("write"))
    assert world.both("GET", "/publish/alpha", bearer(alpha_writer)).body == {"published": "alpha"}


def test_authentication_errors_and_a_store_down_raised_by_the_apps_own_code(world: World) -> None:
    """``guard.authenticate`` in a view: 401 and 503 exactly as for the request's own token."""
    garbage = "tg_" + "A" * 38
    invalid = world.both("GET", "/verify", [("X-Other-Token", garbage)])
    assert (invalid.status, invalid.headers["www-authenticate"]) == (401, INVALID)
    assert invalid == world.both("GET", "/notes", bearer(garbage))
    assert world.both("GET", "/verify", [("X-Other-Token", world.token("read"))]).body == {"owner": "alice"}
    stranger = TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False)
    unseen = stranger.create_token("mallory", "elsewhere").token  # well formed: only the store can tell
    world.store.down = True
    down = world.both("GET", "/verify", [("X-Other-Token", unseen)])
    assert (down.status, down.headers["retry-after"]) == (503, "5")
    assert down.body["error"] == "temporarily_unavailable"
    assert down == world.both("GET", "/notes", bearer(unseen))


# -- unprotected endpoints -----------------------------------------------------------------------


def test_unprotected_endpoint_without_credentials(world: World) -> None:
    assert world.both("GET", "/public").body == {"public": True}


def test_unprotected_endpoint_with_bad_credentials(world: World) -> None:
    world.both("GET", "/public", bearer("tg_" + "B" * 38))


def test_bad_credentials_on_unprotected_endpoint_per_adapter(adapter: Adapter) -> None:
    """Both adapters refuse bad credentials on every path (RFC 6750 §3.1)."""
    answer = adapter.send("GET", "/public", bearer("tg_" + "B" * 38), b"")
    assert (answer.status, answer.headers["www-authenticate"]) == (401, INVALID)


# -- management API -------------------------------------------------------------------------------


def test_management_api_with_a_token(world: World) -> None:
    manager = world.token("management", owner="bob")
    listing = world.both("GET", "/api/tokens", bearer(manager))
    assert listing.status == 200 and listing.csrf is None
    assert [t["owner"] for t in listing.body["tokens"]] == ["bob"]
    read_only = world.both("GET", "/api/tokens", bearer(world.token("read", owner="bob")))
    assert (read_only.status, read_only.headers["www-authenticate"]) == (403, insufficient("management"))
    minting = world.both("POST", "/api/tokens", [*bearer(manager), ("Content-Type", "application/json")],
                         b'{"name": "minted", "scopes": ["read"]}')
    assert minting.status == 403
    token_id = listing.body["tokens"][0]["id"]
    assert world.both("GET", f"/api/tokens/{token_id}", bearer(manager)).body["id"] == token_id
    stranger = world.guard.create_token("carol", "theirs", scopes=["read"]).info.id
    assert world.both("GET", f"/api/tokens/{stranger}", bearer(manager)).status == 404


def test_management_api_errors(world: World) -> None:
    assert world.both("GET", "/api/tokens").headers["www-authenticate"] == REALM
    not_allowed = world.both("PUT", "/api/tokens")
    assert (not_allowed.status, not_allowed.headers["allow"]) == (405, "GET, POST")
    assert world.both("GET", "/api/tokens/a/b/c").status == 404
    assert world.both("GET", "/api/tokens/openapi.json").body["openapi"].startswith("3.")
    too_large = world.both("POST", "/api/tokens", [("Content-Type", "application/json")],
                           b"{" + b" " * (70 * 1024) + b"}")
    assert (too_large.status, too_large.body["error"]) == (413, "request_too_large")


@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "TRACE", "PROPFIND"])
@pytest.mark.parametrize(("path", "allow"), [
    ("/api/tokens", "GET, POST"), ("/api/tokens/x", "DELETE, GET, PATCH"), ("/settings/tokens", "GET, POST"),
])
def test_other_methods_on_the_mount_points_are_the_web_layers_405(world: World, method: str, path: str,
                                                                    allow: str) -> None:
    answer = world.both(method, path)
    assert (answer.status, answer.headers["allow"]) == (405, allow)


@pytest.mark.parametrize("token_id", ["introspect", "revoke"])
def test_a_token_whose_id_names_an_api_route_stays_reachable(world: World, token_id: str) -> None:
    """POST /introspect and /revoke are no token's; GET, PATCH and DELETE of the id are.

    The id is reserved now; a token made under it before stays manageable.
    """
    token_under_reserved_id(world.guard, "alice", "named like a route", token_id)
    manager = bearer(world.token("management"))
    path = f"/api/tokens/{token_id}"
    assert world.both("GET", path, manager).body["id"] == token_id
    renamed = world.both("PATCH", path, [*manager, ("Content-Type", "application/json")], b'{"name": "n"}')
    assert renamed.body["name"] == "n"
    first, *others = world.adapters
    assert first.send("DELETE", path, manager, b"").status == 204  # one guard: the others find it gone
    assert [other.send("DELETE", path, manager, b"").status for other in others] == [404, 404]
    assert world.both("GET", path, manager).status == 404


def test_revocation_and_introspection_by_value(world: World) -> None:
    leaked = world.guard.create_token("alice", "leaked", scopes=["read"])
    form = [("Content-Type", "application/x-www-form-urlencoded")]
    introspected = world.both("POST", "/api/tokens/introspect", [*form, *bearer(world.token("management"))],
                              f"token={leaked.token}".encode())
    assert introspected.body["active"] is True
    for adapter in world.adapters:  # headers compared in test_empty_bodies_carry_no_content_type
        answer = adapter.send("POST", "/api/tokens/revoke", form, f"token={leaked.token}".encode())
        assert (answer.status, answer.body) == (200, "")
    assert world.guard.get_token(leaked.info.id).status == "revoked"
    assert world.both("GET", "/notes", bearer(leaked.token)).headers["www-authenticate"] == INVALID


def test_signed_in_browser(world: World) -> None:
    for adapter in world.adapters:
        adapter.send("GET", "/login/alice", [], b"")
    listing = world.both("GET", "/api/tokens")
    assert listing.status == 200 and listing.csrf is not None
    json_headers = [("Content-Type", "application/json"), ("Origin", ORIGIN)]
    refused = world.both("POST", "/api/tokens", json_headers, b'{"name": "x", "scopes": ["read"]}')
    assert (refused.status, refused.body["error"]) == (403, "csrf_failed")
    bad_field = world.both("POST", "/api/tokens", [*json_headers, ("X-CSRF-Token", "forged")], b"{}")
    assert bad_field.status == 403
    page = world.both("GET", "/settings/tokens/nowhere/at/all")
    assert page.status == 404


def test_settings_page_for_nobody(world: World) -> None:
    answer = world.both("GET", "/settings/tokens")
    assert answer.status == 401
    assert answer.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_settings_page_signed_in_differs_only_in_its_one_time_values(world: World) -> None:
    bodies = []
    for adapter in world.adapters:
        adapter.send("GET", "/login/alice", [], b"")
        answer = adapter.send("GET", "/settings/tokens", [], b"")
        assert answer.status == 200
        bodies.append((answer.headers, _without_csrf(answer.body)))
    assert bodies[0] == bodies[1]


def test_creating_a_token_on_the_settings_page(world: World) -> None:
    answers = []
    for adapter in world.adapters:
        adapter.send("GET", "/login/alice", [], b"")
        page = adapter.send("GET", "/settings/tokens", [], b"").body
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf is not None
        form = f"name=from+the+page&permission=write&expires=30&csrf_token={csrf.group(1)}".encode()
        answers.append(adapter.send("POST", "/settings/tokens", [
            ("Content-Type", "application/x-www-form-urlencoded"), ("Origin", ORIGIN)], form))
    flask, *others = answers
    assert all((other.status, other.headers) == (flask.status, flask.headers) for other in others)
    assert flask.status == 200 and "no-store" in flask.headers["cache-control"]
    for answer in answers:
        shown = re.search(r'id="new-token"[^>]*>(tg_[0-9A-Za-z]+)<', answer.body)
        assert shown is not None, "the new secret is shown once"
        assert world.both("POST", "/notes", [("Api-Token", shown.group(1))]).status == 201


def _without_csrf(html: str) -> str:
    """The page without its per-rendering values: the CSRF token and the create form's nonce."""
    return re.sub(r'(name="(?:csrf[-_]token|form_nonce)" (?:value|content)=")[^"]+"', r'\1…"', html)


def test_cases_cover_every_status_of_the_contract(world: World) -> None:
    seen = {world.both("GET", "/notes").status,
            world.both("GET", "/notes", [("Authorization", "Bearer")]).status,
            world.both("POST", "/notes", bearer(world.token("read"))).status,
            world.both("GET", "/notes", bearer(world.token("read"))).status}
    token = world.token("read")
    world.store.down = True
    seen.add(world.both("GET", "/notes", bearer(token)).status)
    assert seen == {200, 400, 401, 403, 503}



def test_empty_bodies_carry_no_content_type(world: World) -> None:
    form = [("Content-Type", "application/x-www-form-urlencoded")]
    world.both("POST", "/api/tokens/revoke", form, b"token=tg_unknown")


def test_a_scope_the_guard_does_not_configure_is_the_apps_error_on_both_adapters() -> None:
    """``require_scope("wrte")``: a 500 and a clear exception, never a token blamed with 401 or 403."""
    guard = TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False)
    token = guard.create_token("alice", "m", scopes=["management"]).token
    flask_app = Flask("typo")
    flask_app.testing = True  # the exception reaches the test; below, production's 500
    tokenguard_flask.FlaskTokenGuard(flask_app, guard)

    @flask_app.get("/typo")
    @tokenguard_flask.require_scope("wrte")
    def flask_typo() -> Any:
        return {"ok": True}

    @tokenguard_asgi.require_scope("wrte")
    async def asgi_typo(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    asgi_app = Starlette(routes=[Route("/typo", asgi_typo)],
                         middleware=[Middleware(tokenguard_asgi.TokenGuardMiddleware, guard=guard)])
    headers = {"Authorization": f"Bearer {token}"}
    with pytest.raises(ValidationError, match=r"unknown scope 'wrte'.*read, write, management"):
        flask_app.test_client().get("/typo", headers=headers)
    with pytest.raises(ValidationError, match="unknown scope 'wrte'"):
        TestClient(asgi_app).get("/typo", headers=headers)
    flask_app.testing = False
    assert flask_app.test_client().get("/typo", headers=headers).status_code == 500
    quiet = TestClient(asgi_app, raise_server_exceptions=False)
    assert quiet.get("/typo", headers=headers).status_code == 500
