"""How an error is answered: the one ``WebResponse`` built from a ``TokenGuardError``.

Each error carries its status, code, description, headers and body
(:mod:`tokenguard.errors`); :func:`error_response` puts them in a response, for
the management API, the settings page (with its HTML in place of the JSON) and
the adapters' refusals alike. A websocket handshake refused without the ASGI
``websocket.http.response`` extension gets :func:`websocket_close` instead.

The errors below are the web layer's own: what only a route (not the core) refuses.
"""

from __future__ import annotations

from tokenguard.errors import Headers, StoreUnavailable, TokenGuardError
from tokenguard.web.http import WebResponse

#: RFC 6455 §7.4.1: the handshake was refused (bad, missing or insufficient credentials).
WEBSOCKET_POLICY_VIOLATION = 1008
#: RFC 6455 (IANA registry): the server cannot answer now, the store being down.
WEBSOCKET_TRY_AGAIN_LATER = 1013


def error_response(exc: TokenGuardError, realm: str, page: WebResponse | None = None) -> WebResponse:
    """The answer to ``exc``: its status, its own headers, and its JSON body.

    ``page``: the settings page's HTML rendering of the error, answered in place of
    the JSON (its content and security headers kept), with the same status and headers.
    """
    if page is None:
        return WebResponse.json(exc.body(), exc.status_code, exc.headers(realm))
    return WebResponse(exc.status_code, [*page.headers, *exc.headers(realm)], page.body)


def websocket_close(exc: TokenGuardError) -> tuple[int, str]:
    """The close code and reason of a refused handshake: 1013 when the store is down, else 1008.

    The reason is the ``error`` the JSON body would carry.
    """
    code = WEBSOCKET_TRY_AGAIN_LATER if isinstance(exc, StoreUnavailable) else WEBSOCKET_POLICY_VIOLATION
    return code, exc.error_code


class Forbidden(TokenGuardError):
    """The caller is known but may not do this (403)."""

    error_code = "forbidden"
    status_code = 403


class CsrfRefused(Forbidden):
    """A cookie-authenticated write without a valid CSRF token or from another origin."""

    error_code = "csrf_failed"


class NoSuchResource(TokenGuardError):
    """No route of the web layer answers this path (404)."""

    error_code = "not_found"
    status_code = 404

    def __init__(self, message: str = "no such resource") -> None:
        super().__init__(message)


class MethodNotAllowed(TokenGuardError):
    """The route exists but not for this method (405, with ``Allow``)."""

    error_code = "method_not_allowed"
    status_code = 405

    def __init__(self, allowed: list[str]) -> None:
        self.allowed = sorted(allowed)
        super().__init__("method not allowed here")

    def headers(self, realm: str) -> Headers:
        return [("Allow", ", ".join(self.allowed))]


class RequestTooLarge(TokenGuardError):
    """The body is longer than ``max_body_size`` (413)."""

    error_code = "request_too_large"
    status_code = 413

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the body exceeds {limit} bytes")
