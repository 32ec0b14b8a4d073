"""Expiring and unused tokens, and reminders sent once per token and threshold, on every store.

``remind()`` is meant for cron on every instance at once: eight threads, each with a
guard and store of its own on one database (as eight instances), fire each reminder
exactly once on SQLite, PostgreSQL and MariaDB. The queries use their indexes
(EXPLAIN on SQLite and PostgreSQL), so their cost follows what they find.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text

from _testclock import ManualClock
from tokenguard import ExpiredToken, TokenGuard, ValidationError, hookimpl
from tokenguard.models import TokenInfo
from tokenguard.stores import sql_rows
from tokenguard.stores.sql_schema import tokens_table
from tokenguard.stores.sqlalchemy import SQLAlchemyStore

KEY = "reminder-suite-secret-key-0123456789abcdef"
START = datetime(2032, 2, 3, 4, 5, 6, tzinfo=UTC)
URL_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "postgres_url", "mariadb": "mysql_url"}


class Reminded:
    """A plugin that collects the reminders fired, from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fired: list[tuple[str, int]] = []

    @hookimpl
    def tokenguard_token_expiring(self, info: TokenInfo, days_left: int) -> None:
        with self.lock:
            self.fired.append((info.id, days_left))


def make_guard(store: Any = "memory://", clock: ManualClock | None = None, **options: Any) -> TokenGuard:
    return TokenGuard(store, secret_key=KEY, clock=clock or ManualClock(START), load_entry_points=False,
                      max_tokens_per_owner=None, **options)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def reminded() -> Reminded:
    return Reminded()


@pytest.fixture
def guard(clock: ManualClock, reminded: Reminded) -> TokenGuard:
    return make_guard(clock=clock, plugins=[reminded])


# -- expiring and unused ----------------------------------------------------------------------


def test_expiring_lists_active_tokens_within_the_window_soonest_first(guard: TokenGuard) -> None:
    late = guard.create_token("alice", "late", expires_in=timedelta(days=6))
    soon = guard.create_token("alice", "soon", expires_in=timedelta(days=2))
    guard.create_token("alice", "far", expires_in=timedelta(days=8))
    guard.create_token("alice", "never", expires_in=None)
    guard.revoke(guard.create_token("alice", "revoked", expires_in=timedelta(days=1)).info.id)
    bobs = guard.create_token("bob", "bob's", expires_in=timedelta(days=3))

    assert [i.id for i in guard.expiring()] == [soon.info.id, bobs.info.id, late.info.id]
    assert [i.id for i in guard.expiring(timedelta(days=2), owner="alice")] == [soon.info.id]
    assert guard.expiring(timedelta(days=7), owner="carol") == []
    with pytest.raises(ValidationError):
        guard.expiring(timedelta(0))


def test_unused_lists_tokens_not_used_for_a_while(guard: TokenGuard, clock: ManualClock) -> None:
    never = guard.create_token("alice", "never used", expires_in=None)
    used = guard.create_token("alice", "used once", expires_in=None)
    clock.advance(minutes=1)
    guard.authenticate(used.token)  # last seen a minute after the one never used
    clock.advance(days=30)
    fresh = guard.create_token("alice", "new", expires_in=None)
    clock.advance(days=61)

    assert [i.id for i in guard.unused(timedelta(days=90))] == [never.info.id, used.info.id]
    guard.authenticate(used.token)
    assert [i.id for i in guard.unused(timedelta(days=90), owner="alice")] == [never.info.id]
    assert [i.id for i in guard.unused(timedelta(days=60))] == [never.info.id, fresh.info.id]


def test_expire_unused_after_refuses_and_lists_them_as_expired(clock: ManualClock) -> None:
    reasons: list[str] = []

    class Failures:
        @hookimpl
        def tokenguard_auth_failed(self, reason: str, hint: str | None, remote: str | None) -> None:
            reasons.append(reason)

    guard = make_guard(clock=clock, expire_unused_after=timedelta(days=365), default_lifetime=None,
                       plugins=[Failures()])
    idle = guard.create_token("alice", "idle")
    busy = guard.create_token("alice", "busy")
    guard.authenticate(idle.token)  # warm in the cache, used once at START
    for _ in range(4):
        clock.advance(days=100)
        guard.authenticate(busy.token)  # used every 100 days: never idle for a year

    assert guard.get_token(idle.info.id).status_at(clock()) == "expired"
    assert guard.get_token(idle.info.id).unused_expires_at == START + timedelta(days=365)
    assert guard.get_token(busy.info.id).status_at(clock()) == "active"
    with pytest.raises(ExpiredToken):
        guard.authenticate(idle.token)
    assert reasons == ["expired_unused"]
    assert [i.id for i in guard.unused(timedelta(days=90))] == []  # expired: no longer active
    with pytest.raises(ValidationError):
        guard.reapprove(idle.info.id)
    with pytest.raises(ValidationError):
        guard.rotate(idle.info.id)


def test_expire_unused_after_is_at_least_a_minute() -> None:
    with pytest.raises(ValidationError) as caught:
        make_guard(expire_unused_after=timedelta(seconds=59))
    assert caught.value.field == "expire_unused_after"


# -- remind ---------------------------------------------------------------------------------


def test_each_threshold_fires_once_as_the_expiry_nears(guard: TokenGuard, clock: ManualClock,
                                                      reminded: Reminded) -> None:
    issued = guard.create_token("alice", "ci", expires_in=timedelta(days=40))
    token_id = issued.info.id
    assert guard.remind() == 0
    clock.advance(days=10)  # 30 days left
    assert (guard.remind(), guard.remind()) == (1, 0)
    clock.advance(days=23)  # 7 days left
    assert (guard.remind(), guard.remind()) == (1, 0)
    clock.advance(days=6, hours=12)  # half a day left
    assert (guard.remind(), guard.remind()) == (1, 0)
    clock.advance(hours=12)  # expired: nothing more
    assert guard.remind() == 0
    assert reminded.fired == [(token_id, 30), (token_id, 7), (token_id, 1)]


def test_a_token_first_seen_late_gets_the_smallest_threshold_reached_only(
    guard: TokenGuard, reminded: Reminded,
) -> None:
    issued = guard.create_token("alice", "short", expires_in=timedelta(days=5, hours=1))
    assert guard.remind() == 1
    assert guard.remind(thresholds=(30, 7, 1)) == 0
    assert reminded.fired == [(issued.info.id, 6)]  # 5 days and an hour: 6, at the 7-day threshold


def test_a_new_lifetime_is_reminded_again(guard: TokenGuard, clock: ManualClock, reminded: Reminded) -> None:
    issued = guard.create_token("alice", "rotated", expires_in=timedelta(days=7))
    assert guard.remind() == 1
    clock.advance(days=1)
    guard.rotate(issued.info.id, expires_in=timedelta(days=7))  # the same threshold, a new expiry
    assert guard.remind() == 1
    assert [days for _, days in reminded.fired] == [7, 7]


def test_thresholds_are_validated(guard: TokenGuard) -> None:
    for bad in [(), (0,), (7, -1), ("7",), (True,), "30", (1.5,)]:
        with pytest.raises(ValidationError):
            guard.remind(thresholds=bad)  # type: ignore[arg-type]


def test_a_failing_plugin_stops_neither_the_other_tokens_nor_the_run(
    clock: ManualClock, caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        calls = 0

        @hookimpl
        def tokenguard_token_expiring(self, info: TokenInfo, days_left: int) -> None:
            Broken.calls += 1
            if Broken.calls == 1:
                raise RuntimeError("mail server on fire")

    guard = make_guard(clock=clock, plugins=[Broken()])
    for index in range(3):
        guard.create_token("alice", f"t{index}", expires_in=timedelta(days=2))
    with caplog.at_level(logging.ERROR, logger="tokenguard"):
        assert guard.remind() == 2
    assert Broken.calls == 3 and "expiry reminder" in caplog.text
    assert guard.remind() == 0  # claimed before it was sent: at most once, never twice


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mariadb"])
def test_eight_instances_reminding_at_once_send_each_reminder_exactly_once(
    backend: str, request: pytest.FixtureRequest,
) -> None:
    url = request.getfixturevalue(URL_FIXTURES[backend])
    clock = ManualClock(START)
    reminded = Reminded()
    guards = [make_guard(SQLAlchemyStore(url), clock=clock, plugins=[reminded], cache_ttl=None)
              for _ in range(8)]
    try:
        lifetimes = [timedelta(days=days, hours=1) for days in (0, 3, 6, 20, 29, 45)] * 2
        ids = [guards[0].create_token(f"owner{index % 3}", f"t{index}", expires_in=life).info.id
               for index, life in enumerate(lifetimes)]
        for guard in guards:
            guard.list_tokens()  # connected, schema checked: the race starts together

        def remind_all() -> list[int]:
            barrier = threading.Barrier(len(guards))
            counts: list[int] = []

            def run(guard: TokenGuard) -> None:
                barrier.wait(timeout=30)
                counts.append(guard.remind())

            threads = [threading.Thread(target=run, args=(guard,)) for guard in guards]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            assert not any(thread.is_alive() for thread in threads)
            return counts

        counts = remind_all()
        expected = {(ids[i], days) for i, days in enumerate([1, 4, 7, 21, 30, 0] * 2) if days}
        assert sum(counts) == len(reminded.fired) == len(expected) == 10
        assert set(reminded.fired) == expected

        clock.advance(days=14)  # the 20-day ones reach 7, the 29-day ones 30 → 15: nothing new at 30
        reminded.fired.clear()
        counts = remind_all()
        assert sorted(reminded.fired) == sorted([(ids[3], 7), (ids[9], 7)])
        assert sum(counts) == 2
    finally:
        for guard in guards:
            guard.close()


# -- the indexes --------------------------------------------------------------------------------


def many_rows(count: int) -> Iterator[dict[str, Any]]:
    """Tokens with every field set, a few expiring within a week and a few unused for long."""
    for index in range(count):
        yield {
            "id": f"t{index}", "digest": hashlib.sha256(b"%d" % index).hexdigest(),
            "owner": f"owner{index % 300}", "name": "n", "scopes": "read", "projects": "", "admin": False,
            "created_at": START - timedelta(days=1 + index % 50),
            "expires_at": START + timedelta(days=3 if index % 500 == 0 else 200 + index % 100),
            "last_used_at": None if index % 700 == 0 else START - timedelta(hours=index % 48),
            "revoked_at": None, "hint": "tg_…abcd", "parent_id": None, "description": "",
            "allowed_networks": "", "last_used_ip": None, "last_used_agent": None,
            "previous_digest": None, "previous_valid_until": None,
        }


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_expiring_and_unused_use_their_indexes(backend: str, request: pytest.FixtureRequest) -> None:
    store = SQLAlchemyStore(request.getfixturevalue(URL_FIXTURES[backend]))
    try:
        store.list()
        with store.engine.begin() as connection:
            connection.execute(insert(tokens_table), list(many_rows(5000)))
            connection.execute(text("ANALYZE tokenguard_tokens" if backend == "postgresql" else "ANALYZE"))
        explain = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
        plans = {}
        for name, statement in [("expiring", sql_rows.expiring(START, START + timedelta(days=7), None)),
                                ("unused", sql_rows.unused(START, START - timedelta(days=90), None))]:
            sql = str(statement.compile(dialect=store.engine.dialect, compile_kwargs={"literal_binds": True}))
            with store.engine.connect() as connection:
                plans[name] = "\n".join(str(row[-1]) for row in connection.exec_driver_sql(explain + sql))
        assert "ix_tokenguard_tokens_expires_at" in plans["expiring"], plans["expiring"]
        assert plans["unused"].count("ix_tokenguard_tokens_last_used_at") == 2, plans["unused"]  # both ranges
        for plan in plans.values():
            assert "Seq Scan" not in plan and "SCAN tokenguard_tokens" not in plan, plan
        # and they find what they should among the 5000
        assert len(store.expiring(START, START + timedelta(days=7))) == 10
        assert len(store.unused(START, START - timedelta(days=30))) == len(
            [i for i in range(5000) if i % 700 == 0 and 1 + i % 50 > 30])
    finally:
        store.close()
