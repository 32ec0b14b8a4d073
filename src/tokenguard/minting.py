"""Tokens minted by tokens: a token can never give more than it has, and what it minted follows it.

Mixed into ``TokenGuard``: the parent's bounds when a token mints another, the
re-check when minting raced with the parent's death, and the children narrowed,
revoked or left alone when their parent changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from tokenguard import validation
from tokenguard.errors import ValidationError
from tokenguard.models import TokenInfo
from tokenguard.stored_tokens import StoredTokens


class Minting(StoredTokens):
    """The one rule behind "a token can never give more than it has", and its consequences."""

    if TYPE_CHECKING:  # defined by TokenGuard
        def revoke(self, token_id: str, *, actor: str | None = None,
                   remote: str | None = None) -> TokenInfo: ...

        def update_token(
            self, token_id: str, *, name: str | None = None, projects: Iterable[str] | None = None,
            description: str | None = None, allowed_networks: Iterable[str] | None = None,
            actor: str | None = None, remote: str | None = None,
        ) -> TokenInfo: ...

    def _recheck_parent(self, child: TokenInfo, actor: str | None, remote: str | None) -> None:
        """Minting raced with revoking or deleting the parent: the child dies with it.

        The parent was live when checked, but a revoke or delete may have listed the
        parent's children before this child was stored. Read once more: if the parent
        is gone, revoke the child and refuse, as if the parent had been dead already.
        """
        try:
            self._live_parent(child.parent_id or "", self.clock(), child=child)
        except ValidationError:
            self.revoke(child.id, actor=actor, remote=remote)
            raise

    def _live_parent(self, parent_id: str, now: datetime, action: str = "mint tokens",
                     child: TokenInfo | None = None) -> TokenInfo:
        """The parent token as stored now: a revoked, expired or deleted one vouches for nothing.

        For an existing ``child``, the token under ``parent_id`` must be the one that minted
        it: ids are free again once deleted, and a newer token, or another owner's, that took
        the id vouches for nothing either.
        """
        record = self.store.get(parent_id)
        if record is not None and child is not None and (
            record.info.owner != child.owner or record.info.created_at > child.created_at
        ):
            record = None  # the id was reused: the minting token itself is deleted
        status: str = "deleted" if record is None else record.info.status_at(now)
        if record is None or status != "active":
            raise ValidationError(f"a {status} token cannot {action}", field="parent")
        return record.info

    def reaches(self, holder: TokenInfo, scopes: frozenset[str], projects: frozenset[str]) -> bool:
        """True when ``holder`` has every scope of ``scopes`` and every project of ``projects``.

        An empty ``projects`` means "every project", which only an unrestricted
        holder reaches. Admin tokens reach everything. This is the one rule
        behind "a token can never give more than it has".
        """
        if holder.admin:
            return True
        if not self.scopes.covers(holder.scopes, scopes):
            return False
        return not holder.projects or (bool(projects) and projects <= holder.projects)

    def _within_parent(
        self, parent: TokenInfo, owner: str, wanted: frozenset[str],
        project_set: frozenset[str], expiry: datetime | None, admin: bool,
    ) -> datetime | None:
        """A token can never mint one with more than it has itself."""
        if admin:
            raise ValidationError("admin tokens are created only from the CLI or core API",
                                  field="admin")
        if parent.owner != owner:
            raise ValidationError("a token mints only for its own owner", field="owner")
        if not self.reaches(parent, wanted, parent.projects):
            raise ValidationError("cannot grant scopes the calling token lacks", field="scopes")
        if not self.reaches(parent, frozenset(), project_set):
            raise ValidationError("projects must be within the calling token's projects",
                                  field="projects")
        if parent.expires_at is not None and (expiry is None or expiry > parent.expires_at):
            return parent.expires_at
        return expiry

    @staticmethod
    def _networks_within_parent(parent: TokenInfo, networks: frozenset[str]) -> frozenset[str]:
        """A minted token is used from nowhere its parent may not be: unrestricted, it takes
        the parent's networks; restricted, its networks must lie within the parent's."""
        if not parent.allowed_networks:
            return networks
        if not networks:
            return parent.allowed_networks
        if not validation.networks_within(networks, parent.allowed_networks):
            raise ValidationError("allowed_networks must be within the networks of the token "
                                  "that minted it", field="allowed_networks")
        return networks

    def _minting_parent(self, child: TokenInfo) -> TokenInfo | None:
        """The stored token that minted ``child`` (not a newer one that took its id), if any."""
        if child.parent_id is None:
            return None
        parent = self.store.get(child.parent_id)
        if parent is None or parent.info.owner != child.owner or (
                parent.info.created_at > child.created_at):
            return None
        return parent.info

    def _narrow_children(self, parent: TokenInfo, actor: str | None, remote: str | None) -> None:
        """Every live token ``parent`` minted, brought back within the parent's projects and networks."""
        allowed = parent.projects
        if not allowed and not parent.allowed_networks:  # unrestricted: every child is within it
            return
        for child in self.store.list(parent.owner):
            info = child.info
            if info.parent_id != parent.id or info.revoked_at is not None:
                continue
            kept = info.projects if not allowed else allowed if not info.projects else (
                info.projects & allowed)
            networks = validation.networks_intersection(info.allowed_networks, parent.allowed_networks)
            if (allowed and not kept) or networks is None:
                self.revoke(info.id, actor=actor, remote=remote)
            elif kept != info.projects or networks != info.allowed_networks:
                self.update_token(info.id, projects=kept, allowed_networks=networks,
                                  actor=actor, remote=remote)

    def _revoke_children(self, parent_id: str, owner: str, actor: str | None, remote: str | None) -> None:
        for child in self.store.list(owner):
            if child.info.parent_id == parent_id and child.info.revoked_at is None:
                self.revoke(child.info.id, actor=actor, remote=remote)
