"""Settings of the benchmark project, read from the environment ``bench_django.py`` sets.

``BENCH_DJANGO_DATABASE``: ``sqlite:<path>`` or ``postgresql:<database name>`` (on
127.0.0.1:5432, user postgres). ``BENCH_DJANGO_MIDDLEWARE``: the contender a server
runs (``tokenguard`` adds ``TokenGuardMiddleware``; the others have none). In
process, ``bench_django.py`` builds one handler per contender with its own
middleware. Connections persist (``CONN_MAX_AGE=None``), as a served project's do:
Django's default, a new connection per request, would measure connecting.
Nothing else is installed: the bare endpoint is DRF alone, so a ratio to it is
what authentication costs.
"""

import os

from common import KEY

DEBUG = False
SECRET_KEY = "benchmark-only-django-secret-" + "x" * 30
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
ROOT_URLCONF = "django_bench.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "knox",
    "rest_framework_api_key",
    "tokenguard_django",
]
#: the middleware of each contender; the bare endpoint and the peers have none
MIDDLEWARES: dict[str, list[str]] = {
    "tokenguard": ["tokenguard_django.middleware.TokenGuardMiddleware"],
    "ceiling": ["django_bench.urls.HandOver"],
}
MIDDLEWARE = MIDDLEWARES.get(os.environ.get("BENCH_DJANGO_MIDDLEWARE", ""), [])

_engine, _, _name = os.environ.get("BENCH_DJANGO_DATABASE", "sqlite:bench.sqlite3").partition(":")
if _engine == "postgresql":
    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": _name, "HOST": "127.0.0.1",
                             "PORT": "5432", "USER": "postgres", "CONN_MAX_AGE": None}}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _name, "CONN_MAX_AGE": None,
                             "OPTIONS": {"timeout": 30}}}

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],  # each view names its own
    "DEFAULT_PERMISSION_CLASSES": [],
}
# owners of 1,000 tokens are measured: no cap
TOKENGUARD = {"secret_key": KEY.decode(), "max_tokens_per_owner": None}
