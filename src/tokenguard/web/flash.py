"""One-shot messages after a redirect, in a signed cookie (Post/Redirect/Get)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeTimedSerializer

from tokenguard.web.cookies import clear_cookie, set_cookie
from tokenguard.web.csrf import owner_tag
from tokenguard.web.http import WebRequest

FLASH_COOKIE = "tokenguard_flash"
FLASH_MAX_AGE = 120
MAX_MESSAGE = 300
FLASH_KINDS = frozenset({"success", "info", "error"})


@dataclass(frozen=True, slots=True)
class Flash:
    kind: str  # "success", "info" or "error"
    message: str
    #: the values of the message's ``%(name)s`` placeholders: the page translates ``message``
    #: (an ``N_``-marked id), then fills them in (see ``PageLanguage.message``).
    params: tuple[tuple[str, str], ...] = ()


class FlashCookies:
    """Signs a message for the next page view of the same owner, and reads it back once."""

    __slots__ = ("_serializer",)

    def __init__(self, key: bytes) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt="tokenguard.flash")

    def set(self, request: WebRequest, owner: str, flash: Flash) -> tuple[str, str]:
        data: dict[str, object] = {"k": flash.kind, "m": flash.message[:MAX_MESSAGE],
                                   "o": owner_tag(owner)}
        if flash.params:
            data["p"] = {name: value[:MAX_MESSAGE] for name, value in flash.params}
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
        params = data.get("p", {})
        if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
            return None, clear
        return Flash(kind, data["m"], tuple(sorted(params.items()))), clear
