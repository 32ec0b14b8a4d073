"""What the settings page shows: rows of tokens, the create form, the limit, in display form."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tokenguard.guard import TokenGuard
from tokenguard.models import TokenInfo
from tokenguard.web.forms import ExpiryChoice, expiry_choices
from tokenguard.web.shapes import permission, timestamp

PERMISSION_HELP = {
    "read": "Read data through the API.",
    "write": "Read and change data.",
    "management": "Read, change data, and manage API tokens.",
}


@dataclass(frozen=True, slots=True)
class Moment:
    """A time as the page shows it: a short date, a relative phrase and the exact value."""

    text: str
    relative: str
    iso: str


def moment(when: datetime | None, now: datetime, empty: str) -> Moment | str:
    if when is None:
        return empty
    return Moment(f"{when.day} {when:%b %Y}", relative(when, now), timestamp(when) or "")


def relative(when: datetime, now: datetime) -> str:
    seconds = (when - now).total_seconds()
    span = abs(seconds)
    if span < 60:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if span >= size:
            count = int(span // size)
            text = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"in {text}" if seconds > 0 else f"{text} ago"
    return "just now"  # pragma: no cover


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
        expires=moment(info.expires_at, now, "Never"), last_used=moment(info.last_used_at, now, "Never"),
    )


@dataclass(frozen=True, slots=True)
class Permission:
    value: str
    help: str


@dataclass(slots=True)
class CreateForm:
    """The create form's values (kept after an error) and the error of each field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True, slots=True)
class FormChoices:
    permissions: list[Permission]
    expiries: list[ExpiryChoice]
    default_expiry: str
    date_min: str
    date_max: str


def form_choices(guard: TokenGuard, now: datetime) -> FormChoices:
    expiries, default = expiry_choices(guard)
    latest = now + (guard.max_lifetime or timedelta(days=36500)) - timedelta(days=1)
    return FormChoices(
        permissions=[Permission(s, PERMISSION_HELP.get(s, "")) for s in guard.scopes.order],
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
