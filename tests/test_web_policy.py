"""Token policies (tokenguard.web.policy) on the page, the management API and the admin page.

Through Flask's test client (``TOKENGUARD_ALLOW_NEVER_EXPIRES``, ``TOKENGUARD_PERMISSION_LEVELS``)
and Starlette's (the middleware's ``allow_never_expires=``, ``permission_levels=``); Django's
``TOKENGUARD`` keys: ``tests/django/test_django_policy.py``. What the page offers is what the
API accepts: a level or "never expires" left off the form is refused by both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

import pytest
from flask import Flask
from starlette.testclient import TestClient

from _flask_support import API, PAGE, Browser, bearer, make_app, make_guard
from test_asgi_web import ORIGIN, signed_in_csrf
from test_asgi_web import make_app as make_asgi_app
from tokenguard import TokenGuard
from tokenguard.errors import ValidationError


def no_management_but_for_root(owner: str) -> Iterable[str]:
    return ["read", "write", "management"] if owner == "root" else ["read", "write"]


def radios(page_text: str) -> list[str]:
    return re.findall(r'<input type="radio" name="permission" value="([^"]+)"', page_text)


def expiry_options(page_text: str) -> list[str]:
    select = re.search(r'<select id="expires" name="expires">(.*?)</select>', page_text, re.S)
    assert select is not None
    return re.findall(r'<option value="([^"]+)"', select.group(1))


# -- "never expires" ----------------------------------------------------------------------------

def test_never_is_offered_by_default_without_a_maximum() -> None:
    alice = Browser(make_app(make_guard()), "alice")
    text = alice.page().get_data(as_text=True)
    assert "never" in expiry_options(text)
    created = alice.create(expires_in_days=None)
    assert created.status_code == 201 and created.get_json()["info"]["expires_at"] is None


def test_a_maximum_lifetime_takes_never_off_the_form_and_the_api() -> None:
    capped = make_guard(max_lifetime=timedelta(days=30), default_lifetime=timedelta(days=30))
    alice = Browser(make_app(capped), "alice")
    assert expiry_options(alice.page().get_data(as_text=True)) == ["7", "30", "custom"]
    refused = alice.create(expires_in_days=None)
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_request"


def test_allow_never_expires_false_refuses_no_expiry_on_the_page_and_the_api() -> None:
    guard = make_guard()
    app = make_app(guard, allow_never_expires=False)
    alice = Browser(app, "alice")
    assert "never" not in expiry_options(alice.page().get_data(as_text=True))
    refused = alice.create(expires_in_days=None)
    assert refused.status_code == 400
    assert refused.get_json() == {"error": "invalid_request", "field": "expires_in_days",
                                  "error_description": "tokens must have an expiry on this server"}
    form = alice.form(PAGE, {"name": "ci", "permission": "read", "expires": "never"})
    assert form.status_code == 400
    assert "tokens must have an expiry on this server" in form.get_data(as_text=True)
    assert guard.list_tokens("alice") == []
    assert alice.create(expires_in_days=7).status_code == 201  # an expiry is still fine


def test_allow_never_expires_false_refuses_a_self_rotation_without_expiry() -> None:
    guard = make_guard()
    app = make_app(guard, allow_never_expires=False)
    token = guard.create_token("alice", "ci", scopes=["read"], token_id="ci").token
    client = app.test_client()
    refused = client.post(f"{API}/self/rotate", json={"expires_in_days": None}, headers=bearer(token))
    assert refused.status_code == 400 and refused.get_json()["field"] == "expires_in_days"
    assert client.post(f"{API}/self/rotate", json={"expires_in_days": 7},
                       headers=bearer(token)).status_code == 201


def test_allow_never_expires_false_refuses_a_regenerate_without_expiry_on_the_page() -> None:
    guard = make_guard()
    alice = Browser(make_app(guard, allow_never_expires=False), "alice")
    issued = guard.create_token("alice", "ci", scopes=["read"], token_id="ci")
    details = alice.client.get(f"{PAGE}/ci").get_data(as_text=True)
    assert '<option value="never"' not in details  # the regenerate form's choices too
    refused = alice.form(f"{PAGE}/ci/rotate", {"expires": "never"})
    assert refused.status_code == 303
    shown = alice.client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "tokens must have an expiry on this server" in shown
    after = guard.get_token("ci")
    assert after.hint == issued.info.hint and after.expires_at == issued.info.expires_at


def test_allow_never_expires_from_the_flask_config() -> None:
    app = Flask(__name__)
    app.config.update(TOKENGUARD_ALLOW_NEVER_EXPIRES=False)
    from tokenguard_flask import FlaskTokenGuard

    tokens = FlaskTokenGuard(app, make_guard())
    assert app.extensions["tokenguard"].web.api.policy.never_expires_offered is False
    assert tokens is app.extensions["tokenguard"].extension


def test_contradicting_policies_fail_at_construction() -> None:
    with pytest.raises(ValidationError, match="allow_never_expires cannot be true with a max_lifetime"):
        make_app(make_guard(max_lifetime=timedelta(days=30), default_lifetime=timedelta(days=30)),
                 allow_never_expires=True)
    with pytest.raises(ValidationError, match="needs a default_lifetime"):
        make_app(make_guard(default_lifetime=None), allow_never_expires=False)
    with pytest.raises(ValidationError, match="allow_never_expires must be a bool"):
        make_app(make_guard(), allow_never_expires="no")


# -- permission levels --------------------------------------------------------------------------

@pytest.fixture
def levels_app() -> tuple[Flask, TokenGuard]:
    guard = make_guard()
    return make_app(guard, permission_levels=no_management_but_for_root), guard


def test_the_form_offers_only_the_levels_the_owner_may_pick(levels_app: tuple[Flask, TokenGuard]) -> None:
    app, _ = levels_app
    assert radios(Browser(app, "alice").page().get_data(as_text=True)) == ["read", "write"]
    assert radios(Browser(app, "root").page().get_data(as_text=True)) == ["read", "write", "management"]


def test_a_level_not_offered_is_403_on_the_api(levels_app: tuple[Flask, TokenGuard]) -> None:
    app, guard = levels_app
    refused = Browser(app, "alice").create(scopes=["read", "management"])
    assert refused.status_code == 403
    assert refused.get_json() == {"error": "forbidden", "field": "scopes",
                                  "error_description": "you may not create tokens with this permission"}
    assert guard.list_tokens("alice") == []
    made = Browser(app, "root").create(scopes=["management"])
    assert made.status_code == 201 and made.get_json()["info"]["scopes"] == ["management"]
    unknown = Browser(app, "alice").create(scopes=["superuser"])  # the core's own 400 for a typo
    assert unknown.status_code == 400 and unknown.get_json()["field"] == "scopes"


def test_a_level_not_offered_is_403_on_the_page(levels_app: tuple[Flask, TokenGuard]) -> None:
    app, guard = levels_app
    refused = Browser(app, "alice").form(PAGE, {"name": "ci", "permission": "management", "expires": "30"})
    assert refused.status_code == 403
    assert "you may not create tokens with this permission" in refused.get_data(as_text=True)
    assert guard.list_tokens("alice") == []


def test_a_minting_token_is_held_to_its_owners_levels() -> None:
    guard = make_guard()
    app = make_app(guard, permission_levels=lambda owner: ["read", "write"], allow_token_minting=True)
    token = guard.create_token("alice", "minter", scopes=["management"]).token
    refused = app.test_client().post(API, json={"name": "x", "scopes": ["management"]},
                                     headers=bearer(token))
    assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden"
    assert app.test_client().post(API, json={"name": "x", "scopes": ["write"]},
                                  headers=bearer(token)).status_code == 201


def test_the_api_lists_the_policy_the_caller_is_under(levels_app: tuple[Flask, TokenGuard]) -> None:
    app, _ = levels_app
    listing = Browser(app, "alice").client.get(API).get_json()
    assert listing["policy"] == {"max_lifetime_days": None, "default_lifetime_days": 90,
                                 "never_expires": True, "max_tokens_per_owner": 5,
                                 "permission_levels": ["read", "write"]}


def test_no_level_at_all_disables_the_form_and_refuses_every_create() -> None:
    guard = make_guard()
    alice = Browser(make_app(guard, permission_levels=lambda owner: []), "alice")
    text = alice.page().get_data(as_text=True)
    assert radios(text) == [] and "<fieldset disabled" in text
    assert "Your account may not create API tokens here." in text
    assert alice.create(scopes=["read"]).status_code == 403
    assert guard.list_tokens("alice") == []


def test_permission_levels_answering_nonsense_is_the_hosts_bug() -> None:
    app = make_app(make_guard(), permission_levels=lambda owner: ["read", "root"])
    with pytest.raises(TypeError, match="unknown scope"):
        Browser(app, "alice").page()


# -- the per-owner limit ------------------------------------------------------------------------

def test_the_page_counts_tokens_against_the_limit_and_disables_create_at_it() -> None:
    guard = make_guard(max_tokens_per_owner=2)
    alice = Browser(make_app(guard), "alice")
    guard.create_token("alice", "one")
    text = alice.page().get_data(as_text=True)
    assert "1 of 2 tokens in use" in text and "<fieldset disabled" not in text
    guard.create_token("alice", "two")
    text = alice.page().get_data(as_text=True)
    assert "2 of 2 tokens in use" in text and "<fieldset disabled" in text
    assert "You have reached the limit of 2 tokens." in text
    assert alice.create().status_code == 409


# -- the admin page shows them -------------------------------------------------------------------

def test_the_admin_page_shows_the_policies() -> None:
    guard = make_guard(max_lifetime=timedelta(days=30), default_lifetime=timedelta(days=7),
                       max_tokens_per_owner=4)
    app = make_app(guard)
    app.extensions["tokenguard"].extension.can_administer(lambda owner: owner == "root")
    text = Browser(app, "root").client.get(f"{PAGE}/admin").get_data(as_text=True)
    found = dict(re.findall(r'<dd id="policy-([a-z-]+)">([^<]*)</dd>', text))
    assert found == {"max-lifetime": "30 days", "default-lifetime": "7 days", "never-expires": "No",
                     "limit": "4"}


# -- the same through the ASGI middleware --------------------------------------------------------

def test_the_asgi_middleware_takes_the_policies(tokenguard_guard: TokenGuard) -> None:
    app = make_asgi_app(tokenguard_guard, allow_never_expires=False,
                        permission_levels=no_management_but_for_root)
    with TestClient(app) as client:
        csrf = signed_in_csrf(client, "alice")
        page = client.get(PAGE).text
        assert radios(page) == ["read", "write"] and "never" not in expiry_options(page)
        headers = {"X-CSRF-Token": csrf, **ORIGIN}
        level = client.post(API, json={"name": "ci", "scopes": ["management"]}, headers=headers)
        assert (level.status_code, level.json()["error"], level.json()["field"]) == (403, "forbidden",
                                                                                      "scopes")
        never = client.post(API, json={"name": "ci", "expires_in_days": None}, headers=headers)
        assert (never.status_code, never.json()["field"]) == (400, "expires_in_days")
        assert client.post(API, json={"name": "ci", "scopes": ["write"]}, headers=headers).status_code == 201
