"""TokenWeb: the management API and the settings page, behind one call for every adapter.

Adapter convention
------------------

An adapter mounts one ``TokenWeb`` and, for every request:

1. asks ``web.mount_for(full_path)`` (or ``web.handles(full_path)``); ``None`` /
   ``False`` means the request is not ours and goes to the app;
2. builds a ``WebRequest`` with ``root`` = that mount point (``options.api_path``
   or ``options.settings_path``) and ``path`` = the rest of the path below it,
   ``"/"`` for the mount point itself (``web.split(full_path)`` returns both).
   Passing the full path with ``root=""`` works too: ``dispatch`` splits it;
3. reads at most ``options.max_body_size + 1`` bytes of the body into
   ``WebRequest.body`` (``dispatch`` answers 413 when it is longer);
4. sets ``owner`` from the app's ``owner_loader`` read by ``http.signed_in_owner`` (the one rule:
   ``None``, ``""``, ``False`` are nobody, a ``str`` or ``int`` an owner), ``remote``,
   ``origin`` ("scheme://host[:port]" as the client addressed us) and
   ``get_header`` returning *every* value of a header, so duplicates are seen;
5. calls ``web.dispatch(request)`` (synchronous, may touch the store: ASGI runs it
   in a worker thread) and copies status, headers (repeatable, e.g. Set-Cookie)
   and body of the ``WebResponse`` back verbatim.

The query string is never read for credentials. Protected app endpoints use
``web.authenticator`` (``identify_environ`` or ``identify_raw``, ``authorize``,
``respond``); every error is answered by :func:`tokenguard.web.answers.error_response`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from tokenguard.errors import OwnerInactive
from tokenguard.guard import TokenGuard
from tokenguard.web.admin import Admin, CanAdminister, is_admin_api_path, is_admin_page_path
from tokenguard.web.answers import NoSuchResource, error_response
from tokenguard.web.api import ManagementApi
from tokenguard.web.auth import RequestAuthenticator
from tokenguard.web.csrf import CsrfProtector
from tokenguard.web.gate import Gate
from tokenguard.web.http import WebRequest, WebResponse
from tokenguard.web.options import WebOptions
from tokenguard.web.page import SettingsPage
from tokenguard.web.pageview import OWNER_INACTIVE


class TokenWeb:
    """Serves ``options.api_path`` (JSON) and ``options.settings_path`` (HTML) and below."""

    def __init__(self, guard: TokenGuard, options: WebOptions | None = None, *,
                 can_manage: Callable[[str], bool] | None = None,
                 can_administer: CanAdminister | None = None) -> None:
        """``can_manage(owner)``: may they manage their own tokens (default: everyone);
        ``can_administer(owner)``: may they see and manage everyone's (``/admin``; default: nobody)."""
        self.guard = guard
        self.options = options or WebOptions()
        self.authenticator = RequestAuthenticator(guard, self.options)
        csrf = CsrfProtector(guard.derive_key("csrf"), self.options.csrf_max_age)
        self.gate = Gate(guard, self.authenticator, csrf, can_manage, self.options.management_scope)
        self.api = ManagementApi(guard, self.options, self.gate)
        self.page = SettingsPage(guard, self.options, self.gate)
        self.admin = Admin(guard, self.options, self.gate, self.api, self.page, can_administer)
        #: how many first characters of a path tell it from both mount points, and those
        #: characters of each: ``mount_for``'s first test, a slice and a set look-up (cheaper
        #: than ``startswith``, which parses its tuple of prefixes on every call).
        api_path, settings_path = self.options.api_path, self.options.settings_path
        self.mount_head = min(len(api_path), len(settings_path))
        self.mount_heads = frozenset((api_path[:self.mount_head], settings_path[:self.mount_head]))

    def mount_for(self, path: str) -> str | None:
        """The mount point serving ``path``, or ``None`` when the path is the app's."""
        if path[:self.mount_head] not in self.mount_heads:  # every request of the host app asks
            return None
        return self.options.mount_for(path)

    def handles(self, path: str) -> bool:
        return self.mount_for(path) is not None

    def split(self, path: str) -> tuple[str, str] | None:
        """``(root, path below root)`` for a full request path, or ``None`` when not ours."""
        root = self.mount_for(path)
        if root is None:
            return None
        return root, path[len(root):] or "/"

    def dispatch(self, request: WebRequest) -> WebResponse:
        if request.root not in (self.options.api_path, self.options.settings_path):
            parts = self.split(request.path)
            if parts is None:
                return error_response(NoSuchResource(), self.options.realm)
            request = dataclasses.replace(request, root=parts[0], path=parts[1])
        if request.root == self.options.api_path:
            if is_admin_api_path(request.path):
                return self.admin.api.handle(request)
            return self.api.handle(request)
        if is_admin_page_path(request.path):
            return self.admin.page.handle(request)
        try:
            return self.page.handle(request)
        except OwnerInactive as exc:  # re-approving (or rotating) as a deactivated owner: 403, never a 500
            return self.page.problem(request, exc, message=OWNER_INACTIVE)
