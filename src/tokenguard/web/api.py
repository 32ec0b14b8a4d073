"""The management API (JSON) under ``WebOptions.api_path``."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tokenguard.errors import MissingCredentials, TokenGuardError, TokenNotFound, ValidationError
from tokenguard.guard import DEFAULT, TokenGuard, _Default
from tokenguard.models import IssuedToken, TokenInfo
from tokenguard.web import forms, openapi, secret_scanning, shapes
from tokenguard.web.answers import (
    Forbidden,
    MethodNotAllowed,
    NoSuchResource,
    RequestTooLarge,
    error_response,
)
from tokenguard.web.csrf import CSRF_HEADER
from tokenguard.web.gate import Caller, Gate, refuse_admin
from tokenguard.web.http import NO_STORE_HEADERS, WebRequest, WebResponse
from tokenguard.web.options import WebOptions
from tokenguard.web.policy import TokenPolicy
from tokenguard.web.projects import check_projects

Handler = Callable[[WebRequest, Caller, str], WebResponse]
TOKEN_ACTIONS = ("revoke", "reapprove", "rotate")
#: core argument names as the API's JSON fields call them.
API_FIELDS = {"expires_in": "expires_in_days", "token_id": "id"}
#: Round 2 fields of create and PATCH, read here and validated by the core.
EXTRA_FIELDS = frozenset({"description", "allowed_networks"})
ROTATE_FIELDS = frozenset({"grace"})
SELF_ROTATE_FIELDS = frozenset({"grace", "expires_in_days"})
#: the grace periods the API names; a whole number of seconds works too.
GRACE_CHOICES = {"none": None, "1h": timedelta(hours=1), "24h": timedelta(hours=24),
                 "7d": timedelta(days=7)}
MAX_GRACE = timedelta(days=forms.MAX_EXPIRY_DAYS)
_GRACE_TEXT = re.compile(r"[0-9]{1,10}")


def parse_grace(value: object) -> timedelta | None:
    """``"none"``, ``"1h"``, ``"24h"``, ``"7d"`` or a positive number of seconds; ``None``: no grace.

    The core caps it by the token's remaining life.
    """
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in GRACE_CHOICES:
        return GRACE_CHOICES[value.strip().lower()]
    if isinstance(value, str) and _GRACE_TEXT.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return None
    if (isinstance(value, bool) or not isinstance(value, int)
            or not 0 < value <= MAX_GRACE.total_seconds()):
        raise ValidationError('grace must be "none", "1h", "24h", "7d" or a whole number of seconds '
                              f"up to {forms.MAX_EXPIRY_DAYS} days", field="grace", reason="grace_choice")
    return timedelta(seconds=value)


def _expiry_days(value: object) -> timedelta | None:
    """``expires_in_days``: 1 to ``MAX_EXPIRY_DAYS``, or ``null`` for no expiry (if the policy allows)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= forms.MAX_EXPIRY_DAYS:
        raise ValidationError(f"expires_in_days must be a whole number of days from 1 to "
                              f"{forms.MAX_EXPIRY_DAYS}, or null for no expiry", field="expires_in_days")
    return timedelta(days=value)


def _extras(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``data`` without the Round 2 fields, and those fields checked for shape (the core checks values)."""
    rest = {key: value for key, value in data.items() if key not in EXTRA_FIELDS}
    extras: dict[str, Any] = {}
    if "description" in data:
        about = data["description"]
        if about is not None and not isinstance(about, str):
            raise ValidationError("description must be a string", field="description")
        extras["description"] = "" if about is None else about
    if "allowed_networks" in data:
        networks = data["allowed_networks"]
        if networks is not None and not isinstance(networks, list):
            raise ValidationError("allowed_networks must be a list of CIDR networks",
                                  field="allowed_networks")
        extras["allowed_networks"] = [] if networks is None else networks
    return rest, extras


class ManagementApi:
    """Routes and answers every request below ``api_path``."""

    def __init__(self, guard: TokenGuard, options: WebOptions, gate: Gate) -> None:
        self.guard = guard
        self.options = options
        self.gate = gate
        self.scanning = secret_scanning.SecretScanning(guard, options)
        self.policy = TokenPolicy(guard, options)

    def handle(self, request: WebRequest) -> WebResponse:
        try:
            if len(request.body) > self.options.max_body_size:
                raise RequestTooLarge(self.options.max_body_size)
            return self._route(request)
        except TokenGuardError as exc:
            return self.error(exc)

    def error(self, exc: TokenGuardError) -> WebResponse:
        """The error's own answer: RFC 6750 for credentials, ``{"error", …}`` JSON for the rest."""
        if isinstance(exc, ValidationError):  # the field as the JSON names it
            exc.field = API_FIELDS.get(exc.field or "", exc.field)
        return error_response(exc, self.options.realm)

    def _route(self, request: WebRequest) -> WebResponse:
        segments = [part for part in request.path.split("/") if part]
        method = "GET" if request.method.upper() == "HEAD" else request.method.upper()
        if segments == ["openapi.json"]:
            self._only(method, "GET")
            return WebResponse.json(openapi.document(self.guard, self.options, request.prefix), 200)
        # POST /revoke and /introspect are no token's: a token has no POST of its own. Other
        # methods fall through, so a token whose id is "revoke" or "introspect" stays reachable.
        if segments == ["revoke"] and method == "POST":
            return self._revoke_by_value(request)
        if segments == ["introspect"] and method == "POST":
            return self._introspect(request)
        if segments == ["self", "rotate"] and method == "POST":
            return self._self_rotate(request)
        if segments == ["secret-scanning"] and self.scanning.enabled:
            self._only(method, "POST")
            return self.scanning.handle(request)
        handlers = self._handlers(segments)
        if handlers is None:
            raise NoSuchResource()
        handler = handlers.get(method)
        if handler is None:
            raise MethodNotAllowed(list(handlers))
        caller = self.gate.api_caller(request)
        if method != "GET" and caller.via_cookie:
            self.gate.check_csrf(request, caller.owner)
        token_id = segments[0] if segments else ""
        return handler(request, caller, token_id)

    def _handlers(self, segments: list[str]) -> dict[str, Handler] | None:
        if not segments:
            return {"GET": self._list, "POST": self._create}
        if len(segments) == 1:
            return {"GET": self._get, "PATCH": self._update, "DELETE": self._delete}
        if len(segments) == 2 and segments[1] in TOKEN_ACTIONS:
            return {"POST": getattr(self, "_" + segments[1])}
        return None

    @staticmethod
    def _only(method: str, allowed: str) -> None:
        if method != allowed:
            raise MethodNotAllowed([allowed])

    def _info(self, info: TokenInfo) -> dict[str, Any]:
        return shapes.token_json(info, self.guard.scopes, self.guard.clock())

    def _issued(self, issued: IssuedToken, root: str) -> WebResponse:
        body = {"token": issued.token, "info": self._info(issued.info)}
        return WebResponse.json(body, 201, [("Location", f"{root}/{issued.info.id}")])

    # -- collection ---------------------------------------------------------------------

    def _list(self, request: WebRequest, caller: Caller, _id: str) -> WebResponse:
        tokens = sorted(self.guard.list_tokens(caller.owner), key=lambda t: t.created_at, reverse=True)
        body = {"tokens": [self._info(t) for t in tokens],
                "max_tokens": self.guard.max_tokens_per_owner, "policy": self.policy.summary(caller.owner)}
        headers = [(CSRF_HEADER, self.gate.csrf_token(request, caller.owner))] if caller.via_cookie else []
        return WebResponse.json(body, 200, headers)

    def _create(self, request: WebRequest, caller: Caller, _id: str) -> WebResponse:
        if not caller.via_cookie and not self.options.allow_token_minting:
            raise Forbidden("creating tokens with an API token is disabled on this server")
        data, extras = _extras(forms.read_json(request))
        spec = forms.create_spec_from_json(data, self.guard)
        self.policy.check_levels(caller.owner, spec.scopes)
        self.policy.check_expiry(spec.expires_in, spec.expires_at)
        check_projects(self.options, caller.owner, spec.projects)
        issued = self.guard.create_token(
            caller.owner, spec.name, scopes=spec.scopes, projects=spec.projects,
            token_id=spec.token_id, expires_in=spec.expires_in, expires_at=spec.expires_at,
            parent=caller.token, actor=caller.actor, remote=request.remote, **extras,
        )
        return self._issued(issued, request.base_url)

    # -- one token ----------------------------------------------------------------------

    def _get(self, request: WebRequest, caller: Caller, token_id: str) -> WebResponse:
        return WebResponse.json(self._info(self.gate.owned(token_id, caller.owner)))

    def _update(self, request: WebRequest, caller: Caller, token_id: str) -> WebResponse:
        target = self.gate.owned(token_id, caller.owner)
        data, extras = _extras(forms.read_json(request))
        name, projects = forms.update_from_json(data)
        check_projects(self.options, caller.owner, projects, kept=target.projects)
        self.gate.check_reach(caller, target, projects)
        info = self.guard.update_token(token_id, name=name, projects=projects, actor=caller.actor,
                                       remote=request.remote, **extras)
        return WebResponse.json(self._info(info))

    def _revoke(self, request: WebRequest, caller: Caller, token_id: str) -> WebResponse:
        self.gate.owned(token_id, caller.owner)
        info = self.guard.revoke(token_id, actor=caller.actor, remote=request.remote)
        return WebResponse.json(self._info(info))

    def _reapprove(self, request: WebRequest, caller: Caller, token_id: str) -> WebResponse:
        target = refuse_admin(self.gate.owned(token_id, caller.owner))
        self.gate.check_reach(caller, target, revives=True)
        info = self.guard.reapprove(token_id, actor=caller.actor, remote=request.remote)
        return WebResponse.json(self._info(info))

    def _rotate(self, request: WebRequest, caller: Caller, token_id: str) -> WebResponse:
        target = refuse_admin(self.gate.owned(token_id, caller.owner))
        self.gate.check_reach(caller, target, revives=True)
        data = forms.read_json(request)
        forms.refuse_unknown(data, ROTATE_FIELDS)
        issued = self.guard.rotate(token_id, grace=parse_grace(data.get("grace")),
                                   actor=caller.actor, remote=request.remote)
        return self._issued(issued, request.base_url)

    def _self_rotate(self, request: WebRequest) -> WebResponse:
        """The presented token rotates itself (GitLab's self-rotate); no management scope needed.

        Only a token may: a signed-in browser has no token of its own here (400), nobody is 401.
        A new ``expires_in_days`` stays within ``max_lifetime`` (the core's check) and within the
        expiry of the token that minted this one.
        """
        info = self.gate.authenticator.identify(request.get_header, request.remote)
        if info is None:
            if request.owner:
                raise ValidationError("self/rotate rotates the token sent in the Authorization "
                                      "header; a browser session has none", field="token")
            raise MissingCredentials()
        self.gate.check_can_manage(info.owner)
        refuse_admin(info)
        data = forms.read_json(request)
        forms.refuse_unknown(data, SELF_ROTATE_FIELDS)
        expires_in: timedelta | _Default | None = DEFAULT
        if "expires_in_days" in data:
            expires_in = _expiry_days(data["expires_in_days"])
            self.policy.check_expiry(expires_in, None)
            self._within_minting_token(info, expires_in)
        issued = self.guard.rotate(info.id, grace=parse_grace(data.get("grace")), expires_in=expires_in,
                                   actor=f"token:{info.id}", remote=request.remote)
        return self._issued(issued, request.base_url)

    def _within_minting_token(self, info: TokenInfo, expires_in: timedelta | None) -> None:
        """A minted token renews itself no further than the token that minted it lives."""
        if info.parent_id is None:
            return
        try:
            parent = self.guard.get_token(info.parent_id)
        except TokenNotFound:
            return  # the parent is deleted: its children were revoked with it
        if parent.expires_at is None:
            return
        if expires_in is None or self.guard.clock() + expires_in > parent.expires_at:
            raise ValidationError("expires_in_days must not outlive the token that minted this one",
                                  field="expires_in_days")

    def _delete(self, request: WebRequest, caller: Caller, token_id: str) -> WebResponse:
        self.gate.owned(token_id, caller.owner)
        self.guard.delete(token_id, actor=caller.actor, remote=request.remote)
        return WebResponse(204, list(NO_STORE_HEADERS))

    # -- RFC 7009 and RFC 7662 ----------------------------------------------------------

    def _token_field(self, request: WebRequest) -> str:
        value = forms.form_value(forms.read_form(request), "token")
        if not value:
            raise ValidationError("token is required", field="token")
        return value

    def _revoke_by_value(self, request: WebRequest) -> WebResponse:
        """RFC 7009 §2.2: 200 whether or not the token was known; holding it is the authority."""
        self.guard.revoke_by_value(self._token_field(request), actor="revocation endpoint",
                                   remote=request.remote)
        return WebResponse(200, list(NO_STORE_HEADERS))

    def _introspect(self, request: WebRequest) -> WebResponse:
        """RFC 7662; a non-admin caller learns only about its own owner's tokens."""
        caller = self.gate.bearer(request)
        if caller is None:
            raise MissingCredentials()
        self.gate.check_can_manage(caller.owner)
        info = self.guard.introspect(self._token_field(request), remote=request.remote)
        if info is not None and not caller.admin and info.owner != caller.owner:
            info = None
        return WebResponse.json(shapes.introspection_json(info, self.guard.scopes, self.guard.clock()))

