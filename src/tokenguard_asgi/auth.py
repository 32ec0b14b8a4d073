"""What the middleware puts in ``scope["auth"]`` and ``scope["user"]``: Starlette's own contract.

Starlette's ``requires``, ``request.auth`` and ``request.user`` read these
objects unchanged; ``request.auth.token`` adds the :class:`TokenInfo`.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.authentication import AuthCredentials, BaseUser

from tokenguard.models import TokenInfo

_sorted_sets: dict[frozenset[str], tuple[str, ...]] = {}
_MAX_SORTED_SETS = 4096


def _sorted(scopes: Iterable[str]) -> tuple[str, ...]:
    """``sorted(scopes)``, remembered per set of scopes: few distinct sets exist."""
    if type(scopes) is not frozenset:
        return tuple(sorted(scopes))
    found = _sorted_sets.get(scopes)
    if found is None:
        found = tuple(sorted(scopes))
        if len(_sorted_sets) < _MAX_SORTED_SETS:
            _sorted_sets[scopes] = found
    return found


class _HoldsToken:
    """The one slot both faces of a request's token share: ``.token``, its :class:`TokenInfo`."""

    __slots__ = ("token",)

    token: TokenInfo


class TokenCredentials(_HoldsToken, AuthCredentials):
    """``AuthCredentials`` of a token: its effective scopes (implied ones included) and ``.token``.

    ``scopes`` is the sorted list Starlette expects, made on first use (``require_scope``
    checks the token's own set), one list per request: an endpoint may change it.
    """

    __slots__ = ("_effective", "_listed")

    def __init__(self, token: TokenInfo, scopes: Iterable[str]) -> None:
        # AuthCredentials.__init__ only sets ``scopes``, which the property below replaces.
        self.token = token
        self._effective = scopes if type(scopes) is frozenset else frozenset(scopes)
        self._listed: list[str] | None = None

    @property
    def scopes(self) -> list[str]:
        listed = self._listed
        if listed is None:
            listed = self._listed = list(_sorted(self._effective))
        return listed

    @scopes.setter
    def scopes(self, value: Iterable[str]) -> None:
        self._listed = list(value)

    def __repr__(self) -> str:
        return f"TokenCredentials(token_id={self.token.id!r}, scopes={self.scopes!r})"


class TokenUser(_HoldsToken, BaseUser):
    """The owner of the token that authenticated the request."""

    __slots__ = ()  # no per-request ``__dict__`` (BaseUser's own is made only when used)

    def __init__(self, token: TokenInfo) -> None:
        self.token = token

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.token.owner

    @property
    def identity(self) -> str:
        return self.token.owner

    def __repr__(self) -> str:
        return f"TokenUser(owner={self.token.owner!r}, token_id={self.token.id!r})"


class TokenPrincipal(TokenCredentials, TokenUser):
    """What the middleware puts in both ``scope["auth"]`` and ``scope["user"]``: one object per request.

    It is the request's :class:`TokenCredentials` and its :class:`TokenUser` at once
    (``request.auth is request.user``), built once instead of twice on every
    authenticated request: ``scopes`` and ``.token`` as credentials, ``is_authenticated``,
    ``display_name`` and ``identity`` as the user.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        token = self.token
        return f"TokenPrincipal(owner={token.owner!r}, token_id={token.id!r}, scopes={self.scopes!r})"
