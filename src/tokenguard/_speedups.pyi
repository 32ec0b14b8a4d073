from collections import OrderedDict
from typing import Any, Literal

from tokenguard.models import TokenInfo

BODY_LENGTH: int

class WarmIndex:
    """The verification cache's warm hit, in one C call (``_speedups.c``)."""

    #: probe digests computed: tokens that passed the length, prefix and alphabet checks
    probes: int
    def __init__(
        self, key: bytes, digest_size: int, entries: OrderedDict[bytes, Any], entry_type: type
    ) -> None: ...
    def find(self, token: object, prefix: str, /) -> TokenInfo | None: ...
    def find_in_headers(
        self, headers: object, authorization: bytes, token_headers: tuple[bytes, ...], prefix: str, /
    ) -> TokenInfo | Literal[False] | None: ...
    def digest(self, data: bytes, /) -> bytes: ...

class TokenDigester:
    """A canonical token's checksum, then its HMAC-SHA256, in one C call (``_speedups.c``)."""

    def __init__(self, inner: object, outer: object) -> None: ...
    def checked_digest(self, canonical: str, /) -> str | None: ...

class ScopeReader:
    """The ASGI middleware's common case, from the scope to a warm token, in one C call."""

    def __init__(
        self, index: WarmIndex, authorization: bytes, token_headers: tuple[bytes, ...], prefix: str,
        mounts: tuple[str, ...], mark_key: object, mark_value: object, principal_type: type,
        info_type: type, guard: object, clock: object, cache: object, hooks: list[Any],
    ) -> None: ...
    def read(self, scope: object, /) -> bool | None: ...

class EnvironReader:
    """The Flask extension's common case, from the WSGI environ to a warm token, in one C call."""

    def __init__(
        self, index: WarmIndex, authorization_key: str, token_keys: tuple[str, ...], prefix: str,
        guard: object, clock: object, cache: object, hooks: list[Any],
    ) -> None: ...
    def read(self, environ: object, /) -> TokenInfo | Literal[False] | None: ...
