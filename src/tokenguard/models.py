"""Public value objects: what a token is, never what its secret is."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Status = Literal["active", "revoked", "expired"]


class _NotGiven(frozenset[str]):
    """The default of ``effective_scopes``: distinct from an empty set, which ``expand`` may return."""

    __slots__ = ()


_NOT_GIVEN: frozenset[str] = _NotGiven()


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """Everything known about a token except its secret and its digest."""

    id: str
    owner: str
    name: str
    scopes: frozenset[str]
    projects: frozenset[str] = frozenset()
    admin: bool = False
    created_at: datetime = field(default=datetime.min)
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    hint: str = ""
    #: id of the token that minted this one through the API, if any.
    parent_id: str | None = None
    #: what the token is for, in its owner's words (up to 500 characters; ``""``: none).
    description: str = ""
    #: client networks it may be used from, as CIDR strings (``"203.0.113.0/24"``); empty: anywhere.
    allowed_networks: frozenset[str] = frozenset()
    #: the client address and User-Agent of the last recorded use (written with ``last_used_at``).
    last_used_ip: str | None = None
    last_used_agent: str | None = None
    #: when the guard's ``expire_unused_after`` policy expires the token unless it is used
    #: before: its last use (or creation) plus that duration. ``None`` without the policy.
    #: Set by the guard when it presents the token, never stored.
    unused_expires_at: datetime | None = field(default=None, compare=False)
    #: ``scopes`` plus every scope they imply under the guard's hierarchy.
    #: Not given, it is ``scopes``; given, it is kept, empty included (scopes the hierarchy
    #: no longer configures grant nothing).
    effective_scopes: frozenset[str] = field(default=_NOT_GIVEN, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.effective_scopes is _NOT_GIVEN:
            object.__setattr__(self, "effective_scopes", self.scopes)

    @property
    def status(self) -> Status:
        """``"revoked"`` wins over ``"expired"``; both are checked at every use."""
        from tokenguard._clock import utcnow

        return self.status_at(utcnow())

    def status_at(self, now: datetime) -> Status:
        if self.revoked_at is not None:
            return "revoked"
        if self.is_expired_at(now):
            return "expired"
        return "active"

    def is_expired_at(self, now: datetime) -> bool:
        """Past its expiry, or unused for longer than the guard's ``expire_unused_after``."""
        return (self.expires_at is not None and now >= self.expires_at) or (
            self.unused_expires_at is not None and now >= self.unused_expires_at)

    @property
    def last_seen_at(self) -> datetime:
        """Its last recorded use, or its creation if it was never used."""
        return self.created_at if self.last_used_at is None else self.last_used_at

    def allows_network(self, address: str | None) -> bool:
        """True when a client at ``address`` may use the token (``None``: only if unrestricted)."""
        if not self.allowed_networks:
            return True
        from tokenguard.validation import address_in

        return address_in(address, self.allowed_networks)

    def allows_project(self, project: str | None) -> bool:
        return project is None or self.admin or not self.projects or project in self.projects

    def has_scope(self, scope: str) -> bool:
        """True when the token holds ``scope``, directly or implied (write implies read)."""
        return self.admin or scope in self.effective_scopes


@dataclass(frozen=True, slots=True)
class OwnerState:
    """Whether an owner may hold live tokens (``guard.deactivate_owner`` says not)."""

    owner: str
    active: bool = True
    #: when and by whom the owner was deactivated (``None`` while active).
    deactivated_at: datetime | None = None
    deactivated_by: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly created or rotated token: the secret in clear, this once."""

    token: str = field(repr=False)
    info: TokenInfo

    def __str__(self) -> str:
        return f"IssuedToken(id={self.info.id!r}, hint={self.info.hint!r})"

