"""The optional compiled module, ``tokenguard._speedups`` (``_speedups.c``), or ``None``.

``None`` where it was not built (no compiler at install time) and when
``TOKENGUARD_PURE_PYTHON=1`` chooses the pure-Python path, which stays the reference.
"""

from __future__ import annotations

import os
from types import ModuleType

#: ``TOKENGUARD_PURE_PYTHON=1`` runs the Python paths even where the C ones are built.
PURE_PYTHON = os.environ.get("TOKENGUARD_PURE_PYTHON", "") not in ("", "0")


def _load() -> ModuleType | None:
    if PURE_PYTHON:
        return None
    try:
        from tokenguard import _speedups
    except ImportError:  # pragma: no cover (the suite requires it, see test_speedups.py)
        return None
    return _speedups


speedups = _load()
