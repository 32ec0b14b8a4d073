"""Item 20 over HTTP: 20 browsers create at once against a limit of 5, on PostgreSQL and MariaDB."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from _security_helpers import SECRET, backend_url
from _servers import ADAPTERS, API, serve, signed_in

from tokenguard import TokenGuard

LIMIT, CREATORS = 5, 20


@pytest.mark.parametrize("backend", ["postgres", "mariadb"])
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_twenty_concurrent_creates_over_http_give_exactly_the_limit(
    adapter: str, backend: str, request: pytest.FixtureRequest,
) -> None:
    guard = TokenGuard(backend_url(request, backend), secret_key=SECRET, load_entry_points=False,
                       max_tokens_per_owner=LIMIT)
    guard.list_tokens("alice")   # the schema exists before the race
    with serve(adapter, guard) as url:
        sessions = [signed_in(url) for _ in range(CREATORS)]
        start = threading.Barrier(CREATORS)
        statuses: Counter[int] = Counter()
        lock = threading.Lock()

        def create(n: int) -> None:
            client, headers = sessions[n]
            start.wait(timeout=30)
            status = client.post(API, json={"name": f"racer {n}"}, headers=headers).status_code
            with lock:
                statuses[status] += 1

        threads = [threading.Thread(target=create, args=(n,)) for n in range(CREATORS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        for client, _ in sessions:
            client.close()
    assert not any(t.is_alive() for t in threads)
    assert statuses == {201: LIMIT, 409: CREATORS - LIMIT}
    assert len(guard.list_tokens("alice")) == LIMIT
    guard.close()
