"""The settings page inside the project's own Django base template (``TOKENGUARD["base_template"]``),
in the language Django's ``LocaleMiddleware`` chose."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from _django_settings import TOKENGUARD
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from tokenguard_django import get_guard

PAGE = "/settings/tokens"
BASE = """{% load i18n %}<!doctype html>
<html lang="{{ tokenguard.lang }}">
<head><title>{% block title %}{% endblock %} · Host</title>
{% block head %}<link rel="stylesheet" href="/host.css">{% endblock %}</head>
<body>
<header id="site-header">{{ user.get_username }}
<form method="post" action="/logout">{% csrf_token %}<button>{% translate "Log out" %}</button></form>
</header>
<main id="site-main">{% block content %}{% endblock %}</main>
</body></html>
"""


@pytest.fixture
def host_layout(tmp_path: Path, db: str) -> Iterator[None]:
    (tmp_path / "base.html").write_text(BASE)
    templates = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index("django.middleware.common.CommonMiddleware"),
                      "django.middleware.locale.LocaleMiddleware")
    with override_settings(TEMPLATES=templates, MIDDLEWARE=middleware,
                           TOKENGUARD={**TOKENGUARD, "base_template": "base.html"}):
        yield


@pytest.fixture
def alice(db: str) -> Any:
    return get_user_model().objects.create_user("alice", password="pw")


def signed_in(user: Any) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_the_page_is_inside_the_projects_base_template(host_layout: None, alice: Any) -> None:
    get_guard().create_token(str(alice.pk), "laptop", token_id="laptop")
    response = signed_in(alice).get(PAGE, headers={"Accept-Language": "en"})
    page = response.content.decode()
    assert response.status_code == 200
    assert '<header id="site-header">alice' in page  # the project's context processors: user
    main = page.split('<main id="site-main">', 1)[1].split("</main>", 1)[0]
    assert 'class="tokenguard' in main and "laptop" in main  # our page, in the project's block
    assert "<title>API tokens · Host</title>" in page
    head = page.split("</head>", 1)[0]
    assert head.index('href="/host.css"') < head.index("tokenguard.css")  # ours after the project's own
    assert page.count("<html") == 1 and 'class="topbar"' not in page  # no layout of ours around it
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_the_projects_csrf_token_and_the_pages_are_djangos_both(host_layout: None, alice: Any) -> None:
    client = signed_in(alice)
    page = client.get(PAGE).content.decode()
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert len(tokens) >= 2  # the project's logout form and our create form
    host_token = tokens[0]
    create_form = page.split('class="create-form"', 1)[1].split("</form>", 1)[0]
    assert 'name="csrf_token"' not in create_form
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', create_form))
    form = {**hidden, "csrfmiddlewaretoken": host_token, "name": "ci", "permission": "read", "expires": "7"}
    # the project's own token is as good as the form's: one secret, Django's
    created = client.post(PAGE, urlencode(form), content_type="application/x-www-form-urlencoded")
    assert created.status_code == 200
    assert [t.name for t in get_guard().list_tokens(str(alice.pk))] == ["ci"]


def test_the_page_and_the_project_speak_the_browsers_language(host_layout: None, alice: Any) -> None:
    page = signed_in(alice).get(PAGE, headers={"Accept-Language": "de-DE,de;q=0.9"}).content.decode()
    assert '<html lang="de">' in page
    assert "<title>API-Tokens · Host</title>" in page  # the web layer's German
    assert "<button>Abmelden</button>" in page  # Django's own German, in the project's template
    english = signed_in(alice).get(PAGE, headers={"Accept-Language": "en"}).content.decode()
    assert "<button>Log out</button>" in english and "<title>API tokens · Host</title>" in english


def test_without_a_base_template_the_page_keeps_its_own_layout(alice: Any) -> None:
    page = signed_in(alice).get(PAGE).content.decode()
    assert 'class="topbar"' in page and 'id="site-header"' not in page
