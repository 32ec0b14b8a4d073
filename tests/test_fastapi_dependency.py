"""FastAPI: current_token and token_for_project as Security dependencies, their OpenAPI, RFC 6750 refusals."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Security, WebSocket
from fastapi.security import SecurityScopes
from starlette.requests import HTTPConnection
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from tokenguard import TokenGuard, TokenGuardError, TokenInfo
from tokenguard_asgi import TokenGuardMiddleware, refusal_handlers, require_scope
from tokenguard_asgi.fastapi import current_token, token_for_project

REALM_ONLY = 'Bearer realm="api"'
INSUFFICIENT_WRITE = ('Bearer realm="api", error="insufficient_scope", '
                      'error_description="the access token lacks the required scope", scope="write"')
INVALID = ('Bearer realm="api", error="invalid_token", '
           'error_description="the access token is invalid, expired or revoked"')


async def optional_writer(connection: HTTPConnection) -> TokenInfo | None:
    try:  # a public page with more for writers: a refusal means "not a writer"
        return await current_token(SecurityScopes(["write"]), connection, None)
    except TokenGuardError:
        return None


def make_app(guard: TokenGuard | None, **options: Any) -> FastAPI:
    app = FastAPI(**options)
    if guard is not None:
        app.add_middleware(TokenGuardMiddleware, guard=guard)

    @app.get("/notes")
    async def read_notes(
        token: TokenInfo = Security(current_token, scopes=["read"]),  # noqa: B008 (the classic form)
    ) -> dict[str, Any]:
        return {"owner": token.owner, "scopes": sorted(token.effective_scopes)}

    @app.post("/notes", status_code=201)
    def write_notes(token: Annotated[TokenInfo, Security(current_token, scopes=["write"])]) -> dict[str, str]:
        return {"owner": token.owner}

    @app.get("/me")
    def me(token: Annotated[TokenInfo, Depends(current_token)]) -> dict[str, str]:
        return {"owner": token.owner}

    @app.get("/public")
    def public() -> dict[str, str]:
        return {"hello": "world"}

    admin = APIRouter(prefix="/admin", dependencies=[Security(current_token, scopes=["management"])])

    @admin.get("/stats")
    async def stats() -> dict[str, int]:
        return {"notes": 3}

    app.include_router(admin)
    app.state.guard = guard

    @app.get("/feed")
    def feed(writer: Annotated[TokenInfo | None, Depends(optional_writer)]) -> dict[str, bool]:
        return {"can_edit": writer is not None}

    @app.post("/projects/{project}/notes", status_code=201)
    def write_project_notes(
        project: str, token: Annotated[TokenInfo, Security(token_for_project("project"), scopes=["write"])],
    ) -> dict[str, str]:
        return {"owner": token.owner, "project": project}

    @app.get("/teams/{team}/notes")
    def team_notes(token: Annotated[TokenInfo, Security(token_for_project("team"), scopes=["read"])]) -> dict[
            str, str]:  # the dependency alone declares the path parameter
        return {"owner": token.owner}

    @app.get("/publish/{project}")
    def publish(project: str, token: Annotated[TokenInfo, Depends(current_token)]) -> dict[str, str]:
        app.state.guard.require(token, "write", project=project)  # the app's own check
        return {"published": project}

    @app.websocket("/ws/writer")
    async def ws_writer(websocket: WebSocket,
                        token: Annotated[TokenInfo, Security(current_token, scopes=["write"])]) -> None:
        await websocket.accept()
        await websocket.send_text(f"welcome, {token.owner}")
        await websocket.close()

    return app


@pytest.fixture
def client(tokenguard_guard: TokenGuard) -> Iterator[TestClient]:
    with TestClient(make_app(tokenguard_guard)) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_with_scope_reaches_endpoint(client: TestClient, make_token: Callable[..., str]) -> None:
    response = client.get("/notes", headers=bearer(make_token("write", owner="alice")))
    assert response.status_code == 200
    assert response.json() == {"owner": "alice", "scopes": ["read", "write"]}
    assert client.post("/notes", headers={"Api-Token": make_token("write", owner="bob")}).json() == {
        "owner": "bob"}


def test_no_token_is_401_with_rfc6750_body_not_detail(client: TestClient) -> None:
    response = client.get("/notes")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == REALM_ONLY
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"error": "unauthorized",
                               "error_description": "this endpoint requires an API token"}


def test_missing_scope_is_403_naming_it(client: TestClient, make_token: Callable[..., str]) -> None:
    response = client.post("/notes", headers=bearer(make_token("read")))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == INSUFFICIENT_WRITE
    assert response.json() == {"error": "insufficient_scope",
                               "error_description": "the access token lacks the required scope",
                               "scope": "write"}


def test_plain_depends_wants_any_token(client: TestClient, make_token: Callable[..., str]) -> None:
    assert client.get("/me").status_code == 401
    assert client.get("/me", headers=bearer(make_token("read", owner="carol"))).json() == {"owner": "carol"}


def test_router_dependency_guards_every_route(client: TestClient, make_token: Callable[..., str]) -> None:
    assert client.get("/admin/stats", headers=bearer(make_token("write"))).status_code == 403
    assert client.get("/admin/stats", headers=bearer(make_token("management"))).json() == {"notes": 3}


def test_invalid_token_is_refused_by_the_middleware(client: TestClient) -> None:
    response = client.get("/public", headers=bearer("tg_" + "0" * 38))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == INVALID
    assert client.get("/public").json() == {"hello": "world"}


def test_openapi_shows_the_bearer_scheme_with_scopes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["APIToken"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert spec["paths"]["/notes"]["get"]["security"] == [{"APIToken": ["read"]}]
    assert spec["paths"]["/notes"]["post"]["security"] == [{"APIToken": ["write"]}]
    assert spec["paths"]["/me"]["get"]["security"] == [{"APIToken": []}]
    assert spec["paths"]["/admin/stats"]["get"]["security"] == [{"APIToken": ["management"]}]
    assert "security" not in spec["paths"]["/public"]["get"]
    project = spec["paths"]["/projects/{project}/notes"]["post"]
    assert project["security"] == [{"APIToken": ["write"]}]
    assert [(p["name"], p["in"], p["required"]) for p in project["parameters"]] == [("project", "path", True)]
    team = spec["paths"]["/teams/{team}/notes"]["get"]
    assert team["security"] == [{"APIToken": ["read"]}]
    (parameter,) = team["parameters"]
    assert (parameter["name"], parameter["in"], parameter["required"]) == ("team", "path", True)
    assert parameter["description"] == "The project the API token must be allowed to reach."


def test_dependency_without_middleware_is_a_clear_error() -> None:
    with TestClient(make_app(None)) as client, pytest.raises(RuntimeError, match="is not installed"):
        client.get("/notes")


def test_refusal_from_a_mounted_sub_app_is_the_rfc6750_answer(
    tokenguard_guard: TokenGuard, make_token: Callable[..., str]
) -> None:
    """A sub-app has its own error middleware: ``refusal_handlers()`` gives it the middleware's answer."""
    outer = FastAPI()
    outer.add_middleware(TokenGuardMiddleware, guard=tokenguard_guard)
    outer.mount("/v1", make_app(None, exception_handlers=refusal_handlers()))
    with TestClient(outer) as client:
        anonymous = client.get("/v1/notes")
        assert (anonymous.status_code, anonymous.headers["www-authenticate"]) == (401, REALM_ONLY)
        assert anonymous.json()["error"] == "unauthorized"
        refused = client.post("/v1/notes", headers=bearer(make_token("read")))
        assert (refused.status_code, refused.headers["www-authenticate"]) == (403, INSUFFICIENT_WRITE)
        assert refused.json() == {"error": "insufficient_scope",
                                  "error_description": "the access token lacks the required scope",
                                  "scope": "write"}
        allowed = client.get("/v1/notes", headers=bearer(make_token("read", owner="dora")))
        assert allowed.json()["owner"] == "dora"
        with pytest.raises(WebSocketDenialResponse) as denied, \
                client.websocket_connect("/v1/ws/writer", headers=bearer(make_token("read"))):
            pass
        assert (denied.value.status_code, denied.value.json()["error"]) == (403, "insufficient_scope")


def test_a_sub_app_without_the_handlers_fails_closed(tokenguard_guard: TokenGuard) -> None:
    """Its own error middleware makes the refusal a 500: never the endpoint run without a token."""
    outer = FastAPI()
    outer.add_middleware(TokenGuardMiddleware, guard=tokenguard_guard)
    outer.mount("/v1", make_app(None))
    with TestClient(outer, raise_server_exceptions=False) as client:
        assert client.get("/v1/notes").status_code == 500


def test_app_exception_handlers_do_not_change_the_refusal(tokenguard_guard: TokenGuard) -> None:
    from fastapi.responses import PlainTextResponse
    from starlette.exceptions import HTTPException

    app = make_app(tokenguard_guard)

    @app.exception_handler(HTTPException)
    async def plain(request: Any, exc: HTTPException) -> PlainTextResponse:
        return PlainTextResponse("custom handler", status_code=exc.status_code)

    with TestClient(app) as client:
        response = client.get("/notes")
        assert (response.status_code, response.headers["www-authenticate"]) == (401, REALM_ONLY)
        assert response.json()["error"] == "unauthorized"
        missing = client.get("/no-such-route")
        assert (missing.status_code, missing.text) == (404, "custom handler")


def test_refusal_is_tokenguards_own_error_not_an_http_exception(client: TestClient) -> None:
    """FastAPI's ``HTTPException`` handler would answer ``{"detail": …}``: the refusal is not one."""
    from starlette.exceptions import HTTPException

    from tokenguard import InsufficientScope

    assert not issubclass(InsufficientScope, HTTPException)
    assert client.get("/notes").json() == {"error": "unauthorized",
                                           "error_description": "this endpoint requires an API token"}


def test_a_refusal_the_app_catches_leaves_the_apps_own_answer(client: TestClient,
                                                              make_token: Callable[..., str]) -> None:
    for headers in ({}, bearer(make_token("read"))):
        answer = client.get("/feed", headers=headers)
        assert (answer.status_code, answer.json()) == (200, {"can_edit": False})
        assert "WWW-Authenticate" not in answer.headers
    assert client.get("/feed", headers=bearer(make_token("write"))).json() == {"can_edit": True}
    refused = client.post("/notes", headers=bearer(make_token("read")))  # one it does not catch
    assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"


def without_denial_responses(app: ASGIApp) -> ASGIApp:
    """The app behind a server that cannot answer a websocket handshake with HTTP."""

    async def server(scope: Scope, receive: Receive, send: Send) -> None:
        extensions = {k: v for k, v in (scope.get("extensions") or {}).items()
                      if k != "websocket.http.response"}
        await app({**scope, "extensions": extensions}, receive, send)

    return server


@pytest.mark.parametrize(("scopes", "status", "reason"), [
    (None, 401, "unauthorized"), (["read"], 403, "insufficient_scope"), ("bad", 401, "invalid_token")])
def test_a_websocket_without_the_scope_gets_the_http_refusal(
    client: TestClient, make_token: Callable[..., str], scopes: list[str] | str | None, status: int,
    reason: str,
) -> None:
    headers = {} if scopes is None else bearer("tg_nonsense" if scopes == "bad" else make_token(*scopes))
    with pytest.raises(WebSocketDenialResponse) as denied, \
            client.websocket_connect("/ws/writer", headers=headers):
        pass
    assert (denied.value.status_code, denied.value.json()["error"]) == (status, reason)
    assert denied.value.headers["www-authenticate"].startswith('Bearer realm="api"')
    with client.websocket_connect("/ws/writer", headers=bearer(make_token("write"))) as ws:
        assert ws.receive_text().startswith("welcome, ")


@pytest.mark.parametrize(("scopes", "reason"), [(None, "unauthorized"), (["read"], "insufficient_scope"),
                                                ("bad", "invalid_token")])
def test_a_websocket_without_the_scope_is_closed_1008_without_the_extension(
    tokenguard_guard: TokenGuard, make_token: Callable[..., str], scopes: list[str] | str | None, reason: str,
) -> None:
    headers = {} if scopes is None else bearer("tg_nonsense" if scopes == "bad" else make_token(*scopes))
    with TestClient(without_denial_responses(make_app(tokenguard_guard))) as client:
        with pytest.raises(WebSocketDisconnect) as closed, \
                client.websocket_connect("/ws/writer", headers=headers) as ws:
            ws.receive_text()
        assert (closed.value.code, closed.value.reason) == (1008, reason)
        with client.websocket_connect("/ws/writer", headers=bearer(make_token("write"))) as ws:
            assert ws.receive_text().startswith("welcome, ")


def test_token_for_project_wants_the_path_parameters_project(
    client: TestClient, make_token: Callable[..., str],
) -> None:
    alpha = make_token("write", owner="ann", projects=["alpha"])
    assert client.post("/projects/alpha/notes", headers=bearer(alpha)).json() == {"owner": "ann",
                                                                                   "project": "alpha"}
    refused = client.post("/projects/beta/notes", headers=bearer(alpha))
    assert (refused.status_code, refused.headers["www-authenticate"]) == (403, INSUFFICIENT_WRITE)
    assert refused.json()["error"] == "insufficient_scope"
    assert client.post("/projects/beta/notes", headers=bearer(make_token("write"))).status_code == 201
    reader = client.post("/projects/alpha/notes", headers=bearer(make_token("read", projects=["alpha"])))
    assert (reader.status_code, reader.headers["www-authenticate"]) == (403, INSUFFICIENT_WRITE)
    assert client.post("/projects/alpha/notes").headers["www-authenticate"] == REALM_ONLY
    team = make_token("read", owner="tom", projects=["red"])
    assert client.get("/teams/red/notes", headers=bearer(team)).json() == {"owner": "tom"}
    assert client.get("/teams/blue/notes", headers=bearer(team)).status_code == 403


def test_token_for_project_needs_a_parameter_name() -> None:
    for bad in ("", "no-dashes", "connection", "security_scopes"):
        with pytest.raises(ValueError, match="path parameter"):
            token_for_project(bad)


def test_guard_require_in_an_endpoint_is_the_rfc6750_answer(client: TestClient,
                                                            make_token: Callable[..., str]) -> None:
    """The app's own ``guard.require``: 403 naming the scope, as the dependency gives it; never a 500."""
    refused = client.get("/publish/alpha", headers=bearer(make_token("read")))
    assert (refused.status_code, refused.headers["www-authenticate"]) == (403, INSUFFICIENT_WRITE)
    assert refused.json() == {"error": "insufficient_scope",
                              "error_description": "the access token lacks the required scope",
                              "scope": "write"}
    elsewhere = client.get("/publish/beta", headers=bearer(make_token("write", projects=["alpha"])))
    assert elsewhere.status_code == 403
    assert client.get("/publish/alpha", headers=bearer(make_token("write"))).json() == {"published": "alpha"}


def test_require_scope_serves_fastapis_keyword_calls(
    tokenguard_guard: TokenGuard, make_token: Callable[..., str]
) -> None:
    """FastAPI calls ``endpoint(request=…)``: the ``(request)`` wrapper and the general one both take it."""
    app = FastAPI()
    app.add_middleware(TokenGuardMiddleware, guard=tokenguard_guard)

    @app.get("/plain")
    @require_scope("write")
    async def plain(request: Request) -> dict[str, str]:  # the (request) wrapper
        return {"owner": request.auth.token.owner}

    @app.get("/items/{item}")
    @require_scope("write")
    async def item(request: Request, item: int) -> dict[str, Any]:  # the general one
        return {"owner": request.auth.token.owner, "item": item}

    with TestClient(app) as client:
        writer = bearer(make_token("write", owner="erin"))
        assert client.get("/plain", headers=writer).json() == {"owner": "erin"}
        assert client.get("/items/7", headers=writer).json() == {"owner": "erin", "item": 7}
        for path in ("/plain", "/items/7"):
            refused = client.get(path, headers=bearer(make_token("read")))
            assert refused.status_code == 403
            assert refused.headers["WWW-Authenticate"] == INSUFFICIENT_WRITE
            assert client.get(path).headers["WWW-Authenticate"] == REALM_ONLY
