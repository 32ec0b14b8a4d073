"""The per-owner limit across processes: two processes of ten creators each, on each database.

(The store-contract suite races twenty threads of one process on DjangoStore already.)
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable

import pytest
from _django_race_worker import create_in_process
from django.conf import settings

from tokenguard_django.store import DjangoStore

KEY = "django-race-secret-key-0123456789abcdefghij"
LIMIT = 5


@pytest.mark.parametrize("alias", ["default", "postgresql", "mariadb"])
def test_two_processes_of_ten_creators_get_exactly_the_limit(
    alias: str, use_database: Callable[[str], str],
) -> None:
    use_database(alias)
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    databases = {alias: dict(settings.DATABASES[alias])}
    if alias != "default":
        databases["default"] = dict(settings.DATABASES["default"])
    processes = [context.Process(target=create_in_process,
                                 args=(databases, alias, KEY, LIMIT, start, results, 10))
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
    assert len(DjangoStore(using=alias).list("racer")) == LIMIT
