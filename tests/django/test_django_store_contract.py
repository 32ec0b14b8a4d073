"""The one store-contract suite (tests/test_store_contract.py), run on ``DjangoStore``.

The suite's tests are imported as they are; only its ``backend`` and ``make_store``
fixtures are replaced, so every test runs on DjangoStore over SQLite, PostgreSQL
and MariaDB through Django's own connections. The suite's two-process race builds
SQLAlchemy stores by URL: the process race on Django lives in
test_django_concurrency.py instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import test_store_contract
from test_store_contract import *  # noqa: F403 - the suite itself, collected here again
from tokenguard.stores.base import Store
from tokenguard_django.store import DjangoStore

del test_two_processes_of_ten_creators_get_exactly_the_limit  # noqa: F821 - SQLAlchemy by URL

#: the suite's backends here, and the alias of DATABASES each runs on
ALIASES = {"django-sqlite": "default", "django-postgresql": "postgresql", "django-mariadb": "mariadb"}
assert test_store_contract.LIMIT == 5


@pytest.fixture(params=list(ALIASES))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(backend: str, use_database: Callable[[str], str]) -> Iterator[Callable[[], Store]]:
    """DjangoStores on one emptied database (several instances act like several processes)."""
    alias = use_database(ALIASES[backend])
    made: list[Store] = []

    def make() -> Store:
        store = DjangoStore(using=alias)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
