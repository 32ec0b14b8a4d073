"""Serving the settings page and the management API: translate ASGI to ``TokenWeb.dispatch`` and back.

Every decision (status, JSON, forms, CSRF, templates) is made by
:class:`tokenguard.web.app.TokenWeb`; this module reads the request, asks the
app's ``owner_loader`` who is signed in, runs ``dispatch`` in a worker thread
(it reaches the store) and sends the response verbatim.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import anyio.from_thread
import anyio.to_thread
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from tokenguard.web.app import TokenWeb
from tokenguard.web.credentials import raw_header_getter
from tokenguard.web.http import WebRequest, WebResponse, signed_in_owner
from tokenguard_asgi._translate import (
    origin_of,
    query_of,
    read_body,
    remote_address,
    replaying,
    to_starlette,
)

#: ``owner_loader(request)``: who is signed in (a cookie session), sync or async.
OwnerLoader = Callable[[Request], "str | Awaitable[str | None] | None"]
#: the Starlette request being answered, for the host's ``locale_selector(request)``
#: (anyio copies it into the worker thread that renders the page).
_ANSWERING: ContextVar[Request | None] = ContextVar("tokenguard_asgi_answering", default=None)


def with_starlette_request(selector: Callable[[Request], object]) -> Callable[[WebRequest], object]:
    """The host's ``locale_selector(request)`` as the web layer calls it, with the Starlette request."""
    def locale_of(_request: WebRequest) -> object:
        answering = _ANSWERING.get()
        return None if answering is None else selector(answering)

    return locale_of


class WebMount:
    """The settings page and management API of one middleware."""

    __slots__ = ("owner_loader", "web")

    def __init__(self, web: TokenWeb, owner_loader: OwnerLoader | None) -> None:
        self.web = web
        self.owner_loader = owner_loader

    async def serve(self, root: str, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request for the mount point ``root`` and ``path`` below it."""
        body = await read_body(receive, self.web.options.max_body_size + 1)
        if body is None:  # the client gave up mid-body: nothing to answer, nothing to do
            return
        get_header = raw_header_getter(scope["headers"])
        request = WebRequest(
            method=scope["method"], path=path, root=root, get_header=get_header, body=body,
            remote=remote_address(scope), origin=origin_of(scope, get_header), query=query_of(scope),
            prefix=scope.get("root_path", ""),
        )
        signed_in = Request(scope, replaying(body))
        _ANSWERING.set(signed_in)  # this request's task (and its worker thread) only
        loader = self.owner_loader
        if loader is not None and _is_async(loader):
            # awaited here, on the event loop: never from a worker thread that would wait
            # for it (and for the threads it may want itself) while holding its own
            request.owner = signed_in_owner(await loader(signed_in), loader)  # type: ignore[misc]
            response = await anyio.to_thread.run_sync(self.web.dispatch, request)
        else:
            response = await anyio.to_thread.run_sync(self._dispatch, request, signed_in)
        await to_starlette(response)(scope, receive, send)

    def _dispatch(self, request: WebRequest, signed_in: Request) -> WebResponse:
        """In a worker thread: load the owner (a sync loader may do I/O too), then dispatch."""
        request.owner = self._owner(signed_in)
        return self.web.dispatch(request)

    def _owner(self, signed_in: Request) -> str | None:
        if self.owner_loader is None:
            return None
        owner: Any = self.owner_loader(signed_in)
        if inspect.isawaitable(owner):  # a sync callable that returned an awaitable
            owner = anyio.from_thread.run(_awaited, owner)
        return signed_in_owner(owner, self.owner_loader)


def _is_async(function: Callable[..., Any]) -> bool:
    """An ``async def`` loader, also behind ``functools.partial`` or as an object's ``__call__``."""
    while isinstance(function, functools.partial):
        function = function.func
    call = type(function).__call__ if not inspect.isroutine(function) else None
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(call)


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
