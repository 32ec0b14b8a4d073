"""Item 22 on real databases: ``last_used_at`` writes never fail a request and never deadlock."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _security_helpers import SECRET, backend_url
from _soak import SoakLog, attempt

from _lock_waits import call_beside_lock
from tokenguard import RevokedToken, TokenGuard

START = datetime(2031, 1, 1, tzinfo=UTC)


class LeapingClock:
    """Every reading is 61 s after the previous one: each use of a token is due a touch."""

    def __init__(self) -> None:
        self._steps = itertools.count()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            step = next(self._steps)
        return START + timedelta(seconds=61 * step)


@pytest.fixture(params=["postgres", "mariadb"])
def sql_url(request: pytest.FixtureRequest) -> str:
    return backend_url(request, request.param)


@pytest.fixture
def guard(sql_url: str) -> Iterator[TokenGuard]:
    made = TokenGuard(sql_url, secret_key=SECRET, load_entry_points=False, clock=LeapingClock(),
                      default_lifetime=None, max_tokens_per_owner=None, cache_ttl=None)
    yield made
    made.close()


@pytest.mark.slow
def test_touch_storm_with_concurrent_lifecycle_changes_never_deadlocks(guard: TokenGuard) -> None:
    """8 workers touch on every request while another thread revokes, re-approves,
    renames, creates and deletes tokens of the same owner, and disables the owner."""
    steady = [guard.create_token("alice", f"steady {n}") for n in range(3)]
    flipping = guard.create_token("alice", "flipping")
    log, stop = SoakLog(), threading.Event()
    tokens = [t.token for t in steady]

    def worker(n: int) -> None:
        batch = []
        for i in range(400):
            if stop.is_set():
                break
            token = tokens[(n + i) % len(tokens)] if i % 4 else flipping.token
            batch.append(attempt(lambda t=token: guard.authenticate(t)))  # type: ignore[misc]
        log.add(batch)

    errors: list[BaseException] = []

    def lifecycle() -> None:
        try:
            for i in range(30):
                guard.revoke(flipping.info.id)
                guard.reapprove(flipping.info.id)
                guard.update_token(steady[i % 3].info.id, name=f"renamed {i}")
                extra = guard.create_token("alice", f"extra {i}")
                guard.delete(extra.info.id)
                if i % 10 == 9:
                    guard.revoke_owner("alice")
                    for token in [*steady, flipping]:
                        guard.reapprove(token.info.id)
        except BaseException as exc:  # reported below, never swallowed
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    threads.append(threading.Thread(target=lifecycle))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    stop.set()
    assert not any(t.is_alive() for t in threads), "a worker is stuck: deadlock or lock wait"
    assert errors == []
    assert log.errors() == []
    assert log.count("accepted") > 1000
    assert time.monotonic() - started < 90
    for token in steady:
        assert guard.get_token(token.info.id).last_used_at is not None


def _install_failing_touch(guard: TokenGuard, dialect: str) -> None:
    """A database trigger that refuses any write of last_used_at: a real driver error."""
    engine: Any = guard.store.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        if dialect == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_touch() RETURNS trigger AS $$ BEGIN "
                "IF NEW.last_used_at IS DISTINCT FROM OLD.last_used_at THEN "
                "RAISE EXCEPTION 'touch refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
            conn.exec_driver_sql("CREATE TRIGGER refuse_touch BEFORE UPDATE ON tokenguard_tokens "
                                 "FOR EACH ROW EXECUTE FUNCTION refuse_touch()")
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_touch BEFORE UPDATE ON tokenguard_tokens FOR EACH ROW "
                "BEGIN IF NOT (NEW.last_used_at <=> OLD.last_used_at) THEN "
                "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'touch refused'; END IF; END")


def test_a_failing_touch_changes_no_decision(guard: TokenGuard, caplog: pytest.LogCaptureFixture) -> None:
    good = guard.create_token("alice", "good")
    revoked = guard.create_token("alice", "revoked")
    guard.revoke(revoked.info.id)
    engine: Any = guard.store.engine  # type: ignore[attr-defined]
    _install_failing_touch(guard, engine.dialect.name)
    caplog.set_level(logging.WARNING, logger="tokenguard")
    for _ in range(3):
        assert guard.authenticate(good.token).owner == "alice"
        with pytest.raises(RevokedToken):
            guard.authenticate(revoked.token)
    assert guard.get_token(good.info.id).last_used_at is None   # the writes really failed
    warnings = [r.getMessage() for r in caplog.records if r.name == "tokenguard"]
    assert warnings and all("last use" in w for w in warnings)
    assert all(good.token[3:] not in w for w in warnings)


def test_a_row_lock_held_elsewhere_does_not_stall_authentication(sql_url: str) -> None:
    """A long transaction holding the token's row: the request neither waits nor fails.

    The lock is held until the request is answered; whether it waited is asked of the
    server (``call_beside_lock``), not timed, so a loaded machine is no failure.
    """
    guard = TokenGuard(sql_url, secret_key=SECRET, load_entry_points=False, cache_ttl=None)
    issued = guard.create_token("alice", "ci")
    holder = guard.store.engine.connect()  # type: ignore[attr-defined]
    try:
        holder.begin()
        holder.exec_driver_sql("SELECT id FROM tokenguard_tokens WHERE id = %s FOR UPDATE", (issued.info.id,))
        owner, waited = call_beside_lock(holder, lambda: guard.authenticate(issued.token).owner)
    finally:
        holder.close()
    assert not waited, "authentication waited for a bookkeeping write"
    assert owner == "alice"
    assert guard.authenticate(issued.token).owner == "alice"
    guard.close()
