"""``tokenguard demo --app django`` (``make demo APP=django``): the Django example, migrated and served."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tokenguard.cli import main
from tokenguard.config import ENVIRON_KEYS

pytest.importorskip("django")

CHECKOUT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("tokenguard")
KEY = "demo-test-secret-key-0123456789abcdefghijkl"
FAKE_MANAGE = """\
import json, os, sys
seen = {"argv": sys.argv[1:], "cwd": os.getcwd(),
        "env": {k: os.environ.get(k) for k in ("NOTES_DATABASE", "TOKENGUARD_SECRET_KEY")}}
with open(%r, "a") as record:
    record.write(json.dumps(seen) + "\\n")
"""


def run_demo(argv: list[str], env: dict[str, str], capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code = main(argv, env=env)
    return code, capsys.readouterr().err


def test_the_django_demo_migrates_then_runs_the_server_on_the_port(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    record = tmp_path / "started.jsonl"
    project = tmp_path / "examples" / "django_project"
    project.mkdir(parents=True)
    (project / "manage.py").write_text(FAKE_MANAGE % str(record))
    monkeypatch.chdir(tmp_path)
    env = {"PATH": os.environ.get("PATH", ""), "TOKENGUARD_SECRET_KEY": KEY,
           "TOKENGUARD_DATABASE_URL": "sqlite:///notes.db"}
    code, err = run_demo(["demo", "--app", "django", "--port", "5123"], env, capsys, monkeypatch)
    assert code == 0, err
    migrate, serve = [json.loads(line) for line in record.read_text().splitlines()]
    assert migrate["argv"][:2] == ["migrate", "--no-input"]
    assert serve["argv"] == ["runserver", "--noreload", "127.0.0.1:5123"]
    for started in (migrate, serve):
        assert started["env"] == {"NOTES_DATABASE": str(tmp_path / "notes.db"), "TOKENGUARD_SECRET_KEY": KEY}
        assert Path(started["cwd"]) == project
    assert "examples/django_project on http://127.0.0.1:5123" in err and KEY not in err


def test_the_django_demo_keeps_its_tokens_in_sqlite(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "examples" / "django_project"
    project.mkdir(parents=True)
    (project / "manage.py").write_text(FAKE_MANAGE % str(tmp_path / "started.jsonl"))
    monkeypatch.chdir(tmp_path)
    env = {"TOKENGUARD_SECRET_KEY": KEY, "TOKENGUARD_DATABASE_URL": "postgresql://localhost/x"}
    code, err = run_demo(["demo", "--app", "django"], env, capsys, monkeypatch)
    assert code == 2 and "sqlite:///" in err
    assert not (tmp_path / "started.jsonl").exists()  # nothing was started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_served(url: str, process: subprocess.Popen[str]) -> httpx.Response:
    """The first answer of the server, once it listens (it migrates first); fails if it exits."""
    deadline = time.monotonic() + 120  # a bound for a wedged server, not an expected duration
    while True:
        if process.poll() is not None:
            said = process.stderr.read() if process.stderr else ""
            pytest.fail(f"the demo ended with {process.returncode}: {said}")
        try:
            return httpx.get(url, timeout=10)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # the port is not listening yet


def test_the_django_demo_serves_the_project_and_stops_with_the_command(tmp_path: Path) -> None:
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if k not in ENVIRON_KEYS},
           "TOKENGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'notes.db'}", "TOKENGUARD_SECRET_KEY": KEY}
    process = subprocess.Popen([str(SCRIPT), "demo", "--app", "django", "--port", str(port)], cwd=CHECKOUT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        home = wait_until_served(f"{base}/", process)
        assert home.status_code == 200
        page = httpx.get(f"{base}/settings/tokens", timeout=10)
        assert (page.status_code, page.headers["location"]) == (303, "/admin/login/?next=/settings/tokens")
        api = httpx.get(f"{base}/api/tokens", timeout=10)
        assert (api.status_code, api.headers["www-authenticate"]) == (401, 'Bearer realm="api"')
        protected = httpx.get(f"{base}/notes/alpha", headers={"Authorization": "Bearer tg_" + "A" * 38},
                              timeout=10)
        assert protected.status_code == 401 and "invalid_token" in protected.headers["www-authenticate"]
        assert (tmp_path / "notes.db").is_file()  # migrated where the database URL says
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    with pytest.raises(httpx.TransportError):  # the server went down with the command
        httpx.get(f"{base}/", timeout=5)
