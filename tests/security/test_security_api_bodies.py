"""Absurd bodies on the management API, against real servers of both adapters.

Deep nesting, huge strings, huge numbers, wrong types, broken encodings: the
answer is 400 naming the field (413 when too large, 415 when not JSON), never
500, and nothing is created by a request that was refused.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from _security_helpers import SECRET
from _servers import ADAPTERS, API, PAGE, serve, signed_in
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tokenguard import TokenGuard, TokenNotFound

SCOPES = {"read": [], "write": ["read"], "management": ["write"]}
NEVER = frozenset({500, 502, 503, 504})
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@dataclass
class Api:
    guard: TokenGuard
    client: httpx.Client
    headers: dict[str, str]
    manager: str

    def post(self, body: bytes, path: str = API, content_type: str = "application/json",
             method: str = "POST") -> httpx.Response:
        return self.client.request(method, path, content=body,
                                   headers={**self.headers, "Content-Type": content_type})

    def count(self) -> int:
        return len(self.guard.list_tokens("alice"))


@pytest.fixture(scope="module", params=ADAPTERS)
def api(request: pytest.FixtureRequest) -> Iterator[Api]:
    guard = TokenGuard("memory://", secret_key=SECRET, load_entry_points=False, scopes=SCOPES,
                       max_tokens_per_owner=None)
    manager = guard.create_token("alice", "manager", scopes=["management"]).token
    with serve(request.param, guard) as url:
        client, headers = signed_in(url)
        yield Api(guard, client, headers, manager)
        client.close()


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


NAMED: dict[str, tuple[bytes, set[int], str | None]] = {
    "deeply nested arrays": (b"[" * 30_000 + b"]" * 30_000, {400}, "body"),
    "deeply nested objects": (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, {400}, "body"),
    "nested in a field": (b'{"name": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", {400}, "body"),
    "body just over 64 KiB": (dumps({"name": "x" * 70_000}), {413}, None),
    "body of 4 MiB": (b" " * (4 << 20) + b"{}", {413}, None),
    "huge name": (dumps({"name": "n" * 60_000}), {400}, "name"),
    "top-level array": (b"[]", {400}, "body"),
    "top-level string": (b'"name"', {400}, "body"),
    "top-level number": (b"1e999", {400}, "body"),
    "top-level null": (b"null", {400}, "body"),
    "broken JSON": (b'{"name": "a",', {400}, "body"),
    "not UTF-8": (b'{"name": "\xff\xfe"}', {400}, "body"),
    "UTF-16": ('{"name": "a"}'.encode("utf-16"), {400}, "body"),
    "lone surrogate": (b'{"name": "a\\ud800b"}', {400}, "name"),
    "control character": (b'{"name": "a\\u0000b"}', {400}, "name"),
    "bidi override": (b'{"name": "a\\u202eb"}', {400}, "name"),
    "name a number": (dumps({"name": 123}), {400}, "name"),
    "name null": (dumps({"name": None}), {400}, "name"),
    "name an object": (dumps({"name": {"$ne": ""}}), {400}, "name"),
    "scopes a string": (dumps({"name": "a", "scopes": "read"}), {400}, "scopes"),
    "scopes numbers": (dumps({"name": "a", "scopes": [1, 2]}), {400}, "scopes"),
    "scopes nested": (dumps({"name": "a", "scopes": [["read"]]}), {400}, "scopes"),
    "unknown scope": (dumps({"name": "a", "scopes": ["root"]}), {400}, "scopes"),
    "projects a string": (dumps({"name": "a", "projects": "alpha"}), {400}, "projects"),
    "projects with null": (dumps({"name": "a", "projects": [None]}), {400}, "projects"),
    "a thousand projects": (dumps({"name": "a", "projects": [f"p{n}" for n in range(1000)]}), {400},
                            "projects"),
    "expiry huge int": (b'{"name": "a", "expires_in_days": ' + b"9" * 4000 + b"}", {400}, "expires_in_days"),
    "expiry too many digits": (b'{"name": "a", "expires_in_days": ' + b"9" * 5000 + b"}", {400}, None),
    "expiry float overflow": (b'{"name": "a", "expires_in_days": 1e309}', {400}, "expires_in_days"),
    "expiry NaN": (b'{"name": "a", "expires_in_days": NaN}', {400}, "expires_in_days"),
    "expiry negative": (dumps({"name": "a", "expires_in_days": -1}), {400}, "expires_in_days"),
    "expiry a string": (dumps({"name": "a", "expires_in_days": "30"}), {400}, "expires_in_days"),
    "expiry a bool": (dumps({"name": "a", "expires_in_days": True}), {400}, "expires_in_days"),
    "expires_at garbage": (dumps({"name": "a", "expires_at": "yesterday"}), {400}, "expires_at"),
    "expires_at no zone": (dumps({"name": "a", "expires_at": "2035-01-01T00:00:00"}), {400}, "expires_at"),
    "expires_at month 13": (dumps({"name": "a", "expires_at": "2035-13-01"}), {400}, "expires_at"),
    "expires_at year 1": (dumps({"name": "a", "expires_at": "0001-01-01T00:00:00+14:00"}), {400},
                          "expires_at"),
    "expires_at past 9999 in UTC": (dumps({"name": "a", "expires_at": "9999-12-31T23:59:59-14:00"}), {400},
                                    "expires_at"),
    "expires_at last date": (dumps({"name": "a", "expires_at": "9999-12-31"}), {400}, "expires_at"),
    "expires_at huge": (dumps({"name": "a", "expires_at": "9" * 10_000}), {400}, "expires_at"),
    "both expiries": (dumps({"name": "a", "expires_at": "2035-01-01", "expires_in_days": 3}), {400},
                      "expires_at"),
    "id traversal": (dumps({"name": "a", "id": "../../etc/passwd"}), {400}, "id"),
    "id too long": (dumps({"name": "a", "id": "a" * 65}), {400}, "id"),
    "id a list": (dumps({"name": "a", "id": ["a"]}), {400}, "id"),
    "admin true": (dumps({"name": "a", "admin": True}), {400}, "admin"),
    "unknown field": (dumps({"name": "a", "owner": "mallory"}), {400}, "owner"),
    "huge key": (dumps({"k" * 50_000: 1}), {400}, "body"),
}


@pytest.mark.parametrize("name", list(NAMED))
def test_absurd_create_bodies(api: Api, name: str) -> None:
    body, statuses, field = NAMED[name]
    before = api.count()
    response = api.post(body)
    assert response.status_code in statuses, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    data = response.json()
    assert data["error"] and data["error_description"]
    if field is not None:
        assert data.get("field") == field
    assert api.count() == before


def test_a_body_that_is_not_json_is_415(api: Api) -> None:
    before = api.count()
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        response = api.post(dumps({"name": "a"}), content_type=kind)
        assert response.status_code in {400, 415}, (kind, response.text[:200])
    assert api.count() == before


def test_duplicate_keys_and_the_accepted_extremes(api: Api) -> None:
    response = api.post(b'{"name": "first", "name": "second"}')
    assert response.status_code in {201, 400}
    if response.status_code == 201:
        assert response.json()["info"]["name"] == "second"
    response = api.post(dumps({"name": "x" * 100, "expires_in_days": 36500, "scopes": ["read"] * 1000}))
    assert response.status_code == 201, response.text[:300]
    assert response.json()["info"]["scopes"] == ["read"]


def test_absurd_update_bodies(api: Api) -> None:
    token_id = api.post(dumps({"name": "to patch"})).json()["info"]["id"]
    path = f"{API}/{token_id}"
    for body, field in ((b"[" * 30_000 + b"]" * 30_000, "body"), (dumps({"name": "n" * 101}), "name"),
                        (dumps({"name": None, "projects": 7}), "projects"), (dumps({"scopes": ["read"]}),
                                                                              "scopes"),
                        (dumps({"admin": True}), "admin"), (b"\xff", "body")):
        response = api.post(body, path, method="PATCH")
        assert response.status_code == 400, response.text[:300]
        assert response.json().get("field") == field
    assert api.guard.get_token(token_id).name == "to patch"
    for weird in ("..%2F..%2Fetc", "A" * 200, "%00", "id%0d%0aX-Evil:%201"):
        response = api.client.get(f"{API}/{weird}", headers=api.headers)
        assert response.status_code in {400, 404}, (weird, response.status_code)


def test_absurd_revocation_and_introspection_bodies(api: Api) -> None:
    bearer = {"Authorization": f"Bearer {api.manager}"}
    bodies = [b"token=" + b"A" * 60_000, b"token=%ff%fe", b"token=a&token=b", b"&" * 5000,
              b"token=" + b"%" * 1000, b"=" * 1000]
    for body in bodies:
        for path in (f"{API}/revoke", f"{API}/introspect"):
            response = api.client.post(path, content=body, headers={
                **bearer, "Content-Type": "application/x-www-form-urlencoded"})
            assert response.status_code in {200, 400, 413}, (path, body[:20], response.text[:200])
    assert api.guard.authenticate(api.manager).owner == "alice"   # nothing revoked it


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=120),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                       max_size=4),
    max_leaves=12,
)
create_bodies = st.dictionaries(
    st.sampled_from(["name", "scopes", "projects", "id", "expires_in_days", "expires_at", "extra"]),
    json_values, max_size=5,
)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(create_bodies)
def test_any_json_object_gets_201_or_a_4xx_naming_a_field(api: Api, body: dict[str, Any]) -> None:
    response = api.post(dumps(body))
    assert response.status_code not in NEVER
    assert response.status_code in {201, 400, 409}, response.text[:300]
    if response.status_code == 400:
        assert response.json().get("field")
    else:
        created = response.json()
        assert created["token"] != created["info"]["id"]
        api.guard.delete(created["info"]["id"])


form_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
page_forms = st.fixed_dictionaries({}, optional={
    "name": form_text, "permission": st.sampled_from(["read", "write", "management", "root", ""]) | form_text,
    "expires": st.sampled_from(["7", "30", "90", "365", "never", "custom", "-1", "99999999999"]) | form_text,
    "expires_on": st.sampled_from(["0001-01-01", "9999-12-31", "2035-02-30", ""]) | form_text,
    "id": form_text, "projects": form_text,
})


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(page_forms)
@example({"name": "ci", "permission": "read", "expires": "\u00b3"})  # a digit to isdigit(), not to int()
def test_any_settings_form_gets_a_page_or_a_4xx_never_500(api: Api, fields: dict[str, str]) -> None:
    page = api.client.get(PAGE)
    csrf = CSRF_META.search(page.text)
    assert csrf is not None
    response = api.client.post(PAGE, data={**fields, "csrf_token": csrf.group(1)},
                               headers={"Origin": api.headers["Origin"]})
    assert response.status_code in {200, 303, 400, 409, 413}, response.text[:300]
    for token in api.guard.list_tokens("alice"):
        if token.name != "manager":
            api.guard.delete(token.id)


def test_a_secret_pasted_where_an_id_goes_is_never_echoed(api: Api) -> None:
    """Item 14: a 404 for ``/api/tokens/<the secret>`` must not repeat the secret back."""
    secret = api.manager
    calls = [("GET", f"{API}/{secret}"), ("PATCH", f"{API}/{secret}"), ("DELETE", f"{API}/{secret}"),
             ("POST", f"{API}/{secret}/revoke"), ("POST", f"{API}/{secret}/rotate"),
             ("POST", f"{PAGE}/{secret}/revoke"), ("GET", f"{PAGE}/{secret}/delete")]
    access = logging.getLogger("werkzeug")   # the host's access log shows URLs: not ours to police
    level = access.level
    access.setLevel(logging.ERROR)
    try:
        responses = [(method, path, api.client.request(method, path, json={} if method == "PATCH" else None,
                                                       headers=api.headers)) for method, path in calls]
    finally:
        access.setLevel(level)
    for method, path, response in responses:
        assert response.status_code in {303, 400, 404}, (method, path[-12:], response.status_code)
        assert secret[3:] not in response.text and secret[3:] not in str(response.headers)
    for body in ({secret: 1}, {"name": "a", "scopes": [secret]}, {"name": "a", "id": secret},
                 {"name": "a", "expires_at": secret}, {"name": "a", "projects": [secret + "!"]}):
        response = api.post(dumps(body))
        assert response.status_code == 400 and secret[3:] not in response.text, list(body)
    with pytest.raises(TokenNotFound) as caught:
        api.guard.get_token(secret)
    assert secret[3:] not in str(caught.value)
    assert api.guard.authenticate(secret).owner == "alice"


@pytest.mark.parametrize("body", [b'{"name": "\\ud800"}', b'{"name": "ok", "projects": "\\udfff"}',
                                  b'{"name": "ok", "scopes": ["read", "\\udc00"]}', b'{"\\ud800": "x"}'])
def test_a_settings_form_sent_as_json_with_a_lone_surrogate_is_a_400_not_a_500(api: Api, body: bytes) -> None:
    """The page shows a refused form again with its values: a lone surrogate could not be encoded."""
    page = api.client.get(PAGE)
    csrf = CSRF_META.search(page.text)
    assert csrf is not None
    before = api.count()
    response = api.client.post(PAGE, content=body, headers={
        "Origin": api.headers["Origin"], "X-CSRF-Token": csrf.group(1), "Content-Type": "application/json"})
    assert response.status_code == 400, response.text[:300]
    assert response.headers["Content-Type"].startswith("text/html") and "<form" in response.text
    assert api.count() == before
