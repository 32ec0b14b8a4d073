"""Runs in a spawned process: Django configured on the parent's databases, creators racing there."""

from __future__ import annotations

from typing import Any


def create_in_process(databases: dict[str, Any], alias: str, key: str, limit: int, start: Any,
                      results: Any, creators: int) -> None:
    import django
    import pymysql
    from django.conf import settings

    pymysql.install_as_MySQLdb()
    settings.configure(INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                                       "tokenguard_django"],
                       DATABASES=databases, USE_TZ=True, TOKENGUARD={"secret_key": key})
    django.setup()
    from test_store_contract import race_creators
    from tokenguard import TokenGuard
    from tokenguard_django.store import DjangoStore

    guard = TokenGuard(DjangoStore(using=alias), secret_key=key, max_tokens_per_owner=limit,
                       load_entry_points=False)
    guard.store.list("racer")  # connected: the race starts together
    start.wait(timeout=60)
    results.put(race_creators(guard, creators))
