"""DjangoStore's Round 2 part of the Store protocol, on the three databases.

(Owners' deactivation, rotation grace, the last client, expiring/unused look-ups and
reminders.) Skipped with a core that predates them; once the store-contract suite
covers them, it runs them here too (test_django_store_contract.py).
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pytest

from test_store_contract import digest_of, make_record
from tokenguard import errors, models
from tokenguard_django.store import DjangoStore

pytestmark = pytest.mark.skipif(not hasattr(models, "OwnerState"), reason="the core predates Round 2")
START = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


@pytest.fixture
def store(database: str) -> DjangoStore:
    return DjangoStore(using=database)


def test_a_deactivated_owner_gets_no_token_until_reactivated(store: DjangoStore) -> None:
    store.insert(make_record("a1"), limit=None, now=START)
    store.insert(make_record("b1", "bob"), limit=None, now=START)
    assert store.get_owner("alice") is not None and store.get_owner("nobody") is None

    assert list(store.deactivate_owner("alice", START, "admin:1")) == ["a1"]
    state = store.get_owner("alice")
    assert state is not None and (state.active, state.deactivated_at, state.deactivated_by) == (
        False, START, "admin:1")
    with pytest.raises(errors.OwnerInactive):  # type: ignore[attr-defined]
        store.insert(make_record("a2"), limit=5, now=START)
    assert store.get("b1").info.revoked_at is None  # type: ignore[union-attr]

    later = START + timedelta(hours=1)
    store.deactivate_owner("alice", later, "admin:2")  # the first deactivation stays on record
    state = store.get_owner("alice")
    assert state is not None and (state.deactivated_at, state.deactivated_by) == (START, "admin:1")

    assert store.reactivate_owner("alice") is True
    assert store.reactivate_owner("alice") is False
    assert store.get("a1").info.revoked_at == START  # type: ignore[union-attr]  # nothing revived
    store.insert(make_record("a2"), limit=5, now=START)


def test_no_creator_slips_in_beside_a_deactivation(store: DjangoStore) -> None:
    barrier = threading.Barrier(11)
    refused: list[str] = []

    def create(index: int) -> None:
        barrier.wait(timeout=30)
        try:
            store.insert(make_record(f"r{index}"), limit=None, now=START)
        except errors.OwnerInactive:  # type: ignore[attr-defined]
            refused.append(str(index))

    def deactivate() -> None:
        barrier.wait(timeout=30)
        store.deactivate_owner("alice", START, None)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(10)]
    threads.append(threading.Thread(target=deactivate))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    records = store.list("alice")
    assert len(records) + len(refused) == 10
    assert all(r.info.revoked_at is not None for r in records)  # created before, revoked with it


def test_the_replaced_digest_finds_the_token_during_its_grace(store: DjangoStore) -> None:
    record = make_record("rotated")
    store.insert(record, limit=None, now=START)
    old, new = record.digest, digest_of("new secret")
    until = START + timedelta(hours=24)
    changes = {"digest": new, "previous_digest": old, "previous_valid_until": until}
    changed = store.update("rotated", changes)  # type: ignore[arg-type]
    assert changed is not None and changed.previous_digest == old  # type: ignore[attr-defined]
    for digest in (new, old):
        found = store.find(digest)
        assert found is not None and found.digest == new
        assert found.previous_valid_until == until  # type: ignore[attr-defined]


def test_find_gives_the_record_the_orm_reads(store: DjangoStore) -> None:
    # find runs its compiled query; get builds its own through the ORM: the same values, of the same types
    record = make_record("every-field", admin=True, projects=frozenset({"apollo", "gemini"}),
                         expires_at=START + timedelta(days=3), last_used_at=START + timedelta(hours=1),
                         description="deploys ☁", allowed_networks=frozenset({"10.0.0.0/8"}),  # type: ignore[arg-type]
                         last_used_ip="203.0.113.9", last_used_agent="curl/8.5")  # type: ignore[arg-type]
    store.insert(record, limit=None, now=START)
    store.insert(make_record("other"), limit=None, now=START)
    found, read = store.find(record.digest), store.get("every-field")
    assert found == read == record
    assert found is not None and read is not None
    pairs = list(zip(dataclasses.astuple(found.info), dataclasses.astuple(read.info), strict=True))
    assert [type(a) for a, _ in pairs] == [type(b) for _, b in pairs]
    assert found.info.admin is True and found.info.expires_at is not None
    assert found.info.expires_at.utcoffset() == timedelta(0)
    assert store.find(digest_of("never issued")) is None
    assert store.find("") is None


def test_touch_records_the_client(store: DjangoStore) -> None:
    store.insert(make_record("used"), limit=None, now=START)
    store.touch("used", START, ip="203.0.113.9", agent="curl/8.5 ✨")
    info = store.get("used").info  # type: ignore[union-attr]
    assert (info.last_used_at, info.last_used_ip, info.last_used_agent) == (  # type: ignore[attr-defined]
        START, "203.0.113.9", "curl/8.5 ✨")


def test_description_and_networks_round_trip(store: DjangoStore) -> None:
    record = make_record("described", description="deploys from CI ☁",  # type: ignore[arg-type]
                         allowed_networks=frozenset({"10.0.0.0/8", "2001:db8::/32"}))
    store.insert(record, limit=None, now=START)
    assert store.get("described") == record
    store.update("described", {"allowed_networks": frozenset(), "description": ""})  # type: ignore[typeddict-item]
    info = store.get("described").info  # type: ignore[union-attr]
    assert (info.allowed_networks, info.description) == (frozenset(), "")  # type: ignore[attr-defined]


def test_expiring_and_unused(store: DjangoStore) -> None:
    day = timedelta(days=1)
    store.insert(make_record("soon", expires_at=START + day), limit=None, now=START)
    store.insert(make_record("sooner", expires_at=START + day / 2), limit=None, now=START)
    store.insert(make_record("later", expires_at=START + 30 * day), limit=None, now=START)
    store.insert(make_record("gone", expires_at=START + day, revoked_at=START), limit=None, now=START)
    store.insert(make_record("bobs", "bob", expires_at=START + day), limit=None, now=START)
    store.insert(make_record("never-used", created_at=START - 100 * day), limit=None, now=START)
    store.insert(make_record("old-use", created_at=START - 200 * day,
                             last_used_at=START - 120 * day), limit=None, now=START)
    store.insert(make_record("fresh", created_at=START - 200 * day, last_used_at=START),
                 limit=None, now=START)

    assert [r.info.id for r in store.expiring(START, START + 7 * day)] == ["sooner", "bobs", "soon"]
    assert [r.info.id for r in store.expiring(START, START + 7 * day, "alice")] == ["sooner", "soon"]
    stale = [r.info.id for r in store.unused(START, START - 90 * day)]
    assert stale == ["old-use", "never-used"]


def test_a_reminder_is_claimed_once_per_expiry(store: DjangoStore) -> None:
    store.insert(make_record("t"), limit=None, now=START)
    expiry = START + timedelta(days=7)
    assert store.claim_reminder("t", 7, expiry) is True
    assert store.claim_reminder("t", 7, expiry) is False
    assert store.claim_reminder("t", 1, expiry) is True
    assert store.claim_reminder("t", 7, expiry + timedelta(days=30)) is True  # rotated: a new expiry
    store.delete("t")
    assert store.claim_reminder("t", 7, expiry) is True  # its reminders went with it


def test_one_of_many_concurrent_claimers_wins(store: DjangoStore) -> None:
    barrier = threading.Barrier(10)
    wins: list[bool] = []
    expiry = START + timedelta(days=7)

    def claim() -> None:
        barrier.wait(timeout=30)
        wins.append(store.claim_reminder("raced", 7, expiry))

    threads = [threading.Thread(target=claim) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(wins) == [False] * 9 + [True]
