"""``TokenGuardMiddleware`` and ``require_scope`` through Django's test clients (WSGI and ASGI)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import AsyncClient, Client
from django.test.utils import CaptureQueriesContext

from tokenguard.errors import StoreUnavailable
from tokenguard_django import get_guard
from tokenguard_django.models import Token
from tokenguard_django.store import DjangoStore


@dataclass
class Tokens:
    read: str
    write: str
    alpha: str
    revoked: str
    expired: str


@pytest.fixture
def tokens(db: str) -> Tokens:
    guard = get_guard()
    made = Tokens(
        read=guard.create_token("1", "reader", scopes=["read"]).token,
        write=guard.create_token("2", "writer", scopes=["write"]).token,
        alpha=guard.create_token("3", "alpha only", scopes=["write"], projects=["alpha"]).token,
        revoked=guard.create_token("4", "revoked", scopes=["write"], token_id="gone").token,
        expired=guard.create_token("5", "expired", scopes=["write"], token_id="old").token,
    )
    guard.revoke("gone")
    Token.objects.filter(pk="old").update(expires_at=datetime(2000, 1, 1, tzinfo=UTC))
    return made


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def get(path: str, *, asgi: bool = False, **meta: str) -> Any:
    """GET through the WSGI handler (``Client``) or the ASGI one (``AsyncClient``)."""
    headers = {key.removeprefix("HTTP_").replace("_", "-").title(): value for key, value in meta.items()}
    if asgi:
        return async_to_sync(AsyncClient().get)(path, headers=headers)
    return Client().get(path, headers=headers)


def challenge(response: Any) -> str:
    return str(response.headers.get("WWW-Authenticate", ""))


def body(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(response.content)
    return data


@pytest.mark.parametrize("asgi", [False, True], ids=["wsgi", "asgi"])
@pytest.mark.parametrize("path", ["/read", "/class/read", "/async", "/class/async", "/any"])
def test_a_token_with_the_scope_passes_and_is_request_token(tokens: Tokens, path: str, asgi: bool) -> None:
    response = get(path, asgi=asgi, **bearer(tokens.write))  # write implies read
    assert response.status_code == 200, response.content
    assert body(response)["owner"] == "2"


@pytest.mark.parametrize("asgi", [False, True], ids=["wsgi", "asgi"])
@pytest.mark.parametrize("path", ["/read", "/class/read", "/async", "/class/async", "/any"])
def test_no_credentials_is_401_with_the_bare_challenge(db: str, path: str, asgi: bool) -> None:
    response = get(path, asgi=asgi)
    assert response.status_code == 401
    assert challenge(response) == 'Bearer realm="api"'
    assert response.headers["Cache-Control"] == "no-store"
    assert body(response)["error"] == "unauthorized" or "error" in body(response)


@pytest.mark.parametrize("asgi", [False, True], ids=["wsgi", "asgi"])
@pytest.mark.parametrize("path", ["/async", "/class/async", "/projects/alpha"])
def test_a_missing_scope_is_403_insufficient_scope(tokens: Tokens, path: str, asgi: bool) -> None:
    response = get(path, asgi=asgi, **bearer(tokens.read))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in challenge(response)
    assert 'scope="write"' in challenge(response)
    assert body(response)["error"] == "insufficient_scope"


def test_project_from_a_view_argument(tokens: Tokens) -> None:
    assert get("/projects/alpha", **bearer(tokens.alpha)).status_code == 200
    refused = get("/projects/beta", **bearer(tokens.alpha))
    assert refused.status_code == 403 and 'error="insufficient_scope"' in challenge(refused)
    assert get("/projects/beta", **bearer(tokens.write)).status_code == 200  # not restricted


def test_project_from_a_callable(tokens: Tokens) -> None:
    guard = get_guard()
    upper = guard.create_token("3", "upper", scopes=["write"], projects=["ALPHA"]).token
    assert get("/upper/alpha", **bearer(upper)).status_code == 200
    assert get("/upper/alpha", **bearer(tokens.alpha)).status_code == 403


@pytest.mark.parametrize("asgi", [False, True], ids=["wsgi", "asgi"])
@pytest.mark.parametrize("which", ["revoked", "expired"])
def test_revoked_and_expired_tokens_are_401_invalid_token(tokens: Tokens, which: str, asgi: bool) -> None:
    for path in ("/read", "/open"):  # refused before any view, protected or not
        response = get(path, asgi=asgi, **bearer(getattr(tokens, which)))
        assert response.status_code == 401
        assert 'error="invalid_token"' in challenge(response)


@pytest.mark.parametrize("headers", [
    {"HTTP_AUTHORIZATION": "Bearer"},
    {"HTTP_AUTHORIZATION": "Bearer tg_a,Bearer tg_b"},
    {"HTTP_AUTHORIZATION": "Bearer tg_not a token"},
])
def test_malformed_credentials_are_400_invalid_request(db: str, headers: dict[str, str]) -> None:
    response = get("/read", **headers)
    assert response.status_code == 400
    assert 'error="invalid_request"' in challenge(response)


def test_a_bad_checksum_is_refused_without_a_query(tokens: Tokens) -> None:
    forged = tokens.read[:-1] + ("A" if tokens.read[-1] != "A" else "B")
    with CaptureQueriesContext(connection) as queries:
        response = get("/read", **bearer(forged))
    assert response.status_code == 401
    assert [q["sql"] for q in queries.captured_queries if "tokenguard" in q["sql"]] == []


def test_the_api_token_header_works_too(tokens: Tokens) -> None:
    assert get("/read", HTTP_API_TOKEN=tokens.read).status_code == 200


def test_a_query_string_token_is_never_read(tokens: Tokens) -> None:
    assert get(f"/read?access_token={tokens.read}").status_code == 401


@pytest.mark.parametrize("asgi", [False, True], ids=["wsgi", "asgi"])
def test_unprotected_views_see_anonymous_requests_unchanged(db: str, asgi: bool) -> None:
    response = get("/open", asgi=asgi)
    assert response.status_code == 200 and body(response) == {"owner": None, "id": None}


@pytest.mark.parametrize("asgi", [False, True], ids=["wsgi", "asgi"])
def test_request_token_on_an_unprotected_view(tokens: Tokens, asgi: bool) -> None:
    assert body(get("/open", asgi=asgi, **bearer(tokens.read)))["owner"] == "1"


def test_an_error_raised_inside_a_view_is_the_same_answer(tokens: Tokens) -> None:
    response = get("/inside", **bearer(tokens.write))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in challenge(response) and 'scope="management"' in challenge(response)


def test_a_class_view_protects_only_the_decorated_method(tokens: Tokens) -> None:
    client = Client()
    assert client.get("/class/write").status_code == 200
    assert client.post("/class/write").status_code == 401
    assert client.post("/class/write", **bearer(tokens.write)).status_code == 200
    assert client.post("/class/write", **bearer(tokens.read)).status_code == 403


def test_a_protected_view_takes_header_tokens_past_djangos_csrf_check(tokens: Tokens) -> None:
    """A header token is no ambient credential: a view protected as a whole (a function, or a
    class's dispatch) is exempt from Django's CSRF check, as DRF's token views are."""
    client = Client(enforce_csrf_checks=True)
    assert client.post("/class/read", **bearer(tokens.read)).status_code == 200
    assert client.post("/class/read").status_code == 401  # the refusal is ours, not a CSRF page
    assert client.post("/read", **bearer(tokens.read)).status_code == 200


def test_the_store_down_is_503_and_back_afterwards(tokens: Tokens, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(self: DjangoStore, digest: str) -> None:
        raise StoreUnavailable("the database is down")

    with monkeypatch.context() as patched:
        patched.setattr(DjangoStore, "find", down)
        response = get("/read", **bearer(tokens.read))
        assert response.status_code == 503
        assert body(response)["error"] == "temporarily_unavailable"
        assert get("/open").status_code == 200  # no credentials: no store needed
    assert get("/read", **bearer(tokens.read)).status_code == 200


def test_the_database_failing_for_real_is_503(tokens: Tokens) -> None:
    """A real DatabaseError (the table gone) fails closed, and the request after it works again."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE tokenguard_token RENAME TO tokenguard_token_away")
    try:
        assert get("/read", **bearer(tokens.read)).status_code == 503
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE tokenguard_token_away RENAME TO tokenguard_token")
    assert get("/read", **bearer(tokens.read)).status_code == 200


def test_a_token_is_verified_once_per_request(tokens: Tokens, monkeypatch: pytest.MonkeyPatch) -> None:
    guard = get_guard()
    calls: list[str] = []
    original = guard.authenticate

    def counting(token: Any, **kwargs: Any) -> Any:
        calls.append("x")
        return original(token, **kwargs)

    monkeypatch.setattr(guard, "authenticate", counting)
    assert get("/read", **bearer(tokens.read)).status_code == 200
    assert len(calls) == 1


def test_the_last_use_is_recorded(tokens: Tokens) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    get("/read", **bearer(tokens.read))
    [info] = get_guard().list_tokens("1")
    assert info.last_used_at is not None and info.last_used_at >= before
