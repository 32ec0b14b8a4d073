"""The settings page and the management API, mounted with ``include("tokenguard_django.urls")``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from _django_settings import TOKENGUARD
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from tokenguard_django import get_guard
from tokenguard_django.registry import get_state

API = "/api/tokens"
PAGE = "/settings/tokens"


@pytest.fixture
def alice(db: str) -> Any:
    return get_user_model().objects.create_user("alice", password="pw")


@pytest.fixture
def browser(alice: Any) -> Client:
    client = Client(enforce_csrf_checks=True)  # Django's CSRF middleware is on, as in a project
    client.force_login(alice)
    return client


def csrf_of(client: Client) -> str:
    response = client.get(API)
    assert response.status_code == 200
    return str(response.headers["X-CSRF-Token"])


def test_the_api_lists_the_signed_in_users_tokens(browser: Client, alice: Any) -> None:
    get_guard().create_token(str(alice.pk), "mine", token_id="mine")
    get_guard().create_token("someone-else", "theirs", token_id="theirs")
    response = browser.get(API)
    assert response.status_code == 200
    listed = json.loads(response.content)
    ids = [item["id"] for item in (listed["tokens"] if isinstance(listed, dict) else listed)]
    assert ids == ["mine"]
    assert response.headers["Cache-Control"] == "no-store"


def test_creating_through_the_api_needs_djangos_csrf_token(browser: Client, alice: Any) -> None:
    body = json.dumps({"name": "ci", "scopes": ["read"]})
    refused = browser.post(API, body, content_type="application/json")
    assert (refused.status_code, json.loads(refused.content)["error"]) == (403, "csrf_failed")
    handed_out = csrf_of(browser)  # the listing hands a signed-in browser Django's token
    sent_as_ours = browser.post(API, body, content_type="application/json",
                                headers={"X-CSRF-Token": get_state().web.gate.csrf.issue(str(alice.pk))})
    assert sent_as_ours.status_code == 403  # the web layer's own token is not a second way in
    created = browser.post(API, body, content_type="application/json", headers={"X-CSRFToken": handed_out})
    assert created.status_code == 201, created.content
    answer = json.loads(created.content)
    assert answer["info"]["owner"] == str(alice.pk)
    assert get_guard().authenticate(answer["token"]).name == "ci"
    assert created.headers["Cache-Control"] == "no-store"


def test_a_signed_in_write_with_a_credential_that_is_no_token_still_needs_djangos_check(
        browser: Client, alice: Any) -> None:
    """Basic credentials (which a browser may send on its own) are no bearer token: the
    signed-in user acts, so Django's check applies."""
    body = json.dumps({"name": "ci", "scopes": ["read"]})
    refused = browser.post(API, body, content_type="application/json",
                           headers={"Authorization": "Basic YWxpY2U6cHc="})
    assert refused.status_code == 403
    assert get_guard().list_tokens(str(alice.pk)) == []


def test_a_bearer_token_with_the_management_scope_manages_its_owners_tokens(db: str) -> None:
    guard = get_guard()
    manager = guard.create_token("7", "manager", scopes=["management"]).token
    guard.create_token("7", "other", token_id="other")
    client = Client(enforce_csrf_checks=True)
    listed = client.get(API, headers={"Authorization": f"Bearer {manager}"})
    assert listed.status_code == 200
    revoked = client.post(f"{API}/other/revoke", headers={"Authorization": f"Bearer {manager}"})
    assert revoked.status_code == 200, revoked.content
    assert guard.get_token("other").status == "revoked"


def test_the_api_refuses_anonymous_callers_with_the_challenge(db: str) -> None:
    response = Client().get(API)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")


def test_revoke_by_value_rfc_7009(db: str) -> None:
    issued = get_guard().create_token("9", "leaked")
    response = Client(enforce_csrf_checks=True).post(f"{API}/revoke", f"token={issued.token}",
                                                     content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert get_guard().get_token(issued.info.id).status == "revoked"


def test_the_settings_page_for_a_signed_in_user(browser: Client, alice: Any) -> None:
    get_guard().create_token(str(alice.pk), "Laptop <b>", token_id="laptop")
    response = browser.get(PAGE)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Laptop &lt;b&gt;" in page and "<b>" not in page.split("Laptop", 1)[1][:10]
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', page)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def page_form(page: str, **values: str) -> dict[str, str]:
    """The create form's hidden fields as the page rendered them, and ``values``."""
    create_form = page.split('class="create-form"', 1)[1].split("</form>", 1)[0]
    return {**dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', create_form)), **values}


def test_the_settings_page_forms_carry_djangos_token_alone(browser: Client) -> None:
    page = browser.get(PAGE).content.decode()
    assert 'name="csrf_token"' not in page
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert tokens and all(len(token) == 64 for token in tokens)  # Django's masked token
    assert re.search(r'<meta name="csrf-token" content="[^"]{64}">', page)


def test_the_settings_page_form_without_djangos_token_gets_djangos_403(browser: Client, alice: Any) -> None:
    page = browser.get(PAGE).content.decode()
    form = page_form(page, name="deploy", permission="read", expires="30")
    del form["csrfmiddlewaretoken"]
    ours = get_state().web.gate.csrf.issue(str(alice.pk))
    for sent in (form, {**form, "csrf_token": ours}):  # the web layer's token is no way in either
        response = browser.post(PAGE, urlencode(sent), content_type="application/x-www-form-urlencoded")
        assert response.status_code == 403
        assert "CSRF verification failed" in response.content.decode()  # Django's own failure view
    assert get_guard().list_tokens(str(alice.pk)) == []


def test_the_settings_page_form_creates_a_token_shown_once(browser: Client, alice: Any) -> None:
    page = browser.get(PAGE).content.decode()
    form = page_form(page, name="deploy", permission="read", expires="30")
    assert "csrfmiddlewaretoken" in form
    response = browser.post(PAGE, urlencode(form), content_type="application/x-www-form-urlencoded",
                            headers={"Origin": "http://testserver"}, follow=True)
    assert response.status_code == 200, re.findall(r"<main.*?</main>", response.content.decode(), re.S)
    [info] = get_guard().list_tokens(str(alice.pk))
    assert info.name == "deploy"
    shown = re.findall(r"\btg_[0-9A-Za-z]{38}\b", response.content.decode())
    assert shown and get_guard().authenticate(shown[0]).id == info.id
    assert browser.get(PAGE).content.decode().count(shown[0]) == 0  # shown once


def test_the_settings_page_revokes_with_djangos_token(browser: Client, alice: Any) -> None:
    get_guard().create_token(str(alice.pk), "laptop", token_id="laptop")
    page = browser.get(PAGE).content.decode()
    [token] = re.findall(r'action="[^"]*/laptop/revoke".*?name="csrfmiddlewaretoken" value="([^"]+)"',
                         page, re.S)
    refused = browser.post(f"{PAGE}/laptop/revoke", "", content_type="application/x-www-form-urlencoded")
    assert refused.status_code == 403 and get_guard().get_token("laptop").status == "active"
    done = browser.post(f"{PAGE}/laptop/revoke", urlencode({"csrfmiddlewaretoken": token}),
                        content_type="application/x-www-form-urlencoded")
    assert done.status_code == 303
    assert get_guard().get_token("laptop").status == "revoked"


def test_the_settings_page_asks_anonymous_visitors_to_sign_in(db: str) -> None:
    response = Client().get(PAGE)
    assert response.status_code == 401
    with override_settings(TOKENGUARD={**TOKENGUARD, "login_url": "/accounts/login/"}):
        redirect = Client().get(PAGE)
    assert redirect.status_code in (302, 303) and redirect.headers["Location"].startswith("/accounts/login/")


def test_an_owner_loader_setting_chooses_the_owner(db: str) -> None:
    def from_header(request: Any) -> str | None:
        return request.headers.get("X-User")

    with override_settings(TOKENGUARD={**TOKENGUARD, "owner_loader": from_header}):
        get_guard().create_token("from-header", "hers", token_id="hers")
        response = Client().get(API, headers={"X-User": "from-header"})
    assert response.status_code == 200
    assert "hers" in response.content.decode()


def test_can_manage_restricts_management(browser: Client) -> None:
    with override_settings(TOKENGUARD={**TOKENGUARD, "can_manage": lambda owner: False}):
        assert browser.get(API).status_code == 403


def test_every_form_of_the_web_layer_names_its_csrf_field_through_the_renderer() -> None:
    """A form that spelled ``csrf_token`` itself would be refused by Django's check."""
    import tokenguard.web

    folder = Path(tokenguard.web.__file__).parent / "templates" / "tokenguard"
    spelled = {page.name for page in folder.glob("*.html") if 'name="csrf_token"' in page.read_text()}
    assert spelled == set()
    assert all('name="{{ csrf_field }}"' in (folder / name).read_text()
               for name in ("settings.html", "admin.html", "confirm_delete.html", "details.html"))


def test_the_pages_let_the_browser_send_the_origin_djangos_check_reads(browser: Client) -> None:
    """Under ``no-referrer`` a browser sends ``Origin: null`` with a page's own forms, which
    Django's check refuses; ``same-origin`` sends the origin to this site and nothing elsewhere."""
    page = browser.get(PAGE)
    assert page.headers["Referrer-Policy"] == "same-origin"
    null_origin = browser.post(PAGE, "name=x", content_type="application/x-www-form-urlencoded",
                               headers={"Origin": "null"})
    assert null_origin.status_code == 403
    asset = browser.get(re.findall(r'href="([^"]+tokenguard\.css[^"]*)"', page.content.decode())[0])
    assert (asset.status_code, asset.headers["Referrer-Policy"]) == (200, "no-referrer")


def test_the_admin_pages_forms_carry_djangos_token(db: str) -> None:
    staff = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    get_guard().create_token("someone", "theirs", token_id="theirs")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    page = client.get(f"{PAGE}/admin").content.decode()
    [token] = re.findall(r'action="[^"]*/tokens/theirs/revoke">\s*<input type="hidden" '
                         r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    url = f"{PAGE}/admin/tokens/theirs/revoke"
    assert client.post(url, "", content_type="application/x-www-form-urlencoded").status_code == 403
    assert get_guard().get_token("theirs").status == "active"
    done = client.post(url, urlencode({"csrfmiddlewaretoken": token}),
                       content_type="application/x-www-form-urlencoded")
    assert done.status_code == 303 and get_guard().get_token("theirs").status == "revoked"


def test_djangos_check_holds_without_csrf_view_middleware_in_the_project(browser: Client, alice: Any) -> None:
    """The page's view is csrf_protect-ed and the API sets the CSRF cookie it hands a token for."""
    without = [m for m in settings.MIDDLEWARE if m != "django.middleware.csrf.CsrfViewMiddleware"]
    with override_settings(MIDDLEWARE=without):
        refused = browser.post(PAGE, "name=x&permission=read",
                               content_type="application/x-www-form-urlencoded")
        assert refused.status_code == 403 and "CSRF verification failed" in refused.content.decode()
        body = json.dumps({"name": "ci", "scopes": ["read"]})
        assert browser.post(API, body, content_type="application/json").status_code == 403
        fresh = Client(enforce_csrf_checks=True)  # no CSRF cookie yet: the listing sets it
        fresh.force_login(alice)
        listing = fresh.get(API)
        assert "csrftoken" in listing.cookies
        created = fresh.post(API, body, content_type="application/json",
                             headers={"X-CSRFToken": listing.headers["X-CSRF-Token"]})
        assert created.status_code == 201, created.content
