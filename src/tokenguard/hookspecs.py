"""The pluggy hooks of tokenguard. Look-ups are ``firstresult``; events broadcast."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from tokenguard.models import TokenInfo
    from tokenguard.stores.base import Store

hookspec = pluggy.HookspecMarker("tokenguard")
hookimpl = pluggy.HookimplMarker("tokenguard")


@hookspec(firstresult=True)
def tokenguard_make_store(url: str) -> Store | None:
    """Return a store for ``url`` if this plugin handles its scheme, else ``None``."""


@hookspec
def tokenguard_check_create(
    owner: str, name: str, scopes: frozenset[str], projects: frozenset[str]
) -> None:
    """Veto a creation by raising ``ValidationError`` (or any ``TokenGuardError``)."""


@hookspec
def tokenguard_token_created(info: TokenInfo, actor: str | None, remote: str | None) -> None:
    """A token was created (``actor``: who asked, when known)."""


@hookspec
def tokenguard_token_revoked(info: TokenInfo, actor: str | None, remote: str | None) -> None:
    """A token was revoked, by id, by value (RFC 7009) or with its parent.

    Tokens revoked with their owner (``revoke_owner``) are reported once, together,
    by ``tokenguard_owner_revoked``, with their ids.
    """


@hookspec
def tokenguard_token_reapproved(info: TokenInfo, actor: str | None, remote: str | None) -> None:
    """A revoked token was re-approved."""


@hookspec
def tokenguard_token_rotated(info: TokenInfo, actor: str | None, remote: str | None,
                             previous_valid_until: datetime | None) -> None:
    """A token received a new secret; the old one no longer works (or only for the grace given).

    ``previous_valid_until``: when the old secret stops working, after a rotation with a
    grace period; ``None``: it stopped at once.
    """


@hookspec
def tokenguard_token_updated(info: TokenInfo, actor: str | None, remote: str | None) -> None:
    """A token's name, description, projects or allowed networks changed."""


@hookspec
def tokenguard_token_deleted(info: TokenInfo, actor: str | None, remote: str | None) -> None:
    """A token was deleted."""


@hookspec
def tokenguard_owner_revoked(
    owner: str, token_ids: Sequence[str], actor: str | None, remote: str | None
) -> None:
    """Every token of ``owner`` was revoked at once (``revoke_owner`` or ``deactivate_owner``)."""


@hookspec
def tokenguard_owner_deactivated(owner: str, actor: str | None) -> None:
    """``owner`` was deactivated: their tokens are revoked and no new one is theirs until reactivated."""


@hookspec
def tokenguard_owner_reactivated(owner: str, actor: str | None) -> None:
    """``owner`` may hold tokens again (none of the revoked ones came back)."""


@hookspec
def tokenguard_token_expiring(info: TokenInfo, days_left: int) -> None:
    """A reminder (``guard.remind``): the token expires in ``days_left`` days (rounded up).

    Fired once per token and threshold, by one instance, however many run ``remind``.
    """


@hookspec
def tokenguard_token_leaked(info: TokenInfo, source: str, url: str | None) -> None:
    """The token was found in public (``source``: who reported it, ``url``: where) and was revoked."""


@hookspec
def tokenguard_before_authenticate(remote: str | None) -> None:
    """Called before a token is checked; may raise ``TooManyAttempts`` to refuse the client."""


@hookspec
def tokenguard_auth_failed(reason: str, hint: str | None, remote: str | None) -> None:
    """An authentication failed; ``hint`` is the token's display hint when it parsed.

    ``reason``: what the checks found, e.g. ``unknown``, ``revoked``, ``expired``,
    ``expired_unused`` (``expire_unused_after``), ``network_not_allowed``.
    """


@hookspec
def tokenguard_scope_denied(
    info: TokenInfo, required: Sequence[str], project: str | None, remote: str | None
) -> None:
    """A valid token lacked the scope or project an endpoint requires."""


@hookspec
def tokenguard_limit_reached(owner: str, limit: int, actor: str | None, remote: str | None) -> None:
    """A creation was refused because ``owner`` holds ``limit`` tokens already."""


@hookspec
def tokenguard_token_invalidated(token_id: str, digest: str | None) -> None:
    """Cached state for a token is stale (revoke, rotate, delete): caches drop it."""
