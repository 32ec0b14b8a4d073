"""Between Django's ``HttpRequest``/``HttpResponse`` and the web layer's ``WebRequest``/``WebResponse``.

Nothing is decided here: the web layer answers, this module copies.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from http.cookies import Morsel
from typing import Any

from django.http import HttpRequest, HttpResponse

from tokenguard.errors import TokenGuardError
from tokenguard.models import TokenInfo
from tokenguard.web.auth import REFUSALS, RequestAuthenticator, holds
from tokenguard.web.csrf import HostCsrf
from tokenguard.web.http import HeaderGetter, WebRequest, WebResponse, signed_in_owner
from tokenguard_django.registry import State

#: Where the request's token is kept: ``request.token`` (``None`` when it carries none).
TOKEN_ATTRIBUTE = "token"
_UNSET: Any = object()
#: no scope: any valid token
_ANY: frozenset[str] = frozenset()


@functools.lru_cache(maxsize=64)
def _meta_key(name: str) -> str:
    key = name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"


def header_getter(meta: dict[str, Any]) -> HeaderGetter:
    """Every value of a header, from ``request.META`` (WSGI and ASGI alike).

    Both Django handlers fold repeated headers into one comma-joined value, so two
    ``Authorization`` headers arrive as ``"Bearer a,Bearer b"`` and are refused as
    malformed (400) by the credential reader, as on the other adapters.
    """

    def get_header(name: str) -> list[str]:
        value = meta.get(_meta_key(name))
        return [] if value is None else [str(value)]

    return get_header


def remote(request: HttpRequest) -> str | None:
    value = request.META.get("REMOTE_ADDR")
    return str(value) if value else None


def current_owner(state: State, request: HttpRequest) -> str | None:
    """The signed-in owner: ``owner_loader(request)``, or the primary key of ``request.user``."""
    if state.owner_loader is not None:
        return signed_in_owner(state.owner_loader(request))
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return signed_in_owner(str(user.pk))


def identify(authenticator: RequestAuthenticator, request: HttpRequest) -> TokenInfo | None:
    """The request's token, verified once per request and kept as ``request.token``.

    :func:`read`, then :func:`verify` for a token only the store can answer.
    Raises what the authenticator raises (400, 401, 503 to answer). May reach the store:
    from async code, call :func:`read` on the loop and :func:`verify` through ``sync_to_async``.
    """
    found = read(authenticator, request)
    return verify(authenticator, request, found) if isinstance(found, str) else found


def read(authenticator: RequestAuthenticator, request: HttpRequest) -> TokenInfo | str | None:
    """The request's token from memory alone: never a store access, so safe on an event loop.

    ``request.token`` when it is set already; else ``request.META`` is read as the WSGI
    environ it is (under ASGI too, where Django builds it the same way): a warm
    ``Bearer`` token is answered from the cache with one look-up, anything else gets
    every check (``CredentialReader.environ_token``). The info (kept as ``request.token``),
    ``None`` when there are no credentials (kept too), or the token itself (a ``str``) when
    only the store can answer, for :func:`verify`. Raises ``MalformedCredentials`` and what
    the cache refuses (a revoked or expired token, a remembered unknown one, a blocked address).
    """
    found = getattr(request, TOKEN_ATTRIBUTE, _UNSET)
    if found is None or isinstance(found, TokenInfo):
        return found
    read_now = authenticator.reader.environ_token(request.META, remote(request))
    if not isinstance(read_now, str):
        setattr(request, TOKEN_ATTRIBUTE, read_now)
    return read_now


def verify(authenticator: RequestAuthenticator, request: HttpRequest, token: str) -> TokenInfo:
    """The store's answer for a token :func:`read` handed back, kept as ``request.token``.

    Raises what ``authenticator.verify`` raises. Reaches the store (Django's ORM): from
    async code, through ``sync_to_async``.
    """
    info = authenticator.verify(token, remote(request))
    setattr(request, TOKEN_ATTRIBUTE, info)
    return info


def checked(authenticator: RequestAuthenticator, request: HttpRequest, scopes: frozenset[str],
            project: Callable[[], str | None] | None) -> TokenInfo | HttpResponse:
    """The request's token when it holds ``scopes`` (and the project), else the RFC 6750 answer.

    The project is looked up only for a valid token: an app's ``project_from`` never runs
    for a request without one.
    """
    try:
        info = identify(authenticator, request)
        if project is None and holds(info, scopes):
            return info
        info = authenticator.authorize(info, _ANY)
        wanted = None if project is None else project()
        return authenticator.authorize(info, scopes, wanted, remote(request))
    except REFUSALS as exc:
        return to_django(authenticator.respond(exc))


def refusal(authenticator: RequestAuthenticator, exc: TokenGuardError) -> HttpResponse | None:
    """The answer to a tokenguard error raised in a view, as ``require_scope`` would give it."""
    if isinstance(exc, REFUSALS):
        return to_django(authenticator.respond(exc))
    return None


def web_request(request: HttpRequest, web_root: str, rest: str, owner: str | None,
                max_body_size: int, csrf: HostCsrf | None = None,
                layout: Callable[[Mapping[str, Any]], str] | None = None) -> WebRequest:
    """The Django request as the shared web layer sees it (the body read up to the limit + 1);
    ``csrf``: Django's CSRF protection, in place of the web layer's; ``layout``: the project's
    base template, rendered by Django."""
    below = "/" + rest if rest else "/"
    full = request.path
    mounted_at = web_root + ("" if below == "/" else below)
    prefix = full[: len(full) - len(mounted_at)] if full.endswith(mounted_at) else ""
    return WebRequest(
        method=request.method or "GET", path=below, get_header=header_getter(request.META),
        body=_read_body(request, max_body_size), owner=owner, remote=remote(request),
        origin=f"{request.scheme}://{request.get_host()}", query=request.GET.dict(),
        root=web_root, prefix=prefix.rstrip("/"), host_csrf=csrf, host_layout=layout,
    )


def _read_body(request: HttpRequest, limit: int) -> bytes:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return b"\0" * (limit + 1)  # too large: refused with 413 without reading it
    return request.read(limit + 1)


def to_django(response: WebResponse) -> HttpResponse:
    """The web layer's answer, copied verbatim (repeated headers such as Set-Cookie included)."""
    answer = HttpResponse(response.body, status=response.status)
    del answer["Content-Type"]  # only what the web layer says: a bodiless answer has none
    for name, value in response.headers:
        if name.lower() == "set-cookie":
            _set_cookie(answer, value)
        else:
            answer.headers[name] = value if name not in answer.headers else f"{answer.headers[name]}, {value}"
    return answer


class _VerbatimCookie(Morsel[str]):
    """A ``Set-Cookie`` header as the web layer wrote it: Django's handlers print ``output()``."""

    def __init__(self, header: str) -> None:
        super().__init__()
        name, _, value = header.partition(";")[0].partition("=")
        self.set(name.strip(), value.strip(), value.strip())
        self.header = header

    def output(self, attrs: Any = None, header: str = "Set-Cookie:") -> str:
        return f"{header} {self.header}" if header else self.header

    def OutputString(self, attrs: Any = None) -> str:
        return self.header


def _set_cookie(answer: HttpResponse, header: str) -> None:
    """Kept as written: Django keeps cookies in ``response.cookies``, which would re-quote them."""
    cookie = _VerbatimCookie(header)
    dict.__setitem__(answer.cookies, cookie.key, cookie)
