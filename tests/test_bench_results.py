"""``make bench`` rewrites RESULTS.md and keeps the instruction counts it does not measure."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def run_module(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module("run")
    yield module
    sys.modules.pop("run", None)
    sys.modules.pop("common", None)


def test_a_new_run_keeps_the_instruction_counts_section(run_module, tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\nan old table\n\n## Instructions per request\n\n"
                       "| Flask | +24,932 |\n\nWhere Flask's share goes.\n")
    kept = run_module.kept_sections(results)
    assert kept == "\n## Instructions per request\n\n| Flask | +24,932 |\n\nWhere Flask's share goes.\n"
    assert "an old table" not in kept


def test_nothing_is_kept_from_a_file_without_that_section_or_no_file(run_module, tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    assert run_module.kept_sections(results) == ""
    results.write_text("# Benchmark results\n\nonly a table\n")
    assert run_module.kept_sections(results) == ""


def test_the_checked_in_results_have_the_section_a_run_keeps(run_module) -> None:
    assert run_module.KEPT_HEADING in (BENCHMARKS / "RESULTS.md").read_text()
