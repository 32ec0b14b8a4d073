"""tokenguard for Django: ``INSTALLED_APPS += ["tokenguard_django"]`` and a ``TOKENGUARD = {...}`` setting.

``get_guard()`` is the project's one ``TokenGuard``, on a ``DjangoStore`` over the
project's own database. Nothing here touches Django's app registry at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenguard_django.registry import get_guard, reset_guard

if TYPE_CHECKING:
    from tokenguard_django.store import DjangoStore

__all__ = ["DjangoStore", "get_guard", "reset_guard"]


def __getattr__(name: str) -> Any:
    # The store imports the models: only once the app registry is ready.
    if name == "DjangoStore":
        from tokenguard_django.store import DjangoStore

        return DjangoStore
    raise AttributeError(f"module 'tokenguard_django' has no attribute {name!r}")
