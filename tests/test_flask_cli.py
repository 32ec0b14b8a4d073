"""``flask tokens …`` is the ``tokenguard`` command set, on the app's own guard."""

from __future__ import annotations

import io
import re
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from tokenguard import TokenGuard
from tokenguard.cli import TOKEN_COMMANDS, build_parser, main
from tokenguard_flask import FlaskTokenGuard, tokens_cli

KEY = "flask-cli-test-secret-key-0123456789abcdefgh"
LIMIT = "3"


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


def _flask_app(url: str) -> Flask:
    app = Flask("cli")
    app.config.update(TOKENGUARD_DATABASE_URL=url, TOKENGUARD_SECRET_KEY=KEY,
                      TOKENGUARD_MAX_TOKENS_PER_OWNER=int(LIMIT))
    FlaskTokenGuard(app)
    return app


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return _flask_app(f"sqlite:///{tmp_path / 'flask.db'}")


@pytest.fixture
def guard(app: Flask) -> TokenGuard:
    found: TokenGuard = app.extensions["tokenguard"].guard
    return found


def flask_tokens(app: Flask, *argv: str, stdin: str = "") -> Outcome:
    runner: FlaskCliRunner = app.test_cli_runner()
    result = runner.invoke(tokens_cli, list(argv), input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


# -- the commands, as before: the secret alone on stdout, refusals one line ---------------------------


def test_create_prints_the_token_alone(app: Flask, guard: TokenGuard) -> None:
    result = flask_tokens(app, "token", "create", "ci", "--owner", "alice", "--scope", "write",
                          "--project", "alpha", "--expires-in", "7d", "--id", "ci")
    assert result.code == 0, result.err
    token = result.out.strip()
    assert result.out == f"{token}\n" and token.startswith("tg_")
    assert "created token ci for alice" in result.err and token not in result.err
    info = guard.authenticate(token)
    assert info.id == "ci" and info.scopes == frozenset({"write"}) and info.projects == frozenset({"alpha"})
    assert info.expires_at is not None and (info.expires_at - info.created_at).days == 7


def test_the_token_commands_without_the_word_token(app: Flask, guard: TokenGuard) -> None:
    """``flask tokens create …`` as before: the same parser, the word ``token`` implied."""
    assert set(TOKEN_COMMANDS) == set(_subcommands("token"))
    flask_tokens(app, "create", "forever", "--owner", "bob", "--expires-in", "never", "--id", "b1")
    assert guard.get_token("b1").expires_at is None
    assert '"id": "b1"' in flask_tokens(app, "list", "--json").out
    assert "b1" in flask_tokens(app, "list", "--owner", "bob").out
    assert flask_tokens(app, "revoke", "b1").code == 0
    assert guard.get_token("b1").status == "revoked"
    assert flask_tokens(app, "reapprove", "b1").code == 0
    rotated = flask_tokens(app, "rotate", "b1")
    assert guard.authenticate(rotated.out.strip()).id == "b1"
    assert flask_tokens(app, "verify", "--json", stdin=rotated.out).code == 0
    assert flask_tokens(app, "revoke-owner", "bob").out == "1\n"
    assert flask_tokens(app, "delete", "b1").code == 0
    missing = flask_tokens(app, "delete", "b1")
    assert (missing.code, missing.err) == (1, "tokenguard: error: no token with id 'b1'\n")
    bad = flask_tokens(app, "create", "x", "--owner", "a", "--expires-in", "soon")
    assert bad.code == 2 and "invalid duration" in bad.err


def _subcommands(group: str) -> list[str]:
    parser = build_parser()
    groups = next(a for a in parser._actions if a.dest == "group")
    sub = groups.choices[group]  # type: ignore[index]
    commands = next(a for a in sub._actions if a.dest == "command")
    return list(commands.choices)


def test_configuration_options_and_demo_are_refused_not_ignored(app: Flask) -> None:
    """The app's guard is configured already: an option that could not apply is an error."""
    for argv in (("token", "list", "--prefix", "zz"), ("--database-url", "memory://", "token", "list"),
                 ("token", "create", "x", "--owner", "a", "--secret-key-file", "/k"), ("demo",)):
        result = flask_tokens(app, *argv)
        assert result.code == 2 and result.out == "" and result.err.count("\n") == 1, argv
        assert result.err.startswith("tokenguard: error: ") and "flask tokens" in result.err


def test_help_is_the_parsers(app: Flask) -> None:
    result = flask_tokens(app, "--help")
    assert result.code == 0 and result.out.startswith("usage: flask tokens")
    assert "token" in result.out and "db" in result.out and "demo" not in result.out
    assert "--database-url" not in flask_tokens(app, "token", "create", "--help").out


def test_an_app_without_the_extension_is_one_line() -> None:
    result = flask_tokens(Flask("bare"), "token", "list")
    assert result.code == 2
    assert result.err == "tokenguard: error: FlaskTokenGuard is not initialised on this app (call init_app)\n"


def test_db_upgrade_on_the_apps_store(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    app = Flask("db")
    app.config.update(TOKENGUARD_DATABASE_URL=f"sqlite:///{path}", TOKENGUARD_SECRET_KEY=KEY)
    FlaskTokenGuard(app)
    result = flask_tokens(app, "db", "upgrade")
    assert result.code == 0 and result.out == "" and "up to date" in result.err
    with sqlite3.connect(path) as conn:
        assert ("tokenguard_tokens",) in conn.execute("select name from sqlite_master").fetchall()
    memory = Flask("memory")
    memory.config.update(TOKENGUARD_DATABASE_URL="memory://", TOKENGUARD_SECRET_KEY=KEY)
    FlaskTokenGuard(memory)
    refused = flask_tokens(memory, "db", "upgrade")
    assert refused.code == 2 and "db upgrade needs a SQL store" in refused.err


def test_the_guard_stays_open_between_commands(app: Flask, guard: TokenGuard) -> None:
    for name in ("a", "b"):
        assert flask_tokens(app, "token", "create", name, "--owner", "alice").code == 0
    assert len(guard.list_tokens("alice")) == 2  # not closed by the first command


def test_cli_is_registered_as_a_flask_command() -> None:
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="flask.commands") if e.name == "tokens"]
    assert entry.load() is tokens_cli


# -- flask tokens X == tokenguard X, for every command -----------------------------------------------


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    #: commands run first (on each side); "{token}" in stdin is the first one's stdout.
    setup: tuple[tuple[str, ...], ...] = ()
    stdin: str = ""


CREATE_CI = ("token", "create", "ci pipeline", "--owner", "alice", "--scope", "write", "--project", "alpha",
             "--expires-in", "30d", "--id", "ci")
CREATE_LAPTOP = ("token", "create", "laptop", "--owner", "alice", "--expires-in", "never", "--id", "laptop")
CASES = {
    "create": Case(CREATE_CI),
    "create admin": Case(("token", "create", "root", "--owner", "ops", "--admin", "--id", "root")),
    "create generated id": Case(("token", "create", "anon", "--owner", "alice")),
    "create over the limit": Case(("token", "create", "four", "--owner", "alice"),
                                  setup=(("token", "create", "1", "--owner", "alice"),) * int(LIMIT)),
    "create id taken": Case(CREATE_CI, setup=(CREATE_CI,)),
    "create unknown scope": Case(("token", "create", "x", "--owner", "a", "--scope", "root")),
    "create bad duration": Case(("token", "create", "x", "--owner", "a", "--expires-in", "soon")),
    "create no owner": Case(("token", "create", "x")),
    "create bad id": Case(("token", "create", "x", "--owner", "a", "--id", "Not Valid")),
    "list": Case(("token", "list"), setup=(CREATE_CI, CREATE_LAPTOP)),
    "list json": Case(("token", "list", "--json"), setup=(CREATE_CI, CREATE_LAPTOP)),
    "list owner": Case(("token", "list", "--owner", "alice"), setup=(CREATE_CI,)),
    "list empty": Case(("token", "list", "--owner", "nobody")),
    "list empty json": Case(("token", "list", "--json")),
    "show": Case(("token", "show", "ci"), setup=(CREATE_CI,)),
    "show json": Case(("token", "show", "ci", "--json"), setup=(CREATE_CI,)),
    "show unknown": Case(("token", "show", "ghost")),
    "verify": Case(("token", "verify"), setup=(CREATE_CI,), stdin="{token}\n"),
    "verify json": Case(("token", "verify", "--json"), setup=(CREATE_CI,), stdin="{token}"),
    "verify revoked": Case(("token", "verify"), setup=(CREATE_CI, ("token", "revoke", "ci")),
                           stdin="{token}"),
    "verify garbage": Case(("token", "verify"), stdin="tg_not-a-token"),
    "verify nothing": Case(("token", "verify"), stdin=" \n"),
    "verify from argv": Case(("token", "verify", "tg_" + "A" * 38)),
    "revoke": Case(("token", "revoke", "ci"), setup=(CREATE_CI,)),
    "revoke unknown": Case(("token", "revoke", "ghost")),
    "reapprove": Case(("token", "reapprove", "ci"), setup=(CREATE_CI, ("token", "revoke", "ci"))),
    "reapprove unknown": Case(("token", "reapprove", "ghost")),
    "rotate": Case(("token", "rotate", "ci"), setup=(CREATE_CI,)),
    "rotate never": Case(("token", "rotate", "ci", "--expires-in", "never"), setup=(CREATE_CI,)),
    "rotate unknown": Case(("token", "rotate", "ghost")),
    "delete": Case(("token", "delete", "ci"), setup=(CREATE_CI,)),
    "delete unknown": Case(("token", "delete", "ghost")),
    "revoke-owner": Case(("token", "revoke-owner", "alice"), setup=(CREATE_CI, CREATE_LAPTOP)),
    "revoke-owner none": Case(("token", "revoke-owner", "nobody")),
    "remind": Case(("token", "remind"), setup=(CREATE_CI,)),
    "scan, nothing found": Case(("token", "scan", "/etc/hostname")),
    "db upgrade": Case(("db", "upgrade")),
    "no command": Case(()),
    "token alone": Case(("token",)),
    "unknown command": Case(("token", "frobnicate")),
}
_NORMAL = [
    (re.compile(r"\btg_[0-9A-Za-z]{38}\b"), "<token>"),
    (re.compile(r"tg_(…|\\u2026)[0-9A-Za-z]{4}"), "<hint>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00"), "<time>"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d"), "<time>"),
    (re.compile(r"\b[0-9a-f]{16}\b"), "<id>"),
]


def _normal(text: str, database: Path) -> str:
    """``text`` without what differs between any two runs: secrets, hints, instants, generated ids."""
    text = text.replace("flask tokens", "tokenguard").replace(str(database), "<db>")
    for pattern, replacement in _NORMAL:
        text = pattern.sub(replacement, text)
    return text


def run_core(argv: tuple[str, ...], database: Path, stdin: str, capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch) -> Outcome:
    env = {"TOKENGUARD_DATABASE_URL": f"sqlite:///{database}", "TOKENGUARD_SECRET_KEY": KEY,
           "TOKENGUARD_MAX_TOKENS_PER_OWNER": LIMIT}
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(argv), env=env)
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def _run_case(case: Case, run: object, database: Path) -> Outcome:
    token = ""
    for number, argv in enumerate(case.setup):
        done = run(argv, "")  # type: ignore[operator]
        assert done.code == 0, done.err
        if number == 0:
            token = done.out.strip()
    result: Outcome = run(case.argv, case.stdin.replace("{token}", token))  # type: ignore[operator]
    return Outcome(result.code, _normal(result.out, database), _normal(result.err, database))


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_flask_tokens_and_tokenguard_answer_alike(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    core_db, flask_db = tmp_path / "core.db", tmp_path / "flask.db"
    app = _flask_app(f"sqlite:///{flask_db}")
    core = _run_case(case, lambda argv, stdin: run_core(argv, core_db, stdin, capsys, monkeypatch), core_db)
    flask = _run_case(case, lambda argv, stdin: flask_tokens(app, *argv, stdin=stdin), flask_db)
    assert flask == core
    if core.code != 0:
        assert core.out == "" and core.err.count("\n") == 1 and core.err.startswith("tokenguard: error: ")


def test_the_cases_cover_every_command() -> None:
    covered = {case.argv[:2] for case in CASES.values()}
    for group in ("token", "db"):
        for command in _subcommands(group):
            assert (group, command) in covered, f"{group} {command}"
