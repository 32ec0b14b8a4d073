"""Who is this request, and may it pass: decided once, for every adapter.

An adapter asks :class:`RequestAuthenticator` three things: the request's token
(:meth:`~RequestAuthenticator.identify_environ` for WSGI,
:meth:`~RequestAuthenticator.identify_raw` for ASGI, which may hand back the
token to verify in a worker thread: both the one reader's, with its fast path
inside), whether it may pass
(:func:`authorize`, the one scope check), and the answer
to a refusal (:meth:`~RequestAuthenticator.respond`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

from tokenguard.errors import REFUSALS, MissingCredentials, TokenGuardError
from tokenguard.guard import TokenGuard
from tokenguard.models import TokenInfo
from tokenguard.web.answers import error_response
from tokenguard.web.credentials import CredentialReader, RawHeaders
from tokenguard.web.http import HeaderGetter, WebResponse
from tokenguard.web.options import WebOptions

__all__ = ["REFUSALS", "MissingCredentials", "RequestAuthenticator", "authorize"]


def holds(info: TokenInfo | None, wanted: frozenset[str]) -> TypeGuard[TokenInfo]:
    """The scope check's common case: a token whose effective scopes include every one of ``wanted``.

    True means :func:`authorize` passes ``info`` without a project; the adapters ask
    this first, and :func:`authorize` (with the address and the guard it may need)
    only when it is False.
    """
    return info is not None and wanted <= info.effective_scopes


def authorize(info: TokenInfo | None, wanted: frozenset[str], project: str | None = None,
              remote: str | None = None, guard: TokenGuard | None = None) -> TokenInfo:
    """The one scope check: ``info`` when it holds every scope of ``wanted`` (and ``project``).

    Every decorator, the FastAPI dependencies and the management API ask this.
    ``MissingCredentials`` without a token, ``InsufficientScope`` without the
    scope or project; a scope the guard does not configure is a ``ValidationError``
    (the app's mistake). Effective scopes are configured ones, so a token holding
    them all passes with one subset test; the rest is ``guard.require``'s, and
    without a guard (an adapter not installed) a ``RuntimeError``.
    """
    if project is None and holds(info, wanted):
        return info
    if info is None:
        raise MissingCredentials()
    if guard is None:
        raise RuntimeError("no TokenGuard to check these scopes with: is the adapter installed?")
    guard.require(info, *sorted(wanted), project=project, remote=remote)
    return info


class RequestAuthenticator:
    """Reads and verifies header credentials, checks scopes, and answers refusals."""

    __slots__ = ("guard", "options", "reader", "realm")

    def __init__(self, guard: TokenGuard, options: WebOptions) -> None:
        self.guard = guard
        self.options = options
        self.realm = options.realm
        self.reader = CredentialReader(options.authorization_header, options.token_headers,
                                       cached=guard.authenticate_cached, bearer=guard.authenticate_bearer)

    # -- who: the request's token ---------------------------------------------------------

    def identify(self, get_header: HeaderGetter, remote: str | None = None) -> TokenInfo | None:
        """The token's info, ``None`` for an anonymous request, or an error to answer.

        Raises ``MalformedCredentials`` (400), ``AuthenticationError`` (401)
        or ``StoreUnavailable`` (503). May reach the store.
        """
        token = self.reader.read(get_header)
        return None if token is None else self.guard.authenticate(token, remote=remote)

    def identify_environ(self, environ: Mapping[str, Any], remote: str | None = None) -> TokenInfo | None:
        """``identify`` for a WSGI environ: a warm ``Bearer`` token from the cache, else every check."""
        found = self.reader.environ_token(environ, remote)
        return self.guard.authenticate(found, remote=remote) if isinstance(found, str) else found

    def identify_raw(self, raw_headers: RawHeaders, remote: str | None = None) -> TokenInfo | str | None:
        """``identify`` for ASGI raw headers, from memory alone: ``CredentialReader.raw_token``.

        The token's info, ``None`` when anonymous, or, when only the store can
        answer, the token itself (a ``str``), for :meth:`verify` in a worker thread.
        """
        return self.reader.raw_token(raw_headers, remote)

    def verify(self, token: str, remote: str | None = None) -> TokenInfo:
        """``guard.authenticate``: what ``identify_raw`` hands back a token for (it may reach the store)."""
        return self.guard.authenticate(token, remote=remote)

    # -- may it pass: the one scope check ----------------------------------------------------

    def authorize(self, info: TokenInfo | None, wanted: frozenset[str] | Iterable[str],
                  project: str | None = None, remote: str | None = None) -> TokenInfo:
        """:func:`authorize` with this authenticator's guard; ``wanted`` may be any iterable."""
        needed = wanted if type(wanted) is frozenset else frozenset(wanted)
        return authorize(info, needed, project, remote, self.guard)

    def protect(self, get_header: HeaderGetter, scopes: Iterable[str], project: str | None = None,
                remote: str | None = None) -> TokenInfo:
        """identify + authorize in one call, for adapters that check lazily."""
        return self.authorize(self.identify(get_header, remote), scopes, project, remote)

    # -- the answer to a refusal ------------------------------------------------------------------

    def respond(self, exc: TokenGuardError) -> WebResponse:
        """The answer to any error raised by the methods above (or by ``guard.require``)."""
        return error_response(exc, self.realm)
