"""Round 2 of the ``tokenguard`` command: descriptions, networks, grace, reminders, scans, owners.

The commands run in-process (``main``) on a SQLite file, as tests/test_cli.py runs them,
and once more as ``flask tokens`` on an app's own guard.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from tokenguard import AuthenticationError, TokenGuard, TokenInfo, hookimpl
from tokenguard.cli import main, run
from tokenguard.cli_config import Console
from tokenguard.tokens import checksum
from tokenguard_flask import FlaskTokenGuard, tokens_cli

KEY = "cli-round2-secret-key-0123456789abcdefghijk"


@dataclass
class Result:
    code: int
    out: str
    err: str


class CLI:
    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                 env: dict[str, str]) -> None:
        self.capsys, self.monkeypatch, self.env = capsys, monkeypatch, env

    def __call__(self, *argv: str) -> Result:
        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        code = main(list(argv), env=self.env)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def create(self, *argv: str) -> str:
        result = self("token", "create", *argv)
        assert result.code == 0, result.err
        return result.out.strip()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tokens.db'}"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, database_url: str) -> CLI:
    return CLI(capsys, monkeypatch, {"TOKENGUARD_DATABASE_URL": database_url, "TOKENGUARD_SECRET_KEY": KEY})


def fresh_guard(database_url: str, *plugins: object) -> TokenGuard:
    return TokenGuard(database_url, secret_key=KEY, load_entry_points=False, plugins=plugins)


def lookup(database_url: str, token_id: str) -> TokenInfo:
    with fresh_guard(database_url) as guard:
        return guard.get_token(token_id)


def works(database_url: str, token: str) -> bool:
    with fresh_guard(database_url) as guard:
        try:
            guard.authenticate(token)
        except AuthenticationError:
            return False
        return True


def one_error_line(result: Result) -> str:
    assert result.code != 0 and "Traceback" not in result.err
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


# -- create --description --allow-network, list --json -------------------------------------------


def test_create_with_a_description_and_networks(cli: CLI, database_url: str) -> None:
    cli.create("ci", "--owner", "alice", "--id", "ci", "--description", "deploys main",
               "--allow-network", "10.0.0.0/8", "--allow-network", "2001:db8::/32")
    info = lookup(database_url, "ci")
    assert info.description == "deploys main"
    assert info.allowed_networks == {"10.0.0.0/8", "2001:db8::/32"}
    listed = json.loads(cli("token", "list", "--json").out)[0]
    assert listed["description"] == "deploys main"
    assert listed["allowed_networks"] == ["10.0.0.0/8", "2001:db8::/32"]
    assert listed["last_used_ip"] is None and listed["last_used_agent"] is None
    assert listed["parent_id"] is None
    card = cli("token", "show", "ci").out
    assert "description: deploys main" in card and "networks:" in card and "10.0.0.0/8" in card


@pytest.mark.parametrize(("flag", "value", "word"), [
    ("--allow-network", "10.1.2.3/8", "host bits"), ("--allow-network", "nowhere", "CIDR"),
    ("--description", "x" * 501, "description"),
])
def test_bad_descriptions_and_networks_are_one_usage_line(cli: CLI, flag: str, value: str,
                                                          word: str) -> None:
    result = cli("token", "create", "ci", "--owner", "alice", flag, value)
    assert result.code == 2 and word in one_error_line(result) and result.out == ""


# -- rotate --grace ----------------------------------------------------------------------------------


def test_rotate_with_a_grace_keeps_the_old_secret(cli: CLI, database_url: str) -> None:
    old = cli.create("ci", "--owner", "alice", "--id", "ci", "--expires-in", "30d")
    result = cli("token", "rotate", "ci", "--grace", "24h")
    assert result.code == 0, result.err
    new = result.out.strip()
    assert new != old and works(database_url, new) and works(database_url, old)
    assert "keeps working until" in result.err and old not in result.err and new not in result.err


@pytest.mark.parametrize("grace", [None, "none", "0"])
def test_rotate_without_a_grace_stops_the_old_secret(cli: CLI, database_url: str, grace: str | None) -> None:
    old = cli.create("ci", "--owner", "alice", "--id", "ci")
    result = cli("token", "rotate", "ci", *(["--grace", grace] if grace else []))
    assert result.code == 0 and not works(database_url, old) and works(database_url, result.out.strip())
    assert "no longer works" in result.err


@pytest.mark.parametrize("grace", ["never", "soon", "-1h"])
def test_a_bad_grace_is_one_usage_line(cli: CLI, database_url: str, grace: str) -> None:
    old = cli.create("ci", "--owner", "alice", "--id", "ci")
    result = cli("token", "rotate", "ci", "--grace", grace)
    assert result.code == 2 and "--grace" in one_error_line(result)
    assert works(database_url, old)


# -- remind ------------------------------------------------------------------------------------------


def test_remind_sends_each_reminder_once(cli: CLI) -> None:
    cli.create("soon", "--owner", "alice", "--expires-in", "5d")
    cli.create("later", "--owner", "alice", "--expires-in", "90d")
    cli.create("forever", "--owner", "alice", "--expires-in", "never")
    first = cli("token", "remind")
    assert (first.code, first.out) == (0, "1\n") and "sent 1 expiry reminder" in first.err
    again = cli("token", "remind")  # cron runs it again: nothing more to send
    assert (again.code, again.out) == (0, "0\n")
    wider = cli("token", "remind", "--threshold", "100")  # a threshold of its own: both are within it
    assert (wider.code, wider.out) == (0, "2\n")
    assert cli("token", "remind", "--threshold", "100").out == "0\n"


def test_remind_with_no_token_is_zero(cli: CLI) -> None:
    assert cli("token", "remind").out == "0\n"


def test_remind_refuses_a_bad_threshold(cli: CLI) -> None:
    assert cli("token", "remind", "--threshold", "soon").code == 2


# -- scan --------------------------------------------------------------------------------------------


def lookalike(prefix: str = "tg") -> str:
    """A string of the token's shape whose checksum does not match."""
    body = "A" * 32
    wrong = "000000" if checksum(body) != "000000" else "000001"
    return f"{prefix}_{body}{wrong}"


def foreign_prefix_token() -> str:
    body = "B" * 32
    return f"xx_{body}{checksum(body)}"


def test_scan_finds_our_tokens_and_never_prints_them(cli: CLI, tmp_path: Path, database_url: str) -> None:
    token = cli.create("ci", "--owner", "alice", "--id", "ci")
    other_body = "C" * 32
    unknown = f"tg_{other_body}{checksum(other_body)}"  # our format, not issued here
    leaky = tmp_path / "settings.py"
    leaky.write_text(f"# config\nAPI_TOKEN = '{token}'\nOTHER = \"{unknown}\"\n"
                     f"NOT = '{lookalike()}'\nFOREIGN = '{foreign_prefix_token()}'\n"
                     f"LONGER = 'x{token}'  # no word boundary\n")
    clean = tmp_path / "clean.txt"
    clean.write_text("nothing to see\n")
    result = cli("token", "scan", str(leaky), str(clean))
    assert result.code == 1, result.err
    lines = result.out.splitlines()
    hint = f"tg_…{token[-4:]}"
    assert lines == [f"{leaky}:2:14: {hint} token ci of alice (active)",
                     f"{leaky}:3:10: tg_…{unknown[-4:]} (not issued by this server)"]
    assert token not in result.out + result.err and unknown not in result.out + result.err
    assert "found 2 tokens" in result.err
    assert works(database_url, token)  # without --revoke, nothing changes
    assert cli("token", "scan", str(clean)).code == 0


def test_scan_revoke_revokes_and_reports_the_leak(tmp_path: Path) -> None:
    leaks: list[tuple[str, str, str | None]] = []

    class Recorder:
        @hookimpl
        def tokenguard_token_leaked(self, info: TokenInfo, source: str, url: str | None) -> None:
            leaks.append((info.id, source, url))

    guard = fresh_guard(f"sqlite:///{tmp_path / 't.db'}", Recorder())
    token = guard.create_token("alice", "ci", token_id="ci").token
    revoked_before = guard.create_token("alice", "old", token_id="old")
    guard.revoke("old")
    leaky = tmp_path / ".env"
    leaky.write_text(f"A={token}\nB={revoked_before.token}\n")
    out, err = io.StringIO(), io.StringIO()
    console = Console(stdin=io.StringIO(), stdout=out, stderr=err, env={}, guard=guard)
    code = run(["token", "scan", str(leaky), "--revoke"], console, app=True)
    assert code == 1
    assert guard.get_token("ci").status == "revoked"
    assert leaks == [("ci", "scan", str(leaky))]  # the one revoked earlier is not reported again
    assert out.getvalue().splitlines() == [f"{leaky}:1:3: tg_…{token[-4:]} token ci of alice (revoked now)",
                                           f"{leaky}:2:3: tg_…{revoked_before.token[-4:]} token old of "
                                           "alice (revoked)"]
    assert "revoked 1" in err.getvalue() and token not in out.getvalue() + err.getvalue()
    again = run(["token", "scan", str(leaky), "--revoke"], console, app=True)  # harmless twice
    assert again == 1 and len(leaks) == 1
    guard.close()


def test_scan_of_a_missing_file_is_an_error_line_and_the_others_are_scanned(cli: CLI, tmp_path: Path) -> None:
    token = cli.create("ci", "--owner", "alice")
    present = tmp_path / "a.txt"
    present.write_text(token)
    result = cli("token", "scan", str(tmp_path / "missing.txt"), str(present))
    assert result.code == 2
    assert "missing.txt" in result.err and result.out.startswith(f"{present}:1:1: ")


def test_scan_reads_binary_files(cli: CLI, tmp_path: Path) -> None:
    token = cli.create("ci", "--owner", "alice")
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x00\xff\xfe" + token.encode() + b"\x00\n")
    result = cli("token", "scan", str(blob))
    assert result.code == 1 and ":1:" in result.out


# -- owners ------------------------------------------------------------------------------------------


def test_owner_deactivate_show_reactivate(cli: CLI, database_url: str) -> None:
    token = cli.create("ci", "--owner", "bob")
    cli.create("two", "--owner", "bob")
    shown = json.loads(cli("owner", "show", "bob", "--json").out)
    assert shown == {"owner": "bob", "active": True, "deactivated_at": None, "deactivated_by": None,
                     "active_tokens": 2}
    deactivated = cli("owner", "deactivate", "bob")
    assert (deactivated.code, deactivated.out) == (0, "2\n") and "deactivated bob" in deactivated.err
    assert not works(database_url, token)
    shown = json.loads(cli("owner", "show", "bob", "--json").out)
    assert shown["active"] is False and shown["active_tokens"] == 0 and shown["deactivated_at"]
    assert "deactivated" in cli("owner", "show", "bob").out
    refused = cli("token", "create", "three", "--owner", "bob")
    assert refused.code == 1 and "deactivated" in one_error_line(refused)
    reactivated = cli("owner", "reactivate", "bob")
    assert reactivated.code == 0 and "reactivated bob" in reactivated.err
    assert not works(database_url, token)  # no token comes back
    assert "active already" in cli("owner", "reactivate", "bob").err
    cli.create("three", "--owner", "bob")
    assert "status:        active" in cli("owner", "show", "bob").out


def test_owner_commands_need_an_owner(cli: CLI) -> None:
    assert cli("owner", "deactivate").code == 2
    assert cli("owner", "frobnicate", "bob").code == 2


# -- flask tokens: the same parser ------------------------------------------------------------------


def flask_tokens(app: Flask, *argv: str) -> Any:
    runner: FlaskCliRunner = app.test_cli_runner()
    return runner.invoke(tokens_cli, list(argv))


def test_flask_tokens_takes_the_new_commands(tmp_path: Path) -> None:
    app = Flask("cli2")
    app.config.update(TOKENGUARD_DATABASE_URL=f"sqlite:///{tmp_path / 'f.db'}", TOKENGUARD_SECRET_KEY=KEY)
    FlaskTokenGuard(app)
    guard: TokenGuard = app.extensions["tokenguard"].guard
    token = flask_tokens(app, "create", "ci", "--owner", "bob", "--description", "d",
                         "--allow-network", "192.0.2.0/24").stdout.strip()
    assert guard.authenticate(token, remote="192.0.2.7").description == "d"
    leaky = tmp_path / "leak.txt"
    leaky.write_text(token)
    scanned = flask_tokens(app, "scan", str(leaky))
    assert scanned.exit_code == 1 and "token" in scanned.stdout and token not in scanned.stdout
    assert flask_tokens(app, "remind").stdout == "0\n"
    assert flask_tokens(app, "owner", "deactivate", "bob").stdout == "1\n"
    assert not guard.is_owner_active("bob")
    assert "deactivated" in flask_tokens(app, "owner", "show", "bob").stdout
