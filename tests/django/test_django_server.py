"""examples/django_project behind real servers, driven with httpx: uvicorn on its ASGI application
and a WSGI server (wsgiref) on its WSGI one, each in its own process on an ephemeral port.

Each server is started by ``tests/_django_example.py``, which waits for it without
polling. Tokens come from ``manage.py tokenguard token create``; a browser signs in
through Django's admin and uses the settings page with Django's CSRF token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from _django_example import ADMIN, SERVERS, ExampleProject
from tokenguard.errors import InsufficientScope, InvalidToken, TokenGuardError
from tokenguard.web.answers import error_response


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> ExampleProject:
    return ExampleProject(tmp_path_factory.mktemp("notes"))


@pytest.fixture(scope="module")
def project(example: ExampleProject) -> dict[str, str]:
    """Two tokens of the staff user for project alpha, made with the management command."""
    return {"write": example.token("ci", "write"), "read": example.token("dashboard", "read")}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def server(request: pytest.FixtureRequest, example: ExampleProject) -> Iterator[str]:
    with example.serve(str(request.param)) as url:
        yield url


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
        "csrfmiddlewaretoken": token.group(1), "username": ADMIN[0], "password": ADMIN[1],
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
