"""RFC 6750 §3 error responses, built once for both adapters."""

from __future__ import annotations

from tokenguard.errors import (
    InsufficientScope,
    MalformedCredentials,
    StoreUnavailable,
    TokenGuardError,
    TooManyAttempts,
)
from tokenguard.web.http import WebResponse

_DESCRIPTIONS = {
    "invalid_request": "the credentials are malformed",
    "invalid_token": "the access token is invalid, expired or revoked",
    "insufficient_scope": "the access token lacks the required scope",
    "temporarily_unavailable": "token storage is unavailable; try again shortly",
    "too_many_attempts": "too many failed attempts from this address; try again later",
}


def _quote(value: str) -> str:
    """An RFC 7230 quoted-string of printable ASCII, without quotes or backslashes inside."""
    cleaned = "".join(c for c in value if 0x20 <= ord(c) < 0x7F and c not in '"\\')
    return f'"{cleaned}"'


def challenge(realm: str, error: str | None = None, scope: str | None = None) -> str:
    """The ``WWW-Authenticate`` value: ``Bearer realm="…"[, error="…"][, scope="…"]``."""
    parts = [f"realm={_quote(realm)}"]
    if error is not None:
        parts.append(f"error={_quote(error)}")
        parts.append(f"error_description={_quote(_DESCRIPTIONS.get(error, error))}")
    if scope:
        parts.append(f"scope={_quote(scope)}")
    return "Bearer " + ", ".join(parts)


def unauthenticated(realm: str) -> WebResponse:
    """No credentials on a protected endpoint: 401 and a challenge without an error code."""
    return WebResponse.json(
        {"error": "unauthorized", "error_description": "this endpoint requires an API token"},
        401,
        [("WWW-Authenticate", challenge(realm))],
    )


def error_response(exc: TokenGuardError, realm: str) -> WebResponse:
    """The RFC 6750 answer for an authentication or authorization failure."""
    if isinstance(exc, StoreUnavailable):
        return WebResponse.json(
            {"error": exc.error_code, "error_description": _DESCRIPTIONS[exc.error_code]},
            503,
            [("Retry-After", "5")],
        )
    if isinstance(exc, TooManyAttempts):
        return WebResponse.json(
            {"error": exc.error_code, "error_description": _DESCRIPTIONS[exc.error_code]},
            429,
            [("Retry-After", str(max(1, int(exc.retry_after))))],
        )
    scope = " ".join(exc.required) if isinstance(exc, InsufficientScope) else None
    if isinstance(exc, MalformedCredentials):
        code = "invalid_request"
    elif isinstance(exc, InsufficientScope):
        code = "insufficient_scope"
    else:
        code = "invalid_token"
    status = 400 if code == "invalid_request" else 403 if scope is not None else 401
    body = {"error": code, "error_description": _DESCRIPTIONS[code]}
    if scope is not None:
        body["scope"] = scope
    return WebResponse.json(body, status, [("WWW-Authenticate", challenge(realm, code, scope))])
