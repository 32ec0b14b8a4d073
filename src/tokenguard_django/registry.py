"""The project's one ``TokenGuard``: built at first use, rebuilt when its settings change."""

from __future__ import annotations

import threading
from typing import Any

from django.core.signals import setting_changed

from tokenguard.guard import TokenGuard
from tokenguard_django.config import SETTING, build_guard

#: Settings whose change builds a new guard (tests use ``override_settings``).
WATCHED = frozenset({SETTING, "DATABASES"})
_lock = threading.Lock()
_guard: TokenGuard | None = None


def get_guard() -> TokenGuard:
    """The project's ``TokenGuard``, on a ``DjangoStore`` over ``TOKENGUARD["database"]``."""
    guard = _guard
    if guard is None:
        with _lock:
            guard = _guard if _guard is not None else _install(build_guard())
    return guard


def _install(guard: TokenGuard) -> TokenGuard:
    global _guard
    _guard = guard
    return guard


def reset_guard() -> None:
    """Forget the guard (closing it); the next ``get_guard()`` builds one from the settings."""
    global _guard
    with _lock:
        old, _guard = _guard, None
    if old is not None:
        old.close()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in WATCHED:
        reset_guard()


def connect() -> None:
    setting_changed.connect(_on_setting_changed, dispatch_uid="tokenguard_django.registry")
