"""Settings of the example project. Demo values only: set real secrets in the environment."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# Demo fallbacks, so `manage.py runserver` works at once; a real project reads both from its
# secret store and never commits them.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-django-secret-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "tokenguard_django",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the language of the browser, the settings page's too
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tokenguard_django.middleware.TokenGuardMiddleware",
]

ROOT_URLCONF = "notes.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [BASE_DIR / "templates"],  # base.html: the project's layout, the settings page's too
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
WSGI_APPLICATION = "notes.wsgi.application"
ASGI_APPLICATION = "notes.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("NOTES_DATABASE", str(BASE_DIR / "notes.sqlite3")),
    },
}

USE_TZ = True
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("nl", "Nederlands")]
TIME_ZONE = "UTC"
STATIC_URL = "static/"
LOGIN_URL = "/admin/login/"

# API tokens: kept in DATABASES["default"] (tokenguard_token), checked by `manage.py check`.
TOKENGUARD = {
    "secret_key": os.environ.get("TOKENGUARD_SECRET_KEY", "demo-only-tokenguard-key-0123456789abcdef"),
    "app_name": "Notes",
    "env_var": "NOTES_API_TOKEN",
    "max_tokens_per_owner": 10,
    "login_url": "/admin/login/",
    "base_template": "base.html",
}
