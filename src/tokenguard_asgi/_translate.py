"""Translation between ASGI messages and the framework-neutral ``WebRequest``/``WebResponse``."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.types import Message, Receive, Scope

from tokenguard.web.credentials import PLAIN_BEARER_BYTES
from tokenguard.web.http import HeaderGetter, WebResponse

RawHeaders = Iterable[tuple[bytes, bytes]]


def header_getter(raw_headers: RawHeaders) -> HeaderGetter:
    """Every value of a header by case-insensitive name; duplicates are kept, in order.

    ASGI servers send header names lowercased (the spec requires it, and
    Starlette's ``Headers`` relies on it too), so names compare as bytes.
    """
    headers = raw_headers if isinstance(raw_headers, list) else list(raw_headers)

    def get_header(name: str) -> list[str]:
        key = _header_key(name)
        return [value.decode("latin-1") for raw_name, value in headers if raw_name == key]

    return get_header


@functools.lru_cache(maxsize=256)
def _header_key(name: str) -> bytes:
    return name.lower().encode("latin-1")


#: ``plain_credentials``' answer when the headers need ``read_token``'s full checks.
UNUSUAL = ""


def plain_credentials(
    raw_headers: RawHeaders, authorization: bytes, token_headers: frozenset[bytes]
) -> bytes | str | None:
    """One pass over the raw headers for the common case, without decoding anything.

    The raw bytes after ``Bearer `` of a single ``Authorization`` header (names are
    lowercase bytes; ``TokenGuard.authenticate_cached`` takes them as they are and
    looks up only a canonical token), ``None`` when no credential header is present,
    and :data:`UNUSUAL` for anything else: a repeated header, a token header,
    another scheme or spelling. ``read_token`` then decides, with every check it makes.
    """
    found: bytes | None = None
    for name, value in raw_headers:
        if name == authorization:
            if found is not None:
                return UNUSUAL
            found = value
        elif name in token_headers:
            return UNUSUAL
    if found is None:
        return None
    if not found.startswith(PLAIN_BEARER_BYTES):
        return UNUSUAL
    return found[len(PLAIN_BEARER_BYTES):]


def to_starlette(response: WebResponse) -> Response:
    """A Starlette ``Response`` carrying the status, every header (repeats kept) and the body."""
    converted = Response(response.body, status_code=response.status)
    converted.raw_headers.extend(
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.headers
    )
    return converted


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
