"""Items 1 and 2: where the secret comes from, how much of it there is, and how scanners find it."""

from __future__ import annotations

import ast
import math
import re
import zlib
from collections import Counter
from pathlib import Path

import pytest

import tokenguard
from tokenguard import tokens

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [Path(tokenguard.__file__).parent, ROOT / "src" / "tokenguard_flask",
           ROOT / "src" / "tokenguard_asgi"]


def test_the_secret_comes_from_secrets_32_choices_per_token(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_choice = tokens.secrets.choice

    def counting_choice(alphabet: str) -> str:
        calls.append(alphabet)
        return real_choice(alphabet)

    monkeypatch.setattr(tokens.secrets, "choice", counting_choice)
    token = tokens.generate("tg")
    assert len(calls) == tokens.RANDOM_LENGTH == 32
    assert set(calls) == {tokens.ALPHABET}
    assert tokens.parse(token, "tg") == token


def test_no_module_imports_random_or_uuid() -> None:
    offenders = []
    for source in SOURCES:
        for path in source.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in {"random", "uuid"}]
    assert offenders == []


def test_characters_are_uniform_and_tokens_carry_190_bits() -> None:
    assert tokens.RANDOM_LENGTH * math.log2(len(tokens.ALPHABET)) > 190
    assert len(set(tokens.ALPHABET)) == 62
    sample = [tokens.generate("tg")[3:3 + tokens.RANDOM_LENGTH] for _ in range(3000)]
    counts = Counter("".join(sample))
    expected = 3000 * 32 / 62
    chi_square = sum((counts[c] - expected) ** 2 / expected for c in tokens.ALPHABET)
    # 61 degrees of freedom: p < 1e-6 above ~125. A biased generator (modulo bias,
    # a missing letter, uuid hex) lands far beyond it.
    assert chi_square < 125, chi_square
    positions = [Counter(s[i] for s in sample) for i in (0, 15, 31)]
    assert all(len(p) == 62 for p in positions)
    assert len(set(sample)) == 3000


def documented_pattern() -> re.Pattern[str]:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    block = re.search(r"Every token matches this regular expression.*?```\n(.+?)\n```", text, re.S)
    assert block is not None, "SECURITY.md lost its scanner regex"
    return re.compile(block.group(1).strip())


def documented_checksum() -> dict[str, object]:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    block = re.search(r"```python\nimport zlib\n(.+?)```", text, re.S)
    assert block is not None, "SECURITY.md lost its checksum snippet"
    namespace: dict[str, object] = {"zlib": zlib}
    exec(compile(block.group(1), "SECURITY.md", "exec"), namespace)
    return namespace


def test_the_documented_scanner_regex_finds_tokens_and_the_checksum_sorts_them() -> None:
    pattern = documented_pattern()
    is_token = documented_checksum()["is_tokenguard_token"]
    real = [tokens.generate("tg") for _ in range(200)]
    text = "\n".join(
        f'export API_TOKEN={t}\n"Authorization": "Bearer secret-token:{t}",\nurl?x={t}&y' for t in real)
    found = pattern.findall(text)
    assert found == [t for t in real for _ in range(3)]
    assert all(is_token(t) for t in found)  # type: ignore[operator]
    look_alikes = ["tg_" + t[3:-1] + ("A" if t[-1] != "A" else "B") for t in real]
    assert sum(is_token(t) for t in look_alikes) == 0  # type: ignore[operator]
    for near_miss in ("xtg_" + real[0][3:], real[0] + "A", real[0][:-1], "TG_" + real[0][3:],
                      "tg_" + real[0][3:-1] + "-"):
        assert pattern.search(near_miss) is None, near_miss[:6]
    gitleaks = re.search(r"regex = '''(.+?)'''", (ROOT / "SECURITY.md").read_text(encoding="utf-8"))
    assert gitleaks is not None
    assert re.findall(gitleaks.group(1), "\n".join(f"token = {t}" for t in real)) == real
