"""Reading a token from request headers, as RFC 6750 §2.1 says; never from the query string."""

from __future__ import annotations

import re
from collections.abc import Sequence

from tokenguard.errors import MalformedCredentials
from tokenguard.web.http import HeaderGetter

MAX_HEADER_LENGTH = 8192
# b64token (RFC 6750 §2.1), plus ":" for the RFC 8959 "secret-token:" form.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/:]+=*")
_BEARER = re.compile(r"Bearer +(\S+)", re.IGNORECASE | re.ASCII)
#: ``Bearer `` as written by nearly every client: what the adapters' fast path looks for.
PLAIN_BEARER = "Bearer "
_PLAIN_START = len(PLAIN_BEARER)


def read_token(
    get_header: HeaderGetter,
    authorization_header: str = "Authorization",
    token_headers: Sequence[str] = ("Api-Token",),
) -> str | None:
    """The token presented, ``None`` when there is none, or ``MalformedCredentials``.

    An ``Authorization`` header with another scheme (Basic, …) is not ours and
    counts as no token. Duplicated headers, two methods at once, a bare
    ``Bearer``, or characters outside the token alphabet are malformed (400).
    """
    found: list[str] = []
    for value in get_header(authorization_header):
        scheme = value.strip().split(" ", 1)[0]
        if scheme.lower() != "bearer":
            continue
        found.append(_from_authorization(value))
    for name in token_headers:
        for value in get_header(name):
            found.append(_checked(value.strip()))
    if len(found) > 1:
        raise MalformedCredentials("more than one token presented")
    return found[0] if found else None


def _from_authorization(value: str) -> str:
    if len(value) > MAX_HEADER_LENGTH:
        raise MalformedCredentials("credentials too long")
    match = _BEARER.fullmatch(value.strip())
    if match is None:
        raise MalformedCredentials("malformed Bearer credentials")
    return _checked(match.group(1))


def _checked(token: str) -> str:
    if not token or len(token) > MAX_HEADER_LENGTH or not _TOKEN68.fullmatch(token):
        raise MalformedCredentials("malformed token")
    return token


def plain_bearer(value: str) -> str | None:
    """The token of ``Bearer <token>`` written plainly, else ``None``: let ``read_token`` decide.

    Plainly means one space after ``Bearer`` and a token of ASCII letters, digits
    and ``_`` only: a subset of what ``read_token`` accepts, and for it the same
    answer, when the value is the request's only credential header. Anything else
    (other spacing, other characters, an empty or too long token, several values
    joined by a WSGI server with ``", "``) returns ``None``.
    """
    if not value.startswith(PLAIN_BEARER) or len(value) > MAX_HEADER_LENGTH:
        return None
    token = value[_PLAIN_START:]
    return token if token.isascii() and token.replace("_", "a").isalnum() else None


def plain_bearer_bytes(value: bytes) -> str | None:
    """``plain_bearer`` for a raw ASGI header value (bytes, ASCII alone counts as letters)."""
    if not value.startswith(b"Bearer ") or len(value) > MAX_HEADER_LENGTH:
        return None
    token = value[_PLAIN_START:]
    return token.decode("ascii") if token.replace(b"_", b"a").isalnum() else None
