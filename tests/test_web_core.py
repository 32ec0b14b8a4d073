"""The framework-neutral web layer called directly, as an adapter calls it: the dispatch convention,
options, the origin check, the forms and the error answers."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenguard import TokenGuard, ValidationError
from tokenguard.errors import TooManyAttempts
from tokenguard.web.app import TokenWeb
from tokenguard.web.csrf import CsrfProtector, same_origin
from tokenguard.web.forms import expiry_choices, parse_expiry
from tokenguard.web.http import WebRequest
from tokenguard.web.options import WebOptions

ORIGIN = "https://app.example"


def request(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"", *,
            owner: str | None = None, root: str = "", prefix: str = "") -> WebRequest:
    lowered: dict[str, list[str]] = {}
    for name, value in (headers or {}).items():
        lowered.setdefault(name.lower(), []).append(value)
    return WebRequest(method, path, lambda name: lowered.get(name.lower(), []), body, owner,
                      "127.0.0.1", ORIGIN, root=root, prefix=prefix)


@pytest.fixture
def guard() -> TokenGuard:
    return TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False)


@pytest.fixture
def web(guard: TokenGuard) -> TokenWeb:
    return TokenWeb(guard, WebOptions())


def test_mount_points_and_split(web: TokenWeb) -> None:
    assert web.handles("/api/tokens") and web.handles("/api/tokens/x/revoke")
    assert web.handles("/settings/tokens/static/tokenguard.css")
    assert not web.handles("/api/tokensx") and not web.handles("/api") and not web.handles("/")
    assert web.split("/api/tokens") == ("/api/tokens", "/")
    assert web.split("/settings/tokens/abc/delete") == ("/settings/tokens", "/abc/delete")
    assert web.split("/elsewhere") is None
    assert web.mount_for("/settings/tokens/") == "/settings/tokens"


def test_dispatch_accepts_a_full_path_or_root_and_rest(web: TokenWeb) -> None:
    full = web.dispatch(request("GET", "/api/tokens/openapi.json"))
    split = web.dispatch(request("GET", "/openapi.json", root="/api/tokens"))
    assert full.status == split.status == 200 and full.body == split.body
    page = web.dispatch(request("GET", "/", root="/settings/tokens", owner="alice"))
    assert page.status == 200 and page.header("Content-Type") == "text/html; charset=utf-8"
    assert web.dispatch(request("GET", "/not/ours")).status == 404


def test_a_json_round_trip_without_any_framework(web: TokenWeb) -> None:
    listed = web.dispatch(request("GET", "/api/tokens", owner="alice"))
    csrf = listed.header("X-CSRF-Token")
    assert csrf
    headers = {"X-CSRF-Token": csrf, "Origin": ORIGIN, "Content-Type": "application/json"}
    created = web.dispatch(request("POST", "/api/tokens", headers, json.dumps({"name": "n"}).encode(),
                                   owner="alice", prefix="/app"))
    assert created.status == 201
    body = json.loads(created.body)
    assert created.header("Location") == f"/app/api/tokens/{body['info']['id']}"
    check = web.authenticator.protect(lambda n: [f"Bearer {body['token']}"] if n == "Authorization" else [],
                                      ["read"])
    assert check.owner == "alice"


def test_the_page_uses_the_prefix_for_links_and_cookies(web: TokenWeb, guard: TokenGuard) -> None:
    token_id = guard.create_token("alice", "t").info.id
    page = web.dispatch(request("GET", "/settings/tokens", owner="alice", prefix="/app"))
    text = page.body.decode()
    assert 'action="/app/settings/tokens"' in text and "/app/api/tokens/openapi.json" in text
    csrf = text.split('name="csrf-token" content="')[1].split('"')[0]
    form = f"csrf_token={csrf}".encode()
    revoked = web.dispatch(request("POST", f"/settings/tokens/{token_id}/revoke",
                                   {"Origin": ORIGIN, "Content-Type": "application/x-www-form-urlencoded"},
                                   form, owner="alice", prefix="/app"))
    assert revoked.status == 303 and revoked.header("Location") == "/app/settings/tokens"
    cookie = revoked.header("Set-Cookie") or ""
    assert "Path=/app/settings/tokens" in cookie and "Secure" in cookie  # https origin


def test_too_many_attempts_is_429_with_retry_after(web: TokenWeb) -> None:
    response = web.authenticator.respond(TooManyAttempts(30))
    assert response.status == 429 and response.header("Retry-After") == "30"
    assert json.loads(response.body)["error"] == "too_many_attempts"


@pytest.mark.parametrize(("headers", "expected"), [
    ({"Origin": ORIGIN}, True),
    ({"Origin": "https://APP.example"}, True),
    ({"Origin": "http://app.example"}, False),
    ({"Origin": "https://app.example.evil"}, False),
    ({"Origin": "null"}, False),
    ({"Origin": "null", "Sec-Fetch-Site": "same-origin"}, True),
    ({"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"}, False),
    ({"Sec-Fetch-Site": "same-site"}, False),
    ({"Sec-Fetch-Site": "none"}, False),
    ({"Referer": f"{ORIGIN}/settings/tokens"}, True),
    ({"Referer": "https://evil.example/app.example"}, False),
    ({"Referer": "not a url"}, False),
    ({}, False),
])
def test_same_origin(headers: dict[str, str], expected: bool) -> None:
    assert same_origin(request("POST", "/", headers)) is expected


def test_csrf_tokens_are_owner_bound_and_signed() -> None:
    csrf = CsrfProtector(b"k" * 32, max_age=60)
    token = csrf.issue("alice")
    assert csrf.verify(token, "alice")
    assert not csrf.verify(token, "bob")
    assert not csrf.verify(token + "x", "alice")
    assert not CsrfProtector(b"other key" * 4, max_age=60).verify(token, "alice")
    assert not csrf.verify(None, "alice") and not csrf.verify("x" * 600, "alice")
    assert "alice" not in token
    assert csrf.issue("alice") != token  # a fresh nonce each time


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"api_path": "api/tokens"}, "api_path"),
    ({"api_path": "/api/tokens/"}, "api_path"),
    ({"settings_path": "/api/tokens"}, "api_path"),
    ({"settings_path": "/api/tokens/page"}, "api_path"),
    ({"token_headers": "Api-Token"}, "token_headers"),
    ({"token_headers": ("Bad Header",)}, "token_headers"),
    ({"env_var": "MY-TOKEN"}, "env_var"),
    ({"max_body_size": 10}, "max_body_size"),
])
def test_options_are_validated_once(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        WebOptions(**kwargs)  # type: ignore[arg-type]
    assert raised.value.field == field


def test_expiry_choices_respect_the_guard(guard: TokenGuard) -> None:
    choices, default = expiry_choices(guard)
    assert [c.value for c in choices] == ["7", "30", "90", "custom", "never"] and default == "90"
    capped = TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False,
                        default_lifetime=timedelta(days=14), max_lifetime=timedelta(days=30))
    choices, default = expiry_choices(capped)
    assert [c.value for c in choices] == ["7", "14", "30", "custom"] and default == "14"
    never = TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False,
                       default_lifetime=None)
    assert expiry_choices(never)[1] == "never"


def test_parse_expiry() -> None:
    assert parse_expiry("2030-01-31", "f") == datetime(2030, 2, 1, tzinfo=UTC)
    assert parse_expiry("2030-01-31T10:00:00Z", "f") == datetime(2030, 1, 31, 10, tzinfo=UTC)
    assert parse_expiry(None, "f") is None
    for bad in ("2030-01-31T10:00:00", "31/01/2030", 20300131, "9" * 50):
        with pytest.raises(ValidationError):
            parse_expiry(bad, "f")


def test_html_pages_never_inline_scripts_or_styles(web: TokenWeb, guard: TokenGuard) -> None:
    guard.create_token("alice", "t")
    for path in ("/settings/tokens", f"/settings/tokens/{guard.list_tokens('alice')[0].id}/delete"):
        text = web.dispatch(request("GET", path, owner="alice")).body.decode()
        assert "<script>" not in text and "<style" not in text and " style=" not in text
        assert " on" + "click=" not in text


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=200),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children,
                                                                      max_size=4),
    max_leaves=12,
)
CREATE_BODIES = st.dictionaries(
    st.sampled_from(["name", "scopes", "projects", "id", "expires_in_days", "expires_at", "admin", "x"]),
    JSON_VALUES, max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=CREATE_BODIES | JSON_VALUES)
def test_any_json_body_is_answered_never_500(web: TokenWeb, body: object) -> None:
    csrf = web.gate.csrf.issue("alice")
    headers = {"X-CSRF-Token": csrf, "Origin": ORIGIN, "Content-Type": "application/json"}
    response = web.dispatch(request("POST", "/api/tokens", headers, json.dumps(body).encode(),
                                    owner="alice"))
    assert response.status in (201, 400, 409), response.body
    if response.status == 400:
        assert json.loads(response.body)["error"] == "invalid_request"
        assert "field" in json.loads(response.body)  # named, even when the name is "" (unknown key)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300),
       kind=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain", ""]))
def test_any_bytes_are_answered_never_500(web: TokenWeb, raw: bytes, kind: str) -> None:
    csrf = web.gate.csrf.issue("alice")
    headers = {"X-CSRF-Token": csrf, "Origin": ORIGIN, "Content-Type": kind}
    for path in ("/api/tokens", "/api/tokens/revoke", "/settings/tokens"):
        response = web.dispatch(request("POST", path, headers, raw, owner="alice"))
        assert response.status < 500, (path, response.status)
