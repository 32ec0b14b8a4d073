"""``manage.py check``: ``TOKENGUARD`` is validated at start-up, each problem with its id and key.

=====================  =========================================================
``tokenguard.E001``    ``TOKENGUARD`` is not a dict
``tokenguard.E002``    an unknown key (the hint names the closest known one)
``tokenguard.E003``    ``secret_key`` is missing
``tokenguard.E004``    ``secret_key`` (or one key of its list) is under 32 bytes
``tokenguard.E005``    a value the core refuses (prefix, limit, lifetime, scopes, paths…)
``tokenguard.E006``    ``database_url`` names no alias of ``DATABASES`` (``django://…``)
``tokenguard.E007``    ``USE_TZ`` is off: tokens keep aware UTC times
=====================  =========================================================

Checks never open a database connection: the values are validated by building
the guard and the web options on a memory store.
"""

from __future__ import annotations

from typing import Any

from django.core import checks

from tokenguard_django.config import SETTING, problems, raw_setting

TAG = "tokenguard"


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [checks.Error(problem.message, hint=problem.hint, obj=SETTING, id=f"{TAG}.{problem.id}")
            for problem in problems(raw_setting())]


def check_time_zone(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.conf import settings

    if settings.USE_TZ:
        return []
    return [checks.Error("tokenguard_django needs USE_TZ = True: expiry and every other time of a token "
                         "is an aware UTC datetime", hint="USE_TZ = True is Django's default since 5.0",
                         obj="USE_TZ", id=f"{TAG}.E007")]


def register() -> None:
    checks.register(check_settings, TAG)
    checks.register(check_time_zone, TAG)
