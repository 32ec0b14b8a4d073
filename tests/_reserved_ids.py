"""A token under an id the web routes now reserve, as a store may hold from before the reservation."""

from __future__ import annotations

import dataclasses

from tokenguard import TokenGuard, TokenInfo


def token_under_reserved_id(guard: TokenGuard, owner: str, name: str, token_id: str,
                            scopes: tuple[str, ...] = ("read",)) -> TokenInfo:
    """Made as any token is, then moved under ``token_id`` in the store (the core refuses it now)."""
    issued = guard.create_token(owner, name, scopes=list(scopes))
    record = guard.store.delete(issued.info.id)
    assert record is not None
    moved = dataclasses.replace(record, info=dataclasses.replace(record.info, id=token_id))
    guard.store.insert(moved, limit=None, now=guard.clock())
    return moved.info
