"""``make bench``: run every benchmark script, print one table, write RESULTS.md and ratios.png.

Each script runs in its own process (Django configures itself globally; uvicorn
servers come and go) and leaves its rows in ``.results/``. This script reads
them all and renders the table: figure, ratio to its reference, target, and
whether the target holds.

    python run.py            # everything (about 5 minutes on 2 cores)
    python run.py core web   # some scripts only
    BENCH_QUICK=1 python run.py   # smaller sizes and fewer rounds, for a smoke run
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from common import HERE, QUICK, RESULTS_DIR

SCRIPTS = ("core", "stores", "lifecycle", "peers", "web", "http", "django", "revocation")


def run_scripts(names: list[str]) -> dict[str, float]:
    spent = {}
    for name in names:
        started = time.monotonic()
        (RESULTS_DIR / f"{name}.json").unlink(missing_ok=True)
        result = subprocess.run([sys.executable, str(HERE / f"bench_{name}.py")], cwd=HERE, check=False)
        spent[name] = time.monotonic() - started
        if result.returncode != 0:
            print(f"!! bench_{name}.py failed with exit code {result.returncode}", flush=True)
    return spent


def load(names: list[str]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name in names:
        path = RESULTS_DIR / f"{name}.json"
        if path.exists():
            rows.extend(json.loads(path.read_text()))
        else:
            rows.append({"section": name, "name": "no result (the script failed)", "value": 0.0,
                         "unit": "", "ratio": None, "ratio_to": "", "target": "", "holds": False,
                         "note": ""})
    return rows


def figure(row: dict[str, object]) -> str:
    value, unit = float(row["value"]), str(row["unit"])  # type: ignore[arg-type]
    if not unit:
        return ""
    if unit == "req/s":
        return f"{value:,.0f} {unit}"
    return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def verdict(row: dict[str, object]) -> str:
    holds = row.get("holds")
    return "" if holds is None else ("yes" if holds else "**no**")


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| section | measurement | figure | ratio | target | holds |",
             "|---|---|---:|---|---|---|"]
    for row in rows:
        ratio = row.get("ratio")
        ratio_text = "" if ratio is None else f"{float(ratio):.2f}x {row['ratio_to']}"  # type: ignore[arg-type]
        name = str(row["name"]) + (f" ({row['note']})" if row.get("note") else "")
        lines.append(f"| {row['section']} | {name} | {figure(row)} | {ratio_text} | {row['target']} | "
                     f"{verdict(row)} |")
    return "\n".join(lines)


def environment() -> str:
    cpus = os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    mode = "quick (BENCH_QUICK=1)" if QUICK else "full"
    return (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · CPython {platform.python_version()} · "
            f"{cpus} CPUs · load average {load:.1f} at the end · {mode} run")


def chart(rows: list[dict[str, object]], path: Path) -> bool:
    """A horizontal bar per ratio that has a target, coloured by whether it holds."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    picked = [r for r in rows if r.get("ratio") is not None]
    if not picked:
        return False
    labels = [f"{r['section']}: {r['name']}"[:70] for r in picked]
    values = [float(r["ratio"]) for r in picked]  # type: ignore[arg-type]
    colours = ["#888888" if r.get("holds") is None else ("#2a9d4b" if r["holds"] else "#d1495b")
               for r in picked]
    height = 0.32 * len(picked) + 1.2
    figure_, axes = plt.subplots(figsize=(11, height))
    axes.barh(range(len(picked)), values, color=colours)
    axes.set_yticks(range(len(picked)), labels, fontsize=7)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlim(min(values) / 2, max(values) * 12)  # room for the labels
    axes.axvline(1.0, color="black", linewidth=0.8)
    for index, (value, row) in enumerate(zip(values, picked, strict=True)):
        axes.text(value, index, f" {value:.2f}x {row['ratio_to']}", va="center", fontsize=6)
    axes.set_xlabel("ratio (log scale); green: target holds, red: missed, grey: context")
    axes.set_title("tokenguard benchmarks: ratios measured in the same run")
    figure_.tight_layout()
    figure_.savefig(path, dpi=130)
    plt.close(figure_)
    return True


#: The sections of RESULTS.md that ``make bench`` does not measure (``bench_instructions.py``'s
#: counts, which need valgrind and a quarter of an hour): a new run keeps them as they are.
KEPT_HEADING = "## Instructions per request"


def kept_sections(path: Path) -> str:
    """What RESULTS.md holds from ``KEPT_HEADING`` on, to write back after a new run's table."""
    try:
        old = path.read_text()
    except FileNotFoundError:
        return ""
    start = old.find(KEPT_HEADING)
    return "" if start < 0 else "\n" + old[start:]


def main() -> None:
    names = [n for n in sys.argv[1:] if n in SCRIPTS] or list(SCRIPTS)
    started = time.monotonic()
    spent = run_scripts(names)
    rows = load(names)
    rendered = table(rows)
    took = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in spent.items())
    total = time.monotonic() - started
    print("\n" + rendered)
    print(f"\n{environment()}; took {total:.0f} s ({took})")
    missed = [f"{r['section']}: {r['name']}" for r in rows if r.get("holds") is False]
    if chart(rows, HERE / "ratios.png"):
        print(f"chart: {HERE / 'ratios.png'}")
    text = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/run.py`); every ratio compares figures measured in the",
        "same run, in interleaved rounds; figures are medians over rounds. Re-run to refresh.",
        "",
        environment() + f"; took {total:.0f} s.",
        "",
        rendered,
        "",
        "![ratios](ratios.png)",
        "",
        "Targets missed in this run: " + ("; ".join(missed) if missed else "none") + ".",
        "",
    ]
    (HERE / "RESULTS.md").write_text("\n".join(text) + kept_sections(HERE / "RESULTS.md"))
    print(f"results: {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
