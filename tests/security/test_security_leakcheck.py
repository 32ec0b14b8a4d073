"""The leak check itself: it must see a token wherever the suite forbids one."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote

import pytest
from _security_helpers import SECRET

import _leakcheck
from tokenguard import TokenGuard, tokens
from tokenguard.errors import InvalidToken

TESTS_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture
def guard() -> TokenGuard:
    return TokenGuard("memory://", secret_key=SECRET, load_entry_points=False)


def test_every_issued_token_is_known_to_the_detector(guard: TokenGuard) -> None:
    before = _leakcheck.DETECTOR.issued
    issued = guard.create_token("alice", "ci")
    rotated = guard.rotate(issued.info.id)
    assert _leakcheck.DETECTOR.issued == before + 2
    for secret in (issued.token, rotated.token):
        assert _leakcheck.DETECTOR.scan(f"x {secret} y", "probe")
        assert _leakcheck.DETECTOR.scan(quote(f"secret-token:{secret}"), "probe")
    assert len(_leakcheck.DETECTOR.drain()) == 4


def test_hints_and_never_issued_tokens_are_not_leaks(guard: TokenGuard) -> None:
    issued = guard.create_token("alice", "ci")
    stranger = _leakcheck._ORIGINAL_GENERATE("tg")
    assert not _leakcheck.DETECTOR.scan(f"hint {issued.info.hint} id {issued.info.id}", "probe")
    assert not _leakcheck.DETECTOR.scan(stranger, "probe")
    assert _leakcheck.DETECTOR.drain() == []


def test_a_token_in_any_log_record_is_caught(guard: TokenGuard) -> None:
    secret = guard.create_token("alice", "ci").token
    quiet = logging.getLogger("security.leakcheck.quiet")
    quiet.propagate = False
    silence = logging.NullHandler()   # else logging's last resort prints it on stderr
    quiet.addHandler(silence)
    try:
        logging.getLogger("somewhere").error("got %s", secret)
        quiet.error("got " + secret)
        try:
            raise RuntimeError(secret)
        except RuntimeError:
            logging.getLogger("somewhere").exception("boom")
        seen = _leakcheck.DETECTOR.drain()
    finally:
        quiet.propagate = True
        quiet.removeHandler(silence)
    assert len(seen) == 3
    assert all(secret not in line and tokens.hint(secret) in line for line in seen)


def test_a_token_in_a_library_exception_message_is_caught_even_when_caught(guard: TokenGuard) -> None:
    secret = guard.create_token("alice", "ci").token
    with pytest.raises(InvalidToken):
        raise InvalidToken(f"unknown token {secret}")
    seen = _leakcheck.DETECTOR.drain()
    assert seen == [f"message of InvalidToken: token {tokens.hint(secret)}"]


INNER_TESTS = '''
import logging, sys
from tokenguard import TokenGuard

def issue():
    guard = TokenGuard("memory://", secret_key="k" * 32, load_entry_points=False)
    return guard.create_token("alice", "ci").token

def test_logs_a_token():
    logging.getLogger("app").warning("token is %s", issue())

def test_prints_on_stdout_like_the_cli():
    print(issue())

def test_prints_on_stderr():
    print(issue(), file=sys.stderr)

def test_clean():
    logging.getLogger("app").warning("hint only")
'''


def test_the_plugin_fails_the_leaking_tests_and_only_them(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TESTS))
    env = {**os.environ, "PYTHONPATH": str(TESTS_DIR)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "_leakcheck", "-p", "no:cacheprovider", "-q",
         "-rA", "--no-header", str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    out = done.stdout
    assert done.returncode == 1, out
    assert "PASSED test_inner.py::test_prints_on_stdout_like_the_cli" in out
    assert "PASSED test_inner.py::test_clean" in out
    assert "ERROR test_inner.py::test_logs_a_token" in out
    assert "ERROR test_inner.py::test_prints_on_stderr" in out
    assert "log record of 'app' (WARNING): token tg_…" in out
    assert "captured stderr (call): token tg_…" in out
