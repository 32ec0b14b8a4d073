"""SECURITY.md maps each of the 26 items of the security bar to tests: they must all exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| (\d+) \| [^|]+ \| (.+) \|$", re.M)
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


def functions_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")}


def test_every_item_maps_to_tests_that_exist() -> None:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    rows = {int(number): cells for number, cells in ROW.findall(text)}
    assert sorted(rows) == list(range(1, 27))
    missing = []
    for number, cells in rows.items():
        references = REFERENCE.findall(cells)
        assert references, f"item {number} names no test"
        for file, name in references:
            path = ROOT / file
            if not path.exists():
                missing.append(f"{number}: {file}")
            elif name and name not in functions_in(path):
                missing.append(f"{number}: {file}::{name}")
    assert missing == []


def test_the_known_gaps_named_in_security_md_are_the_strict_xfails_of_the_suite() -> None:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    gaps = text.split("Known gaps", 1)[1].split("\n## ", 1)[0]
    named = {(file, name) for file, name in REFERENCE.findall(gaps) if name}
    strict = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        source = path.read_text(encoding="utf-8")
        for chunk in source.split("xfail(" + "strict=True")[1:]:
            name = chunk.split("def ", 1)[1].split("(", 1)[0]
            strict.add((str(path.relative_to(ROOT)), name))
    assert named == strict
