"""Shared by every benchmark script: interleaved timing, medians, ratios, and the results file.

Contenders are timed in interleaved rounds (A, B, C, A, B, C, …) so that noise
from the machine hits all of them alike; a figure is the median over rounds and
a ratio is the median of the per-round ratios. Each script writes its rows to
``benchmarks/.results/<script>.json``; ``run.py`` turns them into the table.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / ".results"
KEY = b"benchmark-secret-key-0123456789-abcdefghijklmnop"
#: Quick mode for smoke runs: BENCH_QUICK=1 shrinks rounds and sizes.
QUICK = os.environ.get("BENCH_QUICK") == "1"
ROUNDS = 5 if QUICK else 15


@dataclass
class Row:
    """One line of the table: a measured figure, and its ratio to a reference if any."""

    section: str
    name: str
    value: float
    unit: str
    ratio: float | None = None
    ratio_to: str = ""
    target: str = ""
    holds: bool | None = None
    note: str = ""


@dataclass
class Report:
    script: str
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        flag = "" if row.holds is None else ("  ok" if row.holds else "  MISSED")
        ratio = "" if row.ratio is None else f"  x{row.ratio:.2f} of {row.ratio_to}"
        note = f"  ({row.note})" if row.note else ""
        print(f"  {row.section:>10} | {row.name:<52} {row.value:>12,.2f} {row.unit:<6}{ratio}{flag}{note}",
              flush=True)
        return row

    def save(self) -> None:
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"{self.script}.json"
        path.write_text(json.dumps([asdict(r) for r in self.rows], indent=1))


def per_call(fn: Callable[[], Any], number: int) -> float:
    """Seconds per call of ``fn`` over ``number`` calls (GC paused, as timeit does)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        started = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - started) / number
    finally:
        if enabled:
            gc.enable()


def calibrate(fn: Callable[[], Any], seconds: float = 0.02) -> int:
    """How many calls of ``fn`` take about ``seconds``: the size of one round."""
    number = 1
    while True:
        spent = per_call(fn, number) * number
        if spent >= seconds / 4 or number >= 1_000_000:
            return max(1, int(number * seconds / max(spent, 1e-9)))
        number *= 4


def interleaved(contenders: dict[str, Callable[[], Any]], rounds: int = ROUNDS,
                seconds: float = 0.05) -> dict[str, list[float]]:
    """Per-call seconds of every contender in each round, the contenders taking turns."""
    for fn in contenders.values():
        fn()  # warm: connections, caches, imports
    sizes = {name: calibrate(fn, seconds) for name, fn in contenders.items()}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            samples[name].append(per_call(fn, sizes[name]))
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values)


def ratio(samples: dict[str, list[float]], of: str, to: str) -> float:
    """The median over rounds of ``of / to``: both measured in the same round."""
    return statistics.median(round_ratios(samples, of, to))


def spread(ratios: list[float]) -> str:
    """The middle half of per-round ratios, for a row's note: how much the machine's noise moved them."""
    if len(ratios) < 4:
        return f"rounds {min(ratios):.2f}-{max(ratios):.2f}"
    low, _, high = statistics.quantiles(ratios, n=4)
    return f"middle half of rounds {low:.2f}-{high:.2f}"


def round_ratios(samples: dict[str, list[float]], of: str, to: str) -> list[float]:
    """``of / to`` in each round: what :func:`ratio` takes the median of."""
    return [a / b for a, b in zip(samples[of], samples[to], strict=True)]


def us(seconds: float) -> float:
    return seconds * 1e6


def header(title: str) -> None:
    print(f"\n== {title} ({'quick' if QUICK else 'full'}, python {sys.version.split()[0]})", flush=True)
