"""The secret-scanning endpoint switched on by each adapter's own configuration, end to end.

Flask's ``TOKENGUARD_SECRET_SCANNING`` / ``TOKENGUARD_GITHUB_KEYS_URL``, the ASGI
middleware's ``secret_scanning=`` / ``github_keys_url=`` (Django's ``TOKENGUARD`` keys:
``tests/django/test_django_secret_scanning.py``): the same ``WebOptions`` fields. The
report is signed with a key the test makes and served by its key server on 127.0.0.1.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

pytest.importorskip("cryptography")

from flask import Flask
from starlette.applications import Starlette
from starlette.testclient import TestClient

from _secret_scanning_support import KeyServer, sha256, signed_report
from tokenguard import TokenGuard
from tokenguard.errors import ValidationError
from tokenguard_asgi import TokenGuardMiddleware
from tokenguard_flask import FlaskTokenGuard

PATH = "/api/tokens/secret-scanning"


@pytest.fixture
def guard() -> Iterator[TokenGuard]:
    made = TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False)
    yield made
    made.close()


def asgi_client(guard: TokenGuard, **options: object) -> TestClient:
    return TestClient(TokenGuardMiddleware(Starlette(), guard=guard, **options))  # type: ignore[arg-type]


def test_the_asgi_middleware_serves_the_endpoint_with_its_arguments(
        guard: TokenGuard, github_keys: KeyServer) -> None:
    token = guard.create_token("alice", "ci", token_id="ci").token
    client = asgi_client(guard, secret_scanning=True, github_keys_url=github_keys.url)
    body, headers = signed_report(github_keys.keys[0], token)
    reply = client.post(PATH, content=body, headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.json() == [{"token_hash": sha256(token), "token_type": "tokenguard_api_token",
                             "label": "true_positive"}]
    assert guard.get_token("ci").status == "revoked"
    assert github_keys.requests == 1  # the keys came from the URL given to the middleware


def test_the_asgi_middleware_keeps_the_endpoint_off_by_default(guard: TokenGuard,
                                                               github_keys: KeyServer) -> None:
    token = guard.create_token("alice", "ci", token_id="ci").token
    body, headers = signed_report(github_keys.keys[0], token)
    reply = asgi_client(guard).post(PATH, content=body, headers=headers)
    assert reply.status_code in (401, 404, 405)
    assert guard.get_token("ci").status == "active" and github_keys.requests == 0


def test_the_asgi_middleware_refuses_a_key_url_that_is_not_http(guard: TokenGuard) -> None:
    with pytest.raises(ValidationError, match="github_keys_url"):
        asgi_client(guard, secret_scanning=True, github_keys_url="file:///etc/passwd")


def test_flask_serves_the_endpoint_from_its_config(guard: TokenGuard, github_keys: KeyServer) -> None:
    app = Flask(__name__)
    app.config.update(TOKENGUARD_SECRET_SCANNING=True, TOKENGUARD_GITHUB_KEYS_URL=github_keys.url)
    FlaskTokenGuard(app, guard)
    token = guard.create_token("alice", "ci", token_id="ci").token
    body, headers = signed_report(github_keys.keys[0], token)
    reply = app.test_client().post(PATH, data=body, headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.get_json()[0]["label"] == "true_positive"
    assert guard.get_token("ci").status == "revoked" and github_keys.requests == 1
