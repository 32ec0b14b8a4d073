"""The owner's token table with many tokens through Django's test client: sort, filter, search, pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from _django_settings import TOKENGUARD
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from tokenguard_django import get_guard

PAGE = "/settings/tokens"
DASH = "\N{EN DASH}"
_ROW = re.compile(r'<tr id="token-([^"]+)" class="([^"]*)"')


@pytest.fixture
def alice(db: str) -> Iterator[Any]:
    with override_settings(TOKENGUARD={**TOKENGUARD, "max_tokens_per_owner": 1000}):
        yield get_user_model().objects.create_user("alice", password="pw")


@pytest.fixture
def ids(alice: Any) -> list[str]:
    """55 tokens of alice: "Deploy …" and "backup …" in turn, 0 revoked, 1 expiring in 3 days."""
    guard = get_guard()
    made = [guard.create_token(str(alice.pk), f"{('Deploy', 'backup')[n % 2]} {n:02d}",
                               scopes=[("read", "write")[n % 2]], token_id=f"t{n:02d}",
                               expires_in=timedelta(days=3 if n == 1 else 90)).info.id for n in range(55)]
    guard.revoke(made[0])
    return made


def page_of(alice: Any, **params: str) -> str:
    client = Client()
    client.force_login(alice)
    response = client.get(PAGE, params)
    assert response.status_code == 200
    return response.content.decode()


def rows(page: str) -> list[str]:
    return [token_id for token_id, _classes in _ROW.findall(page)]


def test_sort_pages_filter_and_search(alice: Any, ids: list[str]) -> None:
    first = page_of(alice, sort="name")
    by_name = sorted(ids, key=lambda i: (f"{('Deploy', 'backup')[int(i[1:]) % 2]} {i[1:]}".casefold(), i))
    assert rows(first) == by_name[:50] and f"1{DASH}50 of 55" in first
    assert 'rel="next" href="/settings/tokens?sort=name&amp;page=2"' in first
    assert rows(page_of(alice, sort="name", page="2")) == by_name[50:]
    assert rows(page_of(alice, status="revoked")) == [ids[0]]
    found = page_of(alice, q="DEPLOY", status="active", sort="-name")
    assert rows(found) == [f"t{n:02d}" for n in range(54, 0, -2)]


def test_parameters_not_understood_are_the_defaults(alice: Any, ids: list[str]) -> None:
    default = rows(page_of(alice))
    assert default == rows(page_of(alice, sort="hint", status="gone", page="x"))
    assert len(default) == 50


def test_the_token_expiring_within_7_days_is_marked(alice: Any, ids: list[str]) -> None:
    page = page_of(alice, q="backup 01")
    assert _ROW.findall(page) == [("t01", "status-active expires-soon")]
    assert 'href="/settings/tokens/t01#regenerate"' in page
    assert "expires-soon" not in page_of(alice, q="backup 03")
