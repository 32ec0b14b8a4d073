"""The settings page inside the project's own base template: ``TOKENGUARD["base_template"]``.

The web layer renders the page's content (its templates, in the language Django
activated); the project's base template is a Django template, rendered by
Django's engine with the request, so its context processors (``user``,
``{% csrf_token %}``, ``LANGUAGE_CODE``…) and ``{% translate %}`` work as on every
other page of the project. Its block ``title`` gets the page's title, ``head`` our
stylesheet, script and CSRF meta tag after the project's own (``{{ block.super }}``),
and ``content_block`` (default ``content``) the page; all three are also
``tokenguard.title``, ``tokenguard.head`` and ``tokenguard.content`` there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.template import engines
from django.template.backends.django import DjangoTemplates

from tokenguard.web.options import WebOptions

#: the page as a child of the base template (the block names are WebOptions-checked names)
BRIDGE = ("{{% extends tokenguard.base_template %}}"
          "{{% block title %}}{{{{ tokenguard.title }}}}{{% endblock %}}"
          "{{% block head %}}{{{{ block.super }}}}{{{{ tokenguard.head }}}}{{% endblock %}}"
          "{{% block {block} %}}{{{{ tokenguard.content }}}}{{% endblock %}}")

Layout = Callable[[Mapping[str, Any]], str]


def django_engine() -> DjangoTemplates:
    """The project's first ``DjangoTemplates`` backend of ``TEMPLATES``."""
    for engine in engines.all():
        if isinstance(engine, DjangoTemplates):
            return engine
    raise ImproperlyConfigured("TOKENGUARD['base_template'] is a Django template: TEMPLATES needs a "
                               "django.template.backends.django.DjangoTemplates backend")


def host_layout(request: HttpRequest, options: WebOptions) -> Layout | None:
    """What renders the page inside the project's base template for ``request``; ``None`` without one."""
    if options.base_template is None:
        return None
    bridge = BRIDGE.format(block=options.content_block)

    def render(parts: Mapping[str, Any]) -> str:
        return str(django_engine().from_string(bridge).render({"tokenguard": parts}, request))

    return render
