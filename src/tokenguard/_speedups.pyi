from collections import OrderedDict
from typing import Any

from tokenguard.models import TokenInfo

BODY_LENGTH: int

class WarmIndex:
    """The verification cache's warm hit, in one C call (``_speedups.c``)."""

    def __init__(self, prober: object, entries: OrderedDict[bytes, Any]) -> None: ...
    def find(self, token: object, prefix: str, /) -> TokenInfo | None: ...
