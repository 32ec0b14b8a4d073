"""The Django admin: tokens listed without a secret or digest, filtered, searched, revoked and deleted
through the guard (hooks fire, caches forget)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _django_settings import TOKENGUARD
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from tokenguard import hookimpl
from tokenguard.errors import InvalidToken, RevokedToken
from tokenguard.models import IssuedToken, TokenInfo
from tokenguard_django import get_guard
from tokenguard_django.models import Token

CHANGELIST = "/admin/tokenguard_django/token/"


class Events:
    """Records the guard's audit events."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []

    @hookimpl
    def tokenguard_token_revoked(self, info: TokenInfo, actor: str | None, remote: str | None) -> None:
        self.seen.append(("revoked", info.id, actor))

    @hookimpl
    def tokenguard_token_deleted(self, info: TokenInfo, actor: str | None, remote: str | None) -> None:
        self.seen.append(("deleted", info.id, actor))


@pytest.fixture
def events(db: str) -> Iterator[Events]:
    recorder = Events()
    with override_settings(TOKENGUARD={**TOKENGUARD, "plugins": [recorder]}):
        yield recorder


@pytest.fixture
def staff(db: str) -> Client:
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    return client


@pytest.fixture
def tokens(events: Events) -> dict[str, IssuedToken]:
    guard = get_guard()
    made = {
        "ci": guard.create_token("1", "CI pipeline", scopes=["write"], projects=["alpha"], token_id="ci"),
        "laptop": guard.create_token("1", "Laptop <script>", token_id="laptop"),
        "bob": guard.create_token("2", "Bob's deploy", token_id="bob-deploy"),
        "old": guard.create_token("2", "Revoked one", token_id="old"),
    }
    guard.revoke("old")
    return made


def digests() -> list[str]:
    return list(Token.objects.values_list("digest", flat=True))


def assert_nothing_secret(body: str, tokens: dict[str, IssuedToken]) -> None:
    for digest in digests():
        assert digest not in body
    for issued in tokens.values():
        assert issued.token not in body


def test_the_list_shows_every_token_and_no_secret_or_digest(staff: Client,
                                                            tokens: dict[str, IssuedToken]) -> None:
    response = staff.get(CHANGELIST)
    body = response.content.decode()
    assert response.status_code == 200
    for name in ("CI pipeline", "Bob&#x27;s deploy", "Revoked one", "Laptop &lt;script&gt;"):
        assert name in body
    assert "<script>" not in body.split("Laptop", 1)[1][:20]
    assert tokens["ci"].info.hint in body
    assert_nothing_secret(body, tokens)


def test_the_detail_page_shows_no_digest(staff: Client, tokens: dict[str, IssuedToken]) -> None:
    response = staff.get(f"{CHANGELIST}ci/change/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "CI pipeline" in body and "alpha" in body
    assert "digest" not in body.lower()
    assert_nothing_secret(body, tokens)


def test_filters_by_status_and_owner_and_searches_by_name_and_id(
    staff: Client, tokens: dict[str, IssuedToken],
) -> None:
    def listed(query: str) -> set[str]:
        body = staff.get(f"{CHANGELIST}?{query}").content.decode()
        return {tid for tid in ("ci", "laptop", "bob-deploy", "old") if f"/{tid}/change/" in body}

    assert listed("status=revoked") == {"old"}
    assert listed("status=active") == {"ci", "laptop", "bob-deploy"}
    assert listed("status=expired") == set()
    assert listed("owner=2") == {"bob-deploy", "old"}
    assert listed("q=pipeline") == {"ci"}
    assert listed("q=bob-deploy") == {"bob-deploy"}


def test_the_revoke_action_goes_through_the_guard(staff: Client, tokens: dict[str, IssuedToken],
                                                  events: Events) -> None:
    guard = get_guard()
    assert guard.authenticate(tokens["ci"].token).id == "ci"  # now in the verification cache

    response = staff.post(CHANGELIST, {"action": "revoke_tokens", "_selected_action": ["ci", "laptop"]},
                          follow=True)
    assert response.status_code == 200
    assert "Revoked 2 tokens" in response.content.decode()
    with pytest.raises(RevokedToken):
        guard.authenticate(tokens["ci"].token)  # the cache forgot it at once
    assert {(kind, tid) for kind, tid, _ in events.seen} >= {("revoked", "ci"), ("revoked", "laptop")}
    assert all(actor and actor.startswith("django-admin:") for _, tid, actor in events.seen if tid != "old")


def test_the_delete_action_goes_through_the_guard(staff: Client, tokens: dict[str, IssuedToken],
                                                  events: Events) -> None:
    guard = get_guard()
    guard.authenticate(tokens["bob"].token)
    confirm = staff.post(CHANGELIST, {"action": "delete_selected", "_selected_action": ["bob-deploy"]})
    assert confirm.status_code == 200
    assert_nothing_secret(confirm.content.decode(), tokens)

    staff.post(CHANGELIST, {"action": "delete_selected", "_selected_action": ["bob-deploy"], "post": "yes"})
    assert not Token.objects.filter(pk="bob-deploy").exists()
    with pytest.raises(InvalidToken):
        guard.authenticate(tokens["bob"].token)
    assert ("deleted", "bob-deploy") in {(kind, tid) for kind, tid, _ in events.seen}


def test_the_single_delete_page_goes_through_the_guard(staff: Client, tokens: dict[str, IssuedToken],
                                                       events: Events) -> None:
    staff.post(f"{CHANGELIST}laptop/delete/", {"post": "yes"})
    assert not Token.objects.filter(pk="laptop").exists()
    assert ("deleted", "laptop") in {(kind, tid) for kind, tid, _ in events.seen}


def test_no_token_is_added_or_edited_in_the_admin(staff: Client, tokens: dict[str, IssuedToken]) -> None:
    assert staff.get(f"{CHANGELIST}add/").status_code == 403
    before = Token.objects.get(pk="ci")
    staff.post(f"{CHANGELIST}ci/change/", {"name": "renamed", "owner": "9"})
    after = Token.objects.get(pk="ci")
    assert (after.name, after.owner, after.digest) == (before.name, before.owner, before.digest)


def test_a_staff_member_without_permissions_sees_nothing(db: str, tokens: Any) -> None:
    clerk = get_user_model().objects.create_user("clerk", password="pw", is_staff=True)
    client = Client()
    client.force_login(clerk)
    assert client.get(CHANGELIST).status_code == 403
