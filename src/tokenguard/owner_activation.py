"""Owners: every token of one revoked at once, and an owner kept from holding tokens until reactivated.

Mixed into ``TokenGuard``. The store records a deactivation (``tokenguard_owners``)
atomically with the revocation, so every instance refuses the owner's new tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenguard import validation
from tokenguard.cache import forget
from tokenguard.errors import OwnerInactive
from tokenguard.models import OwnerState
from tokenguard.stored_tokens import StoredTokens


class OwnerActivation(StoredTokens):
    """``revoke_owner``, ``deactivate_owner``, ``reactivate_owner`` and the owner's state."""

    def revoke_owner(self, owner: str, *, actor: str | None = None, remote: str | None = None) -> int:
        """Revoke every token of ``owner`` (a deactivated user); return how many.

        The owner may create tokens again at once: :meth:`deactivate_owner` also keeps them out.
        """
        owner = validation.owner(owner)
        ids = self.store.revoke_owner(owner, self.clock())
        self._owner_revoked(owner, ids, actor, remote)
        return len(ids)

    def _owner_revoked(self, owner: str, ids: Sequence[str], actor: str | None,
                       remote: str | None) -> None:
        forget(ids, owner)
        for token_id in ids:
            self.hook.tokenguard_token_invalidated(token_id=token_id, digest=None)
        self.hook.tokenguard_owner_revoked(owner=owner, token_ids=list(ids), actor=actor,
                                           remote=remote)

    def deactivate_owner(self, owner: str, *, actor: str | None = None,
                         remote: str | None = None) -> int:
        """Revoke every token of ``owner`` and keep them inactive; return how many were revoked.

        Until :meth:`reactivate_owner`, creating, re-approving or rotating a token of theirs
        raises ``OwnerInactive`` (403 ``owner_inactive``), on every instance: the store
        records it (``tokenguard_owners``), atomically with the revocation.
        """
        owner = validation.owner(owner)
        ids = self.store.deactivate_owner(owner, self.clock(), actor)
        try:
            self._owner_revoked(owner, ids, actor, remote)
        finally:
            self.hook.tokenguard_owner_deactivated(owner=owner, actor=actor)
        return len(ids)

    def reactivate_owner(self, owner: str, *, actor: str | None = None) -> bool:
        """Let ``owner`` hold tokens again; no revoked token comes back. ``True`` if they were inactive."""
        owner = validation.owner(owner)
        lifted = self.store.reactivate_owner(owner)
        if lifted:
            self.hook.tokenguard_owner_reactivated(owner=owner, actor=actor)
        return lifted

    def is_owner_active(self, owner: str) -> bool:
        """False while ``owner`` is deactivated."""
        return self.owner_state(owner).active

    def owner_state(self, owner: str) -> OwnerState:
        """Whether ``owner`` is active, and when and by whom they were deactivated."""
        owner = validation.owner(owner)
        # a store made before owners had a state cannot deactivate one: everyone is active there
        get_owner = getattr(self.store, "get_owner", None)
        state = get_owner(owner) if get_owner is not None else None
        return state or OwnerState(owner)

    def _require_active_owner(self, owner: str) -> None:
        if not self.is_owner_active(owner):
            raise OwnerInactive(owner)
