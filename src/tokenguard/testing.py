"""pytest plugin (entry point ``pytest11``): fixtures for apps that use tokenguard.

``tokenguard_guard`` is a guard on a fresh memory store; ``make_token`` returns a
ready token string with the scopes asked for::

    def test_notes(client, make_token):
        token = make_token("write")
        assert client.get("/notes", headers={"Authorization": f"Bearer {token}"}).ok
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from tokenguard.guard import DEFAULT, TokenGuard, _Default

MakeToken = Callable[..., str]


@pytest.fixture
def tokenguard_guard() -> Iterator[TokenGuard]:
    """A guard on an empty memory store with a random key, no per-owner limit."""
    guard = TokenGuard("memory://", secret_key=secrets.token_bytes(32),
                       max_tokens_per_owner=None, load_entry_points=False)
    yield guard
    guard.close()


@pytest.fixture
def make_token(tokenguard_guard: TokenGuard) -> MakeToken:
    """``make_token(*scopes, owner="test-user", projects=(), expires_in=DEFAULT, admin=False)``."""
    counter = iter(range(1, 1_000_000))

    def make(
        *scopes: str,
        owner: str = "test-user",
        projects: tuple[str, ...] = (),
        expires_in: timedelta | _Default | None = DEFAULT,
        admin: bool = False,
        name: str | None = None,
    ) -> str:
        issued = tokenguard_guard.create_token(
            owner, name or f"test token {next(counter)}", scopes=list(scopes) or None,
            projects=projects, expires_in=expires_in, admin=admin,
        )
        return issued.token

    return make
