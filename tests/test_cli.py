"""The ``tokenguard`` command on a real SQLite file, in-process and as the installed script."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tokenguard import InvalidToken, RevokedToken, TokenGuard, TokenInfo
from tokenguard.cli import main
from tokenguard.config import ENVIRON_KEYS
from tokenguard.tokens import parse

KEY = "cli-test-secret-key-0123456789abcdefghijkl"
OTHER_KEY = "cli-test-older-key-0123456789abcdefghijklm"
SCRIPT = Path(sys.executable).with_name("tokenguard")
CONFIG_VARS = ENVIRON_KEYS  # every setting's variable: none of the shell's reaches a test


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def error_line(self) -> str:
        """The one error line, after checking there is exactly one and no traceback."""
        assert self.code != 0
        assert "Traceback" not in self.err
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("tokenguard: error: "), lines[0]
        return lines[0]


class CLI:
    """Runs ``main(argv)`` in-process with a given stdin and environment."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                 env: dict[str, str]) -> None:
        self.capsys = capsys
        self.monkeypatch = monkeypatch
        self.env = env

    def __call__(self, *argv: str, stdin: str = "", env: dict[str, str] | None = None) -> Result:
        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(argv), env=self.env if env is None else env)
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
def env(database_url: str) -> dict[str, str]:
    return {"TOKENGUARD_DATABASE_URL": database_url, "TOKENGUARD_SECRET_KEY": KEY}


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> CLI:
    return CLI(capsys, monkeypatch, env)


class Checker:
    """Checks the CLI's effects with a new guard on the same database each time (no cache carried over)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def authenticate(self, token: str) -> TokenInfo:
        with TokenGuard(self.database_url, secret_key=KEY, load_entry_points=False) as guard:
            return guard.authenticate(token)

    def require(self, info: TokenInfo, *scopes: str, project: str | None = None) -> None:
        with TokenGuard(self.database_url, secret_key=KEY, load_entry_points=False) as guard:
            guard.require(info, *scopes, project=project)


@pytest.fixture
def guard(database_url: str) -> Checker:
    return Checker(database_url)


# -- token create ---------------------------------------------------------------------


def test_create_prints_the_token_alone_on_stdout(cli: CLI, guard: Checker) -> None:
    result = cli("token", "create", "ci pipeline", "--owner", "alice", "--scope", "write",
                 "--project", "alpha", "--project", "beta", "--expires-in", "30d", "--id", "ci")
    assert result.code == 0
    token = result.out.removesuffix("\n")
    assert "\n" not in token and parse(token, "tg") == token
    assert "created token ci for alice" in result.err and token not in result.err
    info = guard.authenticate(token)
    assert (info.id, info.owner, info.name) == ("ci", "alice", "ci pipeline")
    assert info.scopes == {"write"} and info.projects == {"alpha", "beta"} and not info.admin
    assert info.expires_at is not None
    assert abs(info.expires_at - datetime.now(UTC) - timedelta(days=30)) < timedelta(minutes=1)


@pytest.mark.parametrize(("given", "expected"), [
    ("12h", timedelta(hours=12)), ("90m", timedelta(minutes=90)), ("2w", timedelta(weeks=2)),
    ("45s", timedelta(seconds=45)), ("never", None), (None, timedelta(days=90)),
])
def test_create_lifetimes(cli: CLI, guard: Checker, given: str | None, expected: timedelta | None) -> None:
    token = cli.create("t", "--owner", "alice", *(["--expires-in", given] if given else []))
    info = guard.authenticate(token)
    if expected is None:
        assert info.expires_at is None
    else:
        assert info.expires_at is not None
        assert abs(info.expires_at - datetime.now(UTC) - expected) < timedelta(minutes=1)


def test_create_defaults_and_admin(cli: CLI, guard: Checker) -> None:
    plain = guard.authenticate(cli.create("reader", "--owner", "alice"))
    assert plain.scopes == {"read"} and plain.projects == frozenset() and len(plain.id) == 16
    admin = guard.authenticate(cli.create("root", "--owner", "ops", "--admin"))
    assert admin.admin
    guard.require(admin, "management", project="anything")


def test_create_refuses_an_id_the_settings_page_routes_use(cli: CLI) -> None:
    refused = cli("token", "create", "shadowed", "--owner", "alice", "--id", "admin")
    assert refused.code == 2 and "id 'admin' is reserved" in refused.error_line
    assert refused.out == ""
    assert cli("token", "list", "--json").out.strip() == "[]"


def test_create_records_the_cli_as_actor(cli: CLI, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="tokenguard.audit")
    token = cli.create("audited", "--owner", "alice")
    created = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tokenguard.audit"]
    assert created[0]["event"] == "token_created" and created[0]["actor"].startswith("cli")
    assert token not in caplog.text


def test_the_secret_is_usable_in_command_substitution(env: dict[str, str], tmp_path: Path) -> None:
    script = (f'export TOKEN=$("{SCRIPT}" token create "deploy bot" --owner alice --scope write) && '
              f'echo "$TOKEN" | "{SCRIPT}" token verify --json')
    done = subprocess.run(["/bin/sh", "-c", script], env={**_clean_environ(), **env},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["name"] == "deploy bot"
    assert "Traceback" not in done.stderr


# -- listing and showing ----------------------------------------------------------------


def test_list_table_and_owner_filter(cli: CLI) -> None:
    cli.create("ci pipeline", "--owner", "alice", "--scope", "write", "--id", "ci")
    cli.create("laptop", "--owner", "bob", "--id", "laptop", "--expires-in", "never")
    result = cli("token", "list")
    assert result.code == 0
    header, *rows = result.out.splitlines()
    assert header.split()[:3] == ["ID", "NAME", "OWNER"]
    assert len(rows) == 2
    assert rows[0].startswith("ci ") and "ci pipeline" in rows[0] and "write" in rows[0]
    assert "active" in rows[0] and "never" in rows[1]
    only_bob = cli("token", "list", "--owner", "bob").out.splitlines()
    assert len(only_bob) == 2 and only_bob[1].startswith("laptop")
    empty = cli("token", "list", "--owner", "nobody")
    assert (empty.code, empty.out) == (0, "") and "no tokens" in empty.err


def test_list_json(cli: CLI, guard: Checker) -> None:
    token = cli.create("ci", "--owner", "alice", "--scope", "write", "--project", "alpha", "--id", "ci")
    cli.create("old", "--owner", "alice", "--id", "old")
    cli("token", "revoke", "old")
    guard.authenticate(token)
    result = cli("token", "list", "--json")
    data = json.loads(result.out)
    assert [d["id"] for d in data] == ["ci", "old"]
    ci = data[0]
    assert set(ci) == {"id", "owner", "name", "scopes", "projects", "admin", "created_at", "expires_at",
                       "last_used_at", "revoked_at", "hint", "parent_id", "status", "description",
                       "allowed_networks", "last_used_ip", "last_used_agent"}
    assert ci["scopes"] == ["write"] and ci["projects"] == ["alpha"] and ci["admin"] is False
    assert ci["status"] == "active" and data[1]["status"] == "revoked"
    for field in ("created_at", "expires_at", "last_used_at"):
        assert datetime.fromisoformat(ci[field]).utcoffset() == timedelta(0)
    assert ci["revoked_at"] is None and data[1]["revoked_at"] is not None
    assert ci["hint"].startswith("tg_") and token[3:35] not in result.out
    assert json.loads(cli("token", "list", "--json", "--owner", "nobody").out) == []


def test_show(cli: CLI) -> None:
    cli.create("ci pipeline", "--owner", "alice", "--id", "ci", "--project", "alpha")
    card = cli("token", "show", "ci")
    assert card.code == 0
    assert "name:" in card.out and "ci pipeline" in card.out and "alpha" in card.out
    data = json.loads(cli("token", "show", "ci", "--json").out)
    assert data["id"] == "ci" and data["status"] == "active"


# -- lifecycle --------------------------------------------------------------------------


def test_verify_reads_the_token_from_stdin(cli: CLI) -> None:
    token = cli.create("ci", "--owner", "alice", "--id", "ci")
    ok = cli("token", "verify", stdin=token + "\n")
    assert ok.code == 0 and "ci" in ok.out and "active" in ok.out
    assert json.loads(cli("token", "verify", "--json", stdin=token).out)["owner"] == "alice"
    bad = cli("token", "verify", stdin=token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert bad.code == 1 and "checksum" in bad.error_line
    assert bad.out == ""


def test_verify_never_takes_the_token_from_argv(cli: CLI) -> None:
    token = cli.create("ci", "--owner", "alice")
    result = cli("token", "verify", token)
    assert result.code == 2
    assert "unrecognized arguments" in result.error_line
    assert token not in result.err  # not even echoed back in the error


def test_verify_refuses_empty_and_oversized_input(cli: CLI) -> None:
    empty = cli("token", "verify", stdin="  \n")
    assert empty.code == 2 and "no token on stdin" in empty.error_line
    huge = cli("token", "verify", stdin="A" * 100_000)
    assert huge.code == 1 and "too long" in huge.error_line


def test_revoke_reapprove_rotate_delete(cli: CLI, guard: Checker) -> None:
    token = cli.create("ci", "--owner", "alice", "--id", "ci")
    revoked = cli("token", "revoke", "ci")
    assert revoked.code == 0 and "revoked token ci" in revoked.out
    with pytest.raises(RevokedToken):
        guard.authenticate(token)
    assert cli("token", "verify", stdin=token).error_line.endswith("token has been revoked")
    assert cli("token", "reapprove", "ci").code == 0
    assert guard.authenticate(token).id == "ci"

    rotated = cli("token", "rotate", "ci")
    new = rotated.out.removesuffix("\n")
    assert rotated.code == 0 and parse(new, "tg") == new and new != token
    with pytest.raises(InvalidToken):
        guard.authenticate(token)
    assert guard.authenticate(new).id == "ci"

    assert cli("token", "delete", "ci").code == 0
    with pytest.raises(InvalidToken):
        guard.authenticate(new)
    assert cli("token", "show", "ci").code == 1


def test_rotate_with_a_new_lifetime(cli: CLI, guard: Checker) -> None:
    cli.create("ci", "--owner", "alice", "--id", "ci", "--expires-in", "1d")
    new = cli("token", "rotate", "ci", "--expires-in", "never").out.strip()
    assert guard.authenticate(new).expires_at is None


def test_revoke_owner_prints_the_count(cli: CLI, guard: Checker) -> None:
    tokens = [cli.create(f"t{i}", "--owner", "alice") for i in range(3)]
    bobs = cli.create("b", "--owner", "bob")
    result = cli("token", "revoke-owner", "alice")
    assert (result.code, result.out) == (0, "3\n") and "revoked 3 tokens of alice" in result.err
    for token in tokens:
        with pytest.raises(RevokedToken):
            guard.authenticate(token)
    assert guard.authenticate(bobs).owner == "bob"
    assert cli("token", "revoke-owner", "alice").out == "0\n"


def test_db_upgrade_creates_the_tables(cli: CLI, database_url: str) -> None:
    result = cli("db", "upgrade")
    assert result.code == 0 and "up to date" in result.err
    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("select name from sqlite_master where type='table'")}
    assert "tokenguard_tokens" in tables
    assert {t for t in tables if not t.startswith("tokenguard_")} <= {"alembic_version"} or all(
        t.startswith("tokenguard_") for t in tables)
    assert cli("db", "upgrade").code == 0  # idempotent


@pytest.mark.parametrize(("url", "code", "message"), [
    ("ftp://example/x", 2, "invalid database URL"),
    ("not a url", 2, "invalid database URL"),
    ("sqlite+nodriver:///x.db", 2, "invalid database URL"),
    ("memory://", 2, "needs a SQL database URL"),
    ("sqlite:////no/such/directory/x.db", 1, "token store unavailable"),
    ("postgresql+psycopg://app:pw@127.0.0.1:1/db", 1, "token store unavailable"),
])
def test_db_upgrade_errors(cli: CLI, url: str, code: int, message: str) -> None:
    result = cli("db", "upgrade", "--database-url", url, env={})
    assert result.code == code and message in result.error_line


def test_db_upgrade_needs_no_secret_key(cli: CLI, database_url: str) -> None:
    assert cli("db", "upgrade", env={"TOKENGUARD_DATABASE_URL": database_url}).code == 0


@pytest.mark.parametrize("server", ["postgres_url", "mysql_url"])
def test_the_same_commands_on_database_servers(
    cli: CLI, request: pytest.FixtureRequest, server: str
) -> None:
    url: str = request.getfixturevalue(server)
    env = {"TOKENGUARD_DATABASE_URL": url, "TOKENGUARD_SECRET_KEY": KEY}
    assert cli("db", "upgrade", env=env).code == 0
    token = cli("token", "create", "ci", "--owner", "alice", "--id", "ci", "--scope", "write", env=env).out
    assert json.loads(cli("token", "verify", "--json", stdin=token, env=env).out)["scopes"] == ["write"]
    assert [d["id"] for d in json.loads(cli("token", "list", "--json", env=env).out)] == ["ci"]
    assert cli("token", "revoke-owner", "alice", env=env).out == "1\n"
    assert cli("token", "verify", stdin=token, env=env).code == 1


# -- configuration ------------------------------------------------------------------------


def test_options_work_before_and_after_the_command(cli: CLI, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    cli("--database-url", other, "token", "create", "before", "--owner", "alice")
    cli("token", "create", "after", "--owner", "alice", "--database-url", other)
    names = [d["name"] for d in json.loads(cli("token", "list", "--json", "--database-url", other).out)]
    assert names == ["before", "after"]
    assert json.loads(cli("token", "list", "--json").out) == []  # the env database is untouched


def test_prefix_from_option_and_environment(cli: CLI, env: dict[str, str]) -> None:
    assert cli.create("x", "--owner", "a", "--prefix", "acme").startswith("acme_")
    token = cli("token", "create", "y", "--owner", "a", env={**env, "TOKENGUARD_PREFIX": "corp"}).out
    assert token.startswith("corp_")
    bad = cli("token", "list", "--prefix", "Bad!")
    assert bad.code == 2 and "prefix" in bad.error_line


def test_per_owner_limit(cli: CLI, env: dict[str, str]) -> None:
    for i in range(2):
        cli.create(f"t{i}", "--owner", "alice", "--max-tokens-per-owner", "2")
    refused = cli("token", "create", "t3", "--owner", "alice", "--max-tokens-per-owner", "2")
    assert refused.code == 1 and "maximum of 2 tokens" in refused.error_line and refused.out == ""
    limited_env = {**env, "TOKENGUARD_MAX_TOKENS_PER_OWNER": "2"}
    assert cli("token", "create", "t3", "--owner", "alice", env=limited_env).code == 1
    assert cli("token", "create", "t3", "--owner", "alice", "--max-tokens-per-owner", "none").code == 0
    bad = cli("token", "list", "--max-tokens-per-owner", "-3")
    assert bad.code == 2 and "--max-tokens-per-owner must be a positive whole number" in bad.error_line
    superscript = cli("token", "list", "--max-tokens-per-owner", "\u00b3")  # isdigit(), yet not int()
    assert superscript.code == 2 and "--max-tokens-per-owner must be" in superscript.error_line
    from_env = cli("token", "list", env={**env, "TOKENGUARD_MAX_TOKENS_PER_OWNER": "-3"})
    assert from_env.error_line.removeprefix("tokenguard: error: TOKENGUARD_MAX_TOKENS_PER_OWNER") == \
        bad.error_line.removeprefix("tokenguard: error: --max-tokens-per-owner")


def test_secret_key_file_with_rotation(cli: CLI, env: dict[str, str], tmp_path: Path) -> None:
    old_env = {**env, "TOKENGUARD_SECRET_KEY": OTHER_KEY}
    old_token = cli("token", "create", "old", "--owner", "alice", env=old_env).out.strip()
    key_file = tmp_path / "keys"
    key_file.write_text(f"{KEY}\n{OTHER_KEY}\n")
    no_key_env = {"TOKENGUARD_DATABASE_URL": env["TOKENGUARD_DATABASE_URL"]}
    verified = cli("token", "verify", "--json", "--secret-key-file", str(key_file), stdin=old_token,
                   env=no_key_env)
    assert verified.code == 0 and json.loads(verified.out)["name"] == "old"
    assert cli("token", "verify", stdin=old_token).code == 1  # the new key alone does not know it
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert "holds no key" in cli("token", "list", "--secret-key-file", str(empty)).error_line
    missing = cli("token", "list", "--secret-key-file", str(tmp_path / "nope"))
    assert missing.code == 2 and "cannot read the secret key file" in missing.error_line


def test_a_key_file_from_the_environment(cli: CLI, env: dict[str, str], tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"{KEY}\n")
    file_env = {"TOKENGUARD_DATABASE_URL": env["TOKENGUARD_DATABASE_URL"],
                "TOKENGUARD_SECRET_KEY_FILE": str(key_file)}
    token = cli("token", "create", "x", "--owner", "a", env=file_env).out.strip()
    assert cli("token", "verify", stdin=token).code == 0  # the same key, from TOKENGUARD_SECRET_KEY
    both = cli("token", "list", env={**file_env, "TOKENGUARD_SECRET_KEY": KEY})
    assert both.code == 2
    assert "TOKENGUARD_SECRET_KEY or TOKENGUARD_SECRET_KEY_FILE, not both" in both.error_line


def test_lifetimes_and_cache_from_options(cli: CLI, guard: Checker) -> None:
    token = cli.create("t", "--owner", "a", "--default-lifetime-days", "2", "--max-lifetime-days", "3")
    info = guard.authenticate(token)
    assert info.expires_at is not None
    assert abs(info.expires_at - datetime.now(UTC) - timedelta(days=2)) < timedelta(minutes=1)
    capped = cli("token", "create", "u", "--owner", "a", "--max-lifetime-days", "3", "--expires-in", "5d",
                 "--default-lifetime-days", "1")
    assert capped.code == 2 and capped.out == ""
    assert cli("token", "list", "--cache-ttl", "0", "--cache-size", "0").code == 0
    bad = cli("token", "list", "--max-lifetime-days", "1", "--default-lifetime-days", "2")
    assert bad.error_line == ("tokenguard: error: --default-lifetime-days (2 days) must not exceed "
                              "--max-lifetime-days (1 day)")


def test_the_database_url_is_required(cli: CLI) -> None:
    """No guess at a database in the working directory: the apps need the URL too."""
    result = cli("token", "list", env={"TOKENGUARD_SECRET_KEY": KEY})
    assert result.code == 2 and result.out == ""
    assert "--database-url / TOKENGUARD_DATABASE_URL is not set (e.g. sqlite:///" in result.error_line
    assert cli("db", "upgrade", env={}).code == 2


# -- errors: one line, the right status, no traceback ----------------------------------------


def test_missing_key(cli: CLI, database_url: str) -> None:
    result = cli("token", "list", env={"TOKENGUARD_DATABASE_URL": database_url})
    assert result.code == 2 and result.out == ""
    assert "TOKENGUARD_SECRET_KEY is not set (generate one with" in result.error_line


def test_short_key(cli: CLI, database_url: str) -> None:
    result = cli("token", "create", "x", "--owner", "a",
                 env={"TOKENGUARD_DATABASE_URL": database_url, "TOKENGUARD_SECRET_KEY": "Zq9-k3y"})
    assert result.code == 2 and "too short" in result.error_line and "32 bytes" in result.error_line
    assert "Zq9-k3y" not in result.err  # the key itself is never echoed


@pytest.mark.parametrize("command", [
    ("token", "show", "nope"), ("token", "revoke", "nope"), ("token", "reapprove", "nope"),
    ("token", "rotate", "nope"), ("token", "delete", "nope"), ("token", "show", "BAD ID"),
])
def test_unknown_id(cli: CLI, command: tuple[str, ...]) -> None:
    result = cli(*command)
    assert result.code == 1 and "no token with id" in result.error_line and result.out == ""


@pytest.mark.parametrize(("argv", "message"), [
    (("--scope", "root"), "unknown scope 'root'"),
    (("--expires-in", "soon"), "invalid duration"),
    (("--expires-in", "0d"), "positive"),
    (("--expires-in", "99999999w"), "too"),
    (("--id", "Not Valid"), "id must match"),
    (("--project", "bad project"), "project"),
])
def test_bad_arguments_are_usage_errors(cli: CLI, argv: tuple[str, ...], message: str) -> None:
    result = cli("token", "create", "x", "--owner", "alice", *argv)
    assert result.code == 2 and message in result.error_line and result.out == ""


@pytest.mark.parametrize("argv", [
    (), ("token",), ("token", "create"), ("token", "create", "x"), ("nonsense",), ("token", "frobnicate"),
    ("demo", "--app", "rails"), ("demo", "--port", "0"), ("demo", "--port", "\u00b2"),
    ("token", "create", "\u202e", "--owner", "a"),
])
def test_usage_errors_are_one_line(cli: CLI, argv: tuple[str, ...]) -> None:
    result = cli(*argv)
    assert result.code == 2
    result.error_line  # noqa: B018 - checks one line, no traceback


def test_id_conflict_and_refusals_exit_1(cli: CLI, database_url: str) -> None:
    cli.create("a", "--owner", "alice", "--id", "taken")
    assert "already exists" in cli("token", "create", "b", "--owner", "alice", "--id", "taken").error_line
    past = datetime.now(UTC) - timedelta(days=2)
    with TokenGuard(database_url, secret_key=KEY, clock=lambda: past, load_entry_points=False) as old:
        old.create_token("alice", "expired", token_id="expired", expires_in=timedelta(days=1))
    refused = cli("token", "rotate", "expired")
    assert refused.code == 1 and "expired token cannot be rotated" in refused.error_line
    cli("token", "revoke", "expired")
    refused = cli("token", "reapprove", "expired")
    assert refused.code == 1 and "expired token cannot be re-approved" in refused.error_line


def test_store_unavailable(cli: CLI, tmp_path: Path) -> None:
    missing_dir = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}"
    result = cli("token", "list", "--database-url", missing_dir)
    assert result.code == 1 and "unavailable" in result.error_line


def test_a_database_password_never_appears_in_an_error(cli: CLI) -> None:
    for url in ("postgresql+psycopg://app:hunter2secret@127.0.0.1:1/db",
                "mysql+pymysql://app:hunter2secret@127.0.0.1:1/db",
                "postgresql+psycopg://app:hunter2secret@[::1/db"):
        result = cli("token", "list", "--database-url", url)
        assert result.code in (1, 2)
        assert "hunter2secret" not in result.error_line
        assert "hunter2secret" not in cli("db", "upgrade", "--database-url", url).error_line


def test_unknown_store_scheme_or_driver(cli: CLI) -> None:
    result = cli("token", "list", "--database-url", "ftp://example/tokens")
    assert result.code == 2 and "no store handles the URL scheme 'ftp'" in result.error_line
    result = cli("token", "list", "--database-url", "sqlite+nodriver:///x.db")
    assert result.code == 2 and "invalid database URL" in result.error_line


def test_help_and_version(cli: CLI, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "token" in out and "db" in out and "demo" in out
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("tokenguard ")


# -- the installed script and python -m -------------------------------------------------------


def _clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}


def _run(argv: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=stdin, env={**_clean_environ(), **env}, capture_output=True,
                          text=True, timeout=60, check=False)


def test_installed_script_round_trip(env: dict[str, str]) -> None:
    created = _run([str(SCRIPT), "token", "create", "ci", "--owner", "alice", "--id", "ci"], env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert created.stdout == token + "\n"
    verified = _run([str(SCRIPT), "token", "verify", "--json"], env, stdin=token)
    assert verified.returncode == 0 and json.loads(verified.stdout)["id"] == "ci"
    revoked = _run([str(SCRIPT), "token", "revoke", "ci"], env)
    assert revoked.returncode == 0
    refused = _run([str(SCRIPT), "token", "verify"], env, stdin=token)
    assert refused.returncode == 1
    assert refused.stderr == "tokenguard: error: token has been revoked\n"


def test_installed_script_errors_without_traceback(env: dict[str, str]) -> None:
    no_key = _run([str(SCRIPT), "token", "list"], {"TOKENGUARD_DATABASE_URL": env["TOKENGUARD_DATABASE_URL"]})
    assert no_key.returncode == 2 and no_key.stdout == ""
    assert no_key.stderr.startswith("tokenguard: error: TOKENGUARD_SECRET_KEY is not set")
    assert no_key.stderr.count("\n") == 1 and "Traceback" not in no_key.stderr
    unknown = _run([str(SCRIPT), "token", "show", "ghost"], env)
    assert (unknown.returncode, unknown.stderr) == (1, "tokenguard: error: no token with id 'ghost'\n")


def test_python_dash_m(env: dict[str, str]) -> None:
    version = _run([sys.executable, "-m", "tokenguard", "--version"], env)
    assert version.returncode == 0 and version.stdout.startswith("tokenguard ")
    listed = _run([sys.executable, "-m", "tokenguard", "token", "list", "--json"], env)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    usage = _run([sys.executable, "-m", "tokenguard", "token", "create"], env)
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1


# -- demo ---------------------------------------------------------------------------------------


def test_demo_walkthrough_creates_lists_verifies_and_revokes(cli: CLI, env: dict[str, str]) -> None:
    result = cli("demo", "--app", "walkthrough", env={})  # needs neither a key nor a database
    assert result.code == 0, result.err
    out = result.out
    for step in ("1. Create", "3. List", "4. Verify", "5. Revoke", "6. Verify again", "7. The list"):
        assert step in out
    assert "$ tokenguard token create 'ci pipeline' --owner alice" in out
    assert 'echo "$TOKEN" | tokenguard token verify' in out
    assert "tokenguard: error: token has been revoked" in out
    assert out.count("revoked") >= 3
    database = out.split(" on sqlite:///", 1)[1].split(" ", 1)[0]
    assert not Path(database).exists()  # the throw-away database is gone


def _fake_example(root: Path, app: str, exit_status: int) -> Path:
    """An example script that records what it was started with."""
    (root / "examples").mkdir(exist_ok=True)
    record = root / "started.json"
    (root / "examples" / f"{app}_app.py").write_text(
        "import json, os, sys\n"
        "keys = ('TOKENGUARD_DATABASE_URL', 'TOKENGUARD_SECRET_KEY', 'TOKENGUARD_PREFIX',\n"
        "        'TOKENGUARD_MAX_TOKENS_PER_OWNER', 'HOST', 'PORT')\n"
        "seen = {k: os.environ.get(k) for k in keys} | {'cwd': os.getcwd()}\n"
        f"json.dump(seen, open({str(record)!r}, 'w'))\n"
        f"sys.exit({exit_status})\n")
    return record


def test_demo_runs_the_example_with_database_key_and_port(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = _fake_example(tmp_path, "flask", exit_status=3)
    monkeypatch.chdir(tmp_path)
    result = cli("demo", "--app", "flask", "--port", "5123", env={"PATH": os.environ.get("PATH", "")})
    assert result.code == 3  # the app's own exit status
    started = json.loads(record.read_text())
    assert started["TOKENGUARD_DATABASE_URL"] == "sqlite:///tokenguard.db"
    assert len(started["TOKENGUARD_SECRET_KEY"]) >= 32  # generated, as none was set
    assert (started["HOST"], started["PORT"]) == ("127.0.0.1", "5123")
    assert Path(started["cwd"]) == tmp_path
    assert "using a key made for this run" in result.err
    assert started["TOKENGUARD_SECRET_KEY"] not in result.err + result.out


def test_demo_keeps_a_configured_database_and_key(
    cli: CLI, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = _fake_example(tmp_path, "starlette", exit_status=0)
    monkeypatch.chdir(tmp_path)
    assert cli("demo", "--app", "starlette", env=env).code == 0
    started = json.loads(record.read_text())
    assert started["TOKENGUARD_DATABASE_URL"] == env["TOKENGUARD_DATABASE_URL"]
    assert started["TOKENGUARD_SECRET_KEY"] == KEY
    assert started["PORT"] == "5000"


def test_demo_hands_its_options_to_the_example(
    cli: CLI, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = _fake_example(tmp_path, "flask", exit_status=0)
    key_file = tmp_path / "keys"
    key_file.write_text(f"{'n' * 40}\n{KEY}\n")
    monkeypatch.chdir(tmp_path)
    assert cli("--prefix", "zz", "demo", "--app", "flask", "--secret-key-file", str(key_file),
               "--max-tokens-per-owner", "none", env=env).code == 0
    started = json.loads(record.read_text())
    assert started["TOKENGUARD_SECRET_KEY"] == "n" * 40  # the current key, not the environment's
    assert (started["TOKENGUARD_PREFIX"], started["TOKENGUARD_MAX_TOKENS_PER_OWNER"]) == ("zz", "none")


def test_demo_falls_back_to_the_walkthrough_outside_a_checkout(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("demo", "--app", "fastapi", env={})
    assert result.code == 0
    assert "examples/fastapi_app.py is not in" in result.err and "walk-through instead" in result.err
    assert "7. The list shows it revoked" in result.out


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_serves_the_real_flask_example_and_stops_with_it(tmp_path: Path) -> None:
    import signal
    import time
    import urllib.request

    checkout = Path(__file__).resolve().parent.parent
    if not (checkout / "examples" / "flask_app.py").is_file():
        pytest.fail("examples/flask_app.py is missing from the checkout")
    port = _free_port()
    env = {**_clean_environ(), "TOKENGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    process = subprocess.Popen([str(SCRIPT), "demo", "--app", "flask", "--port", str(port)], cwd=checkout,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        status = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    status = response.status
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200, process.stderr.read() if process.poll() is not None else "no answer"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    # The app went down with the command: nothing listens on the port any more.
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)



def test_db_upgrade_accepts_the_postgres_scheme_the_store_accepts(cli: CLI, postgres_url: str) -> None:
    short = postgres_url.replace("postgresql+psycopg://", "postgres://")
    result = cli("db", "upgrade", env={"TOKENGUARD_DATABASE_URL": short, "TOKENGUARD_SECRET_KEY": KEY})
    assert result.code == 0, result.err
    assert "up to date" in result.err
    created = cli("token", "create", "after upgrade", "--owner", "alice",
                  env={"TOKENGUARD_DATABASE_URL": short, "TOKENGUARD_SECRET_KEY": KEY})
    assert created.code == 0 and created.out.startswith("tg_")


def test_an_apps_own_scopes_come_from_tokenguard_scopes(cli: CLI, env: dict[str, str]) -> None:
    custom = {**env, "TOKENGUARD_SCOPES": '{"viewer": [], "editor": ["viewer"], "owner": ["editor"]}'}
    token = cli("token", "create", "ci", "--owner", "alice", "--scope", "editor", env=custom)
    assert token.code == 0, token.err
    listed = json.loads(cli("token", "list", "--json", env=custom).out)
    assert listed[0]["scopes"] == ["editor"]
    assert "unknown scope" in cli("token", "create", "x", "--owner", "a", "--scope", "write",
                                  env=custom).error_line
    for bad in ("not json", '["read"]', '{"read": "write"}'):
        line = cli("token", "list", env={**env, "TOKENGUARD_SCOPES": bad}).error_line
        assert "TOKENGUARD_SCOPES" in line
