"""Hand-written verification floors: what one verification costs in CPython, without tokenguard.

Both do the same work as a protected request with a warm cache: parse the
token, check its checksum, HMAC it, find the digest in a dict, compare, check
revocation, expiry and scope. ``plain`` is written the obvious way; ``tuned``
is the fastest this file's author could make it (pre-keyed HMAC pads, one
length check, ASCII alnum, unrolled checksum decode, float timestamps). The
ratio of ``TokenGuard.authenticate`` + ``require`` to ``tuned`` is the price of
the library over the floor.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
DECODE = {c: i for i, c in enumerate(ALPHABET)}


class Refused(Exception):
    pass


def base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def plain_floor(key: bytes, prefix: str, tokens: list[str], scope: str) -> Callable[[str], Any]:
    """Verification written plainly: hmac.new per call, datetimes, a dict per record."""
    expires = datetime.now(UTC) + timedelta(days=30)
    table = {
        hmac.new(key, t.encode(), hashlib.sha256).hexdigest(): {
            "digest": hmac.new(key, t.encode(), hashlib.sha256).hexdigest(),
            "revoked_at": None, "expires_at": expires, "scopes": frozenset({"read", "write"}),
        }
        for t in tokens
    }

    def verify(token: str) -> Any:
        head, _, body = token.partition("_")
        if head != prefix or len(body) != 38 or not all(c in ALPHABET for c in body):
            raise Refused("malformed")
        if base62(zlib.crc32(body[:32].encode("ascii")), 6) != body[32:]:
            raise Refused("checksum")
        digest = hmac.new(key, token.encode("ascii"), hashlib.sha256).hexdigest()
        record = table.get(digest)
        if record is None or not hmac.compare_digest(record["digest"], digest):
            raise Refused("unknown")
        now = datetime.now(UTC)
        if record["revoked_at"] is not None or (record["expires_at"] and now >= record["expires_at"]):
            raise Refused("dead")
        if scope not in record["scopes"]:
            raise Refused("scope")
        return record

    return verify


def tuned_floor(key: bytes, prefix: str, tokens: list[str], scope: str) -> Callable[[str], Any]:
    """The same checks, tuned: every trick tokenguard uses, and no abstraction at all."""
    padded = key.ljust(64, b"\0")
    inner_pad = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer_pad = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
    expires = time.time() + 30 * 86400
    table = {}
    for t in tokens:
        digest = hmac.new(key, t.encode(), hashlib.sha256).hexdigest()
        table[digest] = (digest, False, expires, frozenset({"read", "write"}))
    length, separator = len(prefix) + 39, len(prefix)
    crc32, d, now_ts = zlib.crc32, DECODE, time.time

    def verify(token: str) -> Any:
        if len(token) != length or token[separator] != "_" or not token.startswith(prefix):
            raise Refused("malformed")
        body = token[separator + 1:]
        if not (body.isascii() and body.isalnum()):
            raise Refused("malformed")
        c = body[32:]
        if crc32(body[:32].encode()) != (
            (((((d[c[0]] * 62 + d[c[1]]) * 62 + d[c[2]]) * 62 + d[c[3]]) * 62 + d[c[4]]) * 62) + d[c[5]]
        ):
            raise Refused("checksum")
        inner = inner_pad.copy()
        inner.update(token.encode())
        outer = outer_pad.copy()
        outer.update(inner.digest())
        digest = outer.hexdigest()
        record = table.get(digest)
        if record is None or not hmac.compare_digest(record[0], digest):
            raise Refused("unknown")
        if record[1] or now_ts() >= record[2]:
            raise Refused("dead")
        if scope not in record[3]:
            raise Refused("scope")
        return record

    return verify
