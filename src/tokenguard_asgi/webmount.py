"""Serving the settings page and the management API: translate ASGI to ``TokenWeb.dispatch`` and back.

Every decision (status, JSON, forms, CSRF, templates) is made by
:class:`tokenguard.web.app.TokenWeb`; this module reads the request, asks the
app's ``owner_loader`` who is signed in, runs ``dispatch`` in a worker thread
(it reaches the store) and sends the response verbatim.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.from_thread
import anyio.to_thread
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from tokenguard.web.app import TokenWeb
from tokenguard.web.http import WebRequest, WebResponse, signed_in_owner
from tokenguard_asgi._translate import (
    header_getter,
    origin_of,
    query_of,
    read_body,
    remote_address,
    replaying,
    to_starlette,
)

#: ``owner_loader(request)``: who is signed in (a cookie session), sync or async.
OwnerLoader = Callable[[Request], "str | Awaitable[str | None] | None"]


class WebMount:
    """The settings page and management API of one middleware."""

    __slots__ = ("owner_loader", "web")

    def __init__(self, web: TokenWeb, owner_loader: OwnerLoader | None) -> None:
        self.web = web
        self.owner_loader = owner_loader

    async def serve(self, root: str, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request for the mount point ``root`` and ``path`` below it."""
        body = await read_body(receive, self.web.options.max_body_size + 1)
        get_header = header_getter(scope["headers"])
        request = WebRequest(
            method=scope["method"], path=path, root=root, get_header=get_header, body=body,
            remote=remote_address(scope), origin=origin_of(scope, get_header), query=query_of(scope),
            prefix=scope.get("root_path", ""),
        )
        signed_in = Request(scope, replaying(body))
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
        if inspect.isawaitable(owner):  # an async loader: awaited back on the event loop
            owner = anyio.from_thread.run(_awaited, owner)
        return signed_in_owner(owner)


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
