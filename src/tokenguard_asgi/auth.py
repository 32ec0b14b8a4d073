"""What the middleware puts in ``scope["auth"]`` and ``scope["user"]``: Starlette's own contract.

Starlette's ``requires``, ``request.auth`` and ``request.user`` read these
objects unchanged; ``request.auth.token`` adds the :class:`TokenInfo`.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.authentication import AuthCredentials, BaseUser

from tokenguard.models import TokenInfo
from tokenguard.web.http import WebResponse


class TokenCredentials(AuthCredentials):
    """``AuthCredentials`` of a token: its effective scopes (implied ones included) and ``.token``."""

    def __init__(self, token: TokenInfo, scopes: Iterable[str]) -> None:
        super().__init__(sorted(scopes))
        self.token = token

    def __repr__(self) -> str:
        return f"TokenCredentials(token_id={self.token.id!r}, scopes={self.scopes!r})"


class TokenUser(BaseUser):
    """The owner of the token that authenticated the request."""

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


class TokenRejected(Exception):
    """A refusal whose RFC 6750 response :class:`TokenGuardMiddleware` sends.

    Raised by dependencies that cannot return a response themselves (FastAPI's
    ``current_token``); the middleware renders it exactly as the Flask adapter
    would, instead of a framework's ``{"detail": …}`` body.
    """

    def __init__(self, response: WebResponse) -> None:
        self.response = response
        super().__init__(f"request refused with status {response.status}")
