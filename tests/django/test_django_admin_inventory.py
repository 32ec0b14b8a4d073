"""The admin inventory on Django: ``TOKENGUARD["can_administer"]``, by default active staff users."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _django_settings import TOKENGUARD
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from tokenguard_django import get_guard

ADMIN_API = "/api/tokens/admin"
ADMIN_PAGE = "/settings/tokens/admin"


def signed_in(user: Any) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.fixture
def staff(db: str) -> Any:
    return get_user_model().objects.create_user("staff", password="pw", is_staff=True)


@pytest.fixture
def alice(db: str) -> Any:
    return get_user_model().objects.create_user("alice", password="pw")


def test_staff_administer_by_default_others_do_not(staff: Any, alice: Any) -> None:
    get_guard().create_token(str(alice.pk), "hers")
    admin = signed_in(staff)
    listed = admin.get(f"{ADMIN_API}/tokens")
    assert listed.status_code == 200, listed.content
    assert [t["name"] for t in json.loads(listed.content)["tokens"]] == ["hers"]
    assert admin.get(ADMIN_PAGE).status_code == 200
    assert signed_in(alice).get(f"{ADMIN_API}/tokens").status_code == 403
    assert Client().get(f"{ADMIN_API}/tokens").status_code == 401


def test_staff_deactivate_an_owner_with_csrf(staff: Any, alice: Any) -> None:
    get_guard().create_token(str(alice.pk), "hers")
    admin = signed_in(staff)
    csrf = admin.get(f"{ADMIN_API}/tokens").headers["X-CSRF-Token"]
    url = f"{ADMIN_API}/owners/{alice.pk}/deactivate"
    assert admin.post(url, headers={"Origin": "http://testserver"}).status_code == 403
    done = admin.post(url, headers={"X-CSRFToken": csrf, "Origin": "http://testserver"})  # Django's header
    assert done.status_code == 200 and json.loads(done.content)["revoked"] == 1
    assert get_guard().is_owner_active(str(alice.pk)) is False


def test_the_setting_replaces_the_default(staff: Any, alice: Any) -> None:
    with override_settings(TOKENGUARD={**TOKENGUARD, "can_administer": lambda owner: owner == str(alice.pk)}):
        assert signed_in(staff).get(f"{ADMIN_API}/tokens").status_code == 403
        assert signed_in(alice).get(f"{ADMIN_API}/tokens").status_code == 200


def test_with_an_owner_loader_nobody_administers_unless_told(staff: Any) -> None:
    with override_settings(TOKENGUARD={**TOKENGUARD, "owner_loader": lambda request: "staff"}):
        assert signed_in(staff).get(f"{ADMIN_API}/tokens").status_code == 403
