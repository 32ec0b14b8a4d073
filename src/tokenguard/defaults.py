"""Defaults shared by the lifecycle: ``DEFAULT`` ("the guard's default lifetime") and the touch interval."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from tokenguard.cache import TOUCH_SECONDS


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


#: Marks "use the guard's default lifetime" (``None`` means "never expires").
DEFAULT: Final = _Default()
#: How often at most a token's last use is written (and a warm token checked against it).
TOUCH_INTERVAL = timedelta(seconds=TOUCH_SECONDS)
