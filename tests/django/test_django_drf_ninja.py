"""DRF (``TokenGuardAuthentication``, ``HasScope``, the schema) and django-ninja (``TokenGuardAuth``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient, Client, override_settings

from tokenguard_django import get_guard

pytest.importorskip("rest_framework")
pytest.importorskip("ninja")


@pytest.fixture
def tokens(db: str) -> dict[str, str]:
    guard = get_guard()
    made = {
        "read": guard.create_token("1", "reader", scopes=["read"]).token,
        "write": guard.create_token("2", "writer", scopes=["write"]).token,
        "alpha": guard.create_token("3", "alpha", scopes=["write"], projects=["alpha"]).token,
        "revoked": guard.create_token("4", "revoked", token_id="gone").token,
    }
    guard.revoke("gone")
    return made


def call(path: str, token: str | None = None, *, method: str = "get", asgi: bool = False,
         accept: str = "application/json", **headers: str) -> Any:
    sent = {"Accept": accept, **headers}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if asgi:
        return async_to_sync(getattr(AsyncClient(), method))(path, headers=sent)
    return getattr(Client(), method)(path, headers=sent)


def challenge(response: Any) -> str:
    return str(response.headers.get("WWW-Authenticate", ""))


# -- DRF --------------------------------------------------------------------------------------------


def test_drf_a_token_with_the_scope_and_project_passes(tokens: dict[str, str]) -> None:
    response = call("/drf/notes/alpha", tokens["alpha"])
    assert response.status_code == 200
    assert json.loads(response.content) == {"owner": "3", "user": "3", "project": "alpha"}


def test_drf_no_token_is_401_with_the_bare_challenge(db: str) -> None:
    for path in ("/drf/notes/alpha", "/drf/me", "/drf/composed"):
        response = call(path)
        assert response.status_code == 401, path
        assert challenge(response) == 'Bearer realm="api"'


def test_drf_a_missing_scope_is_403_with_the_rfc_6750_challenge(tokens: dict[str, str]) -> None:
    response = call("/drf/notes/alpha", tokens["read"])
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in challenge(response) and 'scope="write"' in challenge(response)
    assert json.loads(response.content)["error"] == "insufficient_scope"


def test_drf_the_project_check(tokens: dict[str, str]) -> None:
    refused = call("/drf/notes/beta", tokens["alpha"])
    assert refused.status_code == 403 and 'error="insufficient_scope"' in challenge(refused)
    assert call("/drf/notes/beta", tokens["write"]).status_code == 200


def test_drf_a_revoked_token_is_401_invalid_token(tokens: dict[str, str]) -> None:
    response = call("/drf/me", tokens["revoked"])
    assert response.status_code == 401
    assert 'error="invalid_token"' in challenge(response)
    assert json.loads(response.content)["error"] == "invalid_token"


def test_drf_malformed_credentials_are_400(db: str) -> None:
    response = call("/drf/me", Authorization="Bearer")
    assert response.status_code == 400 and 'error="invalid_request"' in challenge(response)


def test_drf_request_user_and_auth(tokens: dict[str, str]) -> None:
    response = call("/drf/me", tokens["write"])
    assert json.loads(response.content) == {"owner": "2", "scopes": ["write"]}


def test_drf_token_writes_need_no_csrf_token(tokens: dict[str, str]) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/drf/me", headers={"Authorization": f"Bearer {tokens['read']}"})
    assert response.status_code == 200


def test_drf_permissions_compose(tokens: dict[str, str]) -> None:
    assert call("/drf/composed", tokens["read"]).status_code == 200


def test_drf_browsable_api_names_the_bearer_scheme(db: str) -> None:
    response = call("/drf/me", accept="text/html")
    assert response.status_code == 401
    assert challenge(response) == 'Bearer realm="api"'
    assert "WWW-Authenticate" in response.content.decode()  # the page shows the challenge


def test_drf_schema_names_the_bearer_scheme(db: str) -> None:
    response = call("/drf/schema", accept="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    scheme = schema["components"]["securitySchemes"]["tokenguard"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert schema["paths"]["/drf/me"]["get"]["security"] == [{"tokenguard": []}]
    assert "security" not in schema["paths"]["/drf/public"]["get"]


# -- django-ninja ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("asgi", [False, True], ids=["wsgi", "asgi"])
def test_ninja_a_token_passes(tokens: dict[str, str], asgi: bool) -> None:
    for path in ("/ninja/me", "/ninja/async"):
        response = call(path, tokens["read"], asgi=asgi)
        assert response.status_code == 200, (path, response.content)
        assert json.loads(response.content) == {"owner": "1"}


@pytest.mark.parametrize("asgi", [False, True], ids=["wsgi", "asgi"])
def test_ninja_refusals_are_rfc_6750(tokens: dict[str, str], asgi: bool) -> None:
    missing = call("/ninja/me", asgi=asgi)
    assert missing.status_code == 401 and challenge(missing) == 'Bearer realm="api"'
    revoked = call("/ninja/async", tokens["revoked"], asgi=asgi)
    assert revoked.status_code == 401 and 'error="invalid_token"' in challenge(revoked)
    scope = call("/ninja/projects/alpha", tokens["read"], asgi=asgi)
    assert scope.status_code == 403 and 'scope="write"' in challenge(scope)
    project = call("/ninja/projects/beta", tokens["alpha"], asgi=asgi)
    assert project.status_code == 403 and 'error="insufficient_scope"' in challenge(project)
    assert call("/ninja/projects/alpha", tokens["alpha"], asgi=asgi).status_code == 200
    assert call("/ninja/public", asgi=asgi).status_code == 200


def test_ninja_openapi_names_the_bearer_scheme(db: str) -> None:
    schema = json.loads(call("/ninja/openapi.json").content)
    assert schema["components"]["securitySchemes"]["TokenGuardAuth"] == {"type": "http", "scheme": "bearer"}
    assert schema["paths"]["/ninja/me"]["get"]["security"] == [{"TokenGuardAuth": []}]


def test_ninja_without_the_middleware_answer_refusals_answers(tokens: dict[str, str]) -> None:
    without = [m for m in settings.MIDDLEWARE if "tokenguard" not in m]
    with override_settings(MIDDLEWARE=without):
        refused = call("/ninja-bare/write", tokens["read"])
        assert refused.status_code == 403 and 'scope="write"' in challenge(refused)
        missing = call("/ninja-bare/write")
        assert missing.status_code == 401 and challenge(missing) == 'Bearer realm="api"'
        assert call("/ninja-bare/write", tokens["write"]).status_code == 200
