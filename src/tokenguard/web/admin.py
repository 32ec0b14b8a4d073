"""The admin inventory: every owner's tokens, for the callers ``can_administer`` lets in.

Below ``api_path`` (JSON): ``GET /admin/tokens`` (filters ``owner, status, scope,
project, expiring_within_days, unused_for_days``, ``sort``, ``page`` of 50) ·
``POST /admin/tokens/{id}/revoke`` · ``DELETE /admin/tokens/{id}`` → 204 ·
``GET /admin/owners/{owner}`` · ``POST /admin/owners/{owner}/deactivate`` and
``/reactivate``.

Below ``settings_path`` (HTML): ``GET /admin`` the table, with the same filters as
query parameters · ``POST /admin/tokens/{id}/revoke`` · ``GET|POST
/admin/tokens/{id}/delete`` (confirmed with ``confirm=yes``) · ``POST
/admin/owners/{owner}/deactivate`` and ``/reactivate`` (303 back to the table, with
its filters, and a flash).

The caller is a signed-in user (the app's ``owner_loader``) or a bearer token with
the management scope, and ``can_administer(owner)`` must be true for that owner
(default: nobody); else 403 ``forbidden``, and 401 for nobody at all. Cookie writes
need the CSRF token, as everywhere. Every action is audited with the admin as
actor: ``admin:{owner}``, or ``admin:token:{id}`` through a token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from tokenguard import audit, validation
from tokenguard.errors import (
    MissingCredentials,
    StoreUnavailable,
    TokenGuardError,
    TokenNotFound,
    ValidationError,
)
from tokenguard.guard import TokenGuard
from tokenguard.models import TokenInfo
from tokenguard.web import forms, pageview, shapes
from tokenguard.web.answers import CsrfRefused, Forbidden, MethodNotAllowed, NoSuchResource, RequestTooLarge
from tokenguard.web.api import ManagementApi
from tokenguard.web.csrf import CSRF_HEADER
from tokenguard.web.flash import Flash
from tokenguard.web.gate import Caller, Gate
from tokenguard.web.http import NO_STORE_HEADERS, WebRequest, WebResponse
from tokenguard.web.i18n import N_
from tokenguard.web.listing import PAGE_SIZE, link, page_of, sort_tokens, toggled, whole_number
from tokenguard.web.options import WebOptions
from tokenguard.web.page import SettingsPage

CanAdminister = Callable[[str], bool]
SORTS = ("created_at", "name", "owner", "expires_at", "last_used_at")
DEFAULT_SORT = "-created_at"
STATUSES = ("active", "revoked", "expired")
OWNER_ACTIONS = ("deactivate", "reactivate")
MAX_DAYS = 36500
NOT_ALLOWED = N_("You are not allowed to administer API tokens.")
#: the flashes after an action (``%(name)s`` and the like filled in by the page, once translated).
REVOKED = N_("Revoked “%(name)s” of %(owner)s.")
DELETED = N_("Deleted “%(name)s” of %(owner)s.")
DEACTIVATED = N_("Deactivated %(owner)s: %(count)s token(s) revoked.")
REACTIVATED = N_("Reactivated %(owner)s: no token was revived.")
#: what the page says of a filter it cannot read (the API's JSON names the field, in English).
FILTER_ERRORS = {
    "status": N_("Choose a status from the list."),
    "scope": N_("Choose a permission from the list."),
    "sort": N_("Sort by one of the columns of the table."),
    "page": N_("There is no such page."),
    "expiring_within_days": N_("“Expiring within” takes a whole number of days."),
    "unused_for_days": N_("“Unused for” takes a whole number of days."),
}
CHECK_FILTERS = N_("Check the filters.")
NO_SUCH_OWNER = N_("There is no such owner.")


def is_admin_api_path(path: str) -> bool:
    """``/admin/tokens…``, ``/admin/owners/…`` below ``api_path``; ``/admin/revoke`` is token "admin"'s."""
    return path == "/admin/tokens" or path.startswith(("/admin/tokens/", "/admin/owners/"))


def is_admin_page_path(path: str) -> bool:
    """``/admin`` and ``/admin/tokens/…``, ``/admin/owners/…`` below ``settings_path``."""
    return path.rstrip("/") == "/admin" or path.startswith(("/admin/tokens/", "/admin/owners/"))


# -- the inventory ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InventoryQuery:
    """The filters, sort and page of an inventory request, checked (``ValidationError`` names the field)."""

    owner: str | None = None
    status: str | None = None
    scope: str | None = None
    project: str | None = None
    expiring_within_days: int | None = None
    unused_for_days: int | None = None
    sort: str = DEFAULT_SORT
    page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, str], guard: TokenGuard) -> InventoryQuery:
        """From query parameters; empty values are no filter."""
        given = {key: value.strip() for key, value in params.items() if value and value.strip()}
        status = given.get("status")
        if status is not None and status not in STATUSES:
            raise ValidationError("status must be active, revoked or expired", field="status")
        scope = given.get("scope")
        if scope is not None and scope not in guard.scopes.order:
            raise ValidationError(f"scope must be one of {', '.join(guard.scopes.order)}", field="scope")
        sort = given.get("sort", DEFAULT_SORT)
        if sort.removeprefix("-") not in SORTS:
            raise ValidationError(f"sort must be one of {', '.join(SORTS)}, optionally with a leading -",
                                  field="sort")
        owner = params.get("owner") or None  # exactly as given: owners are never trimmed
        return cls(
            owner=None if owner is None else validation.owner(owner), status=status, scope=scope,
            project=given.get("project"),
            expiring_within_days=_days(given, "expiring_within_days"),
            unused_for_days=_days(given, "unused_for_days"),
            sort=sort, page=_number(given, "page", 1, 1_000_000) or 1,
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """The query parameters that ask for this (with ``changes``), defaults left out."""
        query = replace(self, **changes)
        values = {"owner": query.owner, "status": query.status, "scope": query.scope,
                  "project": query.project, "expiring_within_days": query.expiring_within_days,
                  "unused_for_days": query.unused_for_days,
                  "sort": None if query.sort == DEFAULT_SORT else query.sort,
                  "page": None if query.page == 1 else query.page}
        return {key: str(value) for key, value in values.items() if value is not None}

    def link(self, base: str, **changes: Any) -> str:
        return link(base, self.params(**changes))


def _number(given: Mapping[str, str], field: str, least: int, most: int) -> int | None:
    text = given.get(field)
    if text is None:
        return None
    number = whole_number(text, least, most)
    if number is None:
        raise ValidationError(f"{field} must be a whole number from {least} to {most}", field=field)
    return number


def _days(given: Mapping[str, str], field: str) -> int | None:
    return _number(given, field, 1, MAX_DAYS)


@dataclass(frozen=True, slots=True)
class Inventory:
    """One page of the tokens a query matches, and how many there are in all."""

    tokens: list[TokenInfo]
    total: int
    page: int
    pages: int


def inventory(guard: TokenGuard, query: InventoryQuery) -> Inventory:
    """Every owner's tokens (or ``query.owner``'s) that match, sorted, one page of ``PAGE_SIZE``.

    ``scope`` and ``project`` match what a token may do: a ``write`` token has ``read``, a
    token restricted to no project reaches every project (as ``guard.require`` decides).
    """
    now = guard.clock()
    tokens = guard.list_tokens(query.owner)
    if query.status is not None:
        tokens = [t for t in tokens if t.status_at(now) == query.status]
    if query.scope is not None:
        scope = query.scope
        tokens = [t for t in tokens if t.has_scope(scope)]
    if query.project is not None:
        project = query.project
        tokens = [t for t in tokens if t.allows_project(project)]
    if query.expiring_within_days is not None:
        soon = {t.id for t in guard.expiring(timedelta(days=query.expiring_within_days), query.owner)}
        tokens = [t for t in tokens if t.id in soon]
    if query.unused_for_days is not None:
        stale = {t.id for t in guard.unused(timedelta(days=query.unused_for_days), query.owner)}
        tokens = [t for t in tokens if t.id in stale]
    found = page_of(sort_tokens(tokens, query.sort), query.page)
    return Inventory(found.items, found.total, found.page, found.pages)


# -- who may administer, and what they do -----------------------------------------------------


class Administration:
    """``can_administer``, and the admin actions, each audited with the admin as actor."""

    def __init__(self, guard: TokenGuard, gate: Gate, can_administer: CanAdminister | None) -> None:
        self.guard = guard
        self.gate = gate
        self._can_administer = can_administer

    def allowed(self, owner: str) -> bool:
        return self._can_administer is not None and bool(self._can_administer(owner))

    def check(self, owner: str) -> None:
        if not self.allowed(owner):
            raise Forbidden("you are not allowed to administer API tokens")

    def api_caller(self, request: WebRequest) -> Caller:
        """A bearer token with the management scope, else the signed-in user, else 401; then the check."""
        info = self.gate.bearer(request)
        if info is not None:
            caller = Caller(info.owner, info)
        elif request.owner:
            caller = Caller(validation.owner(request.owner))
        else:
            raise MissingCredentials()
        self.check(caller.owner)
        return caller

    @staticmethod
    def actor(caller: Caller) -> str:
        return f"admin:{caller.actor}"

    def revoke(self, caller: Caller, token_id: str, remote: str | None) -> TokenInfo:
        return self.guard.revoke(token_id, actor=self.actor(caller), remote=remote)

    def delete(self, caller: Caller, token_id: str, remote: str | None) -> TokenInfo:
        return self.guard.delete(token_id, actor=self.actor(caller), remote=remote)

    def deactivate(self, caller: Caller, owner: str, remote: str | None) -> int:
        owner = validation.owner(owner)
        actor = self.actor(caller)
        revoked = self.guard.deactivate_owner(owner, actor=actor, remote=remote)
        audit.emit("owner_deactivated", owner=owner, actor=actor, remote=remote, revoked=revoked)
        return revoked

    def reactivate(self, caller: Caller, owner: str, remote: str | None) -> bool:
        owner = validation.owner(owner)
        actor = self.actor(caller)
        lifted = self.guard.reactivate_owner(owner, actor=actor)
        audit.emit("owner_reactivated", owner=owner, actor=actor, remote=remote, lifted=lifted)
        return lifted

    def owner_json(self, owner: str) -> dict[str, Any]:
        state = self.guard.owner_state(owner)
        now = self.guard.clock()
        tokens = self.guard.list_tokens(state.owner)
        return {"owner": state.owner, "active": state.active,
                "deactivated_at": shapes.timestamp(state.deactivated_at),
                "deactivated_by": state.deactivated_by, "tokens": len(tokens),
                "active_tokens": sum(1 for t in tokens if t.status_at(now) == "active")}


def owner_route(path: str, method: str) -> tuple[str, str | None]:
    """``(owner, action)`` of ``/admin/owners/{owner}[/{action}]``; an owner may hold ``/``."""
    rest = path.removeprefix("/admin/owners/")
    if method == "POST":
        for action in OWNER_ACTIONS:
            if rest.endswith("/" + action):
                return rest[: -len(action) - 1], action
    return rest, None


def token_route(path: str) -> tuple[str, str | None]:
    """``(id, action)`` of ``/admin/tokens/{id}[/{action}]``."""
    token_id, _sep, action = path.removeprefix("/admin/tokens/").partition("/")
    return token_id, action.strip("/") or None


# -- the API ------------------------------------------------------------------------------------


class AdminApi:
    """``{api_path}/admin/…``: JSON, with the management API's errors and headers."""

    def __init__(self, admin: Administration, api: ManagementApi, options: WebOptions) -> None:
        self.admin = admin
        self.api = api
        self.guard = admin.guard
        self.options = options

    def handle(self, request: WebRequest) -> WebResponse:
        try:
            if len(request.body) > self.options.max_body_size:
                raise RequestTooLarge(self.options.max_body_size)
            return self._route(request)
        except TokenGuardError as exc:
            return self.api.error(exc)

    def _route(self, request: WebRequest) -> WebResponse:
        method = "GET" if request.method.upper() == "HEAD" else request.method.upper()
        path = request.path
        if path.rstrip("/") == "/admin/tokens":
            return self._authorized(request, method, "GET", lambda caller: self._list(request, caller))
        if path.startswith("/admin/tokens/"):
            token_id, action = token_route(path)
            if not token_id or action not in (None, "revoke"):
                raise NoSuchResource()
            if action == "revoke":
                return self._authorized(request, method, "POST",
                                        lambda caller: self._revoke(request, caller, token_id))
            return self._authorized(request, method, "DELETE",
                                    lambda caller: self._delete(request, caller, token_id))
        owner, action = owner_route(path, method)
        if not owner:
            raise NoSuchResource()
        if action is None:
            return self._authorized(request, method, "GET", lambda caller: WebResponse.json(
                self.admin.owner_json(validation.owner(owner))))
        return self._authorized(request, method, "POST",
                                lambda caller: self._owner_action(request, caller, owner, action))

    def _authorized(self, request: WebRequest, method: str, allowed: str,
                    answer: Callable[[Caller], WebResponse]) -> WebResponse:
        if method != allowed:
            raise MethodNotAllowed([allowed])
        caller = self.admin.api_caller(request)
        if method != "GET" and caller.via_cookie:
            self.admin.gate.check_csrf(request, caller.owner)
        return answer(caller)

    def _info(self, info: TokenInfo) -> dict[str, Any]:
        return shapes.token_json(info, self.guard.scopes, self.guard.clock())

    def _list(self, request: WebRequest, caller: Caller) -> WebResponse:
        found = inventory(self.guard, InventoryQuery.parse(request.query, self.guard))
        body = {"tokens": [self._info(t) for t in found.tokens], "total": found.total,
                "page": found.page, "pages": found.pages, "per_page": PAGE_SIZE}
        headers = ([(CSRF_HEADER, self.admin.gate.csrf_token(request, caller.owner))]
                   if caller.via_cookie else [])
        return WebResponse.json(body, 200, headers)

    def _revoke(self, request: WebRequest, caller: Caller, token_id: str) -> WebResponse:
        return WebResponse.json(self._info(self.admin.revoke(caller, token_id, request.remote)))

    def _delete(self, request: WebRequest, caller: Caller, token_id: str) -> WebResponse:
        self.admin.delete(caller, token_id, request.remote)
        return WebResponse(204, list(NO_STORE_HEADERS))

    def _owner_action(self, request: WebRequest, caller: Caller, owner: str, action: str) -> WebResponse:
        if action == "deactivate":
            revoked = self.admin.deactivate(caller, owner, request.remote)
            return WebResponse.json({"owner": owner, "active": False, "revoked": revoked})
        lifted = self.admin.reactivate(caller, owner, request.remote)
        return WebResponse.json({"owner": owner, "active": True, "reactivated": lifted})


# -- the page -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdminRow:
    """A row of the admin table: the settings page's row, with its owner and theirs' state."""

    token: pageview.TokenRow
    owner: str
    owner_active: bool


class AdminPage:
    """``{settings_path}/admin``: the inventory as HTML, in the settings page's layout."""

    def __init__(self, admin: Administration, page: SettingsPage, options: WebOptions) -> None:
        self.admin = admin
        self.page = page
        self.guard = admin.guard
        self.options = options

    def handle(self, request: WebRequest) -> WebResponse:
        try:
            return self._answer(request)
        except (TokenNotFound, MethodNotAllowed, NoSuchResource, RequestTooLarge, StoreUnavailable) as exc:
            return self.page.problem(request, exc)
        except CsrfRefused as exc:
            return self.page.problem(request, exc, message=str(exc))
        except Forbidden as exc:  # not an administrator
            return self.page.problem(request, exc, message=NOT_ALLOWED)

    def _answer(self, request: WebRequest) -> WebResponse:
        if len(request.body) > self.options.max_body_size:
            raise RequestTooLarge(self.options.max_body_size)
        method = "GET" if request.method.upper() == "HEAD" else request.method.upper()
        path = request.path
        if path.rstrip("/") == "/admin":
            allowed = ["GET"]
        elif path.startswith("/admin/tokens/"):
            token_id, action = token_route(path)
            if not token_id or action not in ("revoke", "delete"):
                raise NoSuchResource()
            allowed = ["GET", "POST"] if action == "delete" else ["POST"]
        else:
            owner, action = owner_route(path, method)
            if not owner:
                raise NoSuchResource()
            allowed = ["POST"]
        if method not in allowed:
            raise MethodNotAllowed(allowed)
        if not request.owner:
            return self._sign_in(request)
        try:
            caller = Caller(validation.owner(request.owner))
        except ValidationError as exc:
            return self.page.problem(request, exc)  # "Your account cannot hold API tokens."
        self.admin.check(caller.owner)
        form: forms.Form = {}
        if method == "POST":
            try:
                form = forms.read_form(request)
            except ValidationError:
                form = {}
            self.admin.gate.check_csrf(request, caller.owner, _single(form, "csrf_token"))
        back = _back(form)
        if path.rstrip("/") == "/admin":
            return self._show(request, caller.owner)
        if path.startswith("/admin/tokens/"):
            return self._token_action(request, caller, form, back, *token_route(path))
        owner, action = owner_route(path, method)
        try:
            return self._owner_action(request, caller, back, owner, action or "")
        except ValidationError:  # an owner id that no owner can have
            return self._redirect(request, back, Flash("error", NO_SUCH_OWNER), caller.owner)

    def _sign_in(self, request: WebRequest) -> WebResponse:
        if self.options.login_url:
            sep = "&" if "?" in self.options.login_url else "?"
            target = quote(f"{request.base_url}/admin")
            return WebResponse.redirect(f"{self.options.login_url}{sep}next={target}")
        return self.page.problem(request, MissingCredentials())

    def _redirect(self, request: WebRequest, back: Mapping[str, str], flash: Flash,
                  owner: str) -> WebResponse:
        try:
            query = InventoryQuery.parse(back, self.guard)
        except ValidationError:
            query = InventoryQuery()
        location = query.link(f"{request.base_url}/admin")
        return WebResponse.redirect(location, [self.page.flashes.set(request, owner, flash)])

    # -- views ----------------------------------------------------------------------------------

    def _show(self, request: WebRequest, owner: str) -> WebResponse:
        flash, clear = self.page.flashes.take(request, owner)
        status, error = 200, ""
        try:
            query = InventoryQuery.parse(request.query, self.guard)
        except ValidationError as exc:
            query, status, error = InventoryQuery(), 400, FILTER_ERRORS.get(exc.field or "", CHECK_FILTERS)
        found = inventory(self.guard, query) if not error else Inventory([], 0, 1, 1)
        return self._render(request, owner, query, found, status=status, error=error, flash=flash,
                            headers=clear)

    def _render(self, request: WebRequest, owner: str, query: InventoryQuery, found: Inventory, *,
                status: int = 200, error: str = "", flash: Flash | None = None,
                confirm: AdminRow | None = None,
                headers: list[tuple[str, str]] | None = None) -> WebResponse:
        now = self.guard.clock()
        states = {o: self.guard.is_owner_active(o) for o in {t.owner for t in found.tokens}}
        if query.owner is not None:
            states.setdefault(query.owner, self.guard.is_owner_active(query.owner))
        admin_url = f"{request.base_url}/admin"
        sort_key = query.sort.removeprefix("-")
        context: dict[str, Any] = {
            "root": request.base_url, "admin_url": admin_url, "app_name": self.options.app_name,
            "owner": owner, "csrf_token": self.admin.gate.csrf.issue(owner), "flash": flash,
            "rows": [AdminRow(pageview.token_row(t, self.guard, now), t.owner, states[t.owner])
                     for t in found.tokens],
            "query": query, "found": found, "error": error, "confirm": confirm,
            "statuses": STATUSES, "scopes": list(self.guard.scopes.order),
            "owner_filter": query.owner, "owner_active": states.get(query.owner or "", True),
            "back": urlencode(query.params()),
            "sort_links": {key: query.link(admin_url, sort=toggled(query.sort, key), page=1)
                           for key in SORTS},
            "sorted_by": sort_key, "descending": query.sort.startswith("-"),
            "previous_link": query.link(admin_url, page=found.page - 1) if found.page > 1 else "",
            "next_link": query.link(admin_url, page=found.page + 1) if found.page < found.pages else "",
            "quote": lambda value: quote(str(value), safe=""),
            "policy": self.page.policy.summary(),
        }
        return self.page.renderer.page("admin.html", context, status, headers or [], request=request)

    # -- actions ---------------------------------------------------------------------------------

    def _token_action(self, request: WebRequest, caller: Caller, form: forms.Form, back: dict[str, str],
                      token_id: str, action: str | None) -> WebResponse:
        info = self.guard.get_token(token_id)
        if action == "revoke":
            self.admin.revoke(caller, token_id, request.remote)
            return self._redirect(request, back, Flash(
                "success", REVOKED, (("name", info.name), ("owner", info.owner))), caller.owner)
        if request.method.upper() != "POST" or _single(form, "confirm") != "yes":
            row = AdminRow(pageview.token_row(info, self.guard, self.guard.clock()), info.owner,
                           self.guard.is_owner_active(info.owner))
            query = self._query(back)
            return self._render(request, caller.owner, query, Inventory([], 0, 1, 1), confirm=row)
        self.admin.delete(caller, token_id, request.remote)
        return self._redirect(request, back, Flash(
            "success", DELETED, (("name", info.name), ("owner", info.owner))), caller.owner)

    def _owner_action(self, request: WebRequest, caller: Caller, back: dict[str, str], owner: str,
                      action: str) -> WebResponse:
        if action == "deactivate":
            revoked = self.admin.deactivate(caller, owner, request.remote)
            flash = Flash("success", DEACTIVATED, (("count", str(revoked)), ("owner", owner)))
        else:
            self.admin.reactivate(caller, owner, request.remote)
            flash = Flash("success", REACTIVATED, (("owner", owner),))
        return self._redirect(request, back, flash, caller.owner)

    def _query(self, back: Mapping[str, str]) -> InventoryQuery:
        try:
            return InventoryQuery.parse(back, self.guard)
        except ValidationError:
            return InventoryQuery()


def _single(form: forms.Form, name: str) -> str | None:
    values = form.get(name, [])
    return values[0] if len(values) == 1 else None


def _back(form: forms.Form) -> dict[str, str]:
    """The table's filters a form came from (its ``back`` field), to return to them."""
    text = _single(form, "back") or ""
    return dict(parse_qsl(text[:2000]))


class Admin:
    """The admin API and page together, as ``TokenWeb`` mounts them."""

    def __init__(self, guard: TokenGuard, options: WebOptions, gate: Gate, api: ManagementApi,
                 page: SettingsPage, can_administer: CanAdminister | None = None) -> None:
        self.administration = Administration(guard, gate, can_administer)
        self.api = AdminApi(self.administration, api, options)
        self.page = AdminPage(self.administration, page, options)
