"""Who is this request, and may it pass: decided once, for every adapter.

An adapter asks :class:`RequestAuthenticator` three things: the request's token
(:meth:`~RequestAuthenticator.identify_environ` for WSGI,
:meth:`~RequestAuthenticator.identify_raw` for ASGI, which may hand back the
token to verify in a worker thread), whether it may pass
(:func:`authorize`, the one scope check), and the answer
to a refusal (:meth:`~RequestAuthenticator.respond`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tokenguard.errors import REFUSALS, MissingCredentials, TokenGuardError
from tokenguard.guard import TokenGuard
from tokenguard.models import TokenInfo
from tokenguard.web.answers import error_response
from tokenguard.web.credentials import CredentialReader, RawHeaders
from tokenguard.web.http import HeaderGetter, WebResponse
from tokenguard.web.options import WebOptions

__all__ = ["REFUSALS", "MissingCredentials", "RequestAuthenticator", "authorize"]


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
    if info is None:
        raise MissingCredentials()
    if project is None and wanted <= info.effective_scopes:
        return info
    if guard is None:
        raise RuntimeError("no TokenGuard to check these scopes with: is the adapter installed?")
    guard.require(info, *sorted(wanted), project=project, remote=remote)
    return info


class RequestAuthenticator:
    """Reads and verifies header credentials, checks scopes, and answers refusals."""

    __slots__ = ("_cached", "_environ_candidate", "_raw_candidate", "guard", "options", "reader", "realm")

    def __init__(self, guard: TokenGuard, options: WebOptions) -> None:
        self.guard = guard
        self.options = options
        self.realm = options.realm
        self.reader = CredentialReader(options.authorization_header, options.token_headers)
        # bound once: every request asks them
        self._raw_candidate = self.reader.raw_candidate
        self._environ_candidate = self.reader.environ_candidate
        self._cached = guard.authenticate_cached

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
        candidate = self._environ_candidate(environ)
        if candidate is None:
            return None
        if candidate:
            info = self._cached(candidate, remote=remote)
            if info is not None:
                return info
        token = self.reader.read_environ(environ)
        return None if token is None else self.guard.authenticate(token, remote=remote)

    def identify_raw(self, raw_headers: RawHeaders, remote: str | None = None) -> TokenInfo | str | None:
        """``identify`` for ASGI raw headers, from memory alone: it never reaches the store.

        The token's info, ``None`` when anonymous, or, when only the store can
        answer, the token itself (a ``str``), for ``guard.authenticate`` in a worker
        thread. Raises as ``identify`` does.
        """
        candidate = self._raw_candidate(raw_headers)
        if candidate is None:
            return None
        if candidate:
            info = self._cached(candidate, remote=remote)
            if info is not None:
                return info
        token = self.reader.read_raw(raw_headers)
        if token is None:
            return None
        if not candidate:  # unusual headers spelling a warm token: the cache, offered it once
            info = self._cached(token, remote=remote)
            if info is not None:
                return info
        return token

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
