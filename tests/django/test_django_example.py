"""examples/django_project, as a person runs it: migrate, check, a token from the CLI, the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "django_project"
CLIENT = """
import json, sys
from django.test import Client
token = sys.stdin.read().strip()
auth = {"Authorization": "Bearer " + token}
c = Client(enforce_csrf_checks=True)
out = {
    "anonymous": c.get("/notes/alpha").status_code,
    "read": c.get("/notes/alpha", headers=auth).json(),
    "add": c.post("/notes/alpha", json.dumps({"text": "hi"}), content_type="application/json",
                  headers=auth).status_code,
    "other_project": c.get("/notes/beta", headers=auth).status_code,
    "challenge": c.get("/notes/alpha").headers["WWW-Authenticate"],
}
print(json.dumps(out))
"""


def manage(*argv: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *argv], cwd=PROJECT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "NOTES_DATABASE": str(tmp_path / "notes.sqlite3"),
            "TOKENGUARD_SECRET_KEY": "example-test-secret-key-0123456789abcdef", "DJANGO_DEBUG": "0"}


def test_the_example_project_end_to_end(env: dict[str, str]) -> None:
    for argv in (("check",), ("migrate", "--no-input")):
        done = manage(*argv, env=env)
        assert done.returncode == 0, done.stderr

    created = manage("tokenguard", "token", "create", "ci", "--owner", "1", "--scope", "write",
                     "--project", "alpha", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and token.startswith("tg_") and token not in created.stderr

    listed = manage("tokenguard", "list", "--json", env=env)
    assert [item["name"] for item in json.loads(listed.stdout)] == ["ci"]

    shell = manage("shell", "-v", "0", "-c", CLIENT, env=env, stdin=token)
    answers = json.loads(shell.stdout.strip().splitlines()[-1])
    assert answers == {"anonymous": 401, "read": {"project": "alpha", "notes": [], "owner": "1"},
                       "add": 201, "other_project": 403, "challenge": 'Bearer realm="api"'}

    refused = manage("tokenguard", "revoke", "no-such-id", env=env)
    assert refused.returncode == 1 and refused.stdout == "" and refused.stderr.count("\n") == 1


def test_a_short_key_fails_manage_py_check(env: dict[str, str]) -> None:
    done = manage("check", env={**env, "TOKENGUARD_SECRET_KEY": "short"})
    assert done.returncode != 0
    assert "tokenguard.E004" in done.stderr
