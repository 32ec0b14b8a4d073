"""The settings page (HTML) under ``WebOptions.settings_path``.

Routes below the mount point: ``GET /`` the page · ``POST /`` create (200: the
secret, once) · ``POST /{id}/revoke`` and ``/{id}/reapprove`` (303 + flash) ·
``POST /{id}/rotate`` (200: the new secret; ``grace`` and, to regenerate, ``expires``) ·
``GET|POST /{id}`` the token's details and its edit (:mod:`tokenguard.web.detailspage`) ·
``GET|POST /{id}/delete`` (a
confirmation page; ``POST`` with ``confirm=yes`` deletes, 303 + flash) ·
``GET /static/{name}`` the bundled CSS and JS.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tokenguard import validation
from tokenguard.errors import (
    MissingCredentials,
    StoreUnavailable,
    TokenGuardError,
    TokenIdConflict,
    TokenLimitExceeded,
    TokenNotFound,
    ValidationError,
)
from tokenguard.guard import TokenGuard
from tokenguard.models import IssuedToken
from tokenguard.web import forms, listing, pageview
from tokenguard.web.answers import (
    Forbidden,
    MethodNotAllowed,
    NoSuchResource,
    RequestTooLarge,
    error_response,
)
from tokenguard.web.detailspage import DetailsPage, list_query_of, return_path, rotation_from_form
from tokenguard.web.flash import Flash, FlashCookies
from tokenguard.web.gate import Gate, refuse_admin
from tokenguard.web.http import WebRequest, WebResponse
from tokenguard.web.i18n import Message
from tokenguard.web.options import WebOptions
from tokenguard.web.pageview import PROBLEMS
from tokenguard.web.policy import LevelNotOffered, TokenPolicy
from tokenguard.web.projects import check_projects, offered_projects
from tokenguard.web.refusals import refusal, refused_flash
from tokenguard.web.render import Renderer
from tokenguard.web.signin import signin_redirect

Action = Callable[[WebRequest, str, forms.Form, str], WebResponse]
#: the one-time value each rendering of the create form carries (see ``_create``).
FORM_NONCE = "form_nonce"
_NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
#: How long after a create the same form sent again is taken for a reload, not a new request.
REPLAY_WINDOW = timedelta(minutes=10)


class SettingsPage:
    """Routes and answers every request below ``settings_path``."""

    def __init__(self, guard: TokenGuard, options: WebOptions, gate: Gate) -> None:
        self.guard = guard
        self.options = options
        self.gate = gate
        self.renderer = Renderer(options)
        self.flashes = FlashCookies(guard.derive_key("flash"))
        self._nonce_key = guard.derive_key("form nonce")
        self.policy = TokenPolicy(guard, options)
        self.details = DetailsPage(guard, options, gate, self.renderer, self.flashes)

    def handle(self, request: WebRequest) -> WebResponse:
        segments = [part for part in request.path.split("/") if part]
        method = "GET" if request.method.upper() == "HEAD" else request.method.upper()
        if len(segments) == 2 and segments[0] == "static" and method == "GET":
            asset = self.renderer.asset(segments[1])
            if asset is not None:  # else a token whose id is "static", if any: /static/delete
                return asset
        try:
            return self._answer(request, segments, method)
        except (TokenNotFound, NoSuchResource, StoreUnavailable, MethodNotAllowed, RequestTooLarge) as exc:
            return self.problem(request, exc)
        except Forbidden as exc:
            return self.problem(request, exc, message=str(exc))

    def _answer(self, request: WebRequest, segments: list[str], method: str) -> WebResponse:
        if len(request.body) > self.options.max_body_size:
            raise RequestTooLarge(self.options.max_body_size)
        route = self._route(segments, method)
        if route is None:
            raise NoSuchResource()
        if isinstance(route, list):
            raise MethodNotAllowed(route)
        if not request.owner:
            return self._sign_in(request)
        try:
            validation.owner(request.owner)  # the owner_loader's id: Gate.api_caller says the same
        except ValidationError as exc:
            return self.problem(request, exc, message=f"Your account cannot hold API tokens: {exc}.")
        return self._run(route, request, request.owner, segments[0] if segments else "")

    def _route(self, segments: list[str], method: str) -> Action | list[str] | None:
        if not segments:
            table: dict[str, Action] = {"GET": self._show, "POST": self._create}
        elif len(segments) == 1:
            table = {"GET": self.details.show, "POST": self.details.edit}
        elif len(segments) == 2 and segments[1] in ("revoke", "reapprove"):
            table = {"POST": self._change}
        elif len(segments) == 2 and segments[1] == "rotate":
            table = {"POST": self._rotate}
        elif len(segments) == 2 and segments[1] == "delete":
            table = {"GET": self._delete, "POST": self._delete}
        else:
            return None
        return table.get(method) or sorted(table)

    def _run(self, action: Action, request: WebRequest, owner: str, token_id: str) -> WebResponse:
        self.gate.check_can_manage(owner)
        form: forms.Form = {}
        if request.method.upper() == "POST":
            try:
                form = forms.read_form(request)
            except ValidationError:
                form = {}
            self.gate.check_csrf(request, owner, forms.form_value(form, "csrf_token")
                                 if len(form.get("csrf_token", [])) == 1 else None)
        return action(request, owner, form, token_id)

    # -- responses ----------------------------------------------------------------------

    def _sign_in(self, request: WebRequest) -> WebResponse:
        redirect = signin_redirect(self.options, request.base_url + request.path.rstrip("/"),
                                   request.header("Accept"))
        if redirect is not None:
            return redirect
        # RFC 9110 §15.5.2: every 401 carries a challenge (the realm the app's tokens belong to)
        return self.problem(request, MissingCredentials())

    def problem(self, request: WebRequest, exc: TokenGuardError, message: str | None = None) -> WebResponse:
        """The error's own answer (status, headers) with a short HTML page in place of its JSON."""
        status = exc.status_code
        title, text = PROBLEMS[status]
        context = {"root": request.base_url, "app_name": self.options.app_name, "title": title,
                   "text": message or text, "status": status, "owner": request.owner,
                   "csrf_token": "", "login_url": self.options.login_url}
        return error_response(exc, self.options.realm, self.renderer.page("problem.html", context,
                                                                          request=request))

    def _render(self, request: WebRequest, owner: str, *, status: int = 200,
                issued: IssuedToken | None = None, issued_action: str = "",
                form: pageview.CreateForm | None = None, flash: Flash | None = None,
                headers: list[tuple[str, str]] | None = None,
                query: listing.ListQuery | None = None,
                previous_until: datetime | None = None) -> WebResponse:
        now = self.guard.clock()
        tokens = self.guard.list_tokens(owner)
        table = listing.list_view(tokens, query or listing.ListQuery(), self.guard.scopes, now,
                                  request.base_url)
        context: dict[str, Any] = {
            "root": request.base_url, "app_name": self.options.app_name, "owner": owner,
            "csrf_token": self.gate.csrf.issue(owner), "flash": flash, "table": table,
            "rows": [pageview.token_row(t, self.guard, now) for t in table.found.items],
            "limit": pageview.limit_of(tokens, self.guard, now),
            "choices": pageview.form_choices(self.guard, now, self.policy, owner),
            "form": form or pageview.CreateForm(), "form_nonce": secrets.token_urlsafe(16),
            "project_choices": offered_projects(self.options, owner),
            "previous_until": pageview.moment(previous_until, now, "") if previous_until else "",
            "issued": issued, "issued_action": issued_action,
            "export_line": f"export {self.options.env_var}={issued.token}" if issued else "",
            "env_var": self.options.env_var, "api_path": request.prefix + self.options.api_path,
        }
        return self.renderer.page("settings.html", context, status, headers or [], request=request)

    def _redirect(self, request: WebRequest, owner: str, flash: Flash, to: str = "") -> WebResponse:
        return WebResponse.redirect(to or request.base_url, [self.flashes.set(request, owner, flash)])

    # -- actions ------------------------------------------------------------------------

    def _show(self, request: WebRequest, owner: str, form: forms.Form, _id: str) -> WebResponse:
        flash, clear = self.flashes.take(request, owner)
        return self._render(request, owner, flash=flash, headers=clear,
                            query=listing.ListQuery.parse(request.query))

    def _create(self, request: WebRequest, owner: str, form: forms.Form, _id: str) -> WebResponse:
        kept = {key: values[0][:200] for key, values in form.items()
                if values and key not in ("csrf_token", FORM_NONCE)}
        kept["projects"] = ", ".join(forms.projects_from_form(form))[:200]
        replay_id = None
        try:
            spec = forms.create_spec_from_form(form, self.guard)
            self.policy.check_levels(owner, spec.scopes, field="permission")
            self.policy.check_expiry(spec.expires_in, spec.expires_at, field="expires")
            check_projects(self.options, owner, spec.projects)
            replay_id = None if spec.token_id else self._id_for_nonce(owner, form)
            issued = self.guard.create_token(
                owner, spec.name, scopes=spec.scopes, projects=spec.projects,
                token_id=spec.token_id or replay_id, expires_in=spec.expires_in,
                expires_at=spec.expires_at, actor=owner, remote=request.remote)
        except LevelNotOffered as exc:
            return self._render(request, owner, status=exc.status_code, form=pageview.CreateForm(
                kept, {"permission": str(exc)}, pageview.CHECK_FIELD))
        except (TokenNotFound, StoreUnavailable, Forbidden):
            raise
        except TokenIdConflict:
            if replay_id is None and not self._just_created(owner, spec):
                return self._render(request, owner, status=409,
                                    form=self._form_error(TokenIdConflict(""), kept))
            return self._redirect(request, owner, Flash("info", pageview.ALREADY_CREATED))
        except TokenGuardError as exc:
            return self._render(request, owner, status=exc.status_code,
                                form=self._form_error(exc, kept))
        return self._render(request, owner, issued=issued, issued_action="created")

    def _just_created(self, owner: str, spec: forms.CreateSpec) -> bool:
        """True when the id the user chose holds the token this very form just made.

        The form sent again (a reload of the secret page without JavaScript): the
        owner's token under that id, of that name and those scopes, made moments ago.
        """
        if spec.token_id is None:
            return False
        try:
            existing = self.guard.get_token(spec.token_id)
        except TokenNotFound:
            return False
        return (existing.owner == owner and existing.name == spec.name.strip()
                and existing.scopes == frozenset(spec.scopes)
                and self.guard.clock() - existing.created_at < REPLAY_WINDOW)

    def _id_for_nonce(self, owner: str, form: forms.Form) -> str | None:
        """The token id a rendering of the create form stands for, when the user chose none.

        Each rendering carries a fresh nonce; the id derived from it makes a
        form sent twice (a reload of the secret page without JavaScript, a
        double click) collide instead of creating a second token, with no state
        kept on the server.
        """
        nonce = forms.form_value(form, FORM_NONCE) if len(form.get(FORM_NONCE, [])) == 1 else None
        if nonce is None or not _NONCE_PATTERN.fullmatch(nonce):
            return None
        mac = hmac.new(self._nonce_key, f"{owner}\0{nonce}".encode(), hashlib.sha256)
        return mac.hexdigest()[:16]

    @staticmethod
    def _form_error(exc: TokenGuardError, kept: dict[str, str]) -> pageview.CreateForm:
        if isinstance(exc, TokenLimitExceeded):
            return pageview.CreateForm(kept, {}, pageview.LIMIT_REACHED)
        if isinstance(exc, TokenIdConflict):
            return pageview.CreateForm(kept, {"id": pageview.ID_TAKEN}, "")
        field = exc.field if isinstance(exc, ValidationError) else None
        field = {"scopes": "permission", "expires_in": "expires", "expires_at": "expires_on"}.get(
            field or "", field)
        said = refusal(exc) if isinstance(exc, ValidationError) else Message(str(exc))
        if field in ("name", "permission", "id", "expires", "expires_on", "projects"):
            return pageview.CreateForm(kept, {field: said}, pageview.CHECK_FIELD)
        return pageview.CreateForm(kept, {}, said)

    def _change(self, request: WebRequest, owner: str, form: forms.Form, token_id: str) -> WebResponse:
        info = self.gate.owned(token_id, owner)
        verb = request.path.rstrip("/").rsplit("/", 1)[-1]
        back = return_path(form, request.base_url, token_id)
        try:
            if verb == "revoke":
                self.guard.revoke(token_id, actor=owner, remote=request.remote)
                return self._redirect(request, owner, Flash("success", pageview.REVOKED,
                                                            (("name", info.name),)), back)
            refuse_admin(info)
            self.guard.reapprove(token_id, actor=owner, remote=request.remote)
        except ValidationError as exc:
            return self._redirect(request, owner, refused_flash(info.name, exc), back)
        return self._redirect(request, owner, Flash("success", pageview.REAPPROVED, (("name", info.name),)),
                              back)

    def _rotate(self, request: WebRequest, owner: str, form: forms.Form, token_id: str) -> WebResponse:
        info = self.gate.owned(token_id, owner)
        back = return_path(form, request.base_url, token_id)
        seen = forms.form_value(form, "hint") if len(form.get("hint", [])) == 1 else None
        if seen is not None and seen != info.hint:  # the form was sent again after a rotation
            return self._redirect(request, owner, Flash(
                "info", pageview.ALREADY_ROTATED, (("name", info.name),)), back)
        try:
            refuse_admin(info)
            choice = rotation_from_form(form, self.guard)
            self.policy.check_expiry(choice.expires_in, choice.expires_at, field="expires")
            issued = self.guard.rotate(token_id, grace=choice.grace, expires_in=choice.expires_in,
                                       expires_at=choice.expires_at, actor=owner, remote=request.remote)
        except ValidationError as exc:
            return self._redirect(request, owner, refused_flash(info.name, exc), back)
        # the core's end of the grace (capped by the token's expiry), to say when the old secret stops
        record = self.guard.store.get(token_id) if choice.grace is not None else None
        return self._render(request, owner, issued=issued, issued_action="rotated",
                            previous_until=record.previous_valid_until if record else None,
                            query=list_query_of(form))

    def _delete(self, request: WebRequest, owner: str, form: forms.Form, token_id: str) -> WebResponse:
        info = self.gate.owned(token_id, owner)
        confirmed = forms.form_value(form, "confirm") == "yes" if len(form.get("confirm", [])) == 1 else False
        query = list_query_of(form) if request.method.upper() == "POST" else listing.ListQuery.parse(
            request.query)
        if request.method.upper() != "POST" or not confirmed:
            context = {"root": request.base_url, "app_name": self.options.app_name, "owner": owner,
                       "csrf_token": self.gate.csrf.issue(owner), "row": pageview.token_row(
                           info, self.guard, self.guard.clock()),
                       "list_query": query.text, "back": query.link(request.base_url)}
            return self.renderer.page("confirm_delete.html", context, request=request)
        self.guard.delete(token_id, actor=owner, remote=request.remote)
        return self._redirect(request, owner, Flash("success", pageview.DELETED, (("name", info.name),)),
                              query.link(request.base_url))
