"""The settings page inside the host app, rendered: layouts, theme, CSP, links, names, and small mends.

Render-level: ``Renderer`` with ``WebOptions`` and the values ``SettingsPage`` gives it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2 import DictLoader, Environment
from starlette.templating import Jinja2Templates

from _testclock import ManualClock
from tokenguard import TokenGuard
from tokenguard.errors import ValidationError
from tokenguard.web import forms, listing, pageview
from tokenguard.web.csp import content_security_policy
from tokenguard.web.http import WebRequest, WebResponse
from tokenguard.web.i18n import PageLanguage
from tokenguard.web.options import WebOptions
from tokenguard.web.render import CONTENT_SECURITY_POLICY, Renderer, app_label
from tokenguard.web.signin import signin_redirect, signin_url, wants_html

PAGE = "/settings/tokens"
DEFAULT_CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; "
               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HOST_BASE = """<!doctype html>
<html><head><title>{% block title %}{% endblock %} | Host</title>
{% block head %}<link rel="stylesheet" href="/static/host.css">{% endblock %}</head>
<body><header id="host-header"><a href="{{ url_for('index') }}">Host home</a></header>
<div id="host-main">{% block content %}{% endblock %}</div><footer id="host-footer">©</footer></body></html>
"""


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def guard(clock: ManualClock) -> TokenGuard:
    return TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False, clock=clock,
                      max_tokens_per_owner=5)


def request(path: str = "/", headers: Mapping[str, str] | None = None, prefix: str = "") -> WebRequest:
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    return WebRequest("GET", path, lambda name: [lowered[name.lower()]] if name.lower() in lowered else [],
                      root=PAGE, prefix=prefix)


def settings_context(guard: TokenGuard, owner: str | None = "alice", **extra: Any) -> dict[str, Any]:
    """What ``SettingsPage._render`` hands the renderer."""
    now = guard.clock()
    tokens = guard.list_tokens(owner) if owner else []
    table = listing.list_view(tokens, listing.ListQuery(), guard.scopes, now, PAGE)
    return {"root": PAGE, "app_name": "API", "owner": owner, "csrf_token": "csrf-value", "flash": None,
            "table": table, "rows": [pageview.token_row(t, guard, now) for t in table.found.items],
            "limit": pageview.limit_of(tokens, guard, now), "choices": pageview.form_choices(guard, now),
            "form": pageview.CreateForm(), "form_nonce": "n" * 16, "issued": None, "issued_action": "",
            "export_line": "", "env_var": "API_TOKEN", "api_path": "/api/tokens", **extra}


def render(guard: TokenGuard, options: WebOptions | None = None, *, headers: Mapping[str, str] | None = None,
           **extra: Any) -> tuple[str, WebResponse]:
    response = Renderer(options).page("settings.html", settings_context(guard, **extra),
                                      request=request(headers=headers))
    return response.body.decode(), response


def host_env() -> Environment:
    env = Environment(loader=DictLoader({"base.html": HOST_BASE}), autoescape=True)
    env.globals["url_for"] = lambda endpoint: f"/{endpoint}"
    return env


# -- 1. layouts -----------------------------------------------------------------------------------

def test_the_default_layout_is_ours(guard: TokenGuard) -> None:
    guard.create_token("alice", "ci", scopes=["write"])
    html, response = render(guard)
    assert response.header("Content-Security-Policy") == DEFAULT_CSP == CONTENT_SECURITY_POLICY
    assert response.header("Cache-Control") == "no-store"
    assert html.startswith("<!doctype html>\n<html lang=\"en\">")
    assert '<body class="tokenguard tg-page" data-theme="auto">' in html
    assert '<header class="topbar">' in html and 'class="tokens"' in html
    assert "<title>API tokens</title>" in html
    assert '<meta name="csrf-token" content="csrf-value">' in html
    assert not re.search(r"<(script|style)>", html) and " style=" not in html  # CSP: nothing inline


def test_the_hosts_loader_comes_first_for_any_of_our_templates(guard: TokenGuard) -> None:
    guard.create_token("alice", "ci", scopes=["write"])
    loader = DictLoader({"tokenguard/layout.html": '<html><body><nav id="host-nav">{{ owner_name }}</nav>'
                                                   "{{ head }}{{ content }}</body></html>"})
    html, _ = render(guard, WebOptions(templates=loader))
    assert '<nav id="host-nav">alice</nav>' in html and 'class="tokens"' in html
    assert '<header class="topbar">' not in html
    assert 'href="/settings/tokens/static/tokenguard.css?v=' in html


def test_a_template_directory_overrides_one_page_and_keeps_the_rest(guard: TokenGuard,
                                                                    tmp_path: Path) -> None:
    (tmp_path / "tokenguard").mkdir()
    (tmp_path / "tokenguard" / "problem.html").write_text('{% set title = "Oops" %}<p id="host-problem">'
                                                          "{{ status }}</p>")
    renderer = Renderer(WebOptions(templates=tmp_path))
    problem = renderer.page("problem.html", {"root": PAGE, "title": "x", "text": "y", "status": 404,
                                             "owner": None, "app_name": "Notes"}).body.decode()
    assert '<p id="host-problem">404</p>' in problem and "<title>Oops · Notes</title>" in problem
    settings = renderer.page("settings.html", settings_context(guard)).body.decode()
    assert "You have no API tokens yet." in settings  # ours, where the host has none


def test_base_template_puts_the_page_in_the_hosts_layout(guard: TokenGuard) -> None:
    guard.create_token("alice", "ci", scopes=["write"])
    env = host_env()
    before = (dict(env.globals), dict(env.policies), set(env.extensions))
    html, response = render(guard, WebOptions(templates=env, base_template="base.html", theme="light"))
    assert '<header id="host-header"><a href="/index">Host home</a></header>' in html
    main = html[html.index('<div id="host-main">'):html.index('<footer id="host-footer">')]
    assert '<div class="tokenguard tg-content" data-theme="light"' in main and 'id="token-' in main
    assert "<title>API tokens | Host</title>" in html
    head = html[:html.index("</head>")]
    assert '<link rel="stylesheet" href="/static/host.css">' in head  # the host's own, kept (super())
    assert "tokenguard.css?v=" in head and '<meta name="csrf-token" content="csrf-value">' in head
    assert '<header class="topbar">' not in html
    assert (dict(env.globals), dict(env.policies), set(env.extensions)) == before  # overlaid, never changed
    assert response.header("Content-Security-Policy") == DEFAULT_CSP  # the host's layout, our headers
    assert response.header("Cache-Control") == "no-store" and response.header("X-Frame-Options") == "DENY"


def test_content_block_names_the_hosts_block(guard: TokenGuard) -> None:
    env = Environment(loader=DictLoader({"site.html": "<main>{% block body %}{% endblock %}</main>"
                                                      "<aside>{{ tokenguard.title }}</aside>"}))
    html, _ = render(guard, WebOptions(templates=env, base_template="site.html", content_block="body"))
    assert html.startswith('<main><div class="tokenguard tg-content"') and "<aside>API tokens</aside>" in html


def test_starlette_jinja2_templates_are_taken_through_their_env(guard: TokenGuard, tmp_path: Path) -> None:
    (tmp_path / "base.html").write_text('<body><h1 id="starlette-host">Host</h1>{% block content %}'
                                        "{% endblock %}</body>")
    html, _ = render(guard, WebOptions(templates=Jinja2Templates(directory=str(tmp_path)),
                                       base_template="base.html"))
    assert '<h1 id="starlette-host">Host</h1><div class="tokenguard tg-content"' in html


def test_a_host_template_sees_its_context_processors(guard: TokenGuard) -> None:
    env = Environment(loader=DictLoader({"base.html": "<p id=user>{{ current_user }}</p>{% block content %}"
                                                      "{% endblock %}"}), autoescape=True)
    options = WebOptions(templates=env, base_template="base.html",
                         template_context=lambda: {"current_user": "Alice <admin>"})
    html, _ = render(guard, options)
    assert "<p id=user>Alice &lt;admin&gt;</p>" in html


def test_the_host_layout_keeps_its_own_translations() -> None:
    """Messages that are not ours go to the host's gettext global (Flask-Babel's, say)."""
    env = Environment(loader=DictLoader({"base.html": "<a>{{ _('Dashboard') }}</a>{% block content %}"
                                                      "{% endblock %}"}),
                      autoescape=True, extensions=["jinja2.ext.i18n"])
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda s: {"Dashboard": "Tableau de bord"}.get(s, s), lambda s, p, n: s if n == 1 else p,
        newstyle=True)
    env.loader = DictLoader({"tokenguard/layout.html":
                             "{{ _('Dashboard') }}|{{ _('Your tokens') }}|{{ content }}"})
    renderer = Renderer(WebOptions(templates=env))
    html = renderer.render("settings.html", {"root": PAGE, "owner": None, **settings_context_for_text()},
                           PageLanguage.of("de"))
    assert html.startswith("Tableau de bord|Ihre Tokens|")


def settings_context_for_text() -> dict[str, Any]:
    guard = TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False)
    return {k: v for k, v in settings_context(guard, owner=None).items() if k != "owner"}


def test_templates_of_another_kind_are_refused() -> None:
    with pytest.raises(TypeError, match="templates must be"):
        Renderer(WebOptions(templates=42))


@pytest.mark.parametrize("block", ["", "1x", "content-area", "title", "head"])
def test_content_block_must_be_a_block_name(block: str) -> None:
    with pytest.raises(ValidationError):
        WebOptions(base_template="base.html", content_block=block)


# -- 2. theme and CSP -----------------------------------------------------------------------------

@pytest.mark.parametrize("theme", ["auto", "light", "dark"])
def test_theme_is_a_data_theme_attribute(guard: TokenGuard, theme: str) -> None:
    html, _ = render(guard, WebOptions(theme=theme))
    assert f'<body class="tokenguard tg-page" data-theme="{theme}">' in html
    assert f'<div class="tokenguard tg-content" data-theme="{theme}"' in html


def test_an_unknown_theme_is_refused() -> None:
    with pytest.raises(ValidationError, match="theme"):
        WebOptions(theme="maroon")


def test_the_stylesheet_documents_and_reads_the_theme_properties() -> None:
    css = (Path(pageview.__file__).parent / "static" / "tokenguard.css").read_text()
    for prop in ("--tg-accent", "--tg-accent-text", "--tg-bg", "--tg-surface", "--tg-text", "--tg-muted",
                 "--tg-border", "--tg-danger", "--tg-radius", "--tg-font", "--tg-font-mono",
                 "--tg-dark-accent"):
        assert f"var({prop}," in css, prop
    assert ".tokenguard[data-theme=dark]" in css and ".tokenguard[data-theme=auto]" in css
    assert "prefers-color-scheme: dark" in css
    code = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    selectors = [part.strip() for line in code.splitlines()
                 if "{" in line and not line.lstrip().startswith("@")
                 for part in line.split("{")[0].split(",")]
    scoped = re.compile(r"(\.tokenguard|body\.tg-page|html:has\(> body\.tg-page\))(\W|$)")
    unscoped = [sel for sel in selectors if not scoped.match(sel)]
    assert len(selectors) > 100
    assert unscoped == []  # a host's own page is never restyled


def test_csp_sources_are_merged_into_our_policy(guard: TokenGuard) -> None:
    options = WebOptions(csp_sources={"style-src": ["https://cdn.example"], "img-src": ["data:", "'self'"],
                                      "font-src": ["https://fonts.example"],
                                      "script-src": ["'sha256-abc='"]})
    _, response = render(guard, options)
    assert response.header("Content-Security-Policy") == (
        "default-src 'none'; style-src 'self' https://cdn.example; script-src 'self' 'sha256-abc='; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; font-src https://fonts.example")
    asset = Renderer(options).asset("tokenguard.css")
    assert asset is not None and "https://cdn.example" in (asset.header("Content-Security-Policy") or "")


@pytest.mark.parametrize("sources", [
    {"frame-ancestors": ["https://evil.example"]},
    {"default-src": ["*"]},
    {"script-src": ["'unsafe-inline'"]},
    {"script-src": ["'unsafe-eval'"]},
    {"script-src": ["*"]},
    {"script-src": ["data:"]},
    {"script-src": ["'nonce-fixed'"]},
    {"style-src": ["https://a.example; script-src *"]},
    {"style-src": ["https://a.example, b"]},
    {"style-src": "https://a.example"},
    {"img-src": ["'none'"]},
    {"img-src": ["with space"]},
    ["style-src"],
])
def test_csp_sources_cannot_weaken_what_protects_the_secret(sources: object) -> None:
    with pytest.raises(ValidationError) as refused:
        WebOptions(csp_sources=sources)  # type: ignore[arg-type]
    assert refused.value.field == "csp_sources"


def test_content_security_policy_lists_each_source_once() -> None:
    assert content_security_policy({"img-src": ["'self'", "https://x", "https://x"]}).count("https://x") == 1


# -- 3. links: home, sign out, sign in ------------------------------------------------------------

def test_home_url_defaults_to_the_apps_root_and_logout_shows_when_set(guard: TokenGuard) -> None:
    page = Renderer(WebOptions(logout_url="/logout?x=1&y=2"))
    html = page.page("settings.html", settings_context(guard), request=request(prefix="/app")).body.decode()
    assert '<a class="brand" href="/app/">API</a>' in html
    assert '<a class="signout" href="/logout?x=1&amp;y=2">Sign out</a>' in html
    html = Renderer(WebOptions(home_url="https://example.com/")).page(
        "settings.html", settings_context(guard)).body.decode()
    assert 'href="https://example.com/"' in html and "Sign out" not in html


def test_no_sign_out_link_for_nobody(guard: TokenGuard) -> None:
    renderer = Renderer(WebOptions(logout_url="/logout"))
    html = renderer.page("problem.html", {"root": PAGE, "title": "Sign in required", "status": 401,
                                          "text": "Sign in to manage your API tokens.", "owner": None}).body
    assert b"/logout" not in html


@pytest.mark.parametrize("accept", [None, "", "text/html,application/xhtml+xml,*/*;q=0.8",
                                    "application/xhtml+xml", "TEXT/HTML; q=0.5"])
def test_a_browser_is_sent_to_sign_in_with_next(accept: str | None) -> None:
    options = WebOptions(login_url="/login")
    response = signin_redirect(options, "/app/settings/tokens/ci bot/delete", accept)
    assert response is not None and response.status == 303
    assert response.header("Location") == "/login?next=/app/settings/tokens/ci%20bot/delete"
    assert response.header("Cache-Control") == "no-store"


@pytest.mark.parametrize("accept", ["application/json", "application/json, */*",
                                    "text/html;q=0, application/json", "text/plain"])
def test_a_script_gets_the_401_instead_of_a_redirect(accept: str) -> None:
    assert not wants_html(accept)
    assert signin_redirect(WebOptions(login_url="/login"), PAGE, accept) is None


def test_a_client_accepting_anything_is_sent_to_sign_in() -> None:
    """``*/*`` (what most HTTP libraries send) accepts HTML too: the redirect, as before."""
    assert wants_html("*/*")
    assert signin_redirect(WebOptions(login_url="/login"), PAGE, "*/*") is not None


def test_without_login_url_nobody_is_redirected() -> None:
    assert signin_redirect(WebOptions(), PAGE, "text/html") is None


def test_next_is_encoded_and_joins_a_query() -> None:
    assert signin_url("/auth?provider=sso", "/settings/tokens/é?&#") == \
        "/auth?provider=sso&next=/settings/tokens/%C3%A9%3F%26%23"


def test_the_401_page_links_to_sign_in_with_next(guard: TokenGuard) -> None:
    renderer = Renderer(WebOptions(login_url="/login"))
    html = renderer.page("problem.html", {"root": PAGE, "title": "Sign in required", "status": 401,
                                          "text": "Sign in to manage your API tokens.", "owner": None},
                         status=401, request=request("/ci/delete")).body.decode()
    assert '<a class="button primary" href="/login?next=/settings/tokens/ci/delete">Sign in</a>' in html


# -- 4. owner_display, 5. "the API" ---------------------------------------------------------------

def test_owner_display_names_the_owner(guard: TokenGuard) -> None:
    html, _ = render(guard, WebOptions(owner_display=lambda owner: f"Alice <{owner}@example.com>"))
    assert "Signed in as <strong>Alice &lt;alice@example.com&gt;</strong>" in html


def test_the_owner_id_is_the_default_name(guard: TokenGuard) -> None:
    html, _ = render(guard, owner="u<42>")
    assert "Signed in as <strong>u&lt;42&gt;</strong>" in html


@pytest.mark.parametrize(("app_name", "lede", "title"), [
    ("API", "use the API as you.", "<title>API tokens</title>"),
    ("", "use the API as you.", "<title>API tokens</title>"),
    ("Notes", "use the Notes API as you.", "<title>API tokens · Notes</title>"),
    ("Notes API", "use the Notes API as you.", "<title>API tokens · Notes API</title>"),
])
def test_the_page_says_the_api_never_the_api_api(guard: TokenGuard, app_name: str, lede: str,
                                                 title: str) -> None:
    html, _ = render(guard, app_name=app_name)
    assert lede in html and title in html
    assert "API API" not in html


def test_app_label() -> None:
    assert [app_label(n) for n in ("API", " api ", "Notes", "Notes API", "GraphAPI")] == \
        ["", "", "Notes", "Notes", "GraphAPI"]


# -- 7. small mends -------------------------------------------------------------------------------

def test_a_fresh_seven_day_token_expires_in_seven_days(guard: TokenGuard, clock: ManualClock) -> None:
    guard.create_token("alice", "ci", scopes=["read"], expires_in=timedelta(days=7))
    clock.advance(seconds=1)  # the page is shown a moment after the token was made
    html, _ = render(guard)
    assert "in 7 days" in html and "in 6 days" not in html and "1 week" not in html


def test_a_custom_expiry_date_is_listed_as_that_date(guard: TokenGuard) -> None:
    spec = forms.create_spec_from_form({"name": ["ci"], "expires": ["custom"], "expires_on": ["2030-12-15"]},
                                       guard)
    guard.create_token("alice", "ci", scopes=["read"], expires_at=spec.expires_at)
    html, _ = render(guard)
    expires = html[html.index('data-label="Expires"'):]
    assert "15 Dec 2030" in expires[:300] and "16 Dec" not in expires[:300]


def test_an_expiry_within_a_day_shows_that_day(guard: TokenGuard, clock: ManualClock) -> None:
    guard.create_token("alice", "ci", scopes=["read"], expires_in=timedelta(hours=5))
    html, _ = render(guard)
    assert "1 Jan 2030" in html and "in 5 hours" in html


def test_the_max_lifetime_error_reads_in_days() -> None:
    guard = TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False,
                       default_lifetime=timedelta(days=7), max_lifetime=timedelta(days=30))
    for kwargs in ({"expires_in": timedelta(days=31)}, {"expires_in": None}):
        with pytest.raises(ValidationError) as refused:
            guard.create_token("alice", "ci", scopes=["read"], **kwargs)  # type: ignore[arg-type]
        assert "30 days" in str(refused.value) and "0:00:00" not in str(refused.value)


# -- the adapters' options ------------------------------------------------------------------------

def _page_takes_options() -> bool:
    """Whether the page renders with the adapters' WebOptions (web/page.py: ``Renderer(options)``)."""
    from tokenguard.web.app import TokenWeb

    guard = TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False)
    return TokenWeb(guard, WebOptions(theme="dark")).page.renderer.options.theme == "dark"


needs_page_options = pytest.mark.skipif(not _page_takes_options(),
                                        reason="web/page.py does not hand its WebOptions to Renderer yet")


def flask_app(guard: TokenGuard, **options: Any) -> Any:
    from flask import Flask, session

    from tokenguard_flask import FlaskTokenGuard

    app = Flask("tokenguard_layout_test")
    app.config.update(SECRET_KEY="session-key-for-tests", TESTING=True)
    app.jinja_loader = DictLoader({"base.html": HOST_BASE})  # type: ignore[assignment]

    @app.get("/")
    def index() -> str:
        return "home"

    @app.post("/_login")
    def login() -> tuple[str, int]:
        session["user"] = "alice"
        return "", 204

    FlaskTokenGuard(app, guard, owner_loader=lambda: session.get("user"), **options)
    return app


def test_flask_keys_reach_the_web_options(guard: TokenGuard) -> None:
    from flask import request as flask_request

    seen: list[object] = []

    def selector(req: object) -> str:
        seen.append(req)
        return "de"

    app = flask_app(guard, theme="dark", base_template="base.html", content_block="content",
                    home_url="/home", logout_url="/logout", owner_display=str.upper, locale_selector=selector,
                    csp_sources={"img-src": ["data:"]})
    options = app.extensions["tokenguard"].web.options
    assert (options.theme, options.base_template, options.home_url, options.logout_url) == \
        ("dark", "base.html", "/home", "/logout")
    assert options.owner_display("alice") == "ALICE" and dict(options.csp_sources) == {"img-src": ["data:"]}
    assert options.templates is app.jinja_env  # the app's own templates, url_for and all
    with app.test_request_context("/settings/tokens"):
        assert options.locale_selector is not None and options.locale_selector(request()) == "de"
        assert seen == [flask_request._get_current_object()]  # type: ignore[attr-defined]
        assert options.template_context is not None and "request" in options.template_context()


def test_flask_config_keys_are_read_too(guard: TokenGuard) -> None:
    from flask import Flask

    from tokenguard_flask import FlaskTokenGuard

    app = Flask("tokenguard_layout_config")
    app.config.update(TOKENGUARD_THEME="light", TOKENGUARD_BASE_TEMPLATE="site.html",
                      TOKENGUARD_CONTENT_BLOCK="body", TOKENGUARD_CSP_SOURCES={"font-src": ["https://f.example"]})
    FlaskTokenGuard(app, guard)
    options = app.extensions["tokenguard"].web.options
    assert (options.theme, options.base_template, options.content_block) == ("light", "site.html", "body")


def test_flask_babel_chooses_the_locale_when_the_app_has_it(guard: TokenGuard) -> None:
    flask_babel = pytest.importorskip("flask_babel")
    from flask import Flask

    from tokenguard_flask import FlaskTokenGuard

    app = Flask("tokenguard_layout_babel")
    flask_babel.Babel(app, locale_selector=lambda: "nl")
    FlaskTokenGuard(app, guard)
    options = app.extensions["tokenguard"].web.options
    with app.test_request_context("/"):
        assert options.locale_selector is not None and str(options.locale_selector(request())) == "nl"
        from tokenguard.web.i18n import request_locale

        assert request_locale(request(headers={"Accept-Language": "de"}), options) == "nl"


def test_flask_login_gives_the_login_url_and_the_users_name(guard: TokenGuard) -> None:
    from flask import Flask
    from flask_login import LoginManager, UserMixin, login_user  # type: ignore[import-untyped]

    from tokenguard_flask import FlaskTokenGuard

    class User(UserMixin):  # type: ignore[misc]
        def __init__(self, user_id: str) -> None:
            self.id = user_id

        def __str__(self) -> str:
            return "Alice Liddell"

    app = Flask("tokenguard_layout_login")
    app.config["SECRET_KEY"] = "session-key-for-tests"
    manager = LoginManager(app)
    manager.user_loader(User)

    @app.get("/account/login")
    def sign_in() -> str:
        return "sign in"

    manager.login_view = "sign_in"
    FlaskTokenGuard(app, guard)
    options = app.extensions["tokenguard"].web.options
    assert options.login_url == "/account/login"
    with app.test_request_context("/settings/tokens"):
        login_user(User("alice"))
        assert options.owner_display is not None
        assert options.owner_display("alice") == "Alice Liddell"
        assert options.owner_display("bob") == "bob"  # not the signed-in user: the id


def test_asgi_arguments_reach_the_web_options(guard: TokenGuard) -> None:
    from starlette.requests import Request

    from tokenguard_asgi import TokenGuardMiddleware, webmount

    seen: list[object] = []
    middleware = TokenGuardMiddleware(
        lambda scope, receive, send: None, guard, theme="dark", base_template="base.html", home_url="/home",
        logout_url="/out", templates=host_env(), owner_display=str.title, csp_sources={"img-src": ["data:"]},
        locale_selector=lambda req: seen.append(req) or "fr")
    options = middleware.options
    assert (options.theme, options.base_template, options.home_url, options.logout_url) == \
        ("dark", "base.html", "/home", "/out")
    assert options.owner_display is not None and options.owner_display("alice") == "Alice"
    assert options.locale_selector is not None
    assert options.locale_selector(request()) is None  # outside a request of the middleware
    starlette_request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    answering = webmount._ANSWERING.set(starlette_request)
    try:
        assert options.locale_selector(request()) == "fr" and seen == [starlette_request]
    finally:
        webmount._ANSWERING.reset(answering)


# -- through the adapters, once the page hands them on --------------------------------------------

@needs_page_options
def test_flask_page_in_the_hosts_base_template_in_german(guard: TokenGuard) -> None:
    app = flask_app(guard, base_template="base.html", theme="light", logout_url="/logout")
    client = app.test_client()
    client.post("/_login")
    response = client.get(PAGE, headers={"Accept-Language": "de-DE,de;q=0.9"})
    html = response.get_data(as_text=True)
    assert '<header id="host-header"><a href="/">Host home</a></header>' in html
    assert '<div class="tokenguard tg-content" data-theme="light"' in html and "Ihre Tokens" in html
    assert response.headers["Content-Security-Policy"] == DEFAULT_CSP
    assert response.headers["Cache-Control"] == "no-store"


@needs_page_options
def test_flask_browser_is_sent_to_sign_in_and_a_script_gets_401(guard: TokenGuard) -> None:
    app = flask_app(guard, login_url="/login")
    client = app.test_client()
    browser = client.get(f"{PAGE}/ci/delete", headers={"Accept": "text/html,*/*;q=0.8"})
    assert browser.status_code == 303
    assert browser.headers["Location"] == "/login?next=/settings/tokens/ci/delete"
    script = client.get(PAGE, headers={"Accept": "application/json"})
    assert script.status_code == 401
    assert 'href="/login?next=/settings/tokens"' in script.get_data(as_text=True)


@needs_page_options
def test_asgi_page_in_a_starlette_layout_in_french(guard: TokenGuard, tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from tokenguard_asgi import TokenGuardMiddleware

    (tmp_path / "base.html").write_text('<h1 id="asgi-host">Host</h1>{% block content %}{% endblock %}')
    app = Starlette()
    app.add_middleware(TokenGuardMiddleware, guard=guard, owner_loader=lambda request: "alice",
                       templates=Jinja2Templates(directory=str(tmp_path)), base_template="base.html",
                       locale_selector=lambda request: request.headers.get("x-lang"))
    html = TestClient(app).get(PAGE, headers={"x-lang": "fr"}).text
    assert html.startswith('<h1 id="asgi-host">Host</h1><div class="tokenguard tg-content"')
    assert "Vos jetons" in html
