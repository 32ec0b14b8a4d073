"""tokenguard: API tokens done right. Named, scoped, revocable, shown once."""

from typing import TYPE_CHECKING, Any

from tokenguard.errors import (
    AuthenticationError,
    ExpiredToken,
    InsufficientScope,
    InvalidToken,
    OwnerInactive,
    RevokedToken,
    StoreUnavailable,
    TokenGuardError,
    TokenIdConflict,
    TokenLimitExceeded,
    TokenNotFound,
    ValidationError,
)
from tokenguard.guard import DEFAULT, TokenGuard
from tokenguard.hookspecs import hookimpl
from tokenguard.models import IssuedToken, TokenInfo
from tokenguard.scopes import ScopeHierarchy
from tokenguard.stores import MemoryStore, Store, TokenRecord

if TYPE_CHECKING:
    from tokenguard.stores.sqlalchemy import SQLAlchemyStore

__all__ = [
    "DEFAULT",
    "AuthenticationError",
    "ExpiredToken",
    "InsufficientScope",
    "InvalidToken",
    "IssuedToken",
    "MemoryStore",
    "OwnerInactive",
    "RevokedToken",
    "SQLAlchemyStore",
    "ScopeHierarchy",
    "Store",
    "StoreUnavailable",
    "TokenGuard",
    "TokenGuardError",
    "TokenIdConflict",
    "TokenInfo",
    "TokenLimitExceeded",
    "TokenNotFound",
    "TokenRecord",
    "ValidationError",
    "hookimpl",
]


def __getattr__(name: str) -> Any:
    # SQLAlchemy is imported only when an app asks for the SQL store.
    if name == "SQLAlchemyStore":
        from tokenguard.stores.sqlalchemy import SQLAlchemyStore

        return SQLAlchemyStore
    raise AttributeError(f"module 'tokenguard' has no attribute {name!r}")
