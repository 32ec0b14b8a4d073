"""Translation between ASGI messages and the framework-neutral ``WebRequest``/``WebResponse``."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState

from tokenguard.errors import TokenGuardError
from tokenguard.web.answers import error_response, websocket_close
from tokenguard.web.http import HeaderGetter, WebResponse

#: the ASGI extension a server offers when a websocket handshake may be answered with HTTP.
DENIAL_EXTENSION = "websocket.http.response"


def to_starlette(response: WebResponse) -> Response:
    """A Starlette ``Response`` carrying the status, every header (repeats kept) and the body."""
    converted = Response(response.body, status_code=response.status)
    converted.raw_headers.extend(
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.headers
    )
    return converted


async def send_refusal(exc: TokenGuardError, realm: str, scope: Scope, receive: Receive, send: Send, *,
                       connect_received: bool = False) -> None:
    """Answer a refused request or websocket handshake with ``exc``'s own answer.

    HTTP: the RFC 6750 response. A websocket handshake: that same response (status,
    ``WWW-Authenticate``, JSON body) where the server offers the ``websocket.http.response``
    extension, else accepted and closed at once with 1008 (1013: the store is down) and
    the ``error`` as the reason, so that the client sees why, not a bare 403.
    """
    if scope["type"] != "websocket":
        await to_starlette(error_response(exc, realm))(scope, receive, send)
        return
    if not connect_received and (await receive())["type"] != "websocket.connect":
        return  # the client left before its handshake was answered
    if DENIAL_EXTENSION in (scope.get("extensions") or {}):
        await to_starlette(error_response(exc, realm))(scope, receive, send)
        return
    code, reason = websocket_close(exc)
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code, "reason": reason})


async def refuse_websocket(websocket: WebSocket, exc: TokenGuardError, realm: str) -> None:
    """:func:`send_refusal` for a handshake an endpoint (or an exception handler) holds."""
    await send_refusal(exc, realm, websocket.scope, websocket.receive, websocket.send,
                       connect_received=websocket.client_state is not WebSocketState.CONNECTING)


def route_path(scope: Scope) -> str:
    """The path below ``root_path`` (an app served under a prefix), as Starlette routes it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root):] or "/"
    return path


def remote_address(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def origin_of(scope: Scope, get_header: HeaderGetter) -> str:
    """``scheme://host[:port]`` as the client addressed the app, for the Origin check."""
    hosts = get_header("host")
    if hosts:
        host = hosts[0]
    else:
        server = scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else ""
    return f"{scope.get('scheme', 'http')}://{host}"


def query_of(scope: Scope) -> dict[str, str]:
    """The query parameters, first value of each (only the web layer's pages use them)."""
    raw: bytes = scope.get("query_string", b"")
    return dict(reversed(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)))


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, cut after ``limit`` bytes (the caller tells "too long" from the length).

    ``None`` when the client went away before sending all of it: a truncated form is
    still a form, and must not be acted on (Starlette's ``request.body()`` raises then).
    """
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)[:limit]


def replaying(body: bytes) -> Receive:
    """A ``receive`` that hands out ``body`` once, then reports a disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
