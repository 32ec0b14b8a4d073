"""``manage.py tokenguard …``: the tokenguard commands on the project's own guard and database."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.test import override_settings

from tokenguard.errors import RevokedToken
from tokenguard_django import get_guard
from tokenguard_django.management.commands.tokenguard import Command


def tokenguard(*argv: str) -> tuple[str, str]:
    """``manage.py tokenguard *argv`` through call_command: (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command("tokenguard", *argv, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def from_shell(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``manage.py tokenguard *argv`` as the shell runs it: (exit status, stdout, stderr)."""
    try:
        Command().run_from_argv(["manage.py", "tokenguard", *argv])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_create_prints_the_secret_alone_on_stdout(db: str) -> None:
    out, err = tokenguard("token", "create", "ci pipeline", "--owner", "42", "--scope", "write",
                          "--project", "alpha", "--id", "ci")
    token = out.strip()
    assert out == token + "\n"
    assert token.startswith("tg_") and token not in err
    assert "created token ci for 42" in err
    info = get_guard().authenticate(token)
    assert (info.id, info.owner, info.projects) == ("ci", "42", frozenset({"alpha"}))
    assert info.has_scope("read")


def test_list_show_and_the_short_forms(db: str) -> None:
    issued = get_guard().create_token("42", "laptop", token_id="laptop")
    listing = json.loads(tokenguard("token", "list", "--json")[0])
    assert [item["id"] for item in listing] == ["laptop"]
    assert json.loads(tokenguard("list", "--owner", "42", "--json")[0]) == listing
    assert "digest" not in json.dumps(listing) and issued.token not in json.dumps(listing)
    shown = json.loads(tokenguard("show", "laptop", "--json")[0])
    assert shown["name"] == "laptop"


def test_revoke_rotate_delete_and_revoke_owner(db: str) -> None:
    guard = get_guard()
    first = guard.create_token("7", "one", token_id="one")
    guard.create_token("7", "two", token_id="two")

    tokenguard("revoke", "one")
    with pytest.raises(RevokedToken):
        guard.authenticate(first.token)
    tokenguard("reapprove", "one")
    assert guard.authenticate(first.token).status == "active"

    rotated = tokenguard("rotate", "one")[0].strip()
    assert guard.authenticate(rotated).id == "one"
    assert tokenguard("revoke-owner", "7")[0].strip() == "2"
    tokenguard("delete", "two")
    assert [info.id for info in guard.list_tokens("7")] == ["one"]


def test_a_refusal_is_one_line_and_exit_status_1(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = from_shell(capsys, "token", "revoke", "no-such-token")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and "no-such-token" in err and "Traceback" not in err
    with pytest.raises(CommandError) as caught:
        tokenguard("revoke", "no-such-token")
    assert caught.value.returncode == 1


def test_a_usage_error_is_exit_status_2(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = from_shell(capsys, "token", "create", "no owner")
    assert code == 2 and "--owner" in err
    # the configuration comes from TOKENGUARD: the CLI's options would not apply
    code, _, err = from_shell(capsys, "token", "list", "--database-url", "sqlite:///x.db")
    assert code == 2


def test_the_shell_path_prints_the_secret_alone(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = from_shell(capsys, "create", "deploy", "--owner", "5")
    assert code == 0
    assert get_guard().authenticate(out.strip()).name == "deploy"
    assert out.strip() not in err


def test_a_bad_setting_is_one_line_exit_status_2(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    with override_settings(TOKENGUARD={"secret_key": "short"}):
        code, out, err = from_shell(capsys, "list")
    assert (code, out) == (2, "")
    assert "tokenguard.E004" in err and err.count("\n") == 1


def test_db_upgrade_runs_the_apps_migrations(db: str) -> None:
    call_command("migrate", "tokenguard_django", "zero", verbosity=0)
    _, err = tokenguard("db", "upgrade")
    assert "'default' are up to date" in err
    with connections["default"].cursor() as cursor:
        assert "tokenguard_token" in connections["default"].introspection.table_names(cursor)
