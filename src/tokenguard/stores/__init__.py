"""Token stores: the protocol, the in-memory store and the SQLAlchemy store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenguard.stores.base import Store, TokenChanges, TokenRecord
from tokenguard.stores.memory import MemoryStore

if TYPE_CHECKING:
    from tokenguard.stores.sqlalchemy import SQLAlchemyStore

__all__ = ["MemoryStore", "SQLAlchemyStore", "Store", "TokenChanges", "TokenRecord"]


def __getattr__(name: str) -> Any:
    # SQLAlchemy is imported only by apps that use it.
    if name == "SQLAlchemyStore":
        from tokenguard.stores.sqlalchemy import SQLAlchemyStore

        return SQLAlchemyStore
    raise AttributeError(name)
