"""Frozen-time test tools decide expiry on every path: what the request path reads, they patch.

freezegun and time-machine are how apps test "this token expires tomorrow". A warm token
(answered from the verification cache) and a cold one must both be refused once the frozen
clock passes their expiry, through the core and through each adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from freezegun import freeze_time

from tokenguard import ExpiredToken, TokenGuard

SECRET = "frozen-time-test-secret-key-long-enough-0123456789"
START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
Freezer = Callable[[datetime], AbstractContextManager[object]]


def _freezegun(moment: datetime) -> AbstractContextManager[object]:
    return freeze_time(moment)


def _time_machine(moment: datetime) -> AbstractContextManager[object]:
    return time_machine.travel(moment, tick=False)


FREEZERS = [pytest.param(_freezegun, id="freezegun"), pytest.param(_time_machine, id="time-machine")]


@pytest.fixture
def guard() -> Iterator[TokenGuard]:
    # a cache age longer than the tokens' lives: the entry is still filed when the frozen clock
    # (the guard's, which the cache's age is read on too) passes their expiry
    with TokenGuard("memory://", secret_key=SECRET, load_entry_points=False, cache_ttl=86400) as made:
        yield made


@pytest.mark.parametrize("freeze", FREEZERS)
def test_a_warm_token_expires_on_the_frozen_clock(guard: TokenGuard, freeze: Freezer) -> None:
    with freeze(START):
        issued = guard.create_token("alice", "ci", expires_in=timedelta(hours=1))
        assert guard.authenticate(issued.token).id == issued.info.id  # now warm
        assert guard.authenticate_cached(issued.token) is not None
    with freeze(START + timedelta(minutes=59, seconds=59)):
        assert guard.authenticate(issued.token).id == issued.info.id
    with freeze(START + timedelta(hours=1)):
        with pytest.raises(ExpiredToken):
            guard.authenticate_cached(issued.token)
        with pytest.raises(ExpiredToken):
            guard.authenticate(issued.token)


@pytest.mark.parametrize("freeze", FREEZERS)
def test_adapters_refuse_a_warm_token_once_the_frozen_clock_passes_its_expiry(
    guard: TokenGuard, freeze: Freezer,
) -> None:
    from flask import Flask
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    import tokenguard_asgi
    import tokenguard_flask

    flask_app = Flask(__name__)
    tokenguard_flask.FlaskTokenGuard(flask_app, guard)

    @flask_app.get("/notes")
    @tokenguard_flask.require_scope("read")
    def flask_notes() -> dict[str, str]:
        return {"ok": "yes"}

    @tokenguard_asgi.require_scope("read")
    async def asgi_notes(request: object) -> JSONResponse:
        return JSONResponse({"ok": "yes"})

    starlette_app = Starlette(routes=[Route("/notes", asgi_notes)])
    starlette_app.add_middleware(tokenguard_asgi.TokenGuardMiddleware, guard=guard)
    with freeze(START):
        token = guard.create_token("alice", "ci", scopes=["read"], expires_in=timedelta(hours=1)).token
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(starlette_app) as asgi_client:
        flask_client = flask_app.test_client()
        for get in (flask_client.get, asgi_client.get):
            with freeze(START + timedelta(minutes=30)):
                assert get("/notes", headers=headers).status_code == 200  # warm now
                assert get("/notes", headers=headers).status_code == 200
            with freeze(START + timedelta(hours=1, seconds=1)):
                refused = get("/notes", headers=headers)
                assert refused.status_code == 401
                assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
