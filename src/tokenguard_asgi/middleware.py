"""``TokenGuardMiddleware``: a pure ASGI-3 middleware that authenticates API tokens.

It does what Starlette's ``AuthenticationMiddleware`` does, with tokenguard's
rules:

* ``lifespan`` and every other scope type pass straight through.
* For ``http`` and ``websocket`` scopes the credentials are read from the
  headers (``Authorization: Bearer …`` or ``Api-Token: …``; never the query
  string). A valid token sets both ``scope["auth"]`` and ``scope["user"]`` to one
  :class:`TokenPrincipal`: a :class:`TokenCredentials` (its effective scopes, plus
  ``.token``) and a :class:`TokenUser` at once, so Starlette's ``requires``, ``request.auth`` and
  ``request.user`` work unchanged.
* A request without credentials goes on unchanged: ``scope["auth"]`` and
  ``scope["user"]`` default to ``AuthCredentials()`` and
  ``UnauthenticatedUser()``, unless an outer middleware (a session login, say)
  already set them. Endpoints decide with ``require_scope``.
* Bad credentials are answered at once, on every path: a malformed or
  duplicated credential gets 400 ``invalid_request``, an unknown, expired or
  revoked token 401 ``invalid_token``, with the RFC 6750 ``WWW-Authenticate``
  challenge and the JSON body the Flask adapter sends. Treating such a request
  as anonymous would let an unprotected endpoint act on a request whose
  sender believes it is authenticated, and hide a revoked or mistyped token
  from its owner; RFC 6750 §3.1 has the resource server refuse it.
* A store that cannot be reached fails closed: 503 for a request that carries
  credentials (an anonymous request needs no store and goes on).
* A websocket handshake with bad credentials is closed before it is accepted,
  with code 1008 (policy violation); 1013 (try again later) when the store is
  down.
* Paths under ``settings_path`` and ``api_path`` (below the app's
  ``root_path``) are served by the framework-neutral web layer,
  :class:`~tokenguard.web.app.TokenWeb`: the settings page and the management
  API, which read the credentials themselves. ``owner_loader(request)`` (sync
  or async, given a Starlette ``Request``) says who is signed in.

The event loop is never blocked: guard calls that reach the store run in a
worker thread, and a token found in the guard's verification cache needs no
store, so it is answered inline (``TokenGuard.authenticate_cached``). The
common case, an ordinary ``http`` request with a warm token or none, is decided
by one C call before any of this (:mod:`tokenguard.web.warm`). One
explicit fast path goes further: when the guard's store is exactly the
in-process :class:`~tokenguard.MemoryStore`, a look-up is a dict access and
runs inline (``inline_memory_store=False`` turns it off,
for apps whose plugins do I/O in their hooks).
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenguard import config as guard_config
from tokenguard.errors import StoreUnavailable, TokenGuardError
from tokenguard.guard import TokenGuard
from tokenguard.models import TokenInfo
from tokenguard.stores.memory import MemoryStore
from tokenguard.web.app import TokenWeb
from tokenguard.web.http import WebResponse
from tokenguard.web.options import WebOptions
from tokenguard_asgi._translate import (
    header_getter,
    plain_credentials,
    remote_address,
    route_path,
    to_starlette,
)
from tokenguard_asgi.auth import REFUSAL_KEY, TokenPrincipal, TokenRejected
from tokenguard_asgi.webmount import OwnerLoader, WebMount

#: the key of ``scope`` under which the middleware leaves itself for ``require_scope``.
SCOPE_KEY = "tokenguard"
WEBSOCKET_POLICY_VIOLATION = 1008
WEBSOCKET_TRY_AGAIN_LATER = 1013

_T = TypeVar("_T")
_FASTAPI = "fastapi"


class _Answered(enum.Enum):
    """What ``_decide`` returns for a request it answered itself (a refusal, the web layer's page)."""

    ANSWERED = enum.auto()


class TokenGuardMiddleware:
    """Authenticates API tokens for any ASGI-3 app (Starlette, FastAPI, …)."""

    def __init__(
        self,
        app: ASGIApp,
        guard: TokenGuard | None = None,
        *,
        owner_loader: OwnerLoader | None = None,
        can_manage: Callable[[str], bool] | None = None,
        settings_path: str = "/settings/tokens",
        api_path: str = "/api/tokens",
        realm: str = "api",
        authorization_header: str = "Authorization",
        token_headers: Sequence[str] = ("Api-Token",),
        env_var: str = "API_TOKEN",
        allow_token_minting: bool = False,
        app_name: str = "API",
        login_url: str | None = None,
        max_body_size: int = 64 * 1024,
        management_scope: str = "management",
        database_url: str | None = None,
        secret_key: str | bytes | Sequence[str | bytes] | None = None,
        inline_memory_store: bool = True,
    ) -> None:
        self.app = app
        self.guard = guard if guard is not None else guard_from_settings(database_url, secret_key)
        self.options = WebOptions(
            realm=realm, authorization_header=authorization_header,
            token_headers=tuple(token_headers), settings_path=settings_path, api_path=api_path,
            env_var=env_var, allow_token_minting=allow_token_minting, app_name=app_name,
            login_url=login_url, max_body_size=max_body_size, management_scope=management_scope,
        )
        self.web = TokenWeb(self.guard, self.options, can_manage=can_manage)
        self.authenticator = self.web.authenticator
        self._mount = WebMount(self.web, owner_loader)
        #: the explicit fast path: the in-process store answers with a dict look-up.
        self.runs_inline = inline_memory_store and type(self.guard.store) is MemoryStore
        self._authorization = authorization_header.lower().encode("latin-1")
        self._token_headers = frozenset(name.lower().encode("latin-1") for name in token_headers)
        self._token_header_names = tuple(self._token_headers)
        #: a path that starts with none of these is no mount point (one C call per request).
        self._mounts = (api_path, settings_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        info = await self._decide(scope, receive, send)
        if info is _Answered.ANSWERED:
            return
        if info is None:
            _anonymous(scope)
        else:
            # one object is both: Starlette's credentials and its user (an admin token holds
            # every configured scope)
            scope["auth"] = scope["user"] = TokenPrincipal(
                info, self._configured if info.admin else info.effective_scopes)
        if _FASTAPI in sys.modules:  # its handler renders TokenRejected: replaced on the way out
            await self._call_app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except TokenRejected as rejected:  # an app without Starlette's exception handling
            await self._send_rejected(rejected, scope, receive, send)

    async def _decide(self, scope: Scope, receive: Receive, send: Send) -> TokenInfo | _Answered | None:
        """The request's token (``None``: no credentials), or ``ANSWERED`` when it was answered here.

        Every request the compiled reader leaves to Python (all of them, without it): other
        scope types, the web layer's paths, a root_path, unusual or refused credentials, a
        token not warm, a clock of one's own, before_authenticate hooks.
        """
        kind = scope["type"]
        if kind == "http":
            scope[SCOPE_KEY] = self
            path = route_path(scope) if scope.get("root_path") else scope["path"]
            if path.startswith(self._mounts):  # one C call for every other path of the app
                parts = self.web.split(path)
                if parts is not None:
                    await self._mount.serve(*parts, scope, receive, send)
                    return _Answered.ANSWERED
        elif kind == "websocket":
            scope[SCOPE_KEY] = self
        else:
            await self.app(scope, receive, send)
            return _Answered.ANSWERED
        try:
            return await self._authenticate(scope, remote_address(scope))
        except TokenGuardError as exc:
            await self._refuse(exc, scope, receive, send)
            return _Answered.ANSWERED

    async def _authenticate(self, scope: Scope, remote: str | None) -> TokenInfo | None:
        """The request's token, ``None`` when anonymous; raises ``TokenGuardError`` to refuse."""
        credential = plain_credentials(scope["headers"], self._authorization, self._token_headers)
        if credential is None:
            return None
        # a warm token: answered from the cache, nothing awaited
        info = self.guard.authenticate_cached(credential, remote=remote) if credential else None
        if info is None:  # cold, or unusual: read_token's full checks, then the store
            info = await self._identify(scope, remote, cache_tried=bool(credential))
        return info

    @property
    def _configured(self) -> frozenset[str]:
        return frozenset(self.guard.scopes.order)

    async def _identify(self, scope: Scope, remote: str | None, *, cache_tried: bool) -> TokenInfo | None:
        """The request's token when the cache alone could not answer: ``None`` when anonymous.

        ``read_token``'s full checks (duplicates, spelling, token headers); the cache,
        unless the value after ``Bearer `` was just offered to it (an unusual header
        may spell a warm token); then the store, in a worker thread.
        """
        get_header = header_getter(scope["headers"])
        if not cache_tried:
            answered, info = self.authenticator.identify_cached(get_header, remote)
            if answered:
                return info
        return await self.call_guard(self.authenticator.identify, get_header, remote)

    async def call_guard(self, function: Callable[..., _T], *args: Any) -> _T:
        """Run a guard call that may reach the store without blocking the event loop."""
        if self.runs_inline:
            return function(*args)
        return await run_in_threadpool(function, *args)

    async def _refuse(self, exc: TokenGuardError, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            unavailable = isinstance(exc, StoreUnavailable)
            code = WEBSOCKET_TRY_AGAIN_LATER if unavailable else WEBSOCKET_POLICY_VIOLATION
            message = await receive()  # websocket.connect: the handshake we now decline
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": code, "reason": exc.error_code})
            return
        await to_starlette(self.authenticator.respond(exc))(scope, receive, send)

    async def _call_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; a refusal recorded by ``TokenRejected.refuse`` replaces its response.

        Only while FastAPI is loaded: its dependencies (``current_token``) can only raise, and
        its exception handler renders ``{"detail": …}``. Elsewhere ``send`` is not wrapped, and a
        ``TokenRejected`` that reaches the middleware is answered there.
        """
        replaced = False

        async def refusing_send(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and REFUSAL_KEY in scope:
                refusal = scope.pop(REFUSAL_KEY)
                if _renders(message, refusal):  # FastAPI's {"detail": …} for it: ours instead
                    replaced = True
                    await to_starlette(refusal)(scope, receive, send)
                    return
                # the app caught the refusal (an optional token) and answered on its own
            if not (replaced and message["type"] == "http.response.body"):
                await send(message)

        try:
            await self.app(scope, receive, refusing_send)
        except TokenRejected as rejected:  # an app without Starlette's exception handling
            if replaced:
                raise
            await self._send_rejected(rejected, scope, receive, send)

    @staticmethod
    async def _send_rejected(rejected: TokenRejected, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise rejected
        scope.pop(REFUSAL_KEY, None)
        await to_starlette(rejected.response)(scope, receive, send)


def _renders(start: Message, refusal: WebResponse) -> bool:
    """True when a response starting with ``start`` is the app's rendering of ``refusal``.

    Its status says so, whatever the handler (FastAPI's ``{"detail": …}``, an app's own)
    made of the body; an app that caught the refusal answers with a status of its own.
    """
    return bool(start.get("status") == refusal.status)


def _anonymous(scope: Scope) -> None:
    """No credentials: Starlette's defaults, unless an outer middleware (a session) set its own."""
    if "auth" not in scope:
        scope["auth"] = AuthCredentials()  # one per request: an endpoint may change its scopes
    if "user" not in scope:
        scope["user"] = UnauthenticatedUser()


def middleware_of(conn: HTTPConnection) -> TokenGuardMiddleware:
    """The middleware that authenticated ``conn``; a clear error when none is installed."""
    found = conn.scope.get(SCOPE_KEY)
    if not isinstance(found, TokenGuardMiddleware):
        raise RuntimeError(
            "TokenGuardMiddleware is not installed: add it with "
            "app.add_middleware(TokenGuardMiddleware, guard=…)"
        )
    return found


def guard_from_settings(
    database_url: str | None, secret_key: str | bytes | Sequence[str | bytes] | None
) -> TokenGuard:
    """A guard from the arguments, the environment's ``TOKENGUARD_*`` variables supplying the rest.

    Read by :mod:`tokenguard.config`, as Flask's configuration and the ``tokenguard`` CLI
    are read: a token the CLI makes is this app's.
    """
    given = {name: value for name, value in (("database_url", database_url), ("secret_key", secret_key))
             if value}
    return guard_config.guard_from_settings(given, upper=False, environ=os.environ)
