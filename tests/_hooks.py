"""Helpers shared by the adapters', the readers' and the extension's tests: a hook plugin, a leak check."""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections.abc import Callable

from tokenguard import hookimpl


class RemoteRecorder:
    """A ``before_authenticate`` plugin: the remote address of each attempt it was asked about."""

    def __init__(self) -> None:
        self.remotes: list[str | None] = []

    @hookimpl
    def tokenguard_before_authenticate(self, remote: str | None) -> None:
        self.remotes.append(remote)


def assert_steady(run: Callable[[], object], watched: tuple[object, ...], rounds: int = 20_000) -> None:
    """``run`` repeated keeps neither memory (under 4 KiB over ``rounds``) nor references to ``watched``."""
    for _ in range(1000):  # warm every free list
        run()
    gc.collect()
    before = tuple(sys.getrefcount(value) for value in watched)
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        for _ in range(rounds):
            run()
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end - start < 4096
    assert tuple(sys.getrefcount(value) for value in watched) == before
