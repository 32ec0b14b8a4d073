"""examples/django_project behind real servers, driven with httpx: uvicorn on its ASGI application
and a WSGI server (wsgiref) on its WSGI one, each in its own process on an ephemeral port.

Each server binds and listens before it prints its port, so the first request waits
in the listen queue: no polling and no sleep. Tokens come from ``manage.py tokenguard
token create``; a browser signs in through Django's admin and uses the settings page
with Django's CSRF token.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tokenguard.errors import InsufficientScope, InvalidToken, TokenGuardError
from tokenguard.web.answers import error_response

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "django_project"
KEY = "server-test-secret-key-0123456789abcdefghij"
PASSWORD = "a-test-password-0123"
#: starts the server on a socket bound and listening first, then prints its port
SERVERS = {
    "uvicorn-asgi": """
import socket, sys, uvicorn
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(64)
print(sock.getsockname()[1], flush=True)
config = uvicorn.Config("notes.asgi:application", log_level="warning", lifespan="off")
uvicorn.Server(config).run(sockets=[sock])
""",
    "wsgiref-wsgi": """
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, make_server
from notes.wsgi import application

class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True

server = make_server("127.0.0.1", 0, application, server_class=Server)
print(server.server_port, flush=True)
server.serve_forever()
""",
}


def manage(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *argv], cwd=PROJECT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The example project migrated on a fresh SQLite file, with a staff user and three tokens."""
    env = {**os.environ, "NOTES_DATABASE": str(tmp_path_factory.mktemp("notes") / "notes.sqlite3"),
           "TOKENGUARD_SECRET_KEY": KEY, "DJANGO_DEBUG": "0", "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "createsuperuser", "--no-input", "--username", "admin", "--email", "admin@example.com")

    def token(name: str, scope: str) -> str:
        return manage(env, "tokenguard", "token", "create", name, "--owner", "1", "--scope", scope,
                      "--project", "alpha").strip()

    return {"env": env, "write": token("ci", "write"), "read": token("dashboard", "read")}  # type: ignore[dict-item]


@pytest.fixture(scope="module", params=sorted(SERVERS))
def server(request: pytest.FixtureRequest, project: dict[str, object]) -> Iterator[str]:
    env = project["env"]
    assert isinstance(env, dict)
    process = subprocess.Popen([sys.executable, "-c", SERVERS[request.param]], cwd=PROJECT, env=env,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), f"the server did not start (exit {process.poll()})"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30, follow_redirects=False) as made:
        yield made


def test_a_protected_endpoint_with_a_good_token(client: httpx.Client, project: dict[str, str]) -> None:
    bearer = {"Authorization": f"Bearer {project['write']}"}
    read = client.get("/notes/alpha", headers=bearer)
    assert read.status_code == 200 and read.json()["owner"] == "1"
    added = client.post("/notes/alpha", json={"text": "over a socket"},
                        headers={"Api-Token": project["write"]})
    assert (added.status_code, added.json()) == (201, {"project": "alpha", "added": "over a socket"})


def the_web_layers_challenge(exc: TokenGuardError) -> str:
    """The challenge every adapter gives for ``exc``: the web layer's one answer."""
    return dict(error_response(exc, "api").headers)["WWW-Authenticate"]


def test_a_bad_token_is_401_with_the_rfc_6750_challenge(client: httpx.Client) -> None:
    bad = client.get("/notes/alpha", headers={"Authorization": "Bearer tg_" + "A" * 38})
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    assert bad.headers["www-authenticate"] == the_web_layers_challenge(InvalidToken())
    assert bad.headers["cache-control"] == "no-store" and bad.json()["error"] == "invalid_token"
    nothing = client.get("/notes/alpha")
    assert (nothing.status_code, nothing.headers["www-authenticate"]) == (401, 'Bearer realm="api"')
    malformed = client.get("/notes/alpha", headers={"Authorization": "Bearer"})
    assert malformed.status_code == 400 and 'error="invalid_request"' in malformed.headers["www-authenticate"]


def test_insufficient_scope_is_403_naming_the_scope(client: httpx.Client, project: dict[str, str]) -> None:
    read_only = {"Authorization": f"Bearer {project['read']}"}
    assert client.get("/notes/alpha", headers=read_only).status_code == 200
    refused = client.post("/notes/alpha", json={"text": "no"}, headers=read_only)
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == the_web_layers_challenge(InsufficientScope(["write"]))
    other_project = client.get("/notes/beta", headers=read_only)
    assert other_project.status_code == 403 and other_project.json()["error"] == "insufficient_scope"


def sign_in(client: httpx.Client) -> None:
    form = client.get("/admin/login/", params={"next": "/settings/tokens"})
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token is not None
    done = client.post("/admin/login/?next=/settings/tokens", data={
        "csrfmiddlewaretoken": token.group(1), "username": "admin", "password": PASSWORD,
        "next": "/settings/tokens"})
    assert (done.status_code, done.headers["location"]) == (302, "/settings/tokens")


def test_the_settings_page_served_and_used_with_djangos_csrf(client: httpx.Client) -> None:
    anonymous = client.get("/settings/tokens")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/admin/login/?next=/settings/tokens"
    sign_in(client)
    page = client.get("/settings/tokens")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "ci" in page.text and "dashboard" in page.text  # the CLI's tokens, owner 1 = the admin
    assert '<header id="site-header">' in page.text  # inside the project's own base template
    create_form = page.text.split('class="create-form"', 1)[1].split("</form>", 1)[0]
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', create_form))
    assert "csrfmiddlewaretoken" in hidden and "csrf_token" not in hidden
    form = {**hidden, "name": "from the page", "permission": "read", "expires": "7"}
    forged = client.post("/settings/tokens", data={k: v for k, v in form.items()
                                                   if k != "csrfmiddlewaretoken"})
    assert forged.status_code == 403 and "CSRF verification failed" in forged.text
    created = client.post("/settings/tokens", data=form)
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    shown = re.search(r'id="new-token"[^>]*>(tg_[0-9A-Za-z]+)<', created.text)
    assert shown is not None
    with httpx.Client(base_url=str(client.base_url), timeout=30) as api:  # no session: the token alone
        used = api.get("/notes/alpha", headers={"Authorization": f"Bearer {shown.group(1)}"})
        assert used.status_code == 200
