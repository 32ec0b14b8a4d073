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
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"

    def is_expired_at(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def allows_project(self, project: str | None) -> bool:
        return project is None or self.admin or not self.projects or project in self.projects

    def has_scope(self, scope: str) -> bool:
        """True when the token holds ``scope``, directly or implied (write implies read)."""
        return self.admin or scope in self.effective_scopes


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly created or rotated token: the secret in clear, this once."""

    token: str = field(repr=False)
    info: TokenInfo

    def __str__(self) -> str:
        return f"IssuedToken(id={self.info.id!r}, hint={self.info.hint!r})"

