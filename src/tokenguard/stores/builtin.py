"""Registers the built-in stores through ``tokenguard_make_store``, like any plugin."""

from __future__ import annotations

from tokenguard.hookspecs import hookimpl
from tokenguard.stores.base import Store

SQLALCHEMY_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb")


@hookimpl(trylast=True)
def tokenguard_make_store(url: str) -> Store | None:
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if url.startswith("memory:"):
        from tokenguard.stores.memory import MemoryStore

        return MemoryStore()
    if scheme in SQLALCHEMY_SCHEMES:
        from tokenguard.stores.sqlalchemy import SQLAlchemyStore

        return SQLAlchemyStore(url)
    return None
