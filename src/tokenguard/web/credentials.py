"""Reading a token from request headers, as RFC 6750 §2.1 says; never from the query string."""

from __future__ import annotations

import re
from collections.abc import Sequence

from tokenguard.errors import MalformedCredentials
from tokenguard.web.http import HeaderGetter

MAX_HEADER_LENGTH = 8192
# b64token (RFC 6750 §2.1), plus ":" for the RFC 8959 "secret-token:" form.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/:]+=*")
_BEARER = re.compile(r"Bearer +(\S+)", re.IGNORECASE | re.ASCII)
#: ``Bearer `` as written by nearly every client: the adapters hand what follows it to
#: ``TokenGuard.authenticate_cached``, which answers only for a canonical token it holds;
#: anything else goes through ``read_token``.
PLAIN_BEARER = "Bearer "
PLAIN_BEARER_BYTES = PLAIN_BEARER.encode("ascii")


def read_token(
    get_header: HeaderGetter,
    authorization_header: str = "Authorization",
    token_headers: Sequence[str] = ("Api-Token",),
) -> str | None:
    """The token presented, ``None`` when there is none, or ``MalformedCredentials``.

    An ``Authorization`` header with another scheme (Basic, …) is not ours and
    counts as no token. Duplicated headers, two methods at once, a bare
    ``Bearer``, or characters outside the token alphabet are malformed (400).
    A ``Bearer`` credential beside any other ``Authorization`` credential is
    duplicated too, in either order: as separate header lines (ASGI) or as the
    one comma-joined value a WSGI server makes of them.
    """
    values = list(get_header(authorization_header))
    found: list[str] = []
    for value in values:
        if not _is_bearer(value):
            if "," in value and any(_is_bearer(part) for part in value.split(",")[1:]):
                raise MalformedCredentials("more than one Authorization credential")
            continue
        if len(values) > 1:
            raise MalformedCredentials("more than one Authorization credential")
        found.append(_from_authorization(value))
    for name in token_headers:
        for value in get_header(name):
            found.append(_checked(value.strip()))
    if len(found) > 1:
        raise MalformedCredentials("more than one token presented")
    return found[0] if found else None


def _is_bearer(value: str) -> bool:
    return value.strip().split(" ", 1)[0].lower() == "bearer"


def _from_authorization(value: str) -> str:
    if len(value) > MAX_HEADER_LENGTH:
        raise MalformedCredentials("credentials too long")
    match = _BEARER.fullmatch(value.strip())
    if match is None:
        raise MalformedCredentials("malformed Bearer credentials")
    return _checked(match.group(1))


def _checked(token: str) -> str:
    if not token or len(token) > MAX_HEADER_LENGTH or not _TOKEN68.fullmatch(token):
        raise MalformedCredentials("malformed token")
    return token

