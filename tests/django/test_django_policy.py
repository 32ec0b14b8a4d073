"""``TOKENGUARD["allow_never_expires"]`` and ``TOKENGUARD["permission_levels"]`` (a callable or its
dotted path): the page offers only what the management API accepts, through Django's test client."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import pytest
from _django_settings import TOKENGUARD
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from tokenguard_django import get_guard

API = "/api/tokens"
PAGE = "/settings/tokens"


def read_and_write(owner: str) -> Iterable[str]:
    return ["read", "write"]


@pytest.fixture
def alice(db: str) -> Any:
    return get_user_model().objects.create_user("alice", password="pw")


def post(token: str, body: dict[str, object]) -> Any:
    return Client(enforce_csrf_checks=True).post(API, json.dumps(body), content_type="application/json",
                                                 headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("levels", [read_and_write, f"{__name__}.read_and_write"],
                         ids=["callable", "dotted-path"])
def test_the_tokenguard_keys_set_the_policies(alice: Any, levels: object) -> None:
    with override_settings(TOKENGUARD={**TOKENGUARD, "allow_never_expires": False,
                                       "permission_levels": levels, "allow_token_minting": True}):
        owner = str(alice.pk)
        minter = get_guard().create_token(owner, "minter", scopes=["management"]).token
        level = post(minter, {"name": "ci", "scopes": ["management"]})
        assert level.status_code == 403
        assert json.loads(level.content) == {"error": "forbidden", "field": "scopes", "error_description":
                                             "you may not create tokens with this permission"}
        never = post(minter, {"name": "ci", "scopes": ["read"], "expires_in_days": None})
        assert never.status_code == 400 and json.loads(never.content)["field"] == "expires_in_days"
        assert post(minter, {"name": "ci", "scopes": ["write"]}).status_code == 201
        browser = Client()
        browser.force_login(alice)
        page = browser.get(PAGE).content.decode()
        assert re.findall(r'name="permission" value="([^"]+)"', page) == ["read", "write"]
        assert '<option value="never"' not in page


def test_by_default_every_level_and_never_are_offered(alice: Any) -> None:
    browser = Client()
    browser.force_login(alice)
    page = browser.get(PAGE).content.decode()
    assert re.findall(r'name="permission" value="([^"]+)"', page) == ["read", "write", "management"]
    assert '<option value="never"' in page


def test_contradicting_policies_are_a_system_check_problem() -> None:
    from tokenguard_django.config import problems

    found = problems({**TOKENGUARD, "max_lifetime_days": 30, "default_lifetime_days": 30,
                      "allow_never_expires": True})
    assert [(p.id, p.key) for p in found] == [("E005", "allow_never_expires")]
    assert "cannot be true with a max_lifetime" in found[0].message
    assert problems({**TOKENGUARD, "max_lifetime_days": 30, "default_lifetime_days": 30}) == []
