"""Who is calling the management API or the settings page, and may they manage tokens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tokenguard import validation
from tokenguard.errors import InsufficientScope, MissingCredentials, TokenNotFound, ValidationError
from tokenguard.guard import TokenGuard
from tokenguard.models import TokenInfo
from tokenguard.web.answers import CsrfRefused, Forbidden
from tokenguard.web.auth import RequestAuthenticator
from tokenguard.web.csrf import CSRF_HEADER, CsrfProtector, same_origin
from tokenguard.web.http import WebRequest

CanManage = Callable[[str], bool]
__all__ = ["Caller", "CanManage", "CsrfRefused", "Forbidden", "Gate", "refuse_admin"]


@dataclass(frozen=True, slots=True)
class Caller:
    """The owner acting, and the token they act through (``None``: a signed-in browser)."""

    owner: str
    token: TokenInfo | None = None

    @property
    def via_cookie(self) -> bool:
        return self.token is None

    @property
    def actor(self) -> str:
        return self.owner if self.token is None else f"token:{self.token.id}"


class Gate:
    """Identifies callers, applies ``can_manage`` and the CSRF rules; raises what it refuses."""

    __slots__ = ("_can_manage", "_managing", "authenticator", "csrf", "guard", "management_scope")

    def __init__(self, guard: TokenGuard, authenticator: RequestAuthenticator, csrf: CsrfProtector,
                 can_manage: CanManage | None, management_scope: str) -> None:
        self.guard = guard
        self.authenticator = authenticator
        self.csrf = csrf
        self._can_manage = can_manage
        self.management_scope = management_scope
        self._managing = frozenset({management_scope})

    def bearer(self, request: WebRequest) -> TokenInfo | None:
        """The presented token if it may manage tokens; ``None`` when no token was sent.

        A guard that configures no management scope lets no token but an admin one manage:
        403 naming the scope, rather than the app's-mistake error an unknown scope is elsewhere.
        """
        info = self.authenticator.identify(request.get_header, request.remote)
        if info is None:
            return None
        if self.management_scope not in self.guard.scopes:
            if info.admin:
                return info
            raise InsufficientScope([self.management_scope])
        return self.authenticator.authorize(info, self._managing, remote=request.remote)

    def api_caller(self, request: WebRequest) -> Caller:
        """A bearer token with the management scope, else the signed-in user, else 401."""
        info = self.bearer(request)
        if info is not None:
            caller = Caller(info.owner, info)
        elif request.owner:  # the owner_loader's id, taken as the core takes owners: 400 if bad
            caller = Caller(validation.owner(request.owner))
        else:
            raise MissingCredentials()
        self.check_can_manage(caller.owner)
        return caller

    def check_can_manage(self, owner: str) -> None:
        if self._can_manage is not None and not self._can_manage(owner):
            raise Forbidden("you are not allowed to manage API tokens")

    def check_csrf(self, request: WebRequest, owner: str, form_token: str | None = None) -> None:
        """Both defences of ``tokenguard.web.csrf``, or the host's own check; raises ``CsrfRefused``."""
        if request.host_csrf is not None:
            if not request.host_csrf.passed():
                raise CsrfRefused("missing or invalid CSRF token; reload the page and try again")
            return
        token = request.header(CSRF_HEADER) or form_token
        if not self.csrf.verify(token, owner):
            raise CsrfRefused("missing or invalid CSRF token; reload the page and try again")
        if not same_origin(request):
            raise CsrfRefused("the request does not come from this site's origin")

    def csrf_token(self, request: WebRequest, owner: str) -> str:
        """The token this request's forms and scripts send back: the host's, else ours."""
        if request.host_csrf is not None:
            return request.host_csrf.token()
        return self.csrf.issue(owner)

    def owned(self, token_id: str, owner: str) -> TokenInfo:
        """The token, if ``owner`` holds it; someone else's token is not found (404)."""
        info = self.guard.get_token(token_id)
        if info.owner != owner:
            raise TokenNotFound(token_id)
        return info

    def check_reach(self, caller: Caller, target: TokenInfo, projects: object = None, *,
                    revives: bool = False) -> None:
        """A token acting through the API manages only tokens within its own reach.

        Rotating, re-approving or re-scoping a token with more scopes or
        projects than the caller's would hand the caller (or that token's
        holder) more than the caller has. Revoking and deleting stay allowed.
        ``projects``: the new projects asked for, checked too. ``revives``
        (rotate, re-approve: a secret that works again or anew): the target
        must not outlive the caller either, or a short-lived token could get
        itself a lasting one, whether or not minting is on.
        """
        holder = caller.token
        if holder is None:
            return
        reach = [target.projects] if projects is None else [target.projects,
                                                             validation.projects(projects)]
        if target.admin or not all(self.guard.reaches(holder, target.scopes, p) for p in reach):
            raise Forbidden("this token may not manage a token that reaches further than itself")
        if revives and not holder.admin and holder.expires_at is not None and (
            target.expires_at is None or target.expires_at > holder.expires_at
        ):
            raise Forbidden("this token may not renew a token that outlives it")


def refuse_admin(info: TokenInfo) -> TokenInfo:
    """Admin tokens are re-enabled and re-issued only from the CLI or the core API, never the web."""
    if info.admin:
        raise ValidationError("admin tokens are managed from the CLI only", field="id", reason="admin_token")
    return info
