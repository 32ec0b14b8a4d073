"""A token's details page and projects_loader through Django's test client (CSRF middleware on)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from _django_settings import TOKENGUARD
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from tokenguard_django import get_guard

API = "/api/tokens"
PAGE = "/settings/tokens"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def alice(db: str) -> Any:
    return get_user_model().objects.create_user("alice", password="pw")


@pytest.fixture
def browser(alice: Any) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


def hidden_fields(page: str, marker: str) -> dict[str, str]:
    """The hidden fields of the form that carries ``marker`` (its class or id)."""
    form = page.split(marker, 1)[1].split("</form>", 1)[0]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def load_projects(owner: str) -> list[str]:
    return ["alpha", "beta"]


def test_the_details_page_shows_and_edits_a_token(browser: Client, alice: Any) -> None:
    owner = str(alice.pk)
    get_guard().create_token(owner, "laptop", token_id="laptop", description="my laptop",
                             allowed_networks=["10.0.0.0/8"])
    shown = browser.get(f"{PAGE}/laptop")
    page = shown.content.decode()
    assert shown.status_code == 200 and "frame-ancestors 'none'" in shown.headers["Content-Security-Policy"]
    assert 'id="detail-description">my laptop<' in page and "10.0.0.0/8" in page
    fields = hidden_fields(page, 'id="edit-form"')
    assert "csrfmiddlewaretoken" in fields and "csrf_token" not in fields  # Django's own check
    sent = {**fields, "name": "work laptop", "description": "the one at work", "projects": "alpha",
            "allowed_networks": "192.0.2.0/24"}
    saved = browser.post(f"{PAGE}/laptop", urlencode(sent), content_type=FORM)
    assert saved.status_code == 303 and saved.headers["Location"] == f"{PAGE}/laptop"
    info = get_guard().get_token("laptop")
    assert (info.name, info.description) == ("work laptop", "the one at work")
    assert info.projects == frozenset({"alpha"}) and info.allowed_networks == frozenset({"192.0.2.0/24"})
    assert "Changes saved." in browser.get(f"{PAGE}/laptop").content.decode()

    too_long = browser.post(f"{PAGE}/laptop", urlencode({**sent, "description": "x" * 501}),
                            content_type=FORM)
    assert too_long.status_code == 400 and 'id="description-error"' in too_long.content.decode()
    bad_network = browser.post(f"{PAGE}/laptop", urlencode({**sent, "allowed_networks": "10.0.0.1/8"}),
                               content_type=FORM)
    assert bad_network.status_code == 400 and 'id="allowed_networks-error"' in bad_network.content.decode()
    assert get_guard().get_token("laptop").description == "the one at work"


def test_the_edit_without_djangos_csrf_token_is_refused(browser: Client, alice: Any) -> None:
    get_guard().create_token(str(alice.pk), "laptop", token_id="laptop")
    refused = browser.post(f"{PAGE}/laptop", urlencode({"name": "changed"}), content_type=FORM)
    assert refused.status_code == 403
    assert get_guard().get_token("laptop").name == "laptop"


def test_another_users_token_is_404(browser: Client) -> None:
    get_guard().create_token("someone-else", "theirs", token_id="theirs")
    assert browser.get(f"{PAGE}/theirs").status_code == 404


def test_projects_loader_setting_offers_a_picker_and_refuses_others(browser: Client, alice: Any) -> None:
    with override_settings(TOKENGUARD={**TOKENGUARD, "projects_loader": load_projects}):
        page = browser.get(PAGE).content.decode()
        assert 'type="checkbox" name="projects" value="alpha"' in page
        csrf = browser.get(API).headers["X-CSRF-Token"]
        refused = browser.post(API, json.dumps({"name": "api", "projects": ["gamma"]}),
                               content_type="application/json",
                               headers={"X-CSRFToken": csrf})
        assert refused.status_code == 400, refused.content
        assert json.loads(refused.content)["field"] == "projects"
        created = browser.post(API, json.dumps({"name": "api", "projects": ["beta"]}),
                               content_type="application/json",
                               headers={"X-CSRFToken": csrf})
        assert created.status_code == 201, created.content
    [info] = get_guard().list_tokens(str(alice.pk))
    assert info.projects == frozenset({"beta"})


def test_projects_loader_given_as_a_dotted_path(browser: Client) -> None:
    path = f"{__name__}.load_projects"
    with override_settings(TOKENGUARD={**TOKENGUARD, "projects_loader": path}):
        page = browser.get(PAGE).content.decode()
    assert 'value="beta"' in page
