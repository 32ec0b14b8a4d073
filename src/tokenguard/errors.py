"""The exception hierarchy of tokenguard.

Every error knows how it is answered over HTTP, as authlib's RFC 6750 errors
do: its status, its ``error`` code, its description, its headers (the RFC
6750 §3 ``WWW-Authenticate`` challenge, ``Retry-After``) and its JSON body.
Nothing here knows a web framework: ``tokenguard.web.answers`` turns an error
into a response in one function, for every adapter. Messages never contain a
token.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta

_TOKEN_ID = re.compile(r"[a-z0-9_-]{1,64}")

Headers = list[tuple[str, str]]


def _quoted(value: str) -> str:
    """An RFC 9110 quoted-string of printable ASCII, without quotes or backslashes inside."""
    cleaned = "".join(c for c in value if 0x20 <= ord(c) < 0x7F and c not in '"\\')
    return f'"{cleaned}"'


def bearer_challenge(realm: str, error: str | None = None, description: str | None = None,
                     scope: str | None = None) -> str:
    """``Bearer realm="…"[, error="…", error_description="…"][, scope="…"]`` (RFC 6750 §3)."""
    parts = [f"realm={_quoted(realm)}"]
    if error is not None:
        parts.append(f"error={_quoted(error)}")
        if description is not None:
            parts.append(f"error_description={_quoted(description)}")
    if scope:
        parts.append(f"scope={_quoted(scope)}")
    return "Bearer " + ", ".join(parts)


class TokenGuardError(Exception):
    """Root of every error raised by tokenguard."""

    #: RFC 6750 §3.1 / management API error code: the ``error`` of the JSON body.
    error_code: str = "server_error"
    #: HTTP status an adapter answers with.
    status_code: int = 500
    #: the ``error_description`` answered; ``None``: the message itself.
    description: str | None = None

    @property
    def error_description(self) -> str:
        return self.description if self.description is not None else str(self)

    def body(self) -> dict[str, str]:
        """The JSON body of the answer: ``{"error": …, "error_description": …}``."""
        return {"error": self.error_code, "error_description": self.error_description}

    def headers(self, realm: str) -> Headers:
        """The headers this error is answered with, beside the JSON ones (none by default)."""
        return []


class AuthenticationError(TokenGuardError):
    """The credentials presented do not identify a usable token (RFC 6750 §3.1)."""

    error_code = "invalid_token"
    status_code = 401
    # One description for unknown, expired and revoked alike: the answer tells no prober which.
    description = "the access token is invalid, expired or revoked"

    def challenge(self, realm: str) -> str:
        """The ``WWW-Authenticate`` value: the scheme, the realm and this error (RFC 6750 §3)."""
        return bearer_challenge(realm, self.error_code, self.error_description)

    def headers(self, realm: str) -> Headers:
        return [("WWW-Authenticate", self.challenge(realm))]


class InvalidToken(AuthenticationError):
    """Malformed, unknown, or failing its checksum."""


class ExpiredToken(AuthenticationError):
    """The token exists but its lifetime has ended."""


class RevokedToken(AuthenticationError):
    """The token exists but was revoked."""


class MissingCredentials(AuthenticationError):
    """No token was presented where one is required.

    RFC 6750 §3.1: the challenge then carries no error code, only the realm;
    the body says ``unauthorized``.
    """

    error_code = "unauthorized"
    description = "this endpoint requires an API token"

    def __init__(self, message: str = "authentication required") -> None:
        super().__init__(message)

    def challenge(self, realm: str) -> str:
        return bearer_challenge(realm)


class MalformedCredentials(AuthenticationError):
    """The credentials are syntactically broken or duplicated (RFC 6750 §3.1: 400)."""

    error_code = "invalid_request"
    status_code = 400
    description = "the credentials are malformed"


class TooManyAttempts(AuthenticationError):
    """Too many failed attempts from this client address; try again after ``retry_after`` seconds."""

    error_code = "too_many_attempts"
    status_code = 429
    description = "too many failed attempts from this address; try again later"

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed attempts; retry after {retry_after} s")

    def headers(self, realm: str) -> Headers:
        """RFC 6585 §4: when to come back; no challenge, the credentials are not in question."""
        return [("Retry-After", str(max(1, int(self.retry_after))))]


class InsufficientScope(TokenGuardError):
    """The token is valid but lacks the scope or project required (RFC 6750 §3.1: 403)."""

    error_code = "insufficient_scope"
    status_code = 403
    description = "the access token lacks the required scope"

    def __init__(self, required: Iterable[str], project: str | None = None) -> None:
        self.required: tuple[str, ...] = tuple(required)
        self.project = project
        wanted = " ".join(self.required)
        where = f" on project {project!r}" if project is not None else ""
        super().__init__(f"token lacks scope {wanted!r}{where}")

    @property
    def scope(self) -> str:
        """The ``scope`` attribute of the challenge and the body: the scopes required."""
        return " ".join(self.required)

    def challenge(self, realm: str) -> str:
        return bearer_challenge(realm, self.error_code, self.error_description, self.scope)

    def body(self) -> dict[str, str]:
        return {**super().body(), "scope": self.scope}

    def headers(self, realm: str) -> Headers:
        return [("WWW-Authenticate", self.challenge(realm))]


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


#: a value a ``ValidationError`` names (a length, a network, a lifetime), for a page to show.
ReasonParam = str | int | timedelta


class ValidationError(TokenGuardError, ValueError):
    """An argument is not acceptable; ``field`` names it (and the JSON body too).

    ``reason``: a short, stable code of what is wrong (``"empty"``, ``"too_long"``,
    ``"network_host_bits"``…) and ``params`` the values it names (``{"max": 100}``), so that
    a page can say it in its visitor's language; the message (``str()``) and the JSON stay
    English, and neither carries the reason.
    """

    error_code = "invalid_request"
    status_code = 400

    def __init__(self, message: str, field: str | None = None, *, reason: str | None = None,
                 params: Mapping[str, ReasonParam] | None = None) -> None:
        self.field = field
        self.reason = reason
        self.params: dict[str, ReasonParam] = dict(params or {})
        super().__init__(message)

    def body(self) -> dict[str, str]:
        found = super().body()
        if self.field is not None:
            found["field"] = self.field
        return found


class StoreUnavailable(TokenGuardError):
    """The token store could not be reached; adapters fail closed with 503."""

    error_code = "temporarily_unavailable"
    status_code = 503
    description = "token storage is unavailable; try again shortly"
    #: seconds a client is asked to wait (``Retry-After``).
    retry_after = 5

    def headers(self, realm: str) -> Headers:
        return [("Retry-After", str(self.retry_after))]


#: What ``require_scope``, the adapters' request check and the app's own ``guard.require``
#: raise about a request: answered 400, 401, 403, 429 or 503 with the error's own answer.
#: Anything else (``require_scope("wrte")``, a scope the guard does not configure) is the
#: app's own mistake: it propagates, a 500 on every adapter, rather than blaming the token.
REFUSALS: tuple[type[TokenGuardError], ...] = (AuthenticationError, InsufficientScope, StoreUnavailable)


class OwnerInactive(TokenGuardError):
    """The owner was deactivated (``guard.deactivate_owner``): no token of theirs is created,
    re-approved or rotated until ``guard.reactivate_owner``."""

    error_code = "owner_inactive"
    status_code = 403

    def __init__(self, owner: str) -> None:
        self.owner = owner
        super().__init__("the owner is deactivated: no token of theirs may be created, "
                         "re-approved or rotated")
