"""The Starlette and FastAPI example apps: the whole notes scenario, in process and as a real server."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tokenguard import TokenGuard

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ORIGIN = {"Origin": "http://testserver"}


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the example's annotations through it
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["starlette", "fastapi"])
def example(request: pytest.FixtureRequest, tokenguard_guard: TokenGuard) -> Iterator[TestClient]:
    app = load_example(request.param).create_app(tokenguard_guard)
    with TestClient(app, follow_redirects=False) as client:
        yield client


def test_notes_scenario(example: TestClient) -> None:
    assert "Sign in as alice" in example.get("/").text
    settings = example.get("/settings/tokens")
    assert (settings.status_code, settings.headers["location"]) == (303, "/?next=/settings/tokens")
    signed_in = example.post("/login", data={"user": "alice", "next": "/settings/tokens"})
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/settings/tokens")
    assert "Manage your API tokens" in example.get("/").text
    assert example.get("/settings/tokens").status_code == 200
    csrf = example.get("/api/tokens").headers["x-csrf-token"]
    write = create(example, csrf, "write")
    read = create(example, csrf, "read")
    bearer_write = {"Authorization": f"Bearer {write}"}
    added = example.post("/api/notes", json={"text": "buy milk"}, headers=bearer_write)
    assert (added.status_code, added.json()) == (201, {"id": 1, "text": "buy milk"})
    listed = example.get("/api/notes", headers={"Api-Token": read})
    assert listed.json() == {"owner": "alice", "notes": [{"id": 1, "text": "buy milk"}]}
    refused = example.post("/api/notes", json={"text": "nope"}, headers={"Api-Token": read})
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"].endswith('scope="write"')
    assert example.get("/api/notes").status_code == 401


def test_notes_are_per_owner(example: TestClient, tokenguard_guard: TokenGuard) -> None:
    alice = tokenguard_guard.create_token("alice", "a", scopes=["write"]).token
    bob = tokenguard_guard.create_token("bob", "b", scopes=["read"]).token
    example.post("/api/notes", json={"text": "alice's"}, headers={"Api-Token": alice})
    assert example.get("/api/notes", headers={"Api-Token": bob}).json() == {"owner": "bob", "notes": []}


def test_sign_in_refuses_unknown_users_and_foreign_redirects(example: TestClient) -> None:
    example.post("/login", data={"user": "mallory"})
    assert "Sign in as alice" in example.get("/").text
    away = example.post("/login", data={"user": "bob", "next": "//evil.example/"})
    assert away.headers["location"] == "/"


def create(client: TestClient, csrf: str, scope: str) -> str:
    response = client.post("/api/tokens", json={"name": f"{scope} token", "scopes": [scope]},
                           headers={"X-CSRF-Token": csrf, **ORIGIN})
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize("name", ["starlette", "fastapi"])
def test_example_runs_as_a_script(name: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "TOKENGUARD_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db"}
    env.pop("TOKENGUARD_SECRET_KEY", None)
    process = subprocess.Popen([sys.executable, str(EXAMPLES / f"{name}_app.py")], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        home = wait_for(f"http://127.0.0.1:{port}/", process)
        assert "Sign in as alice" in home.text
        refused = httpx.get(f"http://127.0.0.1:{port}/api/notes", timeout=5)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Bearer realm="api"'
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/settings/tokens" in output
    assert f'curl -H "Authorization: Bearer $NOTES_API_TOKEN" http://127.0.0.1:{port}/api/notes' in output
    assert "TOKENGUARD_SECRET_KEY is not set" in output


def wait_for(url: str, process: subprocess.Popen[Any]) -> httpx.Response:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the example exited: {process.communicate()[0]}")
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within 20 s")
