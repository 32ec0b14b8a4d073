"""One-shot messages after a redirect, in a signed cookie (Post/Redirect/Get)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadData, URLSafeTimedSerializer

from tokenguard.web.cookies import clear_cookie, set_cookie
from tokenguard.web.csrf import owner_tag
from tokenguard.web.http import WebRequest
from tokenguard.web.i18n import Message, MessageParam

FLASH_COOKIE = "tokenguard_flash"
FLASH_MAX_AGE = 120
MAX_MESSAGE = 300
FLASH_KINDS = frozenset({"success", "info", "error"})
#: how deep a flash's messages nest (a refusal inside "“ci”: …").
MAX_DEPTH = 2


@dataclass(frozen=True, slots=True)
class Flash:
    kind: str  # "success", "info" or "error"
    #: an ``N_``-marked message id: the page translates it, then fills in ``params``
    #: (see ``PageLanguage.message``); a value may be a message itself (a refusal's reason).
    text: str
    params: tuple[tuple[str, MessageParam], ...] = ()

    @property
    def message(self) -> Message:
        """What the page shows: the message with its values."""
        return Message(self.text, self.params)


def _encode(value: MessageParam, depth: int = 0) -> object:
    if isinstance(value, Message) and depth < MAX_DEPTH:
        return {"m": value.text[:MAX_MESSAGE],
                "p": {name: _encode(v, depth + 1) for name, v in value.params}}
    if isinstance(value, timedelta):
        return {"s": int(value.total_seconds())}
    return str(value)[:MAX_MESSAGE]


def _decode(value: object, depth: int = 0) -> MessageParam:
    """A value as :func:`_encode` wrote it; ``ValueError`` for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"s"} and type(value["s"]) is int:
        return timedelta(seconds=value["s"])
    if (isinstance(value, dict) and set(value) == {"m", "p"} and isinstance(value["m"], str)
            and depth < MAX_DEPTH):
        return Message(value["m"], _decode_params(value["p"], depth + 1))
    raise ValueError("not a flash value")


def _decode_params(params: object, depth: int = 0) -> tuple[tuple[str, MessageParam], ...]:
    if not isinstance(params, dict):
        raise ValueError("not flash values")
    return tuple(sorted((str(name), _decode(value, depth)) for name, value in params.items()))


class FlashCookies:
    """Signs a message for the next page view of the same owner, and reads it back once."""

    __slots__ = ("_serializer",)

    def __init__(self, key: bytes) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt="tokenguard.flash")

    def set(self, request: WebRequest, owner: str, flash: Flash) -> tuple[str, str]:
        data: dict[str, object] = {"k": flash.kind, "m": flash.text[:MAX_MESSAGE],
                                   "o": owner_tag(owner)}
        if flash.params:
            data["p"] = {name: _encode(value) for name, value in flash.params}
        value = self._serializer.dumps(data)
        return set_cookie(FLASH_COOKIE, value, path=request.base_url or "/", max_age=FLASH_MAX_AGE,
                          secure=request.secure)

    def take(self, request: WebRequest, owner: str) -> tuple[Flash | None, list[tuple[str, str]]]:
        """The pending message (if any, and meant for ``owner``) and the header that clears it."""
        raw = request.cookie(FLASH_COOKIE)
        if raw is None:
            return None, []
        clear = [clear_cookie(FLASH_COOKIE, path=request.base_url or "/", secure=request.secure)]
        try:
            data = self._serializer.loads(raw, max_age=FLASH_MAX_AGE)
        except BadData:
            return None, clear
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in "kmo"):
            return None, clear
        if not hmac.compare_digest(data["o"].encode(), owner_tag(owner).encode()):
            return None, clear
        kind = data["k"] if data["k"] in FLASH_KINDS else "success"
        try:
            params = _decode_params(data.get("p", {}))
        except ValueError:
            return None, clear
        return Flash(kind, data["m"], params), clear
