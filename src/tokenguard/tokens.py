"""The token format: ``{prefix}_{32 base62 random}{6 base62 CRC32}``.

About 190 bits of randomness from :mod:`secrets`, a prefix secret scanners can
match, and a checksum so that a typo or garbage is refused offline, before any
hashing or storage access. A leading ``secret-token:`` (RFC 8959) is accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from collections.abc import Sequence

from tokenguard.errors import InvalidToken, ValidationError

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 32
CHECKSUM_LENGTH = 6
BODY_LENGTH = RANDOM_LENGTH + CHECKSUM_LENGTH
RFC8959_SCHEME = "secret-token:"
PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9]{0,15}")
MIN_KEY_BYTES = 32

_DECODE = {c: i for i, c in enumerate(ALPHABET)}
_ALPHABET_SET = frozenset(ALPHABET)
# Precomputed base62 renderings of the CRC32 space would be 4 G entries; instead
# the checksum is compared by decoding the 6 characters to an int (cheap).
_MAX_TOKEN_LENGTH = len(RFC8959_SCHEME) + 17 + 1 + BODY_LENGTH


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def _decode62(text: str) -> int:
    number = 0
    for char in text:
        number = number * 62 + _DECODE[char]
    return number


def checksum(random_part: str) -> str:
    """The 6 base62 characters of the CRC32 of ``random_part``."""
    return _base62(zlib.crc32(random_part.encode("ascii")), CHECKSUM_LENGTH)


def validate_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not PREFIX_PATTERN.fullmatch(prefix):
        raise ValidationError(
            "prefix must match [a-z][a-z0-9]{0,15}", field="prefix"
        )
    return prefix


def generate(prefix: str) -> str:
    """A new token in clear: ``prefix_`` + 32 random base62 chars + checksum."""
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"{prefix}_{random_part}{checksum(random_part)}"


def hint(token: str) -> str:
    """What people see to recognise a token: its prefix and last 4 characters."""
    prefix, _, body = token.partition("_")
    return f"{prefix}_…{body[-4:]}"


def parse(token: object, prefix: str) -> str:
    """Return the canonical token, or raise :class:`InvalidToken` without touching storage.

    Accepts any object (a non-str is invalid, never a ``TypeError``), strips
    an RFC 8959 ``secret-token:`` scheme, and checks length, prefix, alphabet
    and checksum in that order, cheapest first.
    """
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH:
        raise InvalidToken("malformed token")
    if token.startswith(RFC8959_SCHEME):
        token = token[len(RFC8959_SCHEME) :]
    expected_length = len(prefix) + 1 + BODY_LENGTH
    if len(token) != expected_length or token[len(prefix)] != "_":
        raise InvalidToken("malformed token")
    if not token.startswith(prefix):
        raise InvalidToken("token has a foreign prefix")
    body = token[len(prefix) + 1 :]
    if not _ALPHABET_SET.issuperset(body):
        raise InvalidToken("malformed token")
    random_part, check = body[:RANDOM_LENGTH], body[RANDOM_LENGTH:]
    if zlib.crc32(random_part.encode("ascii")) != _decode62(check):
        raise InvalidToken("token checksum does not match")
    return token


class Hasher:
    """HMAC-SHA256 under a list of keys: the first hashes new tokens, all verify.

    HMAC objects are keyed once (the inner and outer pads computed at start-up)
    and copied per call, which halves the cost of ``hmac.new`` per token.
    """

    __slots__ = ("_keyed",)

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for another purpose (CSRF, flash cookies), bound to the first key."""
        mac = self._keyed[0].copy()
        mac.update(b"tokenguard derive\x00" + purpose.encode("utf-8"))
        return mac.digest()

    def __init__(self, keys: str | bytes | Sequence[str | bytes]) -> None:
        if isinstance(keys, str | bytes):
            keys = [keys]
        if not keys:
            raise ValidationError("secret_key is required", field="secret_key")
        keyed = []
        for key in keys:
            raw = key.encode("utf-8") if isinstance(key, str) else key
            if not isinstance(raw, bytes) or len(raw) < MIN_KEY_BYTES:
                raise ValidationError(
                    f"each secret key must be at least {MIN_KEY_BYTES} bytes; generate one "
                    "with: python -c 'import secrets; print(secrets.token_urlsafe(48))'",
                    field="secret_key",
                )
            keyed.append(hmac.new(raw, digestmod=hashlib.sha256))
        self._keyed = tuple(keyed)

    def digest(self, token: str) -> str:
        """The digest new tokens are stored under (first key), as 64 hex characters."""
        mac = self._keyed[0].copy()
        mac.update(token.encode("ascii"))
        return mac.hexdigest()

    def candidates(self, token: str) -> list[str]:
        """The digest under every key, first key first, for look-up during rotation."""
        data = token.encode("ascii")
        out = []
        for keyed in self._keyed:
            mac = keyed.copy()
            mac.update(data)
            out.append(mac.hexdigest())
        return out
