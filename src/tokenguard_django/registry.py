"""The project's one ``TokenGuard`` and its web layer: built at first use, rebuilt when settings change."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from django.core.signals import setting_changed

from tokenguard.guard import TokenGuard
from tokenguard.web.app import TokenWeb
from tokenguard_django.config import SETTING, Config, load

#: Settings whose change builds a new guard (tests use ``override_settings``).
WATCHED = frozenset({SETTING, "DATABASES"})


@dataclasses.dataclass(frozen=True, slots=True)
class State:
    """What the project holds: the guard, the web layer on it, and the host's callbacks."""

    config: Config
    guard: TokenGuard
    web: TokenWeb
    owner_loader: Callable[[Any], object] | None


_lock = threading.Lock()
_state: State | None = None


def get_state() -> State:
    state = _state
    if state is None:
        with _lock:
            state = _state if _state is not None else _install(_build())
    return state


def get_guard() -> TokenGuard:
    """The project's ``TokenGuard``: ``TOKENGUARD`` built once (a ``DjangoStore`` on ``default``)."""
    return get_state().guard


def _build() -> State:
    config = load()
    guard = config.build_guard()
    can_manage = config.callback("can_manage")
    owner_loader = config.callback("owner_loader")
    can_administer = config.callback("can_administer")
    if can_administer is None and owner_loader is None:  # owners are str(user.pk)
        can_administer = staff_administers
    web = TokenWeb(guard, config.web_options(),
                   can_manage=None if can_manage is None else lambda owner: bool(can_manage(owner)),
                   can_administer=None if can_administer is None
                   else lambda owner: bool(can_administer(owner)))
    return State(config, guard, web, owner_loader)


def staff_administers(owner: str) -> bool:
    """The default ``can_administer``: ``owner`` is the pk of an active staff user."""
    from django.contrib.auth import get_user_model
    from django.core.exceptions import FieldError, ValidationError

    users = get_user_model()._default_manager
    try:
        return bool(users.filter(pk=owner, is_staff=True, is_active=True).exists())
    except (ValueError, TypeError, ValidationError, FieldError):  # no pk of this model, or no is_staff
        return False


def _install(state: State) -> State:
    global _state
    _state = state
    return state


def reset_guard() -> None:
    """Forget the guard (closing it); the next ``get_guard()`` builds one from the settings."""
    global _state
    with _lock:
        old, _state = _state, None
    if old is not None:
        old.guard.close()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in WATCHED:
        reset_guard()


def connect() -> None:
    setting_changed.connect(_on_setting_changed, dispatch_uid="tokenguard_django.registry")
