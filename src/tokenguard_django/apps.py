"""The Django app: ``INSTALLED_APPS += ["tokenguard_django"]``."""

from __future__ import annotations

from django.apps import AppConfig


class TokenGuardConfig(AppConfig):
    name = "tokenguard_django"
    label = "tokenguard_django"
    verbose_name = "API tokens"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from tokenguard_django import checks, registry, signals

        checks.register()
        registry.connect()
        signals.connect()
