"""FlaskTokenGuard: configuration, require_scope, current_token, flask-login (the CLI: test_flask_cli)."""

from __future__ import annotations

import secrets
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask, request, session

from _flask_support import API, PAGE, Browser, bearer, make_app, make_guard
from _hooks import RemoteRecorder
from tokenguard import TokenGuard, ValidationError
from tokenguard._clock import utcnow
from tokenguard_flask import FlaskTokenGuard, current_token, require_scope

KEY = secrets.token_urlsafe(40)


@pytest.fixture
def guard() -> TokenGuard:
    return make_guard(max_tokens_per_owner=None)


@pytest.fixture
def app(guard: TokenGuard) -> Flask:
    return make_app(guard)


# -- require_scope --------------------------------------------------------------------------------


def test_no_credentials_is_401_with_a_bare_challenge(app: Flask) -> None:
    response = app.test_client().get("/notes")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json == {"error": "unauthorized",
                             "error_description": "this endpoint requires an API token"}
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("header", ["Authorization", "Api-Token"])
def test_both_header_forms_work(app: Flask, guard: TokenGuard, header: str) -> None:
    token = guard.create_token("alice", "r").token
    value = f"Bearer {token}" if header == "Authorization" else token
    response = app.test_client().get("/notes", headers={header: value})
    assert response.status_code == 200 and response.json["owner"] == "alice"


def test_views_of_every_shape_get_their_arguments_and_the_same_checks(guard: TokenGuard) -> None:
    """A route without variables, one with them, and a ``MethodView`` method: each passes a token
    with the scope, refuses one without it (403) and a request without a token (401)."""
    from flask.views import MethodView

    app = Flask("shapes")
    FlaskTokenGuard(app, guard)

    @app.get("/plain")
    @require_scope("write")
    def plain() -> str:
        return "plain"

    @app.get("/notes/<int:number>/<name>")
    @require_scope("write")
    def note(number: int, name: str) -> str:
        return f"{number + 1}:{name}"

    class Notes(MethodView):
        @require_scope("write")
        def get(self, name: str) -> str:
            return f"{type(self).__name__}:{name}"

    app.add_url_rule("/by-class/<name>", view_func=Notes.as_view("notes"))
    writer = bearer(guard.create_token("alice", "w", scopes=["write"]).token)
    reader = bearer(guard.create_token("alice", "r", scopes=["read"]).token)
    client = app.test_client()
    for path, body in (("/plain", "plain"), ("/notes/41/x", "42:x"), ("/by-class/y", "Notes:y")):
        assert client.get(path, headers=writer).get_data(as_text=True) == body
        refused = client.get(path, headers=reader)
        assert refused.status_code == 403 and 'scope="write"' in refused.headers["WWW-Authenticate"]
        assert client.get(path).status_code == 401


def test_secret_token_uri_form_is_accepted(app: Flask, guard: TokenGuard) -> None:
    token = guard.create_token("alice", "r").token
    assert app.test_client().get("/notes", headers=bearer(f"secret-token:{token}")).status_code == 200


def test_missing_scope_is_403_insufficient_scope(app: Flask, guard: TokenGuard) -> None:
    token = guard.create_token("alice", "r", scopes=["read"]).token
    response = app.test_client().post("/notes", headers=bearer(token))
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="the access token lacks the required scope", scope="write"')
    assert response.json["scope"] == "write"


def test_scope_hierarchy(app: Flask, guard: TokenGuard) -> None:
    token = guard.create_token("alice", "m", scopes=["management"]).token
    client = app.test_client()
    assert client.get("/notes", headers=bearer(token)).status_code == 200
    assert client.post("/notes", headers=bearer(token)).status_code == 201


@pytest.mark.parametrize(("headers", "status", "error"), [
    ({"Authorization": "Bearer"}, 400, "invalid_request"),
    ({"Authorization": "Bearer a b"}, 400, "invalid_request"),
    ({"Authorization": "Bearer tok\u00e9n"}, 400, "invalid_request"),
    ({"Api-Token": ""}, 400, "invalid_request"),
    ({"Authorization": "Bearer tg_short"}, 401, "invalid_token"),
    ({"Authorization": "Bearer xx_0000000000000000000000000000000000000000"}, 401, "invalid_token"),
    ({"Authorization": "Bearer " + "A" * 9000}, 400, "invalid_request"),
])
def test_malformed_and_invalid_credentials(app: Flask, headers: dict[str, str], status: int,
                                           error: str) -> None:
    response = app.test_client().get("/notes", headers=headers)
    assert response.status_code == status
    assert response.json["error"] == error
    assert f'error="{error}"' in response.headers["WWW-Authenticate"]


def test_duplicate_headers_are_400(app: Flask, guard: TokenGuard) -> None:
    token = guard.create_token("alice", "r").token
    client = app.test_client()
    for headers in ([("Authorization", f"Bearer {token}")] * 2, [("Api-Token", token)] * 2,
                    [("Authorization", f"Bearer {token}"), ("Api-Token", token)]):
        response = client.get("/notes", headers=headers)
        assert response.status_code == 400, headers
        assert response.json["error"] == "invalid_request"


def test_other_authorization_schemes_are_not_ours(app: Flask) -> None:
    response = app.test_client().get("/notes", headers={"Authorization": "Basic YWxpY2U6cHc="})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_revoked_and_expired_tokens_are_401(app: Flask, guard: TokenGuard) -> None:
    from datetime import timedelta

    revoked = guard.create_token("alice", "r")
    guard.revoke(revoked.info.id)
    assert app.test_client().get("/notes", headers=bearer(revoked.token)).status_code == 401
    short = guard.create_token("alice", "s", expires_in=timedelta(seconds=1))
    later = guard.clock() + timedelta(seconds=2)
    guard.clock = lambda: later
    response = app.test_client().get("/notes", headers=bearer(short.token))
    assert response.status_code == 401 and response.json["error"] == "invalid_token"


def test_query_string_tokens_are_never_read(app: Flask, guard: TokenGuard) -> None:
    token = guard.create_token("alice", "r").token
    response = app.test_client().get("/notes", query_string={"access_token": token, "token": token})
    assert response.status_code == 401


def test_async_views_work(app: Flask, guard: TokenGuard) -> None:
    token = guard.create_token("alice", "r").token
    response = app.test_client().get("/async", headers=bearer(token))
    assert response.status_code == 200 and response.json == {"owner": "alice", "async": True}
    assert app.test_client().get("/async").status_code == 401


def test_bare_decorator_accepts_any_valid_token(app: Flask, guard: TokenGuard) -> None:
    token = guard.create_token("alice", "r", scopes=["read"]).token
    response = app.test_client().get("/any-token", headers=bearer(token))
    assert response.status_code == 200 and response.json["scopes"] == ["read"]
    assert app.test_client().get("/any-token").status_code == 401


def test_project_from_a_view_argument(app: Flask, guard: TokenGuard) -> None:
    alpha = guard.create_token("alice", "a", projects=["alpha"]).token
    anywhere = guard.create_token("alice", "b").token
    client = app.test_client()
    assert client.get("/projects/alpha/notes", headers=bearer(alpha)).status_code == 200
    denied = client.get("/projects/beta/notes", headers=bearer(alpha))
    assert denied.status_code == 403 and denied.json["error"] == "insufficient_scope"
    assert client.get("/projects/beta/notes", headers=bearer(anywhere)).status_code == 200


def test_project_from_a_callable(guard: TokenGuard) -> None:
    app = make_app(guard)

    @app.get("/p/<a>/<b>")
    @require_scope("read", project_from=lambda a, b: f"{a}-{b}")
    def joined(a: str, b: str) -> dict[str, Any]:
        return {"ok": True}

    token = guard.create_token("alice", "x", projects=["x-y"]).token
    client = app.test_client()
    assert client.get("/p/x/y", headers=bearer(token)).status_code == 200
    assert client.get("/p/x/z", headers=bearer(token)).status_code == 403


def test_unprotected_views_see_anonymous_requests_unchanged(app: Flask, guard: TokenGuard) -> None:
    client = app.test_client()
    plain = client.get("/public", headers={"Authorization": "Basic YWxpY2U6cHc="})
    assert plain.status_code == 200
    assert plain.json == {"anonymous": True, "authorization": "Basic YWxpY2U6cHc="}
    token = guard.create_token("alice", "r").token
    assert client.get("/public", headers=bearer(token)).json["anonymous"] is False  # current_token set


def test_bad_credentials_are_refused_on_unprotected_views_too(app: Flask) -> None:
    """RFC 6750 §3.1, and what the ASGI middleware does: credentials sent are credentials checked."""
    client = app.test_client()
    bad = client.get("/public", headers={"Authorization": "Bearer tg_garbage"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    malformed = client.get("/public", headers={"Api-Token": "a b"})
    assert malformed.status_code == 400


def test_bodiless_answers_carry_no_content_type(app: Flask) -> None:
    response = app.test_client().post(f"{API}/revoke", data={"token": "tg_unknown"})
    assert response.status_code == 200 and response.data == b""
    assert "Content-Type" not in response.headers


def test_current_token_is_the_requests_own_not_its_app_contexts(app: Flask, guard: TokenGuard) -> None:
    """Tests often push one app context for many requests: a token never outlives its request."""
    token = guard.create_token("alice", "r").token
    seen: dict[str, Any] = {}

    @app.get("/peek")
    @require_scope("read")
    def peek() -> str:
        seen["proxy"] = current_token.name
        return ""

    with app.app_context():
        assert current_token == None  # noqa: E711 (the proxy compares as its object) no request: None
        assert app.test_client().get("/peek", headers=bearer(token)).status_code == 200
        assert seen["proxy"] == "r"
        with app.test_request_context("/peek"):  # the view called directly, with no token
            refused = peek()
        assert refused.status_code == 401


def test_current_token_behaves_as_the_token_or_none(app: Flask, guard: TokenGuard) -> None:
    issued = guard.create_token("alice", "r")
    seen: dict[str, Any] = {}

    @app.get("/look")
    def look() -> str:
        seen["bool"] = bool(current_token)
        seen["eq"] = current_token == request.environ["tokenguard.token"]
        seen["repr"] = repr(current_token)
        try:
            seen["owner"] = current_token.owner
        except AttributeError as exc:  # no token: None has no owner, as with any proxy of None
            seen["owner"] = f"AttributeError: {exc}"
        return ""

    client = app.test_client()
    client.get("/look", headers=bearer(issued.token))
    assert seen["bool"] is True and seen["eq"] is True and seen["owner"] == "alice"
    assert seen["repr"].startswith("TokenInfo(") and issued.token not in seen["repr"]
    client.get("/look")
    assert seen["bool"] is False and seen["eq"] is True and seen["repr"] == "None"
    assert seen["owner"].startswith("AttributeError") and "owner" in seen["owner"]
    with pytest.raises(RuntimeError):  # outside a request: Flask's own error
        current_token.owner  # noqa: B018


def test_unknown_scope_is_a_programming_error_not_a_401(guard: TokenGuard) -> None:
    app = make_app(guard)
    app.config["PROPAGATE_EXCEPTIONS"] = True

    @app.get("/typo")
    @require_scope("wirte")
    def typo() -> str:
        return ""

    token = guard.create_token("alice", "r").token
    with pytest.raises(ValidationError):
        app.test_client().get("/typo", headers=bearer(token))


def test_require_scope_refuses_non_string_scopes() -> None:
    with pytest.raises(TypeError):
        require_scope(["read"])  # type: ignore[call-overload]


def test_store_failure_is_503_never_anonymous(tmp_path: Any) -> None:
    path = tmp_path / "t.db"
    guard = make_guard(f"sqlite:///{path}")
    token = guard.create_token("alice", "r").token
    app = make_app(guard)
    guard.store.close()
    path.write_bytes(b"garbage" * 1000)
    response = app.test_client().get("/notes", headers=bearer(token))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json["error"] == "temporarily_unavailable"


def test_store_outage_and_recovery_on_postgres(postgres_url: str) -> None:
    from faults import TcpProxy, through

    with TcpProxy("127.0.0.1", 5432) as proxy:
        guard = make_guard(through(postgres_url, proxy, 5432))
        manager = guard.create_token("alice", "m", scopes=["management"]).token
        unseen = guard.create_token("alice", "r").token  # not cached by any earlier check
        client = make_app(guard).test_client()
        assert client.get(API, headers=bearer(manager)).status_code == 200
        proxy.cut()
        assert client.get("/notes", headers=bearer(unseen)).status_code == 503
        assert client.get(API, headers=bearer(manager)).status_code == 503
        proxy.restore()
        statuses = [client.get("/notes", headers=bearer(unseen)).status_code for _ in range(3)]
        assert statuses[-1] == 200
        guard.close()


# -- configuration --------------------------------------------------------------------------------


def test_state_lives_in_app_extensions(app: Flask, guard: TokenGuard) -> None:
    state = app.extensions["tokenguard"]
    assert state.guard is guard
    assert state.web.options.api_path == API
    assert {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("tokenguard_")} == {
        API, f"{API}/<path:rest>", PAGE, f"{PAGE}/<path:rest>"}


def test_guard_built_from_config_with_init_app(tmp_path: Any) -> None:
    app = Flask("configured")
    app.config.update(TOKENGUARD_DATABASE_URL=f"sqlite:///{tmp_path}/t.db", TOKENGUARD_SECRET_KEY=KEY,
                      TOKENGUARD_PREFIX="notes", TOKENGUARD_MAX_TOKENS_PER_OWNER=2,
                      TOKENGUARD_DEFAULT_LIFETIME_DAYS=7, TOKENGUARD_MAX_LIFETIME_DAYS=30,
                      TOKENGUARD_API_PATH="/v1/tokens", TOKENGUARD_SETTINGS_PATH="/account/tokens",
                      TOKENGUARD_REALM="notes", TOKENGUARD_TOKEN_HEADERS="X-Notes-Token",
                      TOKENGUARD_AUTHORIZATION_HEADER="X-Authorization")
    ext = FlaskTokenGuard()
    ext.init_app(app)
    guard = app.extensions["tokenguard"].guard
    assert guard.prefix == "notes" and guard.max_tokens_per_owner == 2
    assert guard.default_lifetime is not None and guard.default_lifetime.days == 7
    assert guard.max_lifetime is not None and guard.max_lifetime.days == 30

    @app.get("/x")
    @require_scope("read")
    def view() -> str:
        return "ok"

    token = guard.create_token("alice", "r").token
    client = app.test_client()
    assert client.get("/x", headers={"X-Notes-Token": token}).status_code == 200
    assert client.get("/x", headers={"X-Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/x", headers=bearer(token)).status_code == 401
    assert client.get("/x").headers["WWW-Authenticate"] == 'Bearer realm="notes"'
    assert client.get("/v1/tokens").status_code == 401
    assert client.get("/account/tokens").status_code == 401
    assert client.get(API).status_code == 404


def test_keyword_options_are_defaults_the_config_overrides(guard: TokenGuard) -> None:
    app = Flask("opts")
    app.config["TOKENGUARD_REALM"] = "from-config"
    FlaskTokenGuard(app, guard, realm="from-kwargs", env_var="MY_TOKEN")
    assert app.config["TOKENGUARD_REALM"] == "from-config"
    assert app.config["TOKENGUARD_ENV_VAR"] == "MY_TOKEN"
    with pytest.raises(TypeError, match="unknown FlaskTokenGuard option"):
        FlaskTokenGuard(Flask("bad"), guard, reelm="typo")


def test_missing_configuration_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="TOKENGUARD_DATABASE_URL"):
        FlaskTokenGuard(Flask("no-url"))
    app = Flask("no-key")
    app.config["TOKENGUARD_DATABASE_URL"] = "memory://"
    with pytest.raises(ValidationError, match="TOKENGUARD_SECRET_KEY"):
        FlaskTokenGuard(app)
    bad = Flask("bad-path")
    bad.config.update(TOKENGUARD_DATABASE_URL="memory://", TOKENGUARD_SECRET_KEY=KEY,
                      TOKENGUARD_API_PATH="/settings/tokens/api")
    with pytest.raises(ValidationError, match="must not contain one another"):
        FlaskTokenGuard(bad)


def test_one_extension_serves_two_apps(guard: TokenGuard) -> None:
    other = make_guard()
    ext = FlaskTokenGuard(owner_loader=lambda: session.get("user"))
    first, second = Flask("first"), Flask("second")
    ext.init_app(first, guard)
    ext.init_app(second, other)
    assert first.extensions["tokenguard"].guard is guard
    assert second.extensions["tokenguard"].guard is other


def test_decorator_callbacks(guard: TokenGuard) -> None:
    app = Flask("decorated")
    app.secret_key = "k"
    tokens = FlaskTokenGuard(app, guard)

    @tokens.owner_loader
    def owner() -> int:
        return 42

    @tokens.can_manage
    def allowed(who: str) -> bool:
        return who == "42"

    assert owner() == 42 and allowed("42")
    response = app.test_client().get(API)
    assert response.status_code == 200 and "X-CSRF-Token" in response.headers

    @tokens.can_manage
    def nobody(who: str) -> bool:
        return False

    assert app.test_client().get(API).status_code == 403


def test_flask_login_current_user_is_the_owner(guard: TokenGuard) -> None:
    from flask_login import LoginManager, UserMixin, login_user

    class User(UserMixin):
        def __init__(self, user_id: str) -> None:
            self.id = user_id

    app = Flask("with_login")
    app.secret_key = "k"
    manager = LoginManager(app)
    manager.user_loader(User)
    FlaskTokenGuard(app, guard)

    @app.post("/login")
    def login() -> str:
        login_user(User("carol"))
        return ""

    client = app.test_client()
    assert client.get(API).status_code == 401
    client.post("/login")
    assert client.get(API).status_code == 200
    created = client.post(API, json={"name": "x"}, headers={
        "X-CSRF-Token": client.get(API).headers["X-CSRF-Token"], "Origin": "http://localhost"})
    assert created.json["info"]["owner"] == "carol"


@pytest.mark.parametrize("csrf_first", [True, False], ids=["csrfprotect-first", "tokenguard-first"])
def test_flask_wtf_csrfprotect_leaves_our_routes_to_their_own_check(guard: TokenGuard,
                                                                   csrf_first: bool) -> None:
    """Whatever the order an app factory sets them up in: bearer calls and our own forms pass."""
    from flask_wtf.csrf import CSRFProtect

    app = Flask("wtf")
    app.config.update(SECRET_KEY="session-key-for-tests")
    csrf = CSRFProtect()
    tokens = FlaskTokenGuard()
    for init in ((csrf.init_app, lambda a: tokens.init_app(a, guard)) if csrf_first
                 else (lambda a: tokens.init_app(a, guard), csrf.init_app)):
        init(app)

    @app.post("/form")
    def own_form() -> str:
        return "ok"

    manager = guard.create_token("alice", "manager", scopes=["management"]).token
    client = app.test_client()
    assert client.post(f"{API}/revoke", data={"token": "tg_unknown"}).status_code == 200
    patched = client.patch(f"{API}/{guard.authenticate(manager).id}", json={"name": "renamed"},
                           headers=bearer(manager))
    assert patched.status_code == 200 and patched.json["name"] == "renamed"
    assert client.post("/form").status_code == 400  # the app's own routes keep Flask-WTF's check


def test_app_mounted_under_a_prefix_builds_prefixed_links(guard: TokenGuard) -> None:
    app = make_app(guard)
    browser = Browser(app, None)
    browser.client.post("/_login", data={"user": "alice"}, environ_overrides={"SCRIPT_NAME": "/app"})
    page = browser.client.get(PAGE, environ_overrides={"SCRIPT_NAME": "/app"}).get_data(as_text=True)
    assert 'action="/app/settings/tokens"' in page and "/app/settings/tokens/static/tokenguard.css" in page


def test_current_token_is_known_to_an_app_hook_registered_before_the_extension(guard: TokenGuard) -> None:
    app = Flask("hooks first")
    seen: list[str] = []

    @app.before_request
    def rate_limit_key() -> None:  # an app factory's own hook, registered first
        seen.append(current_token.owner if current_token else "anonymous")

    FlaskTokenGuard(app, guard)

    @app.get("/notes")
    @require_scope("read")
    def notes() -> str:
        return current_token.owner

    token = guard.create_token("alice", "r").token
    client = app.test_client()
    assert client.get("/notes", headers=bearer(token)).get_data(as_text=True) == "alice"
    bad = client.get("/notes", headers=bearer("tg_" + "A" * 38))
    assert bad.status_code == 401  # the extension's own hook still refuses it
    assert seen == ["alice", "anonymous"]


def test_project_from_runs_only_for_a_valid_token(app: Flask, guard: TokenGuard) -> None:
    """The app's look-up (and its abort(404)) never answers a request without a token."""
    from flask import abort

    looked_up: list[str] = []

    def project_of(**kwargs: Any) -> str:
        looked_up.append(kwargs["name"])
        if kwargs["name"] == "missing":
            abort(404)
        return str(kwargs["name"])

    @app.get("/projects/<name>")
    @require_scope("read", project_from=project_of)
    def project(name: str) -> str:
        return name

    for name in ("alpha", "missing"):
        answer = app.test_client().get(f"/projects/{name}")
        assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert looked_up == []
    token = guard.create_token("alice", "r", projects=["alpha"]).token
    assert app.test_client().get("/projects/alpha", headers=bearer(token)).status_code == 200
    assert app.test_client().get("/projects/missing", headers=bearer(token)).status_code == 404
    assert looked_up == ["alpha", "missing"]


@pytest.mark.parametrize("configured", [None, "tokens.example.com"])
def test_an_app_with_host_matching_reaches_the_mount_points(guard: TokenGuard,
                                                            configured: str | None) -> None:
    app = Flask("hosts", host_matching=True, static_host="example.com")
    app.config.update(SECRET_KEY="session-key-for-tests", TOKENGUARD_HOST=configured)
    FlaskTokenGuard(app, guard)
    manager = guard.create_token("alice", "manager", scopes=["management"]).token
    host = configured or "example.com"
    answer = app.test_client().get(API, headers=bearer(manager), base_url=f"http://{host}")
    assert answer.status_code == 200 and [t["name"] for t in answer.json["tokens"]] == ["manager"]


def test_guard_settings_beside_a_given_guard_are_flagged_not_silently_dropped(guard: TokenGuard) -> None:
    app = Flask("both")
    app.config.update(TOKENGUARD_PREFIX="zz", TOKENGUARD_MAX_TOKENS_PER_OWNER=1)
    with pytest.warns(UserWarning, match="TOKENGUARD_MAX_TOKENS_PER_OWNER, TOKENGUARD_PREFIX have no effect"):
        FlaskTokenGuard(app, guard)
    quiet = Flask("web settings only")
    quiet.config.update(TOKENGUARD_REALM="notes")  # the web layer's own: it applies
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FlaskTokenGuard(quiet, guard)


# -- the cache's common case yields to what it does not decide ------------------------------------


def test_a_hook_registered_after_start_up_sees_cold_tokens_not_warm_ones(
    app: Flask, guard: TokenGuard,
) -> None:
    """``before_authenticate`` runs before work that may reach the store: a warm token costs none."""
    token = guard.create_token("alice", "warm", scopes=["read"]).token
    cold = guard.create_token("alice", "cold", scopes=["read"]).token
    client = app.test_client()
    assert client.get("/notes", headers=bearer(token)).status_code == 200  # now warm
    recorder = RemoteRecorder()
    guard.plugins.register(recorder)
    try:
        assert client.get("/notes", headers=bearer(token)).status_code == 200
        assert recorder.remotes == []
        assert client.get("/notes", headers=bearer(cold)).status_code == 200
    finally:
        guard.plugins.unregister(recorder)
    assert recorder.remotes == ["127.0.0.1"]
    assert client.get("/notes", headers=bearer(token)).status_code == 200
    assert recorder.remotes == ["127.0.0.1"]


def test_a_clock_set_after_start_up_decides_expiry_of_warm_tokens(app: Flask, guard: TokenGuard) -> None:
    """The pytest plugin's way: ``guard.clock`` replaced on a guard in use, the token already warm."""
    token = guard.create_token("alice", "short", scopes=["read"], expires_in=timedelta(hours=1)).token
    client = app.test_client()
    assert client.get("/notes", headers=bearer(token)).status_code == 200  # now warm
    guard.clock = lambda: datetime.now(UTC) + timedelta(hours=2)
    try:
        response = client.get("/notes", headers=bearer(token))
    finally:
        guard.clock = utcnow
    assert response.status_code == 401 and response.json == {
        "error": "invalid_token", "error_description": "the access token is invalid, expired or revoked"}
