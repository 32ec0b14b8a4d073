"""The ``django://<alias>`` store scheme: a ``DjangoStore`` on that alias of ``DATABASES``.

Registered on the project's guard (``get_guard()``) like any tokenguard plugin, so
``TOKENGUARD["database_url"]`` picks the project's database the way other URLs
pick other stores.
"""

from __future__ import annotations

from tokenguard.errors import ValidationError
from tokenguard.hookspecs import hookimpl
from tokenguard.stores.base import Store

SCHEME = "django://"


@hookimpl
def tokenguard_make_store(url: str) -> Store | None:
    if not url.startswith(SCHEME):
        return None
    from django.conf import settings

    from tokenguard_django.store import DjangoStore

    alias = url.removeprefix(SCHEME) or "default"
    if alias not in settings.DATABASES:
        raise ValidationError(f"{url!r} names no alias of DATABASES", field="database_url")
    return DjangoStore(using=alias)
