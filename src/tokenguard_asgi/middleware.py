"""``TokenGuardMiddleware``: a pure ASGI-3 middleware that authenticates API tokens.

It does what Starlette's ``AuthenticationMiddleware`` does, with tokenguard's
rules:

* ``lifespan`` and every other scope type pass straight through.
* For ``http`` and ``websocket`` scopes the credentials are read from the
  headers (``Authorization: Bearer …`` or ``Api-Token: …``; never the query
  string). A valid token sets both ``scope["auth"]`` and ``scope["user"]`` to one
  :class:`TokenPrincipal`: a :class:`TokenCredentials` (its effective scopes, plus
  ``.token``) and a :class:`TokenUser` at once, so Starlette's ``requires``,
  ``request.auth`` and ``request.user`` work unchanged.
* A request without credentials goes on unchanged: ``scope["auth"]`` and
  ``scope["user"]`` default to ``AuthCredentials()`` and
  ``UnauthenticatedUser()``, unless an outer middleware (a session login, say)
  already set them. Endpoints decide with ``require_scope``.
* Bad credentials are answered at once, on every path: 400 ``invalid_request``
  for a malformed or duplicated credential, 401 ``invalid_token`` for an
  unknown, expired or revoked token, with the RFC 6750 challenge and the JSON
  body every adapter sends (RFC 6750 §3.1 has the resource server refuse such a
  request, rather than let an unprotected endpoint act on it as anonymous).
  A store that cannot be reached fails closed: 503.
* A refusal the app raises itself (``guard.require(…)`` in a view, FastAPI's
  ``current_token``: ``InsufficientScope``, an authentication error,
  ``StoreUnavailable``) is answered the same way, before its response started.
* A websocket handshake that is refused gets that same HTTP answer where the
  server offers the ``websocket.http.response`` extension (uvicorn does); else
  it is accepted and closed with 1008 (1013 when the store is down), the
  ``error`` as the reason.
* Paths under ``settings_path`` and ``api_path`` (below the app's
  ``root_path``) are served by the framework-neutral web layer: the settings
  page and the management API. ``owner_loader(request)`` (sync or async, given
  a Starlette ``Request``) says who is signed in. ``secret_scanning=True`` adds
  GitHub's secret-scanning partner endpoint, ``POST {api_path}/secret-scanning``,
  verified against the keys at ``github_keys_url`` (GitHub's by default).

The event loop is never blocked: a warm token is answered from the guard's
verification cache, inline; a cold one is verified in a worker thread (or
inline when the store is exactly the in-process :class:`~tokenguard.MemoryStore`,
unless ``inline_memory_store=False``, for apps whose plugins do I/O in their hooks).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenguard import config as guard_config
from tokenguard.errors import REFUSALS, TokenGuardError
from tokenguard.guard import TokenGuard
from tokenguard.stores.memory import MemoryStore
from tokenguard.web.app import TokenWeb
from tokenguard.web.options import GITHUB_KEYS_URL, WebOptions
from tokenguard_asgi._translate import route_path, send_refusal
from tokenguard_asgi.auth import TokenPrincipal
from tokenguard_asgi.webmount import OwnerLoader, WebMount, with_starlette_request

#: the key of ``scope`` under which the middleware leaves itself for ``require_scope``.
SCOPE_KEY = "tokenguard"

_T = TypeVar("_T")


class TokenGuardMiddleware:
    """Authenticates API tokens for any ASGI-3 app (Starlette, FastAPI, …)."""

    def __init__(
        self,
        app: ASGIApp,
        guard: TokenGuard | None = None,
        *,
        owner_loader: OwnerLoader | None = None,
        can_manage: Callable[[str], bool] | None = None,
        can_administer: Callable[[str], bool] | None = None,
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
        csrf_max_age: int = 24 * 3600,
        owner_display: Callable[[str], str] | None = None,
        projects_loader: Callable[[str], Iterable[str]] | None = None,
        locale_selector: Callable[[Request], object] | None = None,
        home_url: str | None = None,
        logout_url: str | None = None,
        base_template: str | None = None,
        content_block: str = "content",
        templates: object = None,
        theme: str = "auto",
        csp_sources: Mapping[str, Sequence[str]] | None = None,
        secret_scanning: bool = False,
        github_keys_url: str = GITHUB_KEYS_URL,
        allow_never_expires: bool | None = None,
        permission_levels: Callable[[str], Iterable[str]] | None = None,
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
            csrf_max_age=csrf_max_age,
            owner_display=owner_display, projects_loader=projects_loader, home_url=home_url,
            logout_url=logout_url,
            base_template=base_template, content_block=content_block, templates=templates, theme=theme,
            csp_sources=csp_sources or {}, secret_scanning=secret_scanning,
            github_keys_url=github_keys_url, allow_never_expires=allow_never_expires,
            permission_levels=permission_levels,
            locale_selector=with_starlette_request(locale_selector) if locale_selector else None,
        )
        self.web = TokenWeb(self.guard, self.options, can_manage=can_manage,
                            can_administer=can_administer)
        self.authenticator = self.web.authenticator
        self._mount = WebMount(self.web, owner_loader)
        #: the explicit fast path: the in-process store answers with a dict look-up.
        self.runs_inline = inline_memory_store and type(self.guard.store) is MemoryStore
        #: ``TokenWeb.mount_for``'s first test, inlined: a path failing it is no mount point.
        self._head, self._heads = self.web.mount_head, self.web.mount_heads
        #: the one reader's ASGI entry (``RequestAuthenticator.identify_raw``), bound once.
        self._identify = self.authenticator.reader.raw_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path = route_path(scope) if scope.get("root_path") else scope["path"]
            if path[:self._head] in self._heads:
                parts = self.web.split(path)
                if parts is not None:
                    await self._mount.serve(*parts, scope, receive, send)
                    return
        elif kind != "websocket":
            await self.app(scope, receive, send)
            return
        scope[SCOPE_KEY] = self
        client = scope.get("client")
        remote = client[0] if client else None
        try:
            info = self._identify(scope["headers"], remote)
            if isinstance(info, str):  # only the store can answer: never on the event loop
                info = await self.call_guard(self.authenticator.verify, info, remote)
        except REFUSALS as exc:
            await send_refusal(exc, self.options.realm, scope, receive, send)
            return
        if info is None:
            _anonymous(scope)
        else:  # one object is both Starlette's credentials and its user
            scope["auth"] = scope["user"] = TokenPrincipal(
                info, self._configured if info.admin else info.effective_scopes)
        if kind != "http":
            await self._websocket_app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except REFUSALS as exc:  # the app's own refusal: answered while its response has not started
            await _answer_late(exc, self.options.realm, scope, receive, send)

    async def _websocket_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app on a websocket; a refusal it raises before answering the handshake refuses it."""
        answered = connected = False

        async def watching_receive() -> Message:
            nonlocal connected
            connected = True
            return await receive()

        async def watching_send(message: Message) -> None:
            nonlocal answered
            answered = True
            await send(message)

        try:
            await self.app(scope, watching_receive, watching_send)
        except REFUSALS as exc:
            if answered:
                raise
            await send_refusal(exc, self.options.realm, scope, receive, send, connect_received=connected)

    @property
    def _configured(self) -> frozenset[str]:
        return frozenset(self.guard.scopes.order)

    async def call_guard(self, function: Callable[..., _T], *args: Any) -> _T:
        """Run a guard call that may reach the store without blocking the event loop."""
        if self.runs_inline:
            return function(*args)
        return await run_in_threadpool(function, *args)


async def _answer_late(exc: TokenGuardError, realm: str, scope: Scope, receive: Receive, send: Send) -> None:
    """The answer to a refusal the app raised, unless its response had started.

    Nothing here watches the app's messages (that would cost every request a wrapped
    ``send``): the server knows, and refuses a second ``http.response.start`` (ASGI has
    it raise). Then it is too late to answer, and the app's own exception goes on.
    """
    try:
        await send_refusal(exc, realm, scope, receive, send)
    except Exception:
        raise exc from None


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
