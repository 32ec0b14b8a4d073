"""``TOKENGUARD["secret_scanning"]`` and ``TOKENGUARD["github_keys_url"]``: GitHub's partner endpoint
on Django, through Django's test client with its CSRF checks on (GitHub sends no CSRF token)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("cryptography")

from _django_settings import TOKENGUARD
from django.test import Client, override_settings

from _secret_scanning_support import Key, KeyServer, sha256, signed_report
from tokenguard_django import get_guard

PATH = "/api/tokens/secret-scanning"


def report(client: Client, key: Key, token: str) -> object:
    body, headers = signed_report(key, token)
    return client.post(PATH, body, content_type=headers.pop("Content-Type"), headers=headers)


def test_the_tokenguard_keys_switch_the_endpoint_on(db: str, github_keys: KeyServer) -> None:
    with override_settings(TOKENGUARD={**TOKENGUARD, "secret_scanning": True,
                                       "github_keys_url": github_keys.url}):
        token = get_guard().create_token("1", "ci", token_id="ci").token
        reply = report(Client(enforce_csrf_checks=True), github_keys.keys[0], token)
        assert reply.status_code == 200, reply.content  # type: ignore[attr-defined]
        assert json.loads(reply.content) == [  # type: ignore[attr-defined]
            {"token_hash": sha256(token), "token_type": "tokenguard_api_token", "label": "true_positive"}]
        assert get_guard().get_token("ci").status == "revoked" and github_keys.requests == 1


def test_off_by_default(db: str, github_keys: KeyServer) -> None:
    token = get_guard().create_token("1", "ci", token_id="ci").token
    reply = report(Client(enforce_csrf_checks=True), github_keys.keys[0], token)
    assert reply.status_code in (401, 403, 404, 405)  # type: ignore[attr-defined]
    assert get_guard().get_token("ci").status == "active" and github_keys.requests == 0


def test_a_key_url_that_is_not_http_is_a_configuration_problem() -> None:
    from tokenguard_django.config import problems

    found = problems({**TOKENGUARD, "secret_scanning": True, "github_keys_url": "file:///etc/passwd"})
    assert [p.key for p in found] == ["github_keys_url"]
