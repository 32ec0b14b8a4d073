"""Items 11 and 21: after revoke() returns, no request is accepted beyond the documented bound.

Eight workers authenticate the same token in a loop while it is revoked (or
rotated, deleted, its owner disabled). In the revoking process the bound is
zero: the guard drops its cached state before ``revoke`` returns. In another
process the bound is the cache's documented time-to-live.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _security_helpers import SECRET, backend_url, cross_process_bound
from _soak import Attempt, SoakLog, run_workers

from tokenguard import TokenGuard

WORKERS = 8
BEFORE, AFTER = 0.35, 0.35
CHILD_TTL = 1.0
#: A look-up in flight when the revoke commits is cached from when it returns: allow for it.
READ_IN_FLIGHT = 0.1
SOAK_SCRIPT = Path(__file__).with_name("_soak.py")


def soak_in_process(guard: TokenGuard, token: str, action: Callable[[], object]) -> tuple[SoakLog, float]:
    log, stop = SoakLog(), threading.Event()
    threads = run_workers(lambda: guard.authenticate(token), WORKERS, stop, log)
    time.sleep(BEFORE)
    action()
    returned = time.monotonic()
    time.sleep(AFTER)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    return log, returned


def check(log: SoakLog, returned: float, bound: float) -> None:
    assert log.errors() == []
    assert log.count("accepted", before=returned) > 0, "the soak never overlapped the revoke"
    late = log.accepted_after(returned + bound)
    assert late == [], f"{len(late)} requests accepted more than {bound}s after revoke returned"
    assert log.count("refused", after=returned + bound) > 0


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
def test_revoke_while_in_use_in_the_same_process(backend: str, request: pytest.FixtureRequest) -> None:
    guard = TokenGuard(backend_url(request, backend), secret_key=SECRET, load_entry_points=False)
    issued = guard.create_token("alice", "soak")
    log, returned = soak_in_process(guard, issued.token, lambda: guard.revoke(issued.info.id))
    check(log, returned, bound=0.0)
    guard.close()


@pytest.mark.parametrize("action", ["rotate", "delete", "revoke_owner", "revoke_by_value"])
def test_every_way_of_killing_a_token_holds_while_in_use(action: str, sqlite_url: str) -> None:
    guard = TokenGuard(sqlite_url, secret_key=SECRET, load_entry_points=False)
    issued = guard.create_token("alice", "soak")
    kill = {
        "rotate": lambda: guard.rotate(issued.info.id),
        "delete": lambda: guard.delete(issued.info.id),
        "revoke_owner": lambda: guard.revoke_owner("alice"),
        "revoke_by_value": lambda: guard.revoke_by_value(issued.token),
    }[action]
    log, returned = soak_in_process(guard, issued.token, kill)
    check(log, returned, bound=0.0)
    guard.close()


def _start_child(
    url: str, token: str, workers: int, seconds: float, ttl: float, *extra: str,
) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, str(SOAK_SCRIPT), url, SECRET, token, str(workers), str(seconds), str(ttl),
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    return child


def _wait_ready(child: subprocess.Popen[str]) -> None:
    assert child.stdout is not None
    first = child.stdout.readline().strip()
    assert first == "ready", child.stderr.read() if child.stderr else first


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_revoke_in_one_process_is_refused_in_others_within_the_bound(
    backend: str, request: pytest.FixtureRequest,
) -> None:
    url = backend_url(request, backend)
    # The workers' guards cache verified tokens for CHILD_TTL seconds: the documented bound.
    admin = TokenGuard(url, secret_key=SECRET, load_entry_points=False, cache_ttl=CHILD_TTL)
    issued = admin.create_token("alice", "soak")
    bound = cross_process_bound(admin)
    assert bound == CHILD_TTL
    run_for = BEFORE + bound + AFTER + 1.0
    children = [_start_child(url, issued.token, WORKERS // 2, run_for, bound) for _ in range(2)]
    for child in children:
        _wait_ready(child)
    time.sleep(BEFORE)
    admin.revoke(issued.info.id)
    returned = time.monotonic()
    log = SoakLog()
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        log.add([Attempt(*json.loads(line)) for line in out.splitlines() if line.startswith("[")])
    check(log, returned, bound + READ_IN_FLIGHT)
    admin.close()


#: With Redis invalidation the bound is the pub/sub latency, not the cache TTL.
REDIS_BOUND = 0.25
LONG_TTL = 30.0


@pytest.mark.slow
def test_with_redis_invalidation_other_processes_refuse_at_once(postgres_url: str, redis_url: str) -> None:
    admin = TokenGuard(postgres_url, secret_key=SECRET, load_entry_points=False, cache_ttl=LONG_TTL,
                       invalidation=redis_url)
    issued = admin.create_token("alice", "soak")
    run_for = BEFORE + REDIS_BOUND + AFTER + 1.0
    children = [_start_child(postgres_url, issued.token, WORKERS // 2, run_for, LONG_TTL, redis_url)
                for _ in range(2)]
    for child in children:
        _wait_ready(child)
    time.sleep(BEFORE + 0.3)   # subscribers connected; the children's caches are warm
    admin.revoke(issued.info.id)
    returned = time.monotonic()
    log = SoakLog()
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        log.add([Attempt(*json.loads(line)) for line in out.splitlines() if line.startswith("[")])
    # Without the message the children would accept for LONG_TTL seconds more.
    check(log, returned, REDIS_BOUND)
    admin.close()
