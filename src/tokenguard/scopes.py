"""Scope hierarchies: a scope implies what it lists, transitively."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from tokenguard.errors import ValidationError

DEFAULT_SCOPES: Mapping[str, tuple[str, ...]] = {
    "read": (),
    "write": ("read",),
    "management": ("write",),
}
SCOPE_PATTERN = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
#: Unknown names are repeated in errors only if this short: a token (40+ characters) never is.
_ECHOABLE = re.compile(r"[A-Za-z0-9_.:-]{1,32}")

_NOTHING: frozenset[str] = frozenset()


class ScopeHierarchy:
    """A validated hierarchy, with the closure of every scope computed once."""

    __slots__ = ("_cache", "_closure", "order")

    def __init__(self, scopes: Mapping[str, Iterable[str]] | None = None) -> None:
        source = DEFAULT_SCOPES if scopes is None else scopes
        for name, implied in source.items():
            if isinstance(implied, str | bytes) or not isinstance(implied, Iterable):
                raise ValidationError(f"scope {name!r} must map to a list of implied scopes",
                                      field="scopes")
        spec = {name: tuple(implied) for name, implied in source.items()}
        if not spec:
            raise ValidationError("at least one scope must be configured", field="scopes")
        for name, implied in spec.items():
            if not isinstance(name, str) or not SCOPE_PATTERN.fullmatch(name):
                raise ValidationError(f"invalid scope name {name!r}", field="scopes")
            for other in implied:
                if other not in spec:
                    raise ValidationError(
                        f"scope {name!r} implies unknown scope {other!r}", field="scopes"
                    )
        #: scope names in configuration order, lowest first by convention.
        self.order: tuple[str, ...] = tuple(spec)
        self._closure = {name: self._close(name, spec) for name in spec}
        self._cache: dict[frozenset[str], frozenset[str]] = {}

    @staticmethod
    def _close(name: str, spec: Mapping[str, tuple[str, ...]]) -> frozenset[str]:
        seen = {name}
        stack = list(spec[name])
        while stack:
            scope = stack.pop()
            if scope not in seen:
                seen.add(scope)
                stack.extend(spec[scope])
        return frozenset(seen)

    def __contains__(self, scope: object) -> bool:
        return scope in self._closure

    def validate(self, scopes: Iterable[str] | str | None, field: str = "scopes") -> frozenset[str]:
        """The scopes as a frozenset, refusing unknown names and an empty set."""
        if scopes is None or isinstance(scopes, str | bytes) or not isinstance(scopes, Iterable):
            raise ValidationError("scopes must be a list of scope names", field=field)
        result = set()
        for scope in scopes:
            if not isinstance(scope, str) or scope not in self._closure:
                allowed = ", ".join(self.order)
                # Echo only what can be a scope name: never a secret pasted in the wrong place.
                shown = f" {scope!r}" if isinstance(scope, str) and _ECHOABLE.fullmatch(scope) else ""
                raise ValidationError(f"unknown scope{shown}; expected one of: {allowed}", field=field,
                                      reason="unknown_scope")
            result.add(scope)
        if not result:
            raise ValidationError("at least one scope is required", field=field)
        return frozenset(result)

    def expand(self, scopes: frozenset[str]) -> frozenset[str]:
        """``scopes`` with everything they imply. Memoised: few distinct sets exist.

        A name this hierarchy does not configure (a token from an older configuration)
        grants nothing, so it is left out: effective scopes are always configured ones,
        and "holds every wanted scope" is one subset test.
        """
        cached = self._cache.get(scopes)
        if cached is None:
            expanded: set[str] = set()
            for scope in scopes:
                expanded |= self._closure.get(scope, _NOTHING)
            cached = frozenset(expanded)
            if len(self._cache) < 4096:
                self._cache[scopes] = cached
        return cached

    def level(self, scopes: frozenset[str]) -> str:
        """The highest configured scope held, for display as a permission level."""
        expanded = self.expand(scopes)
        best = self.order[0]
        for name in self.order:
            if name in scopes and len(self._closure[name]) >= len(self._closure[best]):
                best = name
        return best if best in expanded else ""

    def grants(self, held: frozenset[str], scope: str) -> bool:
        """True when ``scope`` is configured and ``held`` (expanded) includes it: the hot path."""
        expanded = self._cache.get(held)
        if expanded is None:
            expanded = self.expand(held)
        return scope in expanded and scope in self._closure

    def covers(self, held: frozenset[str], wanted: frozenset[str]) -> bool:
        """True when ``held`` (expanded) includes every scope of ``wanted``."""
        return wanted <= self.expand(held)
