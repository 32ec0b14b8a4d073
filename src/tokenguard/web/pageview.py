"""What the settings page shows: rows of tokens, the create form, the limit, in display form.

Text here is English, marked with ``N_`` for the catalog; the templates translate
it (``i18n.message``) and word dates and spans in the request's locale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from tokenguard.guard import TokenGuard
from tokenguard.models import TokenInfo
from tokenguard.web.forms import ExpiryChoice, expiry_choices
from tokenguard.web.i18n import N_, Message
from tokenguard.web.listing import expires_soon
from tokenguard.web.policy import TokenPolicy
from tokenguard.web.shapes import permission, timestamp

PERMISSION_HELP = {
    "read": N_("Read data through the API."),
    "write": N_("Read and change data."),
    "management": N_("Read, change data, and manage API tokens."),
}
#: shown for a time that is not set ("Never" used, never expires).
NEVER = N_("Never")
#: the short pages of the settings page's errors: (title, text) by status.
PROBLEMS = {
    401: (N_("Sign in required"), N_("Sign in to manage your API tokens.")),
    400: (N_("Cannot manage tokens"), N_("Your account cannot hold API tokens.")),
    403: (N_("Not allowed"), N_("You are not allowed to manage API tokens.")),
    404: (N_("Not found"), N_("There is no such page or token.")),
    405: (N_("Method not allowed"), N_("This address does not accept that request.")),
    413: (N_("Request too large"), N_("The form sent was too large.")),
    503: (N_("Temporarily unavailable"), N_("Token storage is unavailable. Try again in a moment.")),
}
#: the create form's own messages (``CreateForm.message`` and ``errors``).
LIMIT_REACHED = N_("You have reached the maximum number of tokens.")
ID_TAKEN = N_("This id is already taken.")
ID_RESERVED = N_("This id names a page of the settings or the API; choose another.")
CHECK_FIELD = N_("Check the highlighted field.")
#: the flashes after an action on a token (``%(name)s`` filled in by the page, once translated).
REVOKED = N_("Revoked “%(name)s”.")
REAPPROVED = N_("Re-approved “%(name)s”.")
DELETED = N_("Deleted “%(name)s”.")
ALREADY_ROTATED = N_("“%(name)s” was already rotated; its new secret is shown only once.")
ALREADY_CREATED = N_("That token was already created; its secret is shown only once.")
#: the 403 page of a deactivated owner who tries to create, re-approve or rotate a token.
OWNER_INACTIVE = N_("Your account is deactivated: no token of yours can be created, re-approved or "
                    "rotated until an administrator reactivates it.")


@dataclass(frozen=True, slots=True)
class Moment:
    """A time as the page shows it, in the visitor's language when rendered.

    ``day``: the date shown (UTC); ``span``: how far from now (negative: past),
    which the page words "in 7 days" or "2 hours ago"; ``iso``: the exact value.
    """

    day: date
    span: timedelta
    iso: str


def moment(when: datetime | None, now: datetime, empty: str, *, until: bool = False) -> Moment | str:
    """``when`` for the page, or ``empty`` when it is not set.

    ``until``: ``when`` ends a validity (an expiry), so the day shown is the last
    one on which the token still works: a token valid through 15 Dec (expiring at
    16 Dec 00:00 UTC, as a custom date makes it) reads "15 Dec", not "16 Dec".
    """
    if when is None:
        return empty
    last = when - timedelta(microseconds=1) if until else when
    return Moment(last.astimezone(UTC).date(), when - now, timestamp(when) or "")


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: str
    name: str
    hint: str
    permission: str
    projects: list[str]
    status: str
    admin: bool
    expired: bool
    created: Moment | str
    expires: Moment | str
    last_used: Moment | str
    #: active, and expiring within ``listing.EXPIRES_SOON``: the table highlights it.
    expires_soon: bool = False

    @property
    def can_revoke(self) -> bool:
        return self.status == "active"

    @property
    def can_reapprove(self) -> bool:
        return self.status == "revoked" and not self.admin and not self.expired

    @property
    def can_rotate(self) -> bool:
        return self.status == "active" and not self.admin


def token_row(info: TokenInfo, guard: TokenGuard, now: datetime) -> TokenRow:
    return TokenRow(
        id=info.id, name=info.name, hint=info.hint, permission=permission(info, guard.scopes),
        projects=sorted(info.projects), status=info.status_at(now), admin=info.admin,
        expired=info.is_expired_at(now), created=moment(info.created_at, now, ""),
        expires=moment(info.expires_at, now, NEVER, until=True),
        last_used=moment(info.last_used_at, now, NEVER), expires_soon=expires_soon(info, now),
    )


@dataclass(frozen=True, slots=True)
class Permission:
    value: str
    help: str


@dataclass(slots=True)
class CreateForm:
    """The create form's values (kept after an error) and the error of each field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str | Message] = field(default_factory=dict)
    message: str | Message = ""


@dataclass(frozen=True, slots=True)
class FormChoices:
    permissions: list[Permission]
    expiries: list[ExpiryChoice]
    default_expiry: str
    date_min: str
    date_max: str


def form_choices(guard: TokenGuard, now: datetime, policy: TokenPolicy | None = None,
                 owner: str = "") -> FormChoices:
    """The create form's choices; with ``policy``, the levels ``owner`` may pick and its "Never"."""
    expiries, default = expiry_choices(guard, policy.never_expires_offered if policy else None)
    latest = now + (guard.max_lifetime or timedelta(days=36500)) - timedelta(days=1)
    levels = policy.levels(owner) if policy else guard.scopes.order
    return FormChoices(
        permissions=[Permission(s, PERMISSION_HELP.get(s, "")) for s in levels],
        expiries=expiries, default_expiry=default,
        date_min=(now + timedelta(days=1)).date().isoformat(), date_max=latest.date().isoformat(),
    )


@dataclass(frozen=True, slots=True)
class Limit:
    maximum: int | None
    used: int

    @property
    def reached(self) -> bool:
        return self.maximum is not None and self.used >= self.maximum


def limit_of(tokens: list[TokenInfo], guard: TokenGuard, now: datetime) -> Limit:
    """The core counts tokens that are neither deleted nor expired."""
    return Limit(guard.max_tokens_per_owner, sum(1 for t in tokens if not t.is_expired_at(now)))
