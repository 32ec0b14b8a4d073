"""The settings page through Flask's test client: forms, PRG, flash, CSRF, escaping, headers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask

from _flask_support import ORIGIN, PAGE, Browser, bearer, make_app, make_guard, new_token_in
from _reserved_ids import token_under_reserved_id
from _testclock import ManualClock as Clock
from tokenguard import TokenGuard

CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def guard(clock: Clock) -> TokenGuard:
    return make_guard(clock=clock, max_tokens_per_owner=3)


@pytest.fixture
def app(guard: TokenGuard) -> Flask:
    return make_app(guard, app_name="Notes", env_var="NOTES_TOKEN")


@pytest.fixture
def alice(app: Flask) -> Browser:
    return Browser(app, "alice")


def assert_page_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["Content-Security-Policy"] == CSP
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"


def create(alice: Browser, name: str = "ci", **fields: str) -> object:
    data = {"name": name, "permission": "write", "expires": "30", **fields}
    return alice.form(PAGE, data)


def test_page_needs_a_signed_in_user(app: Flask) -> None:
    response = app.test_client().get(PAGE)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'  # RFC 9110: a 401 challenges
    assert "Sign in" in response.get_data(as_text=True)
    assert_page_headers(response)


def test_page_redirects_to_the_login_url_when_configured(guard: TokenGuard) -> None:
    app = make_app(guard, login_url="/login")
    response = app.test_client().get(PAGE)
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/settings/tokens"


def test_empty_page(alice: Browser) -> None:
    response = alice.page()
    assert response.status_code == 200
    assert_page_headers(response)
    text = response.get_data(as_text=True)
    assert "You have no API tokens yet." in text
    assert '<meta name="csrf-token" content="' in text
    assert "Signed in as <strong>alice</strong>" in text
    assert "<title>API tokens · Notes</title>" in text
    for level in ("read", "write", "management"):
        assert f'value="{level}"' in text
    for choice in ('value="7"', 'value="30"', 'value="90" selected', 'value="custom"', 'value="never"'):
        assert choice in text
    assert not re.search(r"<(script|style)>", text) and " style=" not in text  # CSP: nothing inline


def test_create_shows_the_secret_once_with_no_store(alice: Browser, app: Flask, guard: TokenGuard) -> None:
    response = create(alice, "deploy", projects="alpha, beta", id="deploy")
    assert response.status_code == 200
    assert_page_headers(response)
    token = new_token_in(response)
    text = response.get_data(as_text=True)
    assert f"export NOTES_TOKEN={token}" in text
    assert f'data-replace-url="{PAGE}"' in text
    info = guard.get_token("deploy")
    assert info.scopes == frozenset({"write"}) and info.projects == frozenset({"alpha", "beta"})
    assert info.expires_at is not None and info.expires_at - info.created_at == timedelta(days=30)
    assert token not in response.headers.get("Set-Cookie", "") and token not in response.headers.get(
        "Location", "")
    again = alice.page().get_data(as_text=True)
    assert token not in again and "deploy" in again and info.hint in again
    assert app.test_client().post("/notes", headers=bearer(token)).status_code == 201


@pytest.mark.parametrize(("expires", "extra", "days"), [
    ("7", {}, 7), ("90", {}, 90), ("never", {}, None), ("custom", {"expires_on": "2030-01-10"}, 9.5),
])
def test_expiry_choices(alice: Browser, guard: TokenGuard, expires: str, extra: dict[str, str],
                        days: float | None) -> None:
    create(alice, "t", expires=expires, **extra)
    (info,) = guard.list_tokens("alice")
    if days is None:
        assert info.expires_at is None
    else:
        assert info.expires_at is not None
        assert info.expires_at - info.created_at == timedelta(days=days)


@pytest.mark.parametrize(("fields", "field_id", "status"), [
    ({"name": ""}, "name-error", 400),
    ({"name": "x" * 101}, "name-error", 400),
    ({"permission": "root"}, "permission-error", 400),
    ({"id": "Not Valid"}, "id-error", 400),
    ({"id": "admin"}, "id-error", 400),
    ({"projects": "ok, not ok!"}, "projects-error", 400),
    ({"expires": "custom", "expires_on": ""}, "expires_on-error", 400),
    ({"expires": "custom", "expires_on": "2029-12-01"}, "expires_on-error", 400),
    ({"expires": "forever"}, "expires-error", 400),
])
def test_form_errors_rerender_with_the_values_kept(alice: Browser, fields: dict[str, str], field_id: str,
                                                   status: int) -> None:
    response = create(alice, **{"name": "kept name", **fields})
    assert response.status_code == status
    text = response.get_data(as_text=True)
    assert f'id="{field_id}"' in text
    assert 'id="new-token"' not in text
    if "name" not in fields:
        assert 'value="kept name"' in text


@pytest.mark.parametrize(("language", "text"), [
    ("en", "This id names a page of the settings or the API; choose another."),
    ("de", "Diese ID benennt eine Seite der Einstellungen oder der API; wählen Sie eine andere."),
    ("fr", "Cet identifiant désigne une page des paramètres ou de "
           "l\N{RIGHT SINGLE QUOTATION MARK}API ; choisissez-en un autre."),
    ("nl", "Deze ID is de naam van een pagina van de instellingen of de API; kies een andere."),
])
def test_an_id_a_route_uses_is_refused_in_the_visitors_language(alice: Browser, guard: TokenGuard,
                                                                 language: str, text: str) -> None:
    data = {"name": "shadowed", "permission": "read", "expires": "30", "id": " admin "}
    response = alice.form(PAGE, data, headers={"Accept-Language": language})
    assert response.status_code == 400
    assert f'<p class="field-error" id="id-error">{text}</p>' in response.get_data(as_text=True)
    assert guard.list_tokens("alice") == []


def test_id_conflict_and_limit(alice: Browser) -> None:
    create(alice, "a", id="same")
    conflict = create(alice, "b", id="same")
    assert conflict.status_code == 409 and "This id is already taken." in conflict.get_data(as_text=True)
    create(alice, "c")
    create(alice, "d")
    page = alice.page().get_data(as_text=True)
    assert 'id="limit-reached"' in page and "<fieldset disabled>" in page
    assert "3 of 3 tokens in use" in page
    refused = create(alice, "e")
    assert refused.status_code == 409
    assert "maximum number of tokens" in refused.get_data(as_text=True)


def test_user_strings_are_escaped(alice: Browser, guard: TokenGuard) -> None:
    name = "<script>alert(1)</script>"
    create(alice, name, projects="a<b")  # refused project, kept value must be escaped too
    create(alice, name)
    text = alice.page().get_data(as_text=True)
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    token_id = guard.list_tokens("alice")[0].id
    confirm = alice.client.get(f"{PAGE}/{token_id}/delete").get_data(as_text=True)
    assert "<script>alert(1)" not in confirm and "&lt;script&gt;" in confirm


def test_revoke_and_reapprove_redirect_with_a_flash(alice: Browser, app: Flask, guard: TokenGuard) -> None:
    token = new_token_in(create(alice, "ci"))
    token_id = guard.list_tokens("alice")[0].id
    response = alice.form(f"{PAGE}/{token_id}/revoke", {})
    assert response.status_code == 303 and response.headers["Location"] == PAGE
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("tokenguard_flash=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert f"Path={PAGE}" in cookie
    shown = alice.page()
    text = shown.get_data(as_text=True)
    assert "Revoked “ci”." in text
    assert 'class="badge status status-revoked"' in text
    assert "tokenguard_flash=;" in shown.headers["Set-Cookie"]  # shown once, then cleared
    assert "Revoked “ci”." not in alice.page().get_data(as_text=True)
    assert app.test_client().get("/notes", headers=bearer(token)).status_code == 401

    alice.form(f"{PAGE}/{token_id}/reapprove", {})
    assert "Re-approved “ci”." in alice.page().get_data(as_text=True)
    assert app.test_client().get("/notes", headers=bearer(token)).status_code == 200


def test_a_flash_is_for_its_owner_only(app: Flask, guard: TokenGuard) -> None:
    alice = Browser(app, "alice")
    create(alice, "ci")
    token_id = guard.list_tokens("alice")[0].id
    cookie = alice.form(f"{PAGE}/{token_id}/revoke", {}).headers["Set-Cookie"].split(";")[0]
    bob = Browser(app, "bob")
    page = bob.client.get(PAGE, headers={"Cookie": cookie}).get_data(as_text=True)
    assert "Revoked" not in page


def test_reapprove_after_expiry_is_an_error_flash(alice: Browser, guard: TokenGuard, clock: Clock) -> None:
    create(alice, "short", expires="7")
    token_id = guard.list_tokens("alice")[0].id
    alice.form(f"{PAGE}/{token_id}/revoke", {})
    clock.advance(days=8)
    response = alice.form(f"{PAGE}/{token_id}/reapprove", {})
    assert response.status_code == 303
    text = alice.page().get_data(as_text=True)
    assert "cannot be re-approved" in text and "flash-error" in text


def test_rotate_shows_the_new_secret(alice: Browser, app: Flask, guard: TokenGuard) -> None:
    old = new_token_in(create(alice, "ci"))
    token_id = guard.list_tokens("alice")[0].id
    response = alice.form(f"{PAGE}/{token_id}/rotate", {})
    assert response.status_code == 200
    assert_page_headers(response)
    new = new_token_in(response)
    assert new != old and "Token rotated" in response.get_data(as_text=True)
    client = app.test_client()
    assert client.get("/notes", headers=bearer(old)).status_code == 401
    assert client.get("/notes", headers=bearer(new)).status_code == 200


def test_delete_asks_for_confirmation_without_javascript(alice: Browser, guard: TokenGuard) -> None:
    create(alice, "doomed")
    token_id = guard.list_tokens("alice")[0].id
    first = alice.form(f"{PAGE}/{token_id}/delete", {})
    assert first.status_code == 200
    assert "Delete “doomed”?" in first.get_data(as_text=True)
    assert_page_headers(first)
    assert guard.list_tokens("alice")  # not yet
    done = alice.form(f"{PAGE}/{token_id}/delete", {"confirm": "yes"})
    assert done.status_code == 303
    assert guard.list_tokens("alice") == []
    assert "Deleted “doomed”." in alice.page().get_data(as_text=True)


def test_a_token_whose_id_is_static_is_managed_like_any_other(alice: Browser, guard: TokenGuard) -> None:
    """``static/`` holds the page's assets; a name that is no asset is a token id.

    The id is reserved now; a token made under it before stays manageable.
    """
    token_under_reserved_id(guard, "alice", "named static", "static")
    confirm = alice.client.get(f"{PAGE}/static/delete")
    assert confirm.status_code == 200 and "Delete “named static”?" in confirm.get_data(as_text=True)
    assert alice.form(f"{PAGE}/static/delete", {"confirm": "yes"}).status_code == 303
    assert guard.list_tokens("alice") == []
    assert alice.client.get(f"{PAGE}/static/tokenguard.css").status_code == 200


def test_forms_need_csrf_and_our_origin(alice: Browser, guard: TokenGuard) -> None:
    no_csrf = alice.form(PAGE, {"name": "x"}, csrf=False)
    assert no_csrf.status_code == 403
    assert_page_headers(no_csrf)
    wrong_origin = alice.form(PAGE, {"name": "x"}, headers={"Origin": "https://evil.example"})
    assert wrong_origin.status_code == 403
    fields = {"name": "x", "csrf_token": alice.page_csrf()}
    no_origin = alice.client.post(PAGE, data=fields)
    assert no_origin.status_code == 403
    doubled = f"name=x&csrf_token={fields['csrf_token']}&csrf_token={fields['csrf_token']}"
    twice = alice.client.post(PAGE, data=doubled, content_type="application/x-www-form-urlencoded",
                              headers={"Origin": ORIGIN})
    assert twice.status_code == 403
    assert guard.list_tokens("alice") == []
    fetch_metadata = alice.client.post(PAGE, data=fields, headers={"Origin": "null",
                                                                   "Sec-Fetch-Site": "same-origin"})
    assert fetch_metadata.status_code == 200  # Referrer-Policy no-referrer makes Origin "null"


def test_another_owners_token_is_404(alice: Browser, guard: TokenGuard) -> None:
    bobs = guard.create_token("bob", "bob's").info.id
    for action in ("revoke", "rotate", "delete"):
        response = alice.form(f"{PAGE}/{bobs}/{action}", {"confirm": "yes"})
        assert response.status_code == 404
        assert_page_headers(response)
    assert alice.client.get(f"{PAGE}/{bobs}/delete").status_code == 404
    assert guard.get_token(bobs).status == "active"


def test_can_manage_false_is_403(guard: TokenGuard) -> None:
    app = make_app(guard, can_manage=lambda owner: owner != "mallory")
    response = Browser(app, "mallory").page()
    assert response.status_code == 403
    assert "not allowed" in response.get_data(as_text=True)


def test_unknown_paths_and_methods(alice: Browser) -> None:
    assert alice.client.get(f"{PAGE}/nothing/here").status_code == 404
    response = alice.client.put(PAGE)
    assert response.status_code == 405 and response.headers["Allow"] == "GET, POST"
    assert alice.client.get(f"{PAGE}/abc/revoke").status_code == 405


def test_static_assets_are_served_without_sign_in(app: Flask) -> None:
    client = app.test_client()
    css = client.get(f"{PAGE}/static/tokenguard.css")
    assert css.status_code == 200 and css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert "immutable" in css.headers["Cache-Control"]
    js = client.get(f"{PAGE}/static/tokenguard.js")
    assert js.status_code == 200 and "replaceState" in js.get_data(as_text=True)
    assert js.headers["X-Content-Type-Options"] == "nosniff"
    for path in ("../templates/base.html", "..%2Fapp.py", "missing.css", "__init__.py"):
        assert client.get(f"{PAGE}/static/{path}").status_code == 404, path


def test_the_page_links_its_assets_with_a_version(alice: Browser) -> None:
    text = alice.page().get_data(as_text=True)
    css = re.search(r'href="(/settings/tokens/static/tokenguard\.css\?v=[0-9a-f]{12})"', text)
    js = re.search(r'src="(/settings/tokens/static/tokenguard\.js\?v=[0-9a-f]{12})"', text)
    assert css and js
    assert alice.client.get(css.group(1)).status_code == 200


def test_the_table_shows_every_column(alice: Browser, guard: TokenGuard, clock: Clock, app: Flask) -> None:
    token = new_token_in(create(alice, "ci", projects="alpha", id="ci-bot"))
    clock.advance(hours=2)
    app.test_client().get("/notes", headers=bearer(token))
    text = alice.page().get_data(as_text=True)
    row = text[text.index('id="token-ci-bot"'):]
    row = row[:row.index("</tr>")]
    info = guard.get_token("ci-bot")
    for expected in ("ci-bot", info.hint, "perm-write", '<span class="tag">alpha</span>', "1 Jan 2030",
                     "31 Jan 2030", "in 30 days", "2 hours ago", "status-active", "Revoke", "Rotate",
                     "Delete"):
        assert expected in row, expected


def test_expired_tokens_show_as_expired(alice: Browser, guard: TokenGuard, clock: Clock) -> None:
    create(alice, "old", expires="7")
    clock.advance(days=8)
    text = alice.page().get_data(as_text=True)
    assert 'class="badge status status-expired"' in text
    assert ">Revoke<" not in text and ">Rotate<" not in text and ">Re-approve<" not in text


def test_a_body_over_the_limit_is_413(alice: Browser) -> None:
    response = alice.client.post(PAGE, data={"name": "x" * (70 * 1024)}, headers={"Origin": ORIGIN})
    assert response.status_code == 413


def test_store_failure_is_a_503_page(tmp_path: object) -> None:
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "tokens.db"
    guard = make_guard(f"sqlite:///{path}")
    alice = Browser(make_app(guard))
    assert alice.page().status_code == 200
    guard.store.close()
    path.write_bytes(b"this is not a database" * 100)
    response = alice.page()
    assert response.status_code == 503
    assert_page_headers(response)
    api = alice.client.get("/api/tokens")
    assert api.status_code == 503 and api.json["error"] == "temporarily_unavailable"


def _nonce_of(page_html: str) -> str:
    match = re.search(r'name="form_nonce" value="([^"]+)"', page_html)
    assert match is not None
    return match.group(1)


def test_the_same_create_form_sent_twice_creates_one_token(alice: Browser, guard: TokenGuard) -> None:
    nonce = _nonce_of(alice.page().get_data(as_text=True))
    fields = {"name": "ci", "permission": "read", "form_nonce": nonce}
    first = alice.form(PAGE, fields)
    assert first.status_code == 200
    secret = new_token_in(first)
    again = alice.form(PAGE, fields)  # a reload of the secret page without JavaScript, a double click
    assert again.status_code == 303 and secret not in again.get_data(as_text=True)
    shown = alice.page().get_data(as_text=True)
    assert "already created" in shown and secret not in shown
    assert [t.name for t in guard.list_tokens("alice")] == ["ci"]
    other = alice.form(PAGE, {**fields, "form_nonce": _nonce_of(shown)})  # a fresh rendering
    assert other.status_code == 200 and len(guard.list_tokens("alice")) == 2


def test_the_same_create_form_with_a_chosen_id_sent_twice_says_already_created(
    alice: Browser, guard: TokenGuard, clock: Clock,
) -> None:
    nonce = _nonce_of(alice.page().get_data(as_text=True))
    fields = {"name": "ci", "permission": "read", "id": "my-ci", "form_nonce": nonce}
    secret = new_token_in(alice.form(PAGE, fields))
    again = alice.form(PAGE, fields)  # the secret page reloaded without JavaScript
    assert again.status_code == 303
    shown = alice.page().get_data(as_text=True)
    assert "already created" in shown and secret not in shown
    other = alice.form(PAGE, {**fields, "name": "another", "form_nonce": _nonce_of(shown)})
    assert other.status_code == 409 and "already taken" in other.get_data(as_text=True)
    clock.advance(minutes=11)  # long after: the id is simply taken
    late = alice.form(PAGE, {**fields, "form_nonce": _nonce_of(shown)})
    assert late.status_code == 409 and "already taken" in late.get_data(as_text=True)
    assert [t.id for t in guard.list_tokens("alice")] == ["my-ci"]


def test_a_malformed_nonce_is_ignored_not_trusted(alice: Browser, guard: TokenGuard) -> None:
    for nonce in ("short", "x" * 65, "../../etc"):
        assert alice.form(PAGE, {"name": f"n{len(nonce)}", "form_nonce": nonce}).status_code == 200
    assert len({t.id for t in guard.list_tokens("alice")}) == 3


def test_the_same_rotate_form_sent_twice_rotates_once(alice: Browser, app: Flask, guard: TokenGuard) -> None:
    new_token_in(create(alice, "ci"))
    info = guard.list_tokens("alice")[0]
    rotated = new_token_in(alice.form(f"{PAGE}/{info.id}/rotate", {"hint": info.hint}))
    again = alice.form(f"{PAGE}/{info.id}/rotate", {"hint": info.hint})  # the stale form again
    assert again.status_code == 303
    assert "already rotated" in alice.page().get_data(as_text=True)
    assert app.test_client().get("/notes", headers=bearer(rotated)).status_code == 200


def test_a_signed_in_id_with_whitespace_around_it_is_nobody_elses(app: Flask, guard: TokenGuard) -> None:
    """``"alice "`` is refused (400), on the page and the API: never shown alice's tokens."""
    alices = guard.create_token("alice", "alice's deploy key")
    spaced = Browser(app, "alice ")
    page = spaced.page()
    assert page.status_code == 400 and "cannot hold API tokens" in page.get_data(as_text=True)
    assert "deploy key" not in page.get_data(as_text=True)
    api = spaced.client.get("/api/tokens")
    assert api.status_code == 400 and api.json["field"] == "owner"
    one = spaced.client.get(f"/api/tokens/{alices.info.id}")  # refused as the caller is adopted
    assert one.status_code == 400 and one.json["field"] == "owner"
