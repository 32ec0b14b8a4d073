"""Token policies an admin sets in one place, and the one rule that applies each.

The guard holds the lifetimes and the limit (``max_lifetime``, ``default_lifetime``,
``max_tokens_per_owner``: ``TOKENGUARD_MAX_LIFETIME_DAYS`` and its siblings);
``WebOptions`` holds what only the web layer offers: ``allow_never_expires`` and
``permission_levels``. ``TokenPolicy`` reads both. The settings page's create form,
the management API and the admin page's summary all ask it, so what the page
offers is what the API accepts:

- "never expires" is offered when ``allow_never_expires`` says so; ``None`` (the
  default): offered unless a maximum lifetime is set (the core refuses a
  never-expiring token then anyway). A token without an expiry asked for where it
  is not offered is a 400 (``field="expires_in_days"``, ``"expires"`` on the page).
- the permission levels an owner may pick: ``permission_levels(owner)``, default
  every level of the guard's scopes. A level outside them is a 403 ``forbidden``
  naming ``field="scopes"``, on the API and the page alike.
- the per-owner limit and the lifetimes are the core's; the page shows "n of N
  tokens in use" and disables the create form at the limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from tokenguard.errors import ValidationError
from tokenguard.guard import TokenGuard, _Default
from tokenguard.web.answers import Forbidden
from tokenguard.web.i18n import N_
from tokenguard.web.options import WebOptions

#: English in the API's JSON; the page shows them translated.
MUST_EXPIRE = N_("tokens must have an expiry on this server")
LEVEL_NOT_OFFERED = N_("you may not create tokens with this permission")


class LevelNotOffered(Forbidden):
    """A permission level the owner may not pick (403 ``forbidden``, naming the field)."""

    def __init__(self, message: str, field: str = "scopes") -> None:
        self.field = field
        super().__init__(message)

    def body(self) -> dict[str, str]:
        """The error's JSON, with the field it is about."""
        return {**super().body(), "field": self.field}


def _days(span: timedelta | None) -> int | float | None:
    """A lifetime in days: whole ones as an int (``30``), others as a fraction (``0.5``)."""
    if span is None:
        return None
    days = span.total_seconds() / 86400
    return int(days) if days == int(days) else round(days, 3)


def check_never_expires(allow_never_expires: bool | None, default_lifetime: timedelta | None,
                        max_lifetime: timedelta | None) -> None:
    """Refuses ``allow_never_expires`` contradicting the guard's lifetimes (at start-up, and in
    Django's system checks)."""
    if allow_never_expires and max_lifetime is not None:
        raise ValidationError("allow_never_expires cannot be true with a max_lifetime: every "
                              "token must expire within it", field="allow_never_expires")
    if allow_never_expires is False and default_lifetime is None:
        raise ValidationError("allow_never_expires false needs a default_lifetime: a token "
                              "created without an expiry would never expire",
                              field="allow_never_expires")


class TokenPolicy:
    """The lifetimes, "never expires", the limit and the permission levels, for one web layer."""

    __slots__ = ("_levels", "allow_never_expires", "guard")

    def __init__(self, guard: TokenGuard, options: WebOptions) -> None:
        self.guard = guard
        self._levels = options.permission_levels
        self.allow_never_expires = options.allow_never_expires
        check_never_expires(self.allow_never_expires, guard.default_lifetime, guard.max_lifetime)

    # -- lifetimes ---------------------------------------------------------------------

    @property
    def never_expires_offered(self) -> bool:
        """Whether a token may be created (or rotated) without an expiry."""
        if self.allow_never_expires is None:
            return self.guard.max_lifetime is None
        return self.allow_never_expires

    def check_expiry(self, expires_in: timedelta | _Default | None, expires_at: datetime | None,
                     field: str = "expires_in_days") -> None:
        """Refuses a request for no expiry (``expires_in`` ``None`` without ``expires_at``) where
        "never expires" is not offered; the core checks the rest (``max_lifetime``)."""
        if expires_in is None and expires_at is None and not self.never_expires_offered:
            raise ValidationError(MUST_EXPIRE, field=field)

    # -- permission levels -------------------------------------------------------------

    def levels(self, owner: str) -> list[str]:
        """The permission levels ``owner`` may pick, in the guard's order (lowest first)."""
        order = self.guard.scopes.order
        if self._levels is None:
            return list(order)
        found = self._levels(owner)
        if isinstance(found, str | bytes) or not isinstance(found, Iterable):
            raise TypeError(f"permission_levels must return a list of scope names, not {found!r}")
        names = set(found)
        unknown = sorted(str(name) for name in names if name not in order)
        if unknown:
            raise TypeError(f"permission_levels returned unknown scope(s): {', '.join(unknown)}")
        return [name for name in order if name in names]

    def check_levels(self, owner: str, scopes: object, field: str = "scopes") -> None:
        """Refuses scopes outside ``levels(owner)`` (403); a malformed list is left to the core."""
        if self._levels is None or not isinstance(scopes, list | tuple | set | frozenset):
            return
        allowed = set(self.levels(owner))
        if not all(isinstance(name, str) and (name in allowed or name not in self.guard.scopes)
                   for name in scopes):  # an unknown scope gets the core's own 400
            raise LevelNotOffered(LEVEL_NOT_OFFERED, field=field)

    # -- what the API and the admin page show ------------------------------------------

    def summary(self, owner: str | None = None) -> dict[str, Any]:
        """The policies as JSON: lifetimes in days, the limit, and (for ``owner``) the levels."""
        found: dict[str, Any] = {
            "max_lifetime_days": _days(self.guard.max_lifetime),
            "default_lifetime_days": _days(self.guard.default_lifetime),
            "never_expires": self.never_expires_offered,
            "max_tokens_per_owner": self.guard.max_tokens_per_owner,
        }
        found["permission_levels"] = (list(self.guard.scopes.order) if owner is None
                                      else self.levels(owner))
        return found
