"""TokenGuardMiddleware and require_scope through Starlette's TestClient: every status, exact headers."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.authentication import SimpleUser, requires
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from _hooks import RemoteRecorder
from tokenguard import (
    InsufficientScope,
    MemoryStore,
    RevokedToken,
    StoreUnavailable,
    TokenGuard,
    ValidationError,
)
from tokenguard._clock import utcnow
from tokenguard.errors import MissingCredentials
from tokenguard_asgi import TokenCredentials, TokenGuardMiddleware, TokenPrincipal, TokenUser, require_scope

REALM_ONLY = 'Bearer realm="api"'
MALFORMED = 'Bearer realm="api", error="invalid_request", error_description="the credentials are malformed"'
INVALID = ('Bearer realm="api", error="invalid_token", '
           'error_description="the access token is invalid, expired or revoked"')
INSUFFICIENT_WRITE = ('Bearer realm="api", error="insufficient_scope", '
                      'error_description="the access token lacks the required scope", scope="write"')


def described(request: Request) -> dict[str, Any]:
    token = request.auth.token if isinstance(request.auth, TokenCredentials) else None
    return {
        "owner": token.owner if token else None,
        "scopes": request.auth.scopes,
        "user": request.user.display_name,
        "authenticated": request.user.is_authenticated,
    }


@require_scope("read")
async def read_notes(request: Request) -> JSONResponse:
    return JSONResponse(described(request))


@require_scope("write")
def write_notes(request: Request) -> JSONResponse:
    return JSONResponse(described(request), status_code=201)


@require_scope
async def any_token(request: Request) -> JSONResponse:
    return JSONResponse(described(request))


@require_scope("read", project_from="project")
async def project_notes(request: Request) -> JSONResponse:
    return JSONResponse({"project": request.path_params["project"]})


async def public(request: Request) -> JSONResponse:
    return JSONResponse(described(request))


@requires("write")
async def starlette_requires(request: Request) -> PlainTextResponse:
    return PlainTextResponse("written")


class NotesEndpoint(HTTPEndpoint):
    @require_scope("read")
    async def get(self, request: Request) -> JSONResponse:
        return JSONResponse({"method": "get", **described(request)})

    @require_scope("write")
    def post(self, request: Request) -> JSONResponse:
        return JSONResponse({"method": "post", **described(request)})


async def websocket_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    user = websocket.scope["user"]
    await websocket.send_json({"user": user.display_name, "scopes": websocket.auth.scopes})
    await websocket.close()


@require_scope("write")
async def websocket_writer(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("welcome, writer")
    await websocket.close()


ROUTES = [
    Route("/notes", read_notes),
    Route("/notes/write", write_notes, methods=["POST"]),
    Route("/whoami", any_token),
    Route("/projects/{project}/notes", project_notes),
    Route("/public", public),
    Route("/starlette-requires", starlette_requires),
    Route("/endpoint", NotesEndpoint),
    WebSocketRoute("/ws", websocket_echo),
    WebSocketRoute("/ws/writer", websocket_writer),
]


def make_app(guard: TokenGuard, *extra: Middleware, **options: Any) -> Starlette:
    return Starlette(routes=ROUTES, middleware=[*extra, Middleware(TokenGuardMiddleware, guard=guard,
                                                                  **options)])


@pytest.fixture
def client(tokenguard_guard: TokenGuard) -> Iterator[TestClient]:
    with TestClient(make_app(tokenguard_guard)) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(response: Any, status: int, challenge: str | None, error: str) -> None:
    assert response.status_code == status
    assert response.headers.get("www-authenticate") == challenge
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == error
    assert response.json()["error_description"]


# -- credentials -----------------------------------------------------------------------------


def test_no_credentials_on_protected_endpoint_is_401_with_bare_challenge(client: TestClient) -> None:
    response = client.get("/notes")
    assert_refused(response, 401, REALM_ONLY, "unauthorized")


def test_bearer_token_is_accepted(client: TestClient, make_token: Callable[..., str]) -> None:
    response = client.get("/notes", headers=bearer(make_token("read", owner="alice")))
    assert response.status_code == 200
    assert response.json() == {"owner": "alice", "scopes": ["read"], "user": "alice", "authenticated": True}


def test_bearer_scheme_is_case_insensitive(client: TestClient, make_token: Callable[..., str]) -> None:
    response = client.get("/notes", headers={"Authorization": f"bEaReR {make_token('read')}"})
    assert response.status_code == 200


def test_api_token_header_is_accepted(client: TestClient, make_token: Callable[..., str]) -> None:
    response = client.get("/notes", headers={"Api-Token": make_token("read", owner="bob")})
    assert response.status_code == 200
    assert response.json()["owner"] == "bob"


def test_secret_token_uri_form_is_accepted(client: TestClient, make_token: Callable[..., str]) -> None:
    response = client.get("/notes", headers=bearer("secret-token:" + make_token("read")))
    assert response.status_code == 200


def test_token_in_query_string_is_ignored(client: TestClient, make_token: Callable[..., str]) -> None:
    token = make_token("read")
    assert_refused(client.get(f"/notes?access_token={token}"), 401, REALM_ONLY, "unauthorized")
    assert client.get(f"/public?access_token={token}").json()["authenticated"] is False


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "Bearer a b", "Bearer tok\u00e9n", "Bearer a,b"])
def test_malformed_authorization_is_400(client: TestClient, value: str) -> None:
    response = client.get("/notes", headers={"Authorization": value.encode("utf-8")})
    assert_refused(response, 400, MALFORMED, "invalid_request")


def test_overlong_token_is_400(client: TestClient) -> None:
    assert_refused(client.get("/notes", headers=bearer("a" * 9000)), 400, MALFORMED, "invalid_request")


@pytest.mark.parametrize(
    "names", [("Authorization", "Authorization"), ("Api-Token", "Api-Token"), ("Authorization", "Api-Token")]
)
def test_duplicated_credentials_are_400(
    client: TestClient, make_token: Callable[..., str], names: tuple[str, str]
) -> None:
    token = make_token("read")
    values = {"Authorization": f"Bearer {token}", "Api-Token": token}
    headers = [(name, values[name]) for name in names]
    assert_refused(client.get("/notes", headers=headers), 400, MALFORMED, "invalid_request")


def test_other_authorization_scheme_counts_as_no_token(client: TestClient) -> None:
    basic = {"Authorization": "Basic YWxpY2U6c2VjcmV0"}
    assert client.get("/public", headers=basic).json()["authenticated"] is False
    assert_refused(client.get("/notes", headers=basic), 401, REALM_ONLY, "unauthorized")


@pytest.mark.parametrize("token", ["tg_nonsense", "tg_" + "A" * 38, "not-a-token"])
def test_invalid_token_is_401_invalid_token(client: TestClient, token: str) -> None:
    assert_refused(client.get("/notes", headers=bearer(token)), 401, INVALID, "invalid_token")


def test_unknown_token_with_valid_checksum_is_401(client: TestClient) -> None:
    stranger = TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False)
    token = stranger.create_token("mallory", "elsewhere").token
    assert_refused(client.get("/notes", headers=bearer(token)), 401, INVALID, "invalid_token")


def test_revoked_token_is_401(client: TestClient, tokenguard_guard: TokenGuard) -> None:
    issued = tokenguard_guard.create_token("alice", "to revoke", scopes=["read"])
    assert client.get("/notes", headers=bearer(issued.token)).status_code == 200
    tokenguard_guard.revoke(issued.info.id)
    assert_refused(client.get("/notes", headers=bearer(issued.token)), 401, INVALID, "invalid_token")


def test_expired_token_is_401() -> None:
    now = [datetime(2030, 1, 1, tzinfo=UTC)]
    guard = TokenGuard("memory://", secret_key=secrets.token_bytes(32), clock=lambda: now[0],
                       load_entry_points=False)
    token = guard.create_token("alice", "short", scopes=["read"], expires_in=timedelta(hours=1)).token
    with TestClient(make_app(guard)) as client:
        assert client.get("/notes", headers=bearer(token)).status_code == 200
        now[0] += timedelta(hours=1)
        assert_refused(client.get("/notes", headers=bearer(token)), 401, INVALID, "invalid_token")


def test_bad_credentials_are_refused_on_unprotected_endpoints_too(client: TestClient) -> None:
    assert_refused(client.get("/public", headers=bearer("tg_nonsense")), 401, INVALID, "invalid_token")
    assert_refused(client.get("/public", headers=bearer("x y")), 400, MALFORMED, "invalid_request")
    assert_refused(client.get("/no-such-route", headers=bearer("tg_nonsense")), 401, INVALID,
                   "invalid_token")


def test_anonymous_request_to_unprotected_endpoint_is_unchanged(client: TestClient) -> None:
    response = client.get("/public")
    assert response.status_code == 200
    assert response.json() == {"owner": None, "scopes": [], "user": "", "authenticated": False}
    assert client.get("/no-such-route").status_code == 404


# -- scopes ----------------------------------------------------------------------------------


def test_missing_scope_is_403_naming_it(client: TestClient, make_token: Callable[..., str]) -> None:
    response = client.post("/notes/write", headers=bearer(make_token("read")))
    assert_refused(response, 403, INSUFFICIENT_WRITE, "insufficient_scope")
    assert response.json() == {"error": "insufficient_scope",
                               "error_description": "the access token lacks the required scope",
                               "scope": "write"}


def test_implied_scopes_are_in_request_auth(client: TestClient, make_token: Callable[..., str]) -> None:
    token = make_token("management", owner="carol")
    response = client.get("/notes", headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["scopes"] == ["management", "read", "write"]
    assert client.post("/notes/write", headers=bearer(token)).status_code == 201


def test_admin_token_holds_every_scope(client: TestClient, make_token: Callable[..., str]) -> None:
    token = make_token("read", admin=True)
    assert client.get("/whoami", headers=bearer(token)).json()["scopes"] == ["management", "read", "write"]
    assert client.post("/notes/write", headers=bearer(token)).status_code == 201


def test_bare_require_scope_wants_any_valid_token(client: TestClient, make_token: Callable[..., str]) -> None:
    assert_refused(client.get("/whoami"), 401, REALM_ONLY, "unauthorized")
    assert client.get("/whoami", headers=bearer(make_token("read"))).status_code == 200


def test_project_from_path_param(client: TestClient, make_token: Callable[..., str]) -> None:
    alpha = make_token("read", projects=("alpha",))
    anywhere = make_token("read")
    assert client.get("/projects/alpha/notes", headers=bearer(alpha)).json() == {"project": "alpha"}
    refused = client.get("/projects/beta/notes", headers=bearer(alpha))
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    assert client.get("/projects/beta/notes", headers=bearer(anywhere)).status_code == 200


def test_endpoint_methods_sync_and_async(client: TestClient, make_token: Callable[..., str]) -> None:
    read = make_token("read", owner="dave")
    assert client.get("/endpoint", headers=bearer(read)).json()["method"] == "get"
    assert_refused(client.post("/endpoint", headers=bearer(read)), 403, INSUFFICIENT_WRITE,
                   "insufficient_scope")
    assert_refused(client.get("/endpoint"), 401, REALM_ONLY, "unauthorized")
    written = client.post("/endpoint", headers=bearer(make_token("write", owner="dave")))
    assert written.json() == {"method": "post", "owner": "dave", "scopes": ["read", "write"],
                              "user": "dave", "authenticated": True}


def test_starlette_requires_reads_our_credentials(client: TestClient, make_token: Callable[..., str]) -> None:
    assert client.get("/starlette-requires", headers=bearer(make_token("write"))).text == "written"
    assert client.get("/starlette-requires", headers=bearer(make_token("read"))).status_code == 403
    assert client.get("/starlette-requires").status_code == 403


def test_request_user_is_token_owner(tokenguard_guard: TokenGuard, make_token: Callable[..., str]) -> None:
    seen: dict[str, Any] = {}

    async def endpoint(request: Request) -> PlainTextResponse:
        seen["user"], seen["auth"] = request.user, request.auth
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", endpoint)], middleware=[Middleware(TokenGuardMiddleware,
                                                                          guard=tokenguard_guard)])
    with TestClient(app) as client:
        client.get("/", headers=bearer(make_token("write", owner="erin")))
    user, auth = seen["user"], seen["auth"]
    assert isinstance(user, TokenUser) and isinstance(auth, TokenCredentials)
    assert user is auth and type(auth) is TokenPrincipal  # one object per request, both faces
    assert (user.is_authenticated, user.display_name, user.identity) == (True, "erin", "erin")
    assert auth.token.owner == "erin" and auth.token.scopes == frozenset({"write"})
    assert auth.scopes == ["read", "write"]
    assert "tg_" not in repr(user) + repr(auth)
    assert repr(auth) == f"TokenPrincipal(owner='erin', token_id={auth.token.id!r}, scopes=['read', 'write'])"


@pytest.mark.parametrize("header", ["Authorization", "Api-Token"])  # the reader's fast path, and its full one
def test_each_request_gets_its_own_principal(tokenguard_guard: TokenGuard, make_token: Callable[..., str],
                                             header: str) -> None:
    """An endpoint may change ``request.auth.scopes``; the next request with the same token starts afresh."""
    seen: list[Any] = []

    async def endpoint(request: Request) -> JSONResponse:
        seen.append(request.auth)
        listed = list(request.auth.scopes)
        request.auth.scopes = ["changed"]
        return JSONResponse(listed)

    app = Starlette(routes=[Route("/", endpoint)], middleware=[Middleware(TokenGuardMiddleware,
                                                                          guard=tokenguard_guard)])
    token = make_token("write")
    value = f"Bearer {token}" if header == "Authorization" else token
    with TestClient(app) as client:
        assert [client.get("/", headers={header: value}).json() for _ in range(3)] == [["read", "write"]] * 3
    assert len({id(principal) for principal in seen}) == 3
    assert all(type(principal) is TokenPrincipal for principal in seen)


# -- configuration ---------------------------------------------------------------------------


def test_custom_headers_and_realm(tokenguard_guard: TokenGuard, make_token: Callable[..., str]) -> None:
    app = make_app(tokenguard_guard, realm="notes", authorization_header="X-Authorization",
                   token_headers=("X-Api-Key",))
    token = make_token("read")
    with TestClient(app) as client:
        assert client.get("/notes", headers={"X-Api-Key": token}).status_code == 200
        assert client.get("/notes", headers={"X-Authorization": f"Bearer {token}"}).status_code == 200
        refused = client.get("/notes", headers={"Api-Token": token})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Bearer realm="notes"'


def test_guard_is_built_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENGUARD_DATABASE_URL", "memory://")
    monkeypatch.setenv("TOKENGUARD_SECRET_KEY", secrets.token_hex(32))
    middleware = TokenGuardMiddleware(public)
    token = middleware.guard.create_token("alice", "from env", scopes=["read"]).token
    with TestClient(Starlette(routes=ROUTES, middleware=[Middleware(lambda app: _reuse(middleware, app))])) \
            as client:
        assert client.get("/notes", headers=bearer(token)).json()["owner"] == "alice"


def _reuse(middleware: TokenGuardMiddleware, app: ASGIApp) -> TokenGuardMiddleware:
    middleware.app = app
    return middleware


def test_guard_is_built_from_arguments(tmp_path: Any) -> None:
    middleware = TokenGuardMiddleware(public, database_url="memory://", secret_key=secrets.token_hex(32))
    assert isinstance(middleware.guard.store, MemoryStore)


@pytest.mark.parametrize("missing", ["TOKENGUARD_DATABASE_URL", "TOKENGUARD_SECRET_KEY"])
def test_missing_configuration_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    monkeypatch.setenv("TOKENGUARD_DATABASE_URL", "memory://")
    monkeypatch.setenv("TOKENGUARD_SECRET_KEY", secrets.token_hex(32))
    monkeypatch.delenv(missing)
    with pytest.raises(ValidationError, match=missing):
        TokenGuardMiddleware(public)


def test_require_scope_without_middleware_is_a_clear_error() -> None:
    app = Starlette(routes=ROUTES)
    with TestClient(app) as client, pytest.raises(RuntimeError, match="is not installed"):
        client.get("/notes")


def test_require_scope_refuses_non_string_scopes() -> None:
    with pytest.raises(TypeError):
        require_scope("read", 3)  # type: ignore[call-overload]


# -- composition with other middleware ---------------------------------------------------------


class SessionUser:
    """An outer middleware that signs a user in, as a cookie session would."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["user"] = SimpleUser("session-user")
        await self.app(scope, receive, send)


def test_anonymous_request_keeps_user_set_by_outer_middleware(
    tokenguard_guard: TokenGuard, make_token: Callable[..., str]
) -> None:
    with TestClient(make_app(tokenguard_guard, Middleware(SessionUser))) as client:
        assert client.get("/public").json()["user"] == "session-user"
        assert_refused(client.get("/notes"), 401, REALM_ONLY, "unauthorized")
        with_token = client.get("/public", headers=bearer(make_token("read", owner="frank")))
        assert with_token.json()["user"] == "frank"


def test_lifespan_passes_through(tokenguard_guard: TokenGuard) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, str]]:
        events.append("startup")
        yield {"greeting": "hello"}
        events.append("shutdown")

    async def greet(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.state.greeting)

    app = Starlette(routes=[Route("/", greet)], lifespan=lifespan,
                    middleware=[Middleware(TokenGuardMiddleware, guard=tokenguard_guard)])
    with TestClient(app) as client:
        assert events == ["startup"]
        assert client.get("/").text == "hello"
    assert events == ["startup", "shutdown"]


# -- store down ----------------------------------------------------------------------------------


class UnreachableStore(MemoryStore):
    """A store whose look-ups fail as a dropped database connection does."""

    def find(self, digest: str) -> None:
        raise StoreUnavailable("connection refused")


def test_store_down_fails_closed_with_503() -> None:
    guard = TokenGuard(UnreachableStore(), secret_key=secrets.token_bytes(32), load_entry_points=False)
    token = guard.create_token("alice", "any", scopes=["read"]).token
    with TestClient(make_app(guard)) as client:
        for path in ("/notes", "/public"):
            response = client.get(path, headers=bearer(token))
            assert response.status_code == 503
            assert response.headers["retry-after"] == "5"
            assert response.json() == {"error": "temporarily_unavailable",
                                       "error_description": "token storage is unavailable; try again shortly"}
        assert client.get("/public").status_code == 200
        assert_refused(client.get("/notes"), 401, REALM_ONLY, "unauthorized")


# -- websockets ----------------------------------------------------------------------------------


def test_websocket_with_valid_token_sees_auth(client: TestClient, make_token: Callable[..., str]) -> None:
    with client.websocket_connect("/ws", headers=bearer(make_token("write", owner="gina"))) as ws:
        assert ws.receive_json() == {"user": "gina", "scopes": ["read", "write"]}


def test_websocket_without_token_is_anonymous(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json() == {"user": "", "scopes": []}


def without_denial_responses(app: ASGIApp) -> ASGIApp:
    """The app behind a server that cannot answer a websocket handshake with HTTP."""

    async def server(scope: Scope, receive: Receive, send: Send) -> None:
        extensions = {k: v for k, v in (scope.get("extensions") or {}).items()
                      if k != "websocket.http.response"}
        await app({**scope, "extensions": extensions}, receive, send)

    return server


@pytest.mark.parametrize(("headers", "status", "challenge", "error"), [
    (bearer("tg_nonsense"), 401, INVALID, "invalid_token"),
    (bearer("a b"), 400, MALFORMED, "invalid_request"),
    ({"Api-Token": "tg_x"}, 401, INVALID, "invalid_token"),
])
def test_websocket_with_bad_token_gets_the_http_refusal(
    client: TestClient, headers: dict[str, str], status: int, challenge: str, error: str,
) -> None:
    """The server offers ``websocket.http.response`` (uvicorn does): the handshake's RFC 6750 answer."""
    with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect("/ws", headers=headers):
        pass
    assert_refused(denied.value, status, challenge, error)


@pytest.mark.parametrize("headers", [bearer("tg_nonsense"), bearer("a b"), {"Api-Token": "tg_x"}])
def test_websocket_with_bad_token_is_closed_1008_without_the_extension(
    tokenguard_guard: TokenGuard, headers: dict[str, str],
) -> None:
    with TestClient(without_denial_responses(make_app(tokenguard_guard))) as client, \
            pytest.raises(WebSocketDisconnect) as closed, \
            client.websocket_connect("/ws", headers=headers) as ws:
        ws.receive_text()
    assert closed.value.code == 1008
    assert closed.value.reason in ("invalid_token", "invalid_request")


def test_websocket_require_scope_refuses_the_handshake(client: TestClient,
                                                       make_token: Callable[..., str]) -> None:
    with pytest.raises(WebSocketDenialResponse) as denied, \
            client.websocket_connect("/ws/writer", headers=bearer(make_token("read"))):
        pass
    assert_refused(denied.value, 403, INSUFFICIENT_WRITE, "insufficient_scope")
    with pytest.raises(WebSocketDenialResponse) as anonymous, client.websocket_connect("/ws/writer"):
        pass
    assert_refused(anonymous.value, 401, REALM_ONLY, "unauthorized")
    with client.websocket_connect("/ws/writer", headers=bearer(make_token("write"))) as ws:
        assert ws.receive_text() == "welcome, writer"


def test_websocket_require_scope_closes_1008_without_the_extension(
    tokenguard_guard: TokenGuard, make_token: Callable[..., str],
) -> None:
    with TestClient(without_denial_responses(make_app(tokenguard_guard))) as client:
        with pytest.raises(WebSocketDisconnect) as closed, \
                client.websocket_connect("/ws/writer", headers=bearer(make_token("read"))) as ws:
            ws.receive_text()
        assert (closed.value.code, closed.value.reason) == (1008, "insufficient_scope")
        with client.websocket_connect("/ws/writer", headers=bearer(make_token("write"))) as ws:
            assert ws.receive_text() == "welcome, writer"


def test_websocket_store_down_is_503_or_closed_1013() -> None:
    guard = TokenGuard(UnreachableStore(), secret_key=secrets.token_bytes(32), load_entry_points=False)
    token = guard.create_token("alice", "any", scopes=["read"]).token
    with TestClient(make_app(guard)) as client, pytest.raises(WebSocketDenialResponse) as denied, \
            client.websocket_connect("/ws", headers=bearer(token)):
        pass
    assert (denied.value.status_code, denied.value.headers["retry-after"]) == (503, "5")
    assert denied.value.json()["error"] == "temporarily_unavailable"
    with TestClient(without_denial_responses(make_app(guard))) as client, \
            pytest.raises(WebSocketDisconnect) as closed, \
            client.websocket_connect("/ws", headers=bearer(token)) as ws:
        ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (1013, "temporarily_unavailable")


def test_refusal_body_is_compact_json(client: TestClient) -> None:
    raw = client.get("/notes").content
    assert json.loads(raw) == {"error": "unauthorized",
                               "error_description": "this endpoint requires an API token"}
    assert b" " not in raw.split(b'"error_description"')[0]


@pytest.mark.parametrize(("raised", "status", "challenge", "error"), [
    (InsufficientScope(["write"]), 403, INSUFFICIENT_WRITE, "insufficient_scope"),
    (MissingCredentials(), 401, REALM_ONLY, "unauthorized"),
    (RevokedToken("revoked meanwhile"), 401, INVALID, "invalid_token"),
    (StoreUnavailable("down"), 503, None, "temporarily_unavailable"),
])
def test_a_refusal_raised_by_a_bare_asgi_app_gets_its_rfc6750_answer(
    tokenguard_guard: TokenGuard, raised: Exception, status: int, challenge: str | None, error: str,
) -> None:
    async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
        raise raised

    client = TestClient(TokenGuardMiddleware(bare_app, tokenguard_guard))  # no lifespan: the app has none
    assert_refused(client.get("/anything"), status, challenge, error)


def test_a_refusal_raised_after_the_response_started_propagates(tokenguard_guard: TokenGuard) -> None:
    """Too late to answer: the app's exception, not a second response."""

    async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise InsufficientScope(["write"])

    client = TestClient(TokenGuardMiddleware(streaming, tokenguard_guard))
    with pytest.raises(InsufficientScope):
        client.get("/anything")


def test_guard_require_in_a_starlette_endpoint_is_the_rfc6750_answer(
    tokenguard_guard: TokenGuard, make_token: Callable[..., str],
) -> None:
    """``guard.require`` inside the app's own endpoint: 403 naming the scope, not a 500."""

    async def publish(request: Request) -> PlainTextResponse:
        tokenguard_guard.require(request.auth.token, "write", project=request.path_params["project"])
        return PlainTextResponse("published")

    app = Starlette(routes=[Route("/projects/{project}/publish", publish)],
                    middleware=[Middleware(TokenGuardMiddleware, guard=tokenguard_guard)])
    with TestClient(app) as client:
        refused = client.get("/projects/alpha/publish", headers=bearer(make_token("read")))
        assert_refused(refused, 403, INSUFFICIENT_WRITE, "insufficient_scope")
        alpha_only = bearer(make_token("write", projects=["alpha"]))
        elsewhere = client.get("/projects/beta/publish", headers=alpha_only)
        assert_refused(elsewhere, 403, INSUFFICIENT_WRITE, "insufficient_scope")
        assert client.get("/projects/alpha/publish", headers=bearer(make_token("write"))).text == "published"


def test_a_token_the_cli_makes_is_the_apps_when_both_read_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    """One reading of the environment: the key as a file or shell leaves it, the prefix, the scopes."""
    from tokenguard.cli import main

    env = {"TOKENGUARD_DATABASE_URL": f"sqlite:///{tmp_path}/t.db",
           "TOKENGUARD_SECRET_KEY": secrets.token_hex(32) + "\n", "TOKENGUARD_PREFIX": "myapp",
           "TOKENGUARD_SCOPES": '{"read": [], "write": ["read"], "deploy": ["write"]}'}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["token", "create", "ci", "--owner", "alice", "--scope", "deploy"], env=env) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("myapp_")
    middleware = TokenGuardMiddleware(public)
    info = middleware.guard.authenticate(token)
    assert info.owner == "alice" and info.has_scope("read")
    middleware.guard.close()


# -- the cache's common case yields to what it does not decide ------------------------------------


def test_a_hook_registered_after_start_up_sees_cold_tokens_not_warm_ones(
    tokenguard_guard: TokenGuard,
) -> None:
    """``before_authenticate`` runs before work that may reach the store: a warm token costs none."""
    token = tokenguard_guard.create_token("alice", "warm", scopes=["read"]).token
    cold = tokenguard_guard.create_token("alice", "cold", scopes=["read"]).token
    with TestClient(make_app(tokenguard_guard)) as client:
        assert client.get("/notes", headers=bearer(token)).status_code == 200  # now warm
        recorder = RemoteRecorder()
        tokenguard_guard.plugins.register(recorder)
        try:
            assert client.get("/notes", headers=bearer(token)).status_code == 200
            assert client.get("/public").status_code == 200  # no credentials: no hook call
            assert recorder.remotes == []
            assert client.get("/notes", headers=bearer(cold)).status_code == 200
        finally:
            tokenguard_guard.plugins.unregister(recorder)
        assert recorder.remotes == ["testclient"]
        assert client.get("/notes", headers=bearer(token)).status_code == 200
        assert recorder.remotes == ["testclient"]


def test_a_clock_set_after_start_up_decides_expiry_of_warm_tokens(tokenguard_guard: TokenGuard) -> None:
    """The pytest plugin's way: ``guard.clock`` replaced on a mounted guard, the token already warm."""
    issued = tokenguard_guard.create_token("alice", "short", scopes=["read"], expires_in=timedelta(hours=1))
    token = issued.token
    with TestClient(make_app(tokenguard_guard)) as client:
        assert client.get("/notes", headers=bearer(token)).status_code == 200  # now warm
        tokenguard_guard.clock = lambda: datetime.now(UTC) + timedelta(hours=2)
        try:
            assert_refused(client.get("/notes", headers=bearer(token)), 401, INVALID, "invalid_token")
        finally:
            tokenguard_guard.clock = utcnow


def test_mount_points_at_any_paths_are_found_and_only_them(tokenguard_guard: TokenGuard) -> None:
    """Mount points of different lengths, one a prefix of an app route's path: each serves its own
    paths; the app's routes that share their first characters still reach the app."""
    short = [Route("/t", public), Route("/tx", public), Route("/settings/tokenz", public)]
    app = Starlette(routes=short, middleware=[Middleware(
        TokenGuardMiddleware, guard=tokenguard_guard, api_path="/t/api", settings_path="/settings/tokens")])
    with TestClient(app) as client:
        assert client.get("/t/api/openapi.json").json()["openapi"].startswith("3.")
        assert client.get("/settings/tokens", follow_redirects=False).status_code in (302, 303, 401)
        for path in ("/t", "/tx", "/settings/tokenz"):
            assert client.get(path).status_code == 200, path
        assert client.get("/t/apix").status_code == 404  # neither a mount nor a route
