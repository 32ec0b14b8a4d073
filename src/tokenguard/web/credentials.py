"""Reading a token from request headers, as RFC 6750 §2.1 says; never from the query string.

One reader for every adapter. :func:`read_token` makes every check, from any
header getter. :class:`CredentialReader` is configured once with the header
names and the guard's cache look-up, and reads what servers hand over: an ASGI
scope's raw headers, a WSGI (or Django) environ. Its fast path, for the
``Authorization: Bearer <token>`` nearly every client sends, reads that one
header and asks the cache: :meth:`CredentialReader.raw_token` and
:meth:`~CredentialReader.environ_token`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tokenguard.errors import MalformedCredentials
from tokenguard.models import TokenInfo
from tokenguard.web.http import HeaderGetter

MAX_HEADER_LENGTH = 8192
# b64token (RFC 6750 §2.1), plus ":" for the RFC 8959 "secret-token:" form.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/:]+=*")
_BEARER = re.compile(r"Bearer +(\S+)", re.IGNORECASE | re.ASCII)

RawHeaders = Iterable[tuple[bytes, bytes]]


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


# -- what servers hand over -------------------------------------------------------------------


def raw_header_getter(raw_headers: RawHeaders) -> HeaderGetter:
    """Every value of a header from ASGI raw headers, by case-insensitive name, repeats kept in order.

    ASGI servers send header names lowercased (the spec requires it, and
    Starlette's ``Headers`` relies on it too), so names compare as bytes.
    """
    headers = raw_headers if isinstance(raw_headers, list) else list(raw_headers)

    def get_header(name: str) -> list[str]:
        key = _raw_name(name)
        return [value.decode("latin-1") for raw_name, value in headers if raw_name == key]

    return get_header


def environ_header_getter(environ: Mapping[str, Any]) -> HeaderGetter:
    """Every value of a header from a WSGI environ (or Django's ``request.META``).

    A WSGI server folds repeated headers into one comma-joined value, so two
    ``Authorization`` headers arrive as ``"Bearer a, Bearer b"`` and are refused
    as malformed (400) by :func:`read_token`.
    """

    def get_header(name: str) -> list[str]:
        value = environ.get(environ_key(name))
        return [] if value is None else [value]

    return get_header


@functools.lru_cache(maxsize=256)
def _raw_name(name: str) -> bytes:
    return name.lower().encode("latin-1")


@functools.lru_cache(maxsize=256)
def environ_key(name: str) -> str:
    """The WSGI environ key of a header: ``Api-Token`` is ``HTTP_API_TOKEN``."""
    key = name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"


#: ``TokenGuard.authenticate_cached``: the info of a warm token, ``None`` when memory cannot answer.
CachedLookup = Callable[..., "TokenInfo | None"]
#: ``TokenGuard.authenticate_bearer``: the same for a header value ``Bearer <token>``, as received.
BearerLookup = Callable[[object, "str | None"], "TokenInfo | None"]


def _no_cache(token: object, *, remote: str | None = None) -> None:
    return None


def _no_bearer(value: object, remote: str | None = None) -> None:
    return None


class CredentialReader:
    """The credentials of a request, read from raw ASGI headers or a WSGI environ.

    :meth:`raw_token` and :meth:`environ_token` answer from memory alone: the
    token's info when the cache holds it, ``None`` when no token was presented,
    or the token itself (a ``str``) when only the store can tell; they raise
    ``MalformedCredentials`` (and what the cache refuses: a revoked or expired
    token, a blocked address). The adapter verifies a ``str`` with
    ``guard.authenticate``, in a worker thread where it runs on an event loop.

    Their fast path is the ``Authorization: Bearer <token>`` nearly every client
    sends: when that one header is the only credential, its value goes to the
    cache as it is (``bearer``, the guard's ``authenticate_bearer``), which answers
    only ``Bearer `` and a canonical token (letters, digits and ``_``: exactly what
    :func:`read_token` would return, with nothing to strip, split or refuse) and
    ``None`` for anything else; then, and for any other headers (a token header, a
    repeated header, another scheme or spelling), :func:`read_token` makes every
    check, and the token it returns goes to ``cached`` (``authenticate_cached``).
    """

    __slots__ = ("_authorization_key", "_bearer", "_cached", "_more_token_keys", "_raw_authorization",
                 "_raw_token_headers", "_token_key", "authorization_header", "token_headers")

    def __init__(self, authorization_header: str = "Authorization",
                 token_headers: Sequence[str] = ("Api-Token",), cached: CachedLookup = _no_cache,
                 bearer: BearerLookup = _no_bearer) -> None:
        self.authorization_header = authorization_header
        self.token_headers = tuple(token_headers)
        self._cached = cached
        self._bearer = bearer
        self._raw_authorization = _raw_name(authorization_header)
        self._raw_token_headers = frozenset(_raw_name(name) for name in self.token_headers)
        self._authorization_key = environ_key(authorization_header)
        keys = [environ_key(name) for name in self.token_headers]
        #: the first token header's key is looked up alone: most apps have just the one.
        self._token_key = keys[0] if keys else None
        self._more_token_keys = frozenset(keys[1:])

    def read(self, get_header: HeaderGetter) -> str | None:
        """:func:`read_token` with this reader's header names."""
        return read_token(get_header, self.authorization_header, self.token_headers)

    def raw_token(self, raw_headers: RawHeaders, remote: str | None = None) -> TokenInfo | str | None:
        """The request's token from ASGI raw headers (see the class): one pass, nothing decoded.

        A loop over the few headers an API client sends is cheaper here than any
        structure built from them (a ``dict`` of them costs more up to half a dozen).
        """
        found: bytes | None = None
        authorization, token_headers = self._raw_authorization, self._raw_token_headers
        for name, value in raw_headers:
            if name == authorization:
                if found is not None:
                    break
                found = value
            elif name in token_headers:
                break
        else:
            if found is None:
                return None
            info = self._bearer(found, remote)  # None: not the plain form, or not warm
            if info is not None:
                return info
        return self._read(self.read(raw_header_getter(raw_headers)), remote)

    def environ_token(self, environ: Mapping[str, Any], remote: str | None = None) -> TokenInfo | str | None:
        """The request's token from a WSGI (or Django) environ (see the class): one look-up, and one
        to rule out a token header."""
        value = environ.get(self._authorization_key)
        if self._token_key not in environ and not (
                self._more_token_keys and not environ.keys().isdisjoint(self._more_token_keys)):
            if value is None:
                return None
            info = self._bearer(value, remote)  # None: not the plain form, or not warm
            if info is not None:
                return info
        return self._read(self.read(environ_header_getter(environ)), remote)

    def _read(self, token: str | None, remote: str | None) -> TokenInfo | str | None:
        """After :func:`read_token`: ``None``, the info the cache holds, or the token for the store.

        A token the fast path offered already is offered again (a second probe of a
        token the store must answer anyway): this runs only for what it did not decide.
        """
        if token is None:
            return None
        info = self._cached(token, remote=remote)
        return token if info is None else info
