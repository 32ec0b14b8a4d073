"""Peers in process: djangorestframework-api-key and django-rest-knox, configured for real.

Django runs in this process on an SQLite database file, with both apps
installed and migrated. Keys and tokens are created with each library's own
API; what is timed is each library's own verification call:
``APIKey.objects.is_valid(key)`` and knox's
``TokenAuthentication().authenticate_credentials(token)``. tokenguard (no cache,
and with its cache) verifies a token on an SQLite table of the same size in
the same rounds.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import KEY, QUICK, Report, Row, header, interleaved, median, ratio, us

from tokenguard import TokenGuard

TOKENS = 200 if QUICK else 1_000
HEAVY = 200 if QUICK else 1_000


def setup_django(workdir: Path) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-only-" + "x" * 40,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(workdir / "django.db")}},
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "rest_framework",
                        "rest_framework_api_key", "knox"],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        REST_FRAMEWORK={},
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def peers(report: Report, workdir: Path) -> None:
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from knox.auth import TokenAuthentication
    from knox.models import AuthToken
    from rest_framework_api_key.models import APIKey

    users = get_user_model()
    with transaction.atomic():
        keys = [APIKey.objects.create_key(name=f"key {i}")[1] for i in range(TOKENS)]
        knox_tokens = []
        for i in range(TOKENS):
            user = users.objects.create_user(username=f"user{i}")
            knox_tokens.append(AuthToken.objects.create(user=user)[1])
        heavy_user = users.objects.create_user(username="heavy")
        heavy_tokens = [AuthToken.objects.create(user=heavy_user)[1] for _ in range(HEAVY)]
    knox = TokenAuthentication()
    next_key = itertools.cycle(keys[:64]).__next__
    next_knox = itertools.cycle(knox_tokens[:64]).__next__
    heavy_token = heavy_tokens[0].encode()

    def api_key() -> None:
        if not APIKey.objects.is_valid(next_key()):
            raise AssertionError("refused")

    def knox_verify() -> Any:
        return knox.authenticate_credentials(next_knox().encode())

    url = f"sqlite:///{workdir}/tokenguard.db"
    uncached = TokenGuard(url, secret_key=KEY, load_entry_points=False, max_tokens_per_owner=None,
                          cache_ttl=None)
    cached = TokenGuard(url, secret_key=KEY, load_entry_points=False, max_tokens_per_owner=None)
    made = [uncached.create_token(f"user{i}", "peer comparison").token for i in range(TOKENS)]
    samples = interleaved({
        "api_key": api_key,
        "knox": knox_verify,
        "knox_heavy": lambda: knox.authenticate_credentials(heavy_token),
        "tokenguard": verify(uncached, made[:64]),
        "tokenguard_cached": verify(cached, made[:64]),
    }, rounds=7 if QUICK else 11, seconds=0.1)
    section = "peers"
    for name, label in (("api_key", "djangorestframework-api-key 3.1, is_valid"),
                        ("knox", "django-rest-knox 5.1, authenticate_credentials")):
        report.add(Row(section, f"{label}, {TOKENS:,} keys", us(median(samples[name])), "µs",
                       ratio(samples, name, "tokenguard"), "tokenguard, no cache"))
    report.add(Row(section, f"django-rest-knox, a user with {HEAVY:,} tokens",
                   us(median(samples["knox_heavy"])), "µs", ratio(samples, "knox_heavy", "tokenguard"),
                   "tokenguard, no cache"))
    report.add(Row(section, f"tokenguard verify, no cache, SQLite, {TOKENS:,} tokens",
                   us(median(samples["tokenguard"])), "µs"))
    report.add(Row(section, "tokenguard verify, warm cache", us(median(samples["tokenguard_cached"])), "µs",
                   ratio(samples, "tokenguard_cached", "tokenguard"), "tokenguard, no cache"))
    uncached.close()
    cached.close()


def verify(guard: TokenGuard, made: list[str]) -> Callable[[], Any]:
    for token in made:  # last use recorded first: that once-a-minute write is not measured
        guard.authenticate(token)
    next_token = itertools.cycle(made).__next__
    return lambda: guard.require(guard.authenticate(next_token()), "read")


def main() -> None:
    header("peers: Django token libraries, in process")
    report = Report("peers")
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as tmp:
        setup_django(Path(tmp))
        peers(report, Path(tmp))
    report.save()


if __name__ == "__main__":
    main()
