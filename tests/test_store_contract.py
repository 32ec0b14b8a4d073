"""One contract, every backend: memory, SQLite, PostgreSQL and MariaDB keep the Store protocol alike.

Each test runs once per backend, on a fresh database, through the store itself
and through a ``TokenGuard`` on it. The per-owner limit is raced by threads on
every backend, and by two processes on the SQL ones.
"""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import secrets
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from _testclock import ManualClock as Clock
from tokenguard import TokenGuard
from tokenguard.errors import (
    ExpiredToken,
    InvalidToken,
    OwnerInactive,
    RevokedToken,
    TokenIdConflict,
    TokenLimitExceeded,
    TokenNotFound,
)
from tokenguard.models import OwnerState, TokenInfo
from tokenguard.stores.base import Store, TokenChanges, TokenRecord
from tokenguard.stores.memory import MemoryStore
from tokenguard.stores.sqlalchemy import SQLAlchemyStore

KEY = "contract-suite-secret-key-0123456789abcdef"
START = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
URL_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "postgres_url", "mariadb": "mysql_url"}
LIMIT = 5




def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_record(token_id: str, owner: str = "alice", *, created_at: datetime = START,
                **fields: Any) -> TokenRecord:
    info = TokenInfo(id=token_id, owner=owner, name=fields.pop("name", f"token {token_id}"),
                     scopes=fields.pop("scopes", frozenset({"read"})), created_at=created_at,
                     hint=fields.pop("hint", "tg_…" + token_id[-4:]), **fields)
    return TokenRecord(info, digest_of(token_id + secrets.token_hex(4)))


@pytest.fixture(params=["memory", "sqlite", "postgresql", "mariadb"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(backend: str, request: pytest.FixtureRequest) -> Iterator[Callable[[], Store]]:
    """Stores on one fresh database (several instances act like several processes)."""
    url = None if backend == "memory" else request.getfixturevalue(URL_FIXTURES[backend])
    made: list[Store] = []

    def make() -> Store:
        store: Store = MemoryStore() if url is None else SQLAlchemyStore(url)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_store: Callable[[], Store]) -> Store:
    return make_store()


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def guard(store: Store, clock: Clock) -> TokenGuard:
    # No verification cache: every authentication is a look-up in the store under test.
    return TokenGuard(store, secret_key=KEY, max_tokens_per_owner=LIMIT, clock=clock,
                      load_entry_points=False, cache_ttl=None)


def assert_utc(*values: datetime | None) -> None:
    for value in values:
        if value is not None:
            assert value.utcoffset() == timedelta(0), value


# -- the store ------------------------------------------------------------------------------


def test_insert_then_get_and_find_return_every_field(store: Store) -> None:
    record = make_record(
        "full-record", scopes=frozenset({"read", "write"}), projects=frozenset({"alpha", "b/c.d"}),
        admin=True, expires_at=START + timedelta(days=30, microseconds=1),
        last_used_at=START + timedelta(seconds=5, microseconds=999_999),
        revoked_at=START + timedelta(minutes=7), parent_id="parent-1", name="CI pipeline",
    )
    store.insert(record, limit=None, now=START)

    for found in (store.get("full-record"), store.find(record.digest)):
        assert found == record
        assert found is not None
        info = found.info
        assert (info.scopes, info.projects, info.admin) == (record.info.scopes, record.info.projects, True)
        assert info.expires_at == START + timedelta(days=30, microseconds=1)
        assert info.last_used_at is not None and info.last_used_at.microsecond == (123456 + 999_999) % 10**6
        assert_utc(info.created_at, info.expires_at, info.last_used_at, info.revoked_at)


def test_unknown_id_or_digest_is_none(store: Store) -> None:
    store.insert(make_record("known"), limit=None, now=START)
    assert store.get("unknown") is None
    assert store.find(digest_of("unknown")) is None


def test_list_is_oldest_first_then_by_id_and_filters_by_owner(store: Store) -> None:
    later = START + timedelta(microseconds=1)
    for token_id, owner, created in [("c-late", "alice", later), ("b-first", "alice", START),
                                     ("a-late", "alice", later), ("z-bob", "bob", START)]:
        store.insert(make_record(token_id, owner, created_at=created), limit=None, now=START)

    assert [r.info.id for r in store.list("alice")] == ["b-first", "a-late", "c-late"]
    assert [r.info.id for r in store.list()] == ["b-first", "z-bob", "a-late", "c-late"]
    assert store.list("nobody") == []


def test_owners_differing_only_in_case_or_accent_are_different_people(store: Store) -> None:
    for token_id, owner in [("lower", "alice"), ("upper", "Alice"), ("accent", "alicé")]:
        store.insert(make_record(token_id, owner), limit=1, now=START)

    assert [r.info.id for r in store.list("alice")] == ["lower"]
    assert store.revoke_owner("alice", START) == ["lower"]
    assert store.get("upper").info.revoked_at is None  # type: ignore[union-attr]
    assert store.get("accent").info.revoked_at is None  # type: ignore[union-attr]


def test_update_changes_each_field_and_nothing_else(store: Store) -> None:
    record = make_record("to-change", projects=frozenset({"alpha"}))
    store.insert(record, limit=None, now=START)
    new_digest = digest_of("rotated")
    steps: list[TokenChanges] = [
        {"name": "renamed ✨"},
        {"projects": frozenset({"beta", "gamma"})},
        {"projects": frozenset()},
        {"revoked_at": START + timedelta(hours=1, microseconds=42)},
        {"revoked_at": None},
        {"expires_at": START + timedelta(days=2, microseconds=7)},
        {"expires_at": None},
        {"digest": new_digest, "hint": "tg_…NEW1"},
    ]
    expected = record
    for changes in steps:
        info_changes = {k: v for k, v in changes.items() if k != "digest"}
        expected = TokenRecord(dataclasses.replace(expected.info, **info_changes),  # type: ignore[arg-type]
                               changes.get("digest", expected.digest))
        assert store.update("to-change", changes) == expected, changes
        assert store.get("to-change") == expected
        assert store.find(expected.digest) == expected
    assert store.find(record.digest) is None  # the old digest no longer finds it
    assert store.update("to-change", {}) == expected


def test_update_of_an_unknown_id_is_none(store: Store) -> None:
    assert store.update("ghost", {"name": "x"}) is None
    assert store.list() == []


def test_delete_returns_the_record_and_forgets_it(store: Store) -> None:
    record = make_record("doomed")
    store.insert(record, limit=None, now=START)
    store.insert(make_record("kept"), limit=None, now=START)

    assert store.delete("doomed") == record
    assert store.get("doomed") is None
    assert store.find(record.digest) is None
    assert [r.info.id for r in store.list()] == ["kept"]
    assert store.delete("doomed") is None


def test_revoke_owner_revokes_only_the_owners_unrevoked_tokens(store: Store) -> None:
    earlier = START - timedelta(days=1)
    store.insert(make_record("a1"), limit=None, now=START)
    store.insert(make_record("a2", revoked_at=earlier), limit=None, now=START)
    store.insert(make_record("a3"), limit=None, now=START)
    store.insert(make_record("b1", "bob"), limit=None, now=START)
    at = START + timedelta(minutes=3, microseconds=3)

    assert sorted(store.revoke_owner("alice", at)) == ["a1", "a3"]
    revoked = {r.info.id: r.info.revoked_at for r in store.list()}
    assert revoked == {"a1": at, "a2": earlier, "a3": at, "b1": None}
    assert list(store.revoke_owner("alice", at)) == []
    assert list(store.revoke_owner("nobody", at)) == []


def test_touch_records_the_last_use(store: Store) -> None:
    record = make_record("used")
    store.insert(record, limit=None, now=START)
    at = START + timedelta(seconds=90, microseconds=1)

    store.touch("used", at)
    store.touch("ghost", at)  # an unknown id is no error

    found = store.find(record.digest)
    assert found is not None and found.info.last_used_at == at
    assert_utc(found.info.last_used_at)
    assert found.info.name == record.info.name and found.info.revoked_at is None


def test_a_taken_id_is_a_conflict_even_for_another_owner(store: Store) -> None:
    original = make_record("same-id")
    store.insert(original, limit=None, now=START)

    with pytest.raises(TokenIdConflict) as caught:
        store.insert(make_record("same-id", "bob"), limit=None, now=START)
    assert caught.value.token_id == "same-id"
    with pytest.raises(TokenIdConflict):
        store.insert(make_record("same-id", "alice"), limit=5, now=START)
    assert store.list() == [original]


def test_a_taken_id_is_a_conflict_before_the_limit_is_counted(store: Store) -> None:
    """At the limit, the same record sent again (a form resent) is a conflict on every store."""
    for index in range(2):
        store.insert(make_record(f"a{index}"), limit=2, now=START)
    with pytest.raises(TokenIdConflict):
        store.insert(make_record("a1"), limit=2, now=START)
    with pytest.raises(TokenLimitExceeded):
        store.insert(make_record("a-new"), limit=2, now=START)


def test_the_limit_counts_per_owner(store: Store) -> None:
    for index in range(3):
        store.insert(make_record(f"a{index}"), limit=3, now=START)
    with pytest.raises(TokenLimitExceeded) as caught:
        store.insert(make_record("a-too-many"), limit=3, now=START)
    assert (caught.value.owner, caught.value.limit) == ("alice", 3)

    store.insert(make_record("b0", "bob"), limit=3, now=START)  # another owner: own count
    store.insert(make_record("a-unlimited"), limit=None, now=START)
    store.delete("a0")
    with pytest.raises(TokenLimitExceeded):  # 4 live after the unlimited insert
        store.insert(make_record("a-again"), limit=3, now=START)
    assert store.get("a-too-many") is None and store.get("a-again") is None


def test_expired_tokens_free_their_slot_but_revoked_ones_do_not(store: Store) -> None:
    store.insert(make_record("revoked", revoked_at=START), limit=2, now=START)
    store.insert(make_record("expired", expires_at=START - timedelta(microseconds=1)), limit=2, now=START)
    store.insert(make_record("expiring-now", expires_at=START), limit=2, now=START)
    store.insert(make_record("live", expires_at=START + timedelta(microseconds=1)), limit=2, now=START)

    with pytest.raises(TokenLimitExceeded):
        store.insert(make_record("third"), limit=2, now=START)
    later = START + timedelta(microseconds=1)  # "live" expires now as well
    store.insert(make_record("third"), limit=2, now=later)


def test_datetimes_round_trip_as_aware_utc_to_the_microsecond(store: Store) -> None:
    moments = [datetime(2031, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
               datetime(2031, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
               datetime(2099, 6, 15, 12, 30, 45, 500_000, tzinfo=UTC)]
    for index, moment in enumerate(moments):
        store.insert(make_record(f"t{index}", created_at=moment, expires_at=moment + timedelta(days=1),
                                 last_used_at=moment, revoked_at=moment), limit=None, now=START)
    for index, moment in enumerate(moments):
        info = store.get(f"t{index}").info  # type: ignore[union-attr]
        assert (info.created_at, info.last_used_at, info.revoked_at) == (moment, moment, moment)
        assert info.expires_at == moment + timedelta(days=1)
        assert info.created_at.microsecond == moment.microsecond
        assert_utc(info.created_at, info.expires_at, info.last_used_at, info.revoked_at)


@pytest.mark.parametrize("name", ["🔑 deploy 🚀", "中文令牌名称", "ユーザーのトークン", "Ünïcödé ñ ß",
                                  "\U0001d518\U0001d52b\U0001d526 (4-byte letters)", "🙂" * 100])
def test_unicode_names_and_owners_round_trip(store: Store, name: str) -> None:
    record = make_record("unicode", "利用者🙂", name=name)
    store.insert(record, limit=3, now=START)
    assert store.get("unicode") == record
    assert store.find(record.digest) == record
    assert store.list("利用者🙂") == [record]
    assert store.list("利用者") == []


def test_fifty_long_projects_round_trip(store: Store) -> None:
    projects = frozenset(f"p{index:02d}-" + "x" * 60 for index in range(50))
    record = make_record("many-projects", projects=projects)
    store.insert(record, limit=None, now=START)
    assert store.get("many-projects").info.projects == projects  # type: ignore[union-attr]


# -- the guard on each store ----------------------------------------------------------------


def test_guard_lifecycle(guard: TokenGuard, clock: Clock) -> None:
    issued = guard.create_token("alice", "déploiement 🚀", scopes=["write"], projects=["alpha"],
                                token_id="deploy")
    info = guard.authenticate(issued.token)
    assert (info.id, info.owner, info.name, info.hint) == ("deploy", "alice", "déploiement 🚀",
                                                           issued.info.hint)
    assert info.has_scope("read") and info.projects == {"alpha"}
    assert guard.get_token("deploy").last_used_at == START

    assert guard.update_token("deploy", name="renamed", projects=["beta"]).projects == {"beta"}
    guard.revoke("deploy")
    with pytest.raises(RevokedToken):
        guard.authenticate(issued.token)
    guard.reapprove("deploy")
    assert guard.authenticate(issued.token).name == "renamed"

    rotated = guard.rotate("deploy")
    with pytest.raises(InvalidToken):
        guard.authenticate(issued.token)
    assert guard.authenticate(rotated.token).id == "deploy"

    guard.delete("deploy")
    with pytest.raises(InvalidToken):
        guard.authenticate(rotated.token)
    with pytest.raises(TokenNotFound):
        guard.get_token("deploy")


def test_guard_records_a_use_at_most_once_a_minute(guard: TokenGuard, clock: Clock) -> None:
    issued = guard.create_token("alice", "ci")
    guard.authenticate(issued.token)
    clock.advance(seconds=59)
    guard.authenticate(issued.token)
    assert guard.get_token(issued.info.id).last_used_at == START
    clock.advance(seconds=1)
    guard.authenticate(issued.token)
    assert guard.get_token(issued.info.id).last_used_at == START + timedelta(seconds=60)


def test_guard_expiry_and_limit(guard: TokenGuard, clock: Clock) -> None:
    short = guard.create_token("alice", "short", expires_in=timedelta(hours=1))
    for index in range(LIMIT - 1):
        guard.create_token("alice", f"token {index}")
    with pytest.raises(TokenLimitExceeded):
        guard.create_token("alice", "one too many")
    with pytest.raises(TokenIdConflict):
        guard.create_token("bob", "taken id", token_id=short.info.id)

    clock.advance(hours=1)
    with pytest.raises(ExpiredToken):
        guard.authenticate(short.token)
    guard.create_token("alice", "fits again: the expired one no longer counts")
    assert len(guard.list_tokens("alice")) == LIMIT + 1


def test_guard_revoke_owner(guard: TokenGuard) -> None:
    alice = [guard.create_token("alice", f"a{index}") for index in range(3)]
    bob = guard.create_token("bob", "b")
    guard.revoke(alice[0].info.id)

    assert guard.revoke_owner("alice") == 2
    for issued in alice:
        with pytest.raises(RevokedToken):
            guard.authenticate(issued.token)
    assert guard.authenticate(bob.token).owner == "bob"
    assert {info.status for info in guard.list_tokens("alice")} == {"revoked"}


# -- the limit under concurrency -------------------------------------------------------------


def race_creators(guard: TokenGuard, creators: int, owner: str = "racer") -> dict[str, Any]:
    """``creators`` threads create a token for ``owner`` at the same instant."""
    barrier = threading.Barrier(creators)
    lock = threading.Lock()
    outcome: dict[str, Any] = {"created": 0, "limited": 0, "errors": []}

    def create(index: int) -> None:
        barrier.wait(timeout=30)
        try:
            guard.create_token(owner, f"racer {index}")
            key = "created"
        except TokenLimitExceeded:
            key = "limited"
        except Exception as exc:  # reported, so a failure says what went wrong
            with lock:
                outcome["errors"].append(repr(exc))
            return
        with lock:
            outcome[key] += 1

    threads = [threading.Thread(target=create, args=(index,)) for index in range(creators)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return outcome


def test_twenty_concurrent_creators_get_exactly_the_limit(guard: TokenGuard, store: Store) -> None:
    outcome = race_creators(guard, 20)
    assert outcome == {"created": LIMIT, "limited": 20 - LIMIT, "errors": []}
    assert len(store.list("racer")) == LIMIT


def create_in_process(url: str, start: Any, results: Any, creators: int) -> None:
    """Runs in a spawned process: its own store and guard, ``creators`` threads."""
    store = SQLAlchemyStore(url)
    try:
        guard = TokenGuard(store, secret_key=KEY, max_tokens_per_owner=LIMIT, load_entry_points=False)
        store.list("racer")  # connected, schema checked: the race starts together
        start.wait(timeout=60)
        results.put(race_creators(guard, creators))
    finally:
        store.close()


@pytest.mark.parametrize("sql_backend", ["sqlite", "postgresql", "mariadb"])
def test_two_processes_of_ten_creators_get_exactly_the_limit(
    sql_backend: str, request: pytest.FixtureRequest,
) -> None:
    url = request.getfixturevalue(URL_FIXTURES[sql_backend])
    store = SQLAlchemyStore(url)
    store.list()  # the schema exists before the race
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    processes = [context.Process(target=create_in_process, args=(url, start, results, 10))
                 for _ in range(2)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    assert [o["errors"] for o in outcomes] == [[], []]
    assert sum(o["created"] for o in outcomes) == LIMIT
    assert sum(o["limited"] for o in outcomes) == 20 - LIMIT
    assert len(store.list("racer")) == LIMIT
    store.close()


def test_a_reader_never_sees_an_owner_half_revoked(store: Store) -> None:
    """``revoke_owner`` is all at once for concurrent readers too, on every store."""
    count = 600
    for index in range(count):
        store.insert(make_record(f"t{index:04d}"), limit=None, now=START)
    partial: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            records = store.list("alice")
            revoked = sum(r.info.revoked_at is not None for r in records)
            if 0 < revoked < len(records):
                partial.append(revoked)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can: a gap would show
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert len(store.revoke_owner("alice", START)) == count
    finally:
        done.set()
        watcher.join(timeout=30)
        sys.setswitchinterval(interval)
    assert partial == []
    assert all(r.info.revoked_at is not None for r in store.list("alice"))


# -- round 2: descriptions, networks, last use from where, rotation grace ---------------------


def test_round_two_fields_round_trip(store: Store) -> None:
    valid_until = START + timedelta(hours=24, microseconds=5)
    info = make_record("round-two").info
    record = TokenRecord(
        dataclasses.replace(info, description="deploys the 🚀 app to production",
                            allowed_networks=frozenset({"203.0.113.0/24", "2001:db8::/32"}),
                            last_used_at=START, last_used_ip="2001:db8::7", last_used_agent="curl/8.5"),
        digest_of("current"), previous_digest=digest_of("previous"), previous_valid_until=valid_until)
    store.insert(record, limit=None, now=START)

    for found in (store.get("round-two"), store.find(record.digest), store.find(digest_of("previous"))):
        assert found == record
        assert found is not None and found.previous_valid_until == valid_until
        assert_utc(found.previous_valid_until)
    assert store.list() == [record]


def test_update_changes_the_round_two_fields(store: Store) -> None:
    record = make_record("to-change")
    store.insert(record, limit=None, now=START)
    until = START + timedelta(hours=1, microseconds=3)
    steps: list[TokenChanges] = [
        {"description": "what it is for"},
        {"allowed_networks": frozenset({"10.0.0.0/8", "::1/128"})},
        {"allowed_networks": frozenset()},
        {"digest": digest_of("new"), "hint": "tg_…NEW2", "previous_digest": record.digest,
         "previous_valid_until": until},
    ]
    expected = record
    for changes in steps:
        info_changes = {k: v for k, v in changes.items()
                        if k not in ("digest", "previous_digest", "previous_valid_until")}
        expected = TokenRecord(
            dataclasses.replace(expected.info, **info_changes),  # type: ignore[arg-type]
            changes.get("digest", expected.digest),
            changes.get("previous_digest", expected.previous_digest),  # type: ignore[arg-type]
            changes.get("previous_valid_until", expected.previous_valid_until))  # type: ignore[arg-type]
        assert store.update("to-change", changes) == expected, changes
        assert store.get("to-change") == expected
    assert store.find(digest_of("new")) == expected
    assert store.find(record.digest) == expected  # the old secret's digest, while kept

    cleared = store.update("to-change", {"previous_digest": None, "previous_valid_until": None})
    assert cleared is not None and (cleared.previous_digest, cleared.previous_valid_until) == (None, None)
    assert store.find(record.digest) is None
    assert store.find(digest_of("new")) == cleared


def test_find_prefers_the_current_digest(store: Store) -> None:
    """A digest that is one token's current and another's previous finds the current one."""
    shared = digest_of("shared")
    old = TokenRecord(make_record("old").info, digest_of("old-now"), previous_digest=shared,
                      previous_valid_until=START)
    current = TokenRecord(make_record("current").info, shared)
    store.insert(old, limit=None, now=START)
    store.insert(current, limit=None, now=START)
    assert store.find(shared) == current


def test_touch_records_where_from(store: Store) -> None:
    record = make_record("used")
    store.insert(record, limit=None, now=START)
    at = START + timedelta(minutes=2)

    store.touch("used", at, ip="203.0.113.9", agent="Mozilla/5.0 (X11) " + "é" * 100)
    info = store.get("used").info  # type: ignore[union-attr]
    assert (info.last_used_at, info.last_used_ip, info.last_used_agent) == (
        at, "203.0.113.9", "Mozilla/5.0 (X11) " + "é" * 100)

    store.touch("used", at + timedelta(minutes=1))  # from nowhere known: nothing kept of before
    info = store.get("used").info  # type: ignore[union-attr]
    assert (info.last_used_ip, info.last_used_agent) == (None, None)


# -- round 2: owners ---------------------------------------------------------------------------


def test_deactivating_an_owner_revokes_their_tokens_and_keeps_them_out(store: Store) -> None:
    store.insert(make_record("a1"), limit=None, now=START)
    store.insert(make_record("a2", revoked_at=START - timedelta(days=1)), limit=None, now=START)
    store.insert(make_record("b1", "bob"), limit=None, now=START)
    assert store.get_owner("alice") is None or store.get_owner("alice") == OwnerState("alice")
    at = START + timedelta(minutes=1, microseconds=7)

    assert list(store.deactivate_owner("alice", at, "admin")) == ["a1"]

    assert store.get_owner("alice") == OwnerState("alice", False, at, "admin")
    assert_utc(store.get_owner("alice").deactivated_at)  # type: ignore[union-attr]
    assert store.get("a1").info.revoked_at == at  # type: ignore[union-attr]
    assert store.get("b1").info.revoked_at is None  # type: ignore[union-attr]
    with pytest.raises(OwnerInactive):
        store.insert(make_record("a3"), limit=None, now=START)
    with pytest.raises(OwnerInactive):
        store.insert(make_record("a4"), limit=5, now=START)
    store.insert(make_record("b2", "bob"), limit=5, now=START)

    later = at + timedelta(hours=1)  # again: the first deactivation is kept
    assert list(store.deactivate_owner("alice", later, "someone else")) == []
    assert store.get_owner("alice") == OwnerState("alice", False, at, "admin")

    assert store.reactivate_owner("alice") is True
    assert store.get_owner("alice") == OwnerState("alice")
    assert store.reactivate_owner("alice") is False
    assert store.get("a1").info.revoked_at == at  # type: ignore[union-attr]  # nothing revived
    store.insert(make_record("a3"), limit=5, now=START)
    assert store.get("a3") is not None


def test_an_owner_with_no_token_can_be_deactivated(store: Store) -> None:
    assert list(store.deactivate_owner("nobody-yet", START, None)) == []
    assert store.get_owner("nobody-yet") == OwnerState("nobody-yet", False, START, None)
    with pytest.raises(OwnerInactive):
        store.insert(make_record("first", "nobody-yet"), limit=None, now=START)
    assert store.reactivate_owner("never-seen") is False


def test_no_insert_slips_in_beside_a_deactivation(store: Store) -> None:
    """Creators racing a deactivation: every token they made is revoked, or none was made after."""
    creators = 8
    barrier = threading.Barrier(creators + 1)
    made: list[str] = []
    errors: list[str] = []

    def create(index: int) -> None:
        barrier.wait(timeout=30)
        for attempt in range(5):
            try:
                store.insert(make_record(f"c{index}-{attempt}"), limit=None, now=START)
                made.append(f"c{index}-{attempt}")
            except OwnerInactive:
                return
            except Exception as exc:
                errors.append(repr(exc))
                return

    threads = [threading.Thread(target=create, args=(index,)) for index in range(creators)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=30)
    revoked = set(store.deactivate_owner("alice", START, "admin"))
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert set(made) == revoked  # every token made before the deactivation, revoked by it
    assert all(r.info.revoked_at is not None for r in store.list("alice"))


# -- round 2: expiry and stale tokens ----------------------------------------------------------


def test_expiring_finds_live_tokens_expiring_within_the_window(store: Store) -> None:
    until = START + timedelta(days=7)
    for token_id, owner, expires, revoked in [
        ("soon", "alice", START + timedelta(days=1), None), ("edge", "alice", until, None),
        ("later", "alice", until + timedelta(microseconds=1), None),
        ("past", "alice", START, None), ("never", "alice", None, None),
        ("revoked", "alice", START + timedelta(days=2), START),
        ("bob", "bob", START + timedelta(hours=1), None),
    ]:
        record = make_record(token_id, owner, expires_at=expires, revoked_at=revoked)
        store.insert(record, limit=None, now=START)

    assert [r.info.id for r in store.expiring(START, until)] == ["bob", "soon", "edge"]
    assert [r.info.id for r in store.expiring(START, until, "alice")] == ["soon", "edge"]
    assert list(store.expiring(START, until, "nobody")) == []


def test_unused_finds_live_tokens_last_seen_before(store: Store) -> None:
    before = START - timedelta(days=90)
    old, recent = before - timedelta(days=1), before + timedelta(days=1)
    for token_id, owner, created, used, extra in [
        ("used-long-ago", "alice", old - timedelta(days=5), old, {}),
        ("never-used-old", "alice", old, None, {}),
        ("used-recently", "alice", old, recent, {}),
        ("new-never-used", "alice", recent, None, {}),
        ("at-the-cutoff", "alice", before, None, {}),
        ("revoked", "alice", old, None, {"revoked_at": START}),
        ("expired", "alice", old, None, {"expires_at": START}),
        ("expiring-later", "alice", old, None, {"expires_at": START + timedelta(days=1)}),
        ("bob-old", "bob", old - timedelta(days=2), None, {}),
    ]:
        store.insert(make_record(token_id, owner, created_at=created, last_used_at=used, **extra),
                     limit=None, now=START)

    found = [r.info.id for r in store.unused(START, before)]
    assert found == ["bob-old", "expiring-later", "never-used-old", "used-long-ago"]
    assert [r.info.id for r in store.unused(START, before, "alice")] == [
        "expiring-later", "never-used-old", "used-long-ago"]


def test_a_reminder_is_claimed_once_per_token_threshold_and_expiry(store: Store) -> None:
    store.insert(make_record("t"), limit=None, now=START)
    expiry = START + timedelta(days=7)

    assert store.claim_reminder("t", 7, expiry) is True
    assert store.claim_reminder("t", 7, expiry) is False
    assert store.claim_reminder("t", 1, expiry) is True
    moved = expiry + timedelta(days=30)  # a rotation gave it a new lifetime
    assert store.claim_reminder("t", 7, moved) is True
    assert store.claim_reminder("t", 7, moved) is False

    store.delete("t")  # a new token that takes the id is reminded afresh
    store.insert(make_record("t"), limit=None, now=START)
    assert store.claim_reminder("t", 7, moved) is True


def test_concurrent_claims_of_one_reminder_have_one_winner(store: Store) -> None:
    store.insert(make_record("t"), limit=None, now=START)
    barrier = threading.Barrier(8)
    wins: list[bool] = []

    def claim() -> None:
        barrier.wait(timeout=30)
        wins.append(store.claim_reminder("t", 7, START + timedelta(days=7)))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(wins) == [False] * 7 + [True]


# -- round 2 through the guard on each store ---------------------------------------------------


def test_guard_round_two_on_the_store(guard: TokenGuard, clock: Clock) -> None:
    issued = guard.create_token("alice", "ci", description="nightly builds",
                                allowed_networks=["203.0.113.0/24"], expires_in=timedelta(days=5))
    info = guard.authenticate(issued.token, remote="203.0.113.5", agent="ci-runner/2")
    assert (info.description, info.allowed_networks) == ("nightly builds", {"203.0.113.0/24"})
    stored = guard.get_token(issued.info.id)
    assert (stored.last_used_ip, stored.last_used_agent) == ("203.0.113.5", "ci-runner/2")
    with pytest.raises(InvalidToken):
        guard.authenticate(issued.token, remote="198.51.100.1")

    rotated = guard.rotate(issued.info.id, grace=timedelta(hours=1))
    assert guard.authenticate(issued.token, remote="203.0.113.5").id == issued.info.id
    assert guard.authenticate(rotated.token, remote="203.0.113.5").id == issued.info.id
    clock.advance(hours=1)
    with pytest.raises(InvalidToken):
        guard.authenticate(issued.token, remote="203.0.113.5")
    assert guard.authenticate(rotated.token, remote="203.0.113.5").id == issued.info.id

    assert [i.id for i in guard.expiring(timedelta(days=7))] == [issued.info.id]
    assert guard.remind() == 1 and guard.remind() == 0
    assert guard.deactivate_owner("alice", actor="admin") == 1
    with pytest.raises(RevokedToken):
        guard.authenticate(rotated.token, remote="203.0.113.5")
    with pytest.raises(OwnerInactive):
        guard.create_token("alice", "refused")
    guard.reactivate_owner("alice")
    assert guard.create_token("alice", "welcome back").info.status == "active"
