"""What a token's details page shows: every field, its history, and its forms, in display form.

Text here is English, marked with ``N_`` for the catalog; the template translates it.
Chef Automate's token "Details tab" is the model: the fields first, then what happened
to the token, then the forms that change it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tokenguard.errors import TokenNotFound
from tokenguard.guard import TokenGuard
from tokenguard.models import TokenInfo
from tokenguard.web.i18n import N_, Message
from tokenguard.web.pageview import Moment, TokenRow, moment, token_row

#: the grace periods the rotate form offers (the API's names, ``tokenguard.web.api.GRACE_CHOICES``).
GRACES: tuple[tuple[str, str, timedelta | None], ...] = (
    ("none", N_("Not at all"), None),
    ("1h", N_("For 1 hour"), timedelta(hours=1)),
    ("24h", N_("For 24 hours"), timedelta(hours=24)),
    ("7d", N_("For 7 days"), timedelta(days=7)),
)
SAVED = N_("Changes saved.")
NOT_USED = N_("Not used yet")
NOT_REVOKED = N_("Not revoked")
#: the history's events, oldest first.
CREATED = N_("Created")
LAST_USED = N_("Last used")
REVOKED = N_("Revoked")
#: which edit-form field an error of the core names (``ValidationError.field``).
EDIT_FIELDS = frozenset({"name", "description", "projects", "allowed_networks"})


@dataclass(frozen=True, slots=True)
class GraceChoice:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the history: what happened, and when."""

    label: str
    when: Moment


@dataclass(frozen=True, slots=True)
class Parent:
    """The token that minted this one through the API; ``name`` empty once it is deleted."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class TokenDetails:
    row: TokenRow
    description: str
    scopes: list[str]
    implied: list[str]
    networks: list[str]
    last_used_ip: str
    last_used_agent: str
    revoked: Moment | str
    parent: Parent | None
    history: list[Event]
    graces: list[GraceChoice]


@dataclass(slots=True)
class EditForm:
    """The edit form's values (the token's, or those sent back after an error) and its errors."""

    values: dict[str, str] = field(default_factory=dict)
    projects: list[str] = field(default_factory=list)
    errors: dict[str, str | Message] = field(default_factory=dict)
    #: an error that belongs to no one field.
    message: str | Message = ""


def grace_choices(info: TokenInfo, now: datetime) -> list[GraceChoice]:
    """The grace periods worth offering: none longer than the token has left to live."""
    left = None if info.expires_at is None else info.expires_at - now
    return [GraceChoice(value, label) for value, label, length in GRACES
            if length is None or left is None or length < left]


def _parent(info: TokenInfo, guard: TokenGuard) -> Parent | None:
    if info.parent_id is None:
        return None
    try:
        parent = guard.get_token(info.parent_id)
    except TokenNotFound:
        return Parent(info.parent_id, "")
    # an id freed by a delete and taken again is not the token that minted this one
    same = parent.owner == info.owner and parent.created_at <= info.created_at
    return Parent(info.parent_id, parent.name if same else "")


def history(info: TokenInfo, now: datetime) -> list[Event]:
    """Created, last used and revoked, oldest first (the core keeps no other dates)."""
    events = [(info.created_at, CREATED), (info.last_used_at, LAST_USED), (info.revoked_at, REVOKED)]
    happened = sorted(((when, label) for when, label in events if when is not None), key=lambda e: e[0])
    return [Event(label, shown) for when, label in happened
            if isinstance(shown := moment(when, now, ""), Moment)]


def token_details(info: TokenInfo, guard: TokenGuard, now: datetime) -> TokenDetails:
    """Everything the details page shows of ``info``."""
    effective = guard.scopes.expand(info.scopes)
    return TokenDetails(
        row=token_row(info, guard, now), description=info.description, scopes=sorted(info.scopes),
        implied=sorted(effective - info.scopes), networks=sorted(info.allowed_networks),
        last_used_ip=info.last_used_ip or "", last_used_agent=info.last_used_agent or "",
        revoked=moment(info.revoked_at, now, NOT_REVOKED), parent=_parent(info, guard),
        history=history(info, now), graces=grace_choices(info, now),
    )


def edit_form_of(info: TokenInfo) -> EditForm:
    """The edit form filled with the token's own values."""
    return EditForm({"name": info.name, "description": info.description,
                     "projects": ", ".join(sorted(info.projects)),
                     "allowed_networks": "\n".join(sorted(info.allowed_networks))},
                    sorted(info.projects))
