"""``path("", include("tokenguard_django.urls"))``: the settings page and the management API.

The paths are ``TOKENGUARD["settings_path"]`` and ``TOKENGUARD["api_path"]``
(``/settings/tokens`` and ``/api/tokens``), relative to where this is included.
"""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured
from django.urls import URLPattern, re_path

from tokenguard.errors import ValidationError
from tokenguard.web.options import WebOptions
from tokenguard_django import views
from tokenguard_django.config import load

app_name = "tokenguard"


def _options() -> WebOptions:
    """The configured paths; the defaults while ``TOKENGUARD`` is wrong (``manage.py check`` says how)."""
    try:
        return load().web_options()
    except (ImproperlyConfigured, ValidationError):
        return WebOptions()


def _patterns() -> list[URLPattern]:
    options = _options()
    found = []
    for mount, view, name in ((options.api_path, views.management_api, "api"),
                              (options.settings_path, views.settings_page, "settings")):
        escaped = re.escape(mount.lstrip("/"))
        found.append(re_path(rf"^{escaped}/?$", view, name=name))
        found.append(re_path(rf"^{escaped}/(?P<rest>.+)$", view, name=f"{name}-below"))
    return found


urlpatterns = _patterns()
