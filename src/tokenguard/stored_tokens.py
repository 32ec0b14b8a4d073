"""The store primitives every part of ``TokenGuard`` builds on: read, change, forget a token."""

from __future__ import annotations

from tokenguard import validation
from tokenguard.cache import forget
from tokenguard.errors import TokenNotFound
from tokenguard.models import TokenInfo
from tokenguard.stores.base import TokenChanges, TokenRecord
from tokenguard.verification import Verification


class StoredTokens(Verification):
    """``get_token`` and ``list_tokens``, and the record access the lifecycle mixins share."""

    max_tokens_per_owner: int | None

    def get_token(self, token_id: str) -> TokenInfo:
        """The token ``token_id`` in any state; ``TokenNotFound`` if there is none."""
        return self._present(self._record(token_id).info)

    def _record(self, token_id: str) -> TokenRecord:
        record = self.store.get(token_id) if validation.is_token_id(token_id) else None
        if record is None:
            raise TokenNotFound(str(token_id)[:64])
        return record

    def list_tokens(self, owner: str | None = None) -> list[TokenInfo]:
        """Every token of ``owner`` (``None``: of everyone), in any state."""
        if owner is not None:
            owner = validation.owner(owner)
        return [self._present(r.info) for r in self.store.list(owner)]

    def _apply(self, token_id: str, changes: TokenChanges) -> TokenRecord:
        record = self.store.update(token_id, changes)
        if record is None:
            raise TokenNotFound(token_id)
        return record

    def _invalidate(self, record: TokenRecord) -> None:
        """Every cache of this process forgets the token at once; plugins (Redis) tell the others.

        Both of its secrets' digests, during a rotation's grace period.
        """
        forget((record.info.id,))
        self.hook.tokenguard_token_invalidated(token_id=record.info.id, digest=record.digest)
        if record.previous_digest is not None:
            self.hook.tokenguard_token_invalidated(token_id=record.info.id,
                                                   digest=record.previous_digest)
