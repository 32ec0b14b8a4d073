"""The adapters' compiled common case: a request's warm token in one C call, before any Python.

``scope_reader`` (ASGI) and ``environ_reader`` (WSGI) wrap ``_speedups.ScopeReader`` and
``_speedups.EnvironReader``. Each reader answers a request's warm token, ``None`` for a
request without credential headers, or ``False``, and the adapter's Python path then
decides from the start. They answer only while ``guard.clock`` is the default clock,
``guard.cache`` the cache whose index they read, and no ``before_authenticate`` hook is
registered, all checked at every call (the pytest plugin replaces the clock of a guard in
use; a limiter may be registered at any time). Without the compiled module, or without a
cache, the reader is a function that always answers ``False``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from tokenguard._clock import utcnow
from tokenguard._compiled import speedups
from tokenguard.guard import TokenGuard
from tokenguard.models import TokenInfo

if TYPE_CHECKING:
    from tokenguard._speedups import EnvironReader, ScopeReader

#: a reader: the request's warm token, ``None`` without credentials, ``False`` for Python to decide.
Reader = Callable[[Any], TokenInfo | Literal[False] | None]
#: the ASGI reader: ``True`` once the scope holds the warm token's principal, else as ``Reader``.
ScopeAnswer = Callable[[Any], bool | None]


def _python_decides(request: object) -> Literal[False]:
    """The reader without the compiled module: every request takes the Python path."""
    return False


def _preconditions(guard: TokenGuard) -> tuple[TokenGuard, object, object, list[Any]]:
    """What the readers check at every call: this clock, this cache, no before_authenticate hook."""
    hooks = guard._before_authenticate_impls  # pluggy's live list; anything else: never answer
    return guard, utcnow, guard.cache, hooks if isinstance(hooks, list) else [None]


def scope_reader(guard: TokenGuard, authorization: bytes, token_headers: tuple[bytes, ...],
                 mounts: tuple[str, ...], mark_key: str, mark_value: object,
                 principal_type: type) -> ScopeAnswer:
    """ASGI: an ``http`` scope without ``root_path``, its path under none of ``mounts``.

    For a warm token (not an admin's) it puts ``principal_type(info, info.effective_scopes)``,
    made in C, in ``scope["auth"]`` and ``scope["user"]`` and answers ``True``; ``None`` without
    credentials. A scope it answers is marked: ``mark_value`` under ``mark_key``.
    """
    index = guard.cache.warm_index
    if index is None or speedups is None:
        return _python_decides
    reader: ScopeReader = speedups.ScopeReader(index, authorization, token_headers, guard.prefix, mounts,
                                               mark_key, mark_value, principal_type, TokenInfo,
                                               *_preconditions(guard))
    return reader.read


def environ_reader(guard: TokenGuard, authorization_key: str, token_keys: tuple[str, ...]) -> Reader:
    """WSGI: the environ's ``authorization_key`` (``HTTP_AUTHORIZATION``) and ``token_keys``; read only."""
    index = guard.cache.warm_index
    if index is None or speedups is None:
        return _python_decides
    reader: EnvironReader = speedups.EnvironReader(index, authorization_key, token_keys, guard.prefix,
                                                   *_preconditions(guard))
    return reader.read
