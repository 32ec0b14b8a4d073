"""Who is this request, and may it pass: decided once for both adapters."""

from __future__ import annotations

from collections.abc import Iterable

from tokenguard.errors import AuthenticationError, InsufficientScope, StoreUnavailable, TokenGuardError
from tokenguard.guard import TokenGuard
from tokenguard.models import TokenInfo
from tokenguard.web import challenges
from tokenguard.web.credentials import read_token
from tokenguard.web.http import HeaderGetter, WebResponse
from tokenguard.web.options import WebOptions


class MissingCredentials(AuthenticationError):
    """No token was presented to a protected endpoint (401 without an error code)."""


#: What ``identify`` and ``authorize`` raise about the request: answered 400, 401, 403 or 503.
#: Anything else (``require_scope("wrte")``, a scope the guard does not configure) is the
#: app's own mistake: it propagates, a 500 on every adapter, rather than blaming the token.
REFUSALS = (AuthenticationError, InsufficientScope, StoreUnavailable)


class RequestAuthenticator:
    """Reads and verifies header credentials, checks scopes, and renders failures."""

    __slots__ = ("guard", "options")

    def __init__(self, guard: TokenGuard, options: WebOptions) -> None:
        self.guard = guard
        self.options = options

    def identify(self, get_header: HeaderGetter, remote: str | None = None) -> TokenInfo | None:
        """The token's info, ``None`` for an anonymous request, or an error to render.

        Raises ``MalformedCredentials`` (400), ``AuthenticationError`` (401)
        or ``StoreUnavailable`` (503).
        """
        token = read_token(get_header, self.options.authorization_header,
                           self.options.token_headers)
        if token is None:
            return None
        return self.guard.authenticate(token, remote=remote)

    def identify_cached(self, get_header: HeaderGetter,
                        remote: str | None = None) -> tuple[bool, TokenInfo | None]:
        """``identify`` from memory alone, for event loops: ``(True, info or None)`` when
        answered, ``(False, None)`` when the store is needed. Raises as ``identify`` does."""
        token = read_token(get_header, self.options.authorization_header,
                           self.options.token_headers)
        if token is None:
            return True, None
        info = self.guard.authenticate_cached(token, remote=remote)
        return info is not None, info

    def authorize(
        self, info: TokenInfo | None, scopes: Iterable[str], project: str | None = None,
        remote: str | None = None,
    ) -> TokenInfo:
        """``info`` when it holds ``scopes`` (and ``project``); raises otherwise."""
        if info is None:
            raise MissingCredentials("authentication required")
        self.guard.require(info, *scopes, project=project, remote=remote)
        return info

    def protect(
        self, get_header: HeaderGetter, scopes: Iterable[str], project: str | None = None,
        remote: str | None = None,
    ) -> TokenInfo:
        """identify + authorize in one call, for adapters that check lazily."""
        return self.authorize(self.identify(get_header, remote), scopes, project, remote)

    @staticmethod
    def close_reason(exc: TokenGuardError) -> str:
        """Why a websocket handshake is closed: the ``error`` the JSON body would carry."""
        return "unauthorized" if isinstance(exc, MissingCredentials) else exc.error_code

    def respond(self, exc: TokenGuardError) -> WebResponse:
        """The RFC 6750 response for any error raised by the methods above."""
        if isinstance(exc, MissingCredentials):
            return challenges.unauthenticated(self.options.realm)
        return challenges.error_response(exc, self.options.realm)
