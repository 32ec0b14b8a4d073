"""RFC 6750 answers identical to the other adapters': the same guard behind Flask and Django.

Each case is sent to a ``@require_scope`` view of both; status, challenge, caching
headers and JSON body must be byte for byte the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from tokenguard.errors import StoreUnavailable
from tokenguard_django import get_guard
from tokenguard_django.store import DjangoStore

flask = pytest.importorskip("flask")

COMPARED = ("WWW-Authenticate", "Content-Type", "Cache-Control", "X-Content-Type-Options", "Retry-After")


@pytest.fixture
def flask_client(db: str) -> Iterator[Any]:
    from tokenguard_flask import FlaskTokenGuard
    from tokenguard_flask import require_scope as flask_require_scope

    app = flask.Flask("parity")
    FlaskTokenGuard(app, get_guard())

    @app.get("/read")
    @flask_require_scope("read")
    def read() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/projects/<project>")
    @flask_require_scope("write", project_from="project")
    def project(project: str) -> dict[str, str]:
        return {"ok": "yes"}

    yield app.test_client()


def answers(flask_client: Any, path: str, headers: dict[str, str]) -> tuple[Any, Any]:
    mine = Client().get(path, headers=headers)
    theirs = flask_client.get(path, headers=headers)
    return mine, theirs


def assert_same(mine: Any, theirs: Any) -> None:
    assert mine.status_code == theirs.status_code
    for name in COMPARED:
        assert mine.headers.get(name) == theirs.headers.get(name), name
    assert mine.content == theirs.data


@pytest.fixture
def tokens(db: str) -> dict[str, str]:
    guard = get_guard()
    made = {
        "read": guard.create_token("1", "reader", scopes=["read"]).token,
        "alpha": guard.create_token("2", "alpha", scopes=["write"], projects=["alpha"]).token,
        "revoked": guard.create_token("3", "revoked", token_id="gone").token,
    }
    guard.revoke("gone")
    return made


@pytest.mark.parametrize(("path", "headers"), [
    ("/read", {}),
    ("/read", {"Authorization": "Bearer"}),
    ("/read", {"Authorization": "Basic YWxpY2U6cHc="}),
    ("/read", {"Authorization": "Bearer tg_" + "A" * 38}),
    ("/read", {"Api-Token": "not a token"}),
])
def test_refusals_without_a_valid_token_are_identical(flask_client: Any, path: str,
                                                       headers: dict[str, str]) -> None:
    mine, theirs = answers(flask_client, path, headers)
    assert mine.status_code in (400, 401)
    assert_same(mine, theirs)


@pytest.mark.parametrize(("path", "which"), [
    ("/read", "read"), ("/read", "revoked"), ("/projects/alpha", "read"),
    ("/projects/beta", "alpha"), ("/projects/alpha", "alpha"),
])
def test_answers_with_a_token_are_identical(flask_client: Any, tokens: dict[str, str], path: str,
                                            which: str) -> None:
    mine, theirs = answers(flask_client, path, {"Authorization": f"Bearer {tokens[which]}"})
    if mine.status_code == 200:
        assert theirs.status_code == 200
    else:
        assert_same(mine, theirs)


def test_the_store_down_is_identical(flask_client: Any, tokens: dict[str, str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def down(self: DjangoStore, digest: str) -> None:
        raise StoreUnavailable("the database is down")

    monkeypatch.setattr(DjangoStore, "find", down)
    mine, theirs = answers(flask_client, "/read", {"Authorization": f"Bearer {tokens['read']}"})
    assert mine.status_code == 503
    assert_same(mine, theirs)
