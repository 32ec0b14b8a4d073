"""``TokenGuardMiddleware`` under ASGI (Django's ``AsyncClient``): where the work is done, and the answers.

A warm token is answered from the verification cache on the event loop; the store
(Django's ORM) is reached only from a worker thread. Every answer is the sync path's
(Django's ``Client``), status, headers and body alike.

Where the guard works is recorded honestly: the project's guard gets a ``DjangoStore``
subclass on the same database that notes the thread of each ``find`` and ``touch``,
and a clock that notes the thread of each reading (the guard reads its clock at every
verification, warm or not, and nowhere else on a request).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.test import AsyncClient, Client

from tokenguard.errors import StoreUnavailable
from tokenguard.stores.base import TokenRecord
from tokenguard_django import get_guard
from tokenguard_django.store import DjangoStore

API = "/api/tokens"
PAGE = "/settings/tokens"


@dataclass(frozen=True)
class Call:
    """One store call or clock reading: what, in which thread, and whether an event loop ran there."""

    what: str
    thread: int
    on_loop: bool


def here(what: str) -> Call:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return Call(what, threading.get_ident(), False)
    return Call(what, threading.get_ident(), True)


@dataclass
class Spy:
    calls: list[Call] = field(default_factory=list)

    def store_calls(self) -> list[Call]:
        return [call for call in self.calls if call.what != "clock"]

    def clock_readings(self) -> list[Call]:
        return [call for call in self.calls if call.what == "clock"]

    def clock(self) -> datetime:
        self.calls.append(here("clock"))
        return datetime.now(UTC)


class RecordingStore(DjangoStore):
    """The project's store, noting where it is called."""

    def __init__(self, using: str, spy: Spy) -> None:
        super().__init__(using)
        self.spy = spy

    def find(self, digest: str) -> TokenRecord | None:
        self.spy.calls.append(here("find"))
        return super().find(digest)

    def touch(self, token_id: str, at: datetime, *, ip: str | None = None, agent: str | None = None) -> None:
        self.spy.calls.append(here("touch"))
        super().touch(token_id, at, ip=ip, agent=agent)


@pytest.fixture
def spy(db: str, monkeypatch: pytest.MonkeyPatch) -> Spy:
    guard = get_guard()
    made = Spy()
    assert isinstance(guard.store, DjangoStore)
    monkeypatch.setattr(guard, "store", RecordingStore(guard.store.using, made))
    monkeypatch.setattr(guard, "clock", made.clock)
    return made


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def fetch_async(path: str, headers: dict[str, str], client: AsyncClient | None = None) -> tuple[int, Any]:
    """GET through Django's ASGI handler: the event loop's thread, and the response."""

    async def get() -> tuple[int, Any]:
        return threading.get_ident(), await (client or AsyncClient()).get(path, headers=headers)

    return async_to_sync(get)()


def fetch_sync(path: str, headers: dict[str, str]) -> Any:
    """GET through Django's WSGI handler."""
    return Client().get(path, headers=headers)


def answer(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """What a client sees: status, every header, body."""
    return response.status_code, sorted(response.headers.items()), response.content


def body(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(response.content)
    return data


def assert_store_off_the_loop(spy: Spy, loop: int) -> None:
    assert all(call.thread != loop and not call.on_loop for call in spy.store_calls()), spy.calls


def test_a_warm_token_is_answered_on_the_loop_a_cold_one_from_a_worker_thread(spy: Spy) -> None:
    made = get_guard().create_token("1", "reader", scopes=["read"])
    loop, cold = fetch_async("/async/open", bearer(made.token))
    assert cold.status_code == 200 and body(cold) == {"owner": "1", "id": made.info.id}
    assert "find" in [call.what for call in spy.store_calls()]
    assert_store_off_the_loop(spy, loop)

    spy.calls.clear()
    loop, warm = fetch_async("/async/open", bearer(made.token))
    assert warm.status_code == 200 and body(warm) == {"owner": "1", "id": made.info.id}
    assert spy.store_calls() == []  # from the cache
    readings = spy.clock_readings()
    assert readings and all(call.thread == loop and call.on_loop for call in readings), spy.calls


def test_a_warm_token_on_a_protected_async_view(spy: Spy) -> None:
    made = get_guard().create_token("2", "writer", scopes=["write"])
    fetch_async("/async", bearer(made.token))
    spy.calls.clear()
    loop, warm = fetch_async("/async", bearer(made.token))
    assert warm.status_code == 200 and body(warm)["owner"] == "2"
    assert spy.store_calls() == []
    readings = spy.clock_readings()  # verified once, by the middleware, on the loop; the view trusts it
    assert len(readings) == 1 and readings[0].thread == loop and readings[0].on_loop, spy.calls


# -- the answers: the sync path's, whatever decides them ----------------------------------------


def unknown_token() -> str:
    """A well-formed token with a good checksum that the store does not hold."""
    guard = get_guard()
    made = guard.create_token("9", "deleted")
    guard.delete(made.info.id)
    return made.token


def revoked_while_cached() -> str:
    """A token warm in the cache, then revoked."""
    guard = get_guard()
    made = guard.create_token("8", "revoked", scopes=["read"])
    assert guard.authenticate(made.token).id == made.info.id
    guard.revoke(made.info.id)
    return made.token


def malformed() -> dict[str, str]:
    return {"Authorization": "Bearer"}


CASES: dict[str, tuple[Callable[[], dict[str, str]], int]] = {
    "malformed": (malformed, 400),
    "repeated": (lambda: {"Authorization": "Bearer tg_a,Bearer tg_b"}, 400),
    "unknown token": (lambda: bearer(unknown_token()), 401),
    "token revoked while cached": (lambda: bearer(revoked_while_cached()), 401),
    "anonymous": (dict, 200),
}


@pytest.mark.parametrize("path", ["/open", "/async/open"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_answer_is_the_sync_paths(spy: Spy, case: str, path: str) -> None:
    """Each case twice per handler, on fresh credentials: the first request is decided by the
    store where a token must be looked up, the second by the cache (a remembered unknown
    token, a revoked one), on the loop under ASGI."""
    make, status = CASES[case]
    headers = make()
    sync = [fetch_sync(path, headers) for _ in range(2)]
    headers = make()
    spy.calls.clear()
    loop, first = fetch_async(path, headers)
    if "token" in case:  # only the store knows it is gone
        assert "find" in [call.what for call in spy.store_calls()]
    assert_store_off_the_loop(spy, loop)
    spy.calls.clear()
    loop, again = fetch_async(path, headers)
    assert spy.store_calls() == []  # decided from memory
    if "token" in case:  # the cache decided it, on the loop
        readings = spy.clock_readings()
        assert readings and all(call.thread == loop and call.on_loop for call in readings), spy.calls
    else:
        assert spy.clock_readings() == []
    assert [answer(r) for r in (first, again)] == [answer(r) for r in sync]
    assert first.status_code == status
    if status == 200:  # the view ran, with request.token None
        assert body(first) == {"owner": None, "id": None}
    else:
        assert first.headers["WWW-Authenticate"].startswith('Bearer realm="api"')


@pytest.mark.parametrize("case", ["malformed", "unknown token", "token revoked while cached"])
def test_the_mount_points_are_left_to_check_their_own_callers(spy: Spy, case: str) -> None:
    """A signed-in browser sending bad credentials: the settings page serves it (no middleware
    refusal), and the management API refuses it with its own answer, on both paths alike."""
    alice = get_user_model().objects.create_user("alice", password="pw")
    browser, async_browser = Client(), AsyncClient()
    browser.force_login(alice)
    async_browser.force_login(alice)
    headers = CASES[case][0]()
    loop, page = fetch_async(PAGE, headers, async_browser)
    sync_page = browser.get(PAGE, headers=headers)
    assert page.status_code == sync_page.status_code == 200
    assert b"<title>API tokens<" in page.content and b"<title>API tokens<" in sync_page.content
    # the page's body holds a fresh CSRF token each time: its headers are compared
    assert sorted(page.headers.items()) == sorted(sync_page.headers.items())
    loop, api = fetch_async(API, headers, async_browser)
    assert api.status_code == CASES[case][1]
    assert answer(api) == answer(browser.get(API, headers=headers))
    assert_store_off_the_loop(spy, loop)


def test_the_store_down_is_the_sync_paths_503_decided_in_a_worker_thread(
        spy: Spy, monkeypatch: pytest.MonkeyPatch) -> None:
    made = get_guard().create_token("1", "reader", scopes=["read"])

    def down(self: RecordingStore, digest: str) -> None:
        self.spy.calls.append(here("find"))
        raise StoreUnavailable("the database is down")

    monkeypatch.setattr(RecordingStore, "find", down)
    sync = fetch_sync("/async/open", bearer(made.token))
    spy.calls.clear()
    loop, mine = fetch_async("/async/open", bearer(made.token))
    assert mine.status_code == 503
    assert answer(mine) == answer(sync)
    assert [call.what for call in spy.store_calls()] == ["find"]
    assert_store_off_the_loop(spy, loop)


def test_a_protected_async_view_lets_a_token_holding_its_scopes_through_on_the_loop(
    spy: Spy, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No worker-thread trip for the scope check when the middleware's token holds the scopes;
    a token lacking them is refused by the full check, as before (in a worker thread)."""
    from tokenguard_django import decorators

    trips: list[str] = []
    real = decorators.sync_to_async

    def counted(function: Any, **options: Any) -> Any:
        trips.append(getattr(function, "__name__", repr(function)))
        return real(function, **options)

    monkeypatch.setattr(decorators, "sync_to_async", counted)
    writer = get_guard().create_token("3", "writer", scopes=["write"])
    reader = get_guard().create_token("3", "reader", scopes=["read"])
    for token in (writer.token, reader.token):
        fetch_async("/async", bearer(token))  # warm both
    trips.clear()
    _, passed = fetch_async("/async", bearer(writer.token))
    assert passed.status_code == 200 and trips == []
    _, refused = fetch_async("/async", bearer(reader.token))
    assert refused.status_code == 403 and trips == ["_check"]
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]
