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
# The checksum is compared by decoding its 6 characters to an int, not by encoding
# the CRC32 again: a few dict look-ups instead of six divmods and a join.


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


def _checksum_value(check: str) -> int:
    """The CRC32 that 6 base62 characters spell (unrolled: this runs on every request)."""
    t = _DECODE
    c = check
    return ((((t[c[0]] * 62 + t[c[1]]) * 62 + t[c[2]]) * 62 + t[c[3]]) * 62 + t[c[4]]) * 62 + t[c[5]]


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
    canonical = shape(token, prefix)
    verify_checksum(canonical)
    return canonical


def shape(token: object, prefix: str) -> str:
    """``parse`` without the checksum: length, prefix and alphabet, checked before any hashing.

    The guard's hot path runs this, then looks the token up in its verification
    cache (a token found there passed every check when it was cached), and runs
    :func:`verify_checksum` only on a miss, before the HMAC and any storage access.
    """
    if not isinstance(token, str):
        raise InvalidToken("malformed token")
    separator = len(prefix)
    length = separator + 1 + BODY_LENGTH
    if len(token) != length:  # the one length a token has, with or without the scheme
        if len(token) != len(RFC8959_SCHEME) + length or not token.startswith(RFC8959_SCHEME):
            raise InvalidToken("malformed token")
        token = token[len(RFC8959_SCHEME) :]
    if token[separator] != "_":
        raise InvalidToken("malformed token")
    if not token.startswith(prefix):
        raise InvalidToken("token has a foreign prefix")
    # ASCII first, so that isalnum() means exactly [0-9A-Za-z]: no full-width digits.
    body = token[separator + 1 :]
    if not (body.isascii() and body.isalnum()):
        raise InvalidToken("malformed token")
    return token


CHECKSUM_MISMATCH = "token checksum does not match"


def checksum_matches(canonical: str) -> bool:
    """True when the last 6 characters spell the CRC32 of the 32 before.

    ``canonical`` is what :func:`shape` returned: ASCII letters and digits after the prefix.
    """
    body = canonical[-BODY_LENGTH:]
    return zlib.crc32(body[:RANDOM_LENGTH].encode("ascii")) == _checksum_value(body[RANDOM_LENGTH:])


def verify_checksum(canonical: str) -> None:
    """Raise :class:`InvalidToken` unless :func:`checksum_matches`."""
    if not checksum_matches(canonical):
        raise InvalidToken(CHECKSUM_MISMATCH)


class Hasher:
    """HMAC-SHA256 under a list of keys: the first hashes new tokens, all verify.

    Each key is keyed once into an :mod:`hmac` object at start-up; hashing a token
    copies that object (``.copy()``), so no key schedule is repeated per token.
    """

    __slots__ = ("_first", "_keyed", "key_count")

    def __init__(self, keys: str | bytes | Sequence[str | bytes]) -> None:
        if isinstance(keys, str | bytes):
            keys = [keys]
        if not keys:
            raise ValidationError("secret_key is required", field="secret_key")
        keyed = []
        for key in keys:
            # A text key is read as the CLI reads it: without the newline or spaces around it
            # that files and environment variables bring along. Bytes are taken exactly.
            raw = key.strip().encode("utf-8") if isinstance(key, str) else key
            if not isinstance(raw, bytes) or len(raw) < MIN_KEY_BYTES:
                raise ValidationError(
                    f"each secret key must be at least {MIN_KEY_BYTES} bytes; generate one "
                    "with: python -c 'import secrets; print(secrets.token_urlsafe(48))'",
                    field="secret_key",
                )
            keyed.append(hmac.new(raw, digestmod=hashlib.sha256))
        self._keyed = tuple(keyed)
        self._first = keyed[0]
        self.key_count = len(keyed)

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for another purpose (CSRF, flash cookies), bound to the first key."""
        mac = self._first.copy()
        mac.update(b"tokenguard derive\x00" + purpose.encode("utf-8"))
        return mac.digest()

    def digest(self, token: str) -> str:
        """The digest new tokens are stored under (first key), as 64 hex characters."""
        mac = self._first.copy()
        mac.update(token.encode("ascii"))
        return mac.hexdigest()

    def checked_digest(self, canonical: str) -> str | None:
        """:meth:`digest` once :func:`checksum_matches`, else ``None`` (nothing hashed)."""
        return self.digest(canonical) if checksum_matches(canonical) else None

    def candidates(self, token: str, first: str | None = None) -> list[str]:
        """The digest under every key, first key first, for look-up during rotation.

        ``first`` is the first key's digest when the caller has it already (``checked_digest``).
        """
        data = token.encode("ascii")
        digests = [first] if first is not None else []
        for keyed in self._keyed[len(digests):]:
            mac = keyed.copy()
            mac.update(data)
            digests.append(mac.hexdigest())
        return digests
