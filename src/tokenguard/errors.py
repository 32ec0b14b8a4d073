"""The exception hierarchy of tokenguard.

Every error carries what an adapter needs to answer over HTTP: its RFC 6750
``error`` code and its status, so a web layer maps an exception to a response
in one line. Messages never contain a token.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_TOKEN_ID = re.compile(r"[a-z0-9_-]{1,64}")


class TokenGuardError(Exception):
    """Root of every error raised by tokenguard."""

    #: RFC 6750 §3.1 / management API error code.
    error_code: str = "server_error"
    #: HTTP status an adapter answers with.
    status_code: int = 500


class AuthenticationError(TokenGuardError):
    """The credentials presented do not identify a usable token (RFC 6750 §3.1)."""

    error_code = "invalid_token"
    status_code = 401


class InvalidToken(AuthenticationError):
    """Malformed, unknown, or failing its checksum."""


class ExpiredToken(AuthenticationError):
    """The token exists but its lifetime has ended."""


class RevokedToken(AuthenticationError):
    """The token exists but was revoked."""


class MalformedCredentials(AuthenticationError):
    """The credentials are syntactically broken or duplicated (RFC 6750 §3.1: 400)."""

    error_code = "invalid_request"
    status_code = 400


class TooManyAttempts(AuthenticationError):
    """Too many failed attempts from this client address; try again after ``retry_after`` seconds."""

    error_code = "too_many_attempts"
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed attempts; retry after {retry_after} s")


class InsufficientScope(TokenGuardError):
    """The token is valid but lacks the scope or project required (RFC 6750 §3.1)."""

    error_code = "insufficient_scope"
    status_code = 403

    def __init__(self, required: Iterable[str], project: str | None = None) -> None:
        self.required: tuple[str, ...] = tuple(required)
        self.project = project
        wanted = " ".join(self.required)
        where = f" on project {project!r}" if project is not None else ""
        super().__init__(f"token lacks scope {wanted!r}{where}")


class TokenLimitExceeded(TokenGuardError):
    """The owner already holds the maximum number of tokens."""

    error_code = "token_limit_exceeded"
    status_code = 409

    def __init__(self, owner: str, limit: int) -> None:
        self.owner = owner
        self.limit = limit
        super().__init__(f"owner already holds the maximum of {limit} tokens")


class TokenNotFound(TokenGuardError):
    """No token has this id (or it belongs to someone else)."""

    error_code = "not_found"
    status_code = 404

    def __init__(self, token_id: str) -> None:
        self.token_id = token_id
        # Echo only what can be an id: a secret pasted where an id goes is not repeated back.
        shown = repr(token_id) if _TOKEN_ID.fullmatch(token_id) else "(not a token id)"
        super().__init__(f"no token with id {shown}")


class TokenIdConflict(TokenGuardError):
    """A token with this id already exists."""

    error_code = "token_id_conflict"
    status_code = 409

    def __init__(self, token_id: str) -> None:
        self.token_id = token_id
        super().__init__(f"a token with id {token_id!r} already exists")


class ValidationError(TokenGuardError, ValueError):
    """An argument is not acceptable; ``field`` names it."""

    error_code = "invalid_request"
    status_code = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class StoreUnavailable(TokenGuardError):
    """The token store could not be reached; adapters fail closed with 503."""

    error_code = "temporarily_unavailable"
    status_code = 503


class OwnerInactive(TokenGuardError):
    """The owner was deactivated (``guard.deactivate_owner``): no token of theirs is created,
    re-approved or rotated until ``guard.reactivate_owner``."""

    error_code = "owner_inactive"
    status_code = 403

    def __init__(self, owner: str) -> None:
        self.owner = owner
        super().__init__("the owner is deactivated: no token of theirs may be created, "
                         "re-approved or rotated")
