"""``FlaskTokenGuard``: configuration, the two mount points, and the host's callbacks."""

from __future__ import annotations

import dataclasses
import importlib.util
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, request

from tokenguard.config import defaults as guard_defaults
from tokenguard.config import guard_from_settings
from tokenguard.errors import REFUSALS, TokenGuardError
from tokenguard.guard import TokenGuard
from tokenguard.web.app import TokenWeb
from tokenguard.web.auth import RequestAuthenticator
from tokenguard.web.credentials import environ_header_getter
from tokenguard.web.http import HeaderGetter, WebRequest, WebResponse, signed_in_owner
from tokenguard.web.options import GITHUB_KEYS_URL, WebOptions
from tokenguard_flask.hostpage import host_page_options

OwnerLoader = Callable[[], object]
CanManage = Callable[[str], bool]
F = TypeVar("F", bound=Callable[..., Any])
EXTENSION_KEY = "tokenguard"
#: Where the request's token (or ``None``) is kept: its WSGI environ, the request's own.
#: Not ``g``: an app context outlives a request when a test (or a CLI) pushed it first.
ENVIRON_KEY = "tokenguard.token"
#: the endpoints of the two mount points (``{api_path}`` and ``{settings_path}``, each with
#: ``/<path:rest>``): they check their own callers, so a request routed to one is not identified.
OWN_ENDPOINTS = ("tokenguard_api", "tokenguard_settings")
#: The request behind ``flask.request``: Flask's documented way to reach the object behind a
#: proxy (``_get_current_object``), taken once, instead of a proxy look-up per attribute.
current_request: Callable[[], Any] = request._get_current_object  # type: ignore[attr-defined]

#: ``TOKENGUARD_*`` keys and their defaults. Keyword options of the extension
#: (lower case, without the prefix) replace these defaults; the app's config wins.
DEFAULTS: dict[str, Any] = {
    # the guard's settings, as tokenguard.config's table has them (DATABASE_URL, SECRET_KEY, …)
    **{name.upper(): default for name, default in guard_defaults().items()},
    "AUTHORIZATION_HEADER": "Authorization",
    "TOKEN_HEADERS": ("Api-Token",),
    "SETTINGS_PATH": "/settings/tokens",
    "API_PATH": "/api/tokens",
    "REALM": "api",
    "ENV_VAR": "API_TOKEN",
    "ALLOW_TOKEN_MINTING": False,
    "APP_NAME": "API",
    #: with ``host_matching=True``: the host the two mount points answer on (default: ``static_host``)
    "HOST": None,
    "LOGIN_URL": None,
    "MAX_BODY_SIZE": 64 * 1024,
    "MANAGEMENT_SCOPE": "management",
    "CSRF_MAX_AGE": 24 * 3600,
    # the page inside the app (tokenguard_flask.hostpage fills in what the app has itself)
    "OWNER_DISPLAY": None,
    # projects_loader(owner) -> list[str]: a picker of the host's projects (others refused)
    "PROJECTS_LOADER": None,
    "LOCALE_SELECTOR": None,
    "HOME_URL": None,
    "LOGOUT_URL": None,
    "BASE_TEMPLATE": None,
    "CONTENT_BLOCK": "content",
    "TEMPLATES": None,
    "THEME": "auto",
    "CSP_SOURCES": {},
    # token policies (tokenguard.web.policy): "never expires" offered (None: unless a maximum
    # lifetime is set), and ``permission_levels(owner) -> list[str]`` (None: every level)
    "ALLOW_NEVER_EXPIRES": None,
    "PERMISSION_LEVELS": None,
    # GitHub's secret-scanning partner endpoint, {api_path}/secret-scanning (off by default)
    "SECRET_SCANNING": False,
    "GITHUB_KEYS_URL": GITHUB_KEYS_URL,
}
_WEB_KEYS = {
    "AUTHORIZATION_HEADER": "authorization_header", "TOKEN_HEADERS": "token_headers",
    "SETTINGS_PATH": "settings_path", "API_PATH": "api_path", "REALM": "realm", "ENV_VAR": "env_var",
    "ALLOW_TOKEN_MINTING": "allow_token_minting", "APP_NAME": "app_name", "LOGIN_URL": "login_url",
    "MAX_BODY_SIZE": "max_body_size", "MANAGEMENT_SCOPE": "management_scope",
    "CSRF_MAX_AGE": "csrf_max_age", "OWNER_DISPLAY": "owner_display",
    "PROJECTS_LOADER": "projects_loader",
    "LOCALE_SELECTOR": "locale_selector", "HOME_URL": "home_url", "LOGOUT_URL": "logout_url",
    "BASE_TEMPLATE": "base_template", "CONTENT_BLOCK": "content_block", "TEMPLATES": "templates",
    "THEME": "theme", "CSP_SOURCES": "csp_sources",
    "ALLOW_NEVER_EXPIRES": "allow_never_expires", "PERMISSION_LEVELS": "permission_levels",
    "SECRET_SCANNING": "secret_scanning", "GITHUB_KEYS_URL": "github_keys_url",
}


@dataclasses.dataclass(frozen=True, slots=True)
class TokenGuardState:
    """What one app holds in ``app.extensions["tokenguard"]``."""

    guard: TokenGuard
    web: TokenWeb
    extension: FlaskTokenGuard


def state() -> TokenGuardState:
    return _state_of(current_app)


def _state_of(app: Flask) -> TokenGuardState:
    found = app.extensions.get(EXTENSION_KEY)
    if not isinstance(found, TokenGuardState):
        raise RuntimeError("FlaskTokenGuard is not initialised on this app (call init_app)")
    return found


class FlaskTokenGuard:
    """API tokens for a Flask app: the settings page, the management API, and ``require_scope``."""

    def __init__(self, app: Flask | None = None, guard: TokenGuard | None = None, *,
                 owner_loader: OwnerLoader | None = None, can_manage: CanManage | None = None,
                 can_administer: CanManage | None = None, **options: Any) -> None:
        unknown = sorted(k for k in options if k.upper() not in DEFAULTS)
        if unknown:
            raise TypeError(f"unknown FlaskTokenGuard option(s): {', '.join(unknown)}")
        self._options = {key.upper(): value for key, value in options.items()}
        self._owner_loader = owner_loader
        self._can_manage = can_manage
        self._can_administer = can_administer
        self._guard = guard
        if app is not None:
            self.init_app(app, guard)

    # -- host callbacks (decorators that return the function) ----------------------------

    def owner_loader(self, loader: F) -> F:
        """Register who is signed in: ``@tokens.owner_loader def owner(): return session.get("user")``."""
        self._owner_loader = loader
        return loader

    def can_manage(self, check: F) -> F:
        """Register ``can_manage(owner) -> bool``; False answers 403 on the page and the API."""
        self._can_manage = check
        return check

    def can_administer(self, check: F) -> F:
        """Register ``can_administer(owner) -> bool``: who sees and manages every owner's tokens
        (``{settings_path}/admin``, ``{api_path}/admin/…``); nobody until registered."""
        self._can_administer = check
        return check

    # -- set-up ------------------------------------------------------------------------------

    def init_app(self, app: Flask, guard: TokenGuard | None = None) -> None:
        given = {key for key in _GUARD_KEYS if f"TOKENGUARD_{key}" in app.config or key in self._options}
        for key, default in DEFAULTS.items():
            app.config.setdefault(f"TOKENGUARD_{key}", self._options.get(key, default))
        guard = guard or self._guard
        if guard is None:
            guard = build_guard(app.config)
        elif given:  # they build a guard: one given already has its own settings
            keys = ", ".join(f"TOKENGUARD_{key}" for key in sorted(given))
            warnings.warn(f"FlaskTokenGuard was given a guard, so {keys} have no effect: set them "
                          "on the TokenGuard itself", stacklevel=2)
        options = web_options(app.config)
        options = dataclasses.replace(options, **host_page_options(
            app, options, flask_login_owner=self._owner_loader is None))
        web = TokenWeb(guard, options, can_manage=lambda owner: self._allowed(owner),
                       can_administer=lambda owner: self._administers(owner))
        found = app.extensions[EXTENSION_KEY] = TokenGuardState(guard, web, self)
        app.before_request(request_identifier(found))
        answer = refusal_answerer(web.authenticator)
        for refusal in REFUSALS:  # raised by the app's own views too: guard.require(…)
            app.register_error_handler(refusal, answer)
        for endpoint, mount in zip(OWN_ENDPOINTS, (options.api_path, options.settings_path), strict=True):
            app.view_functions[endpoint] = self._view(endpoint)
            # Rules for every method (methods=None), with no automatic OPTIONS: the web layer
            # answers OPTIONS, PROPFIND and the rest itself (405 and its Allow), as on ASGI.
            host: str | None = (app.config["TOKENGUARD_HOST"] or _static_host(app)
                                if app.url_map.host_matching else None)
            app.url_map.add(app.url_rule_class(mount, endpoint=endpoint, methods=None, strict_slashes=False,
                                               host=host))
            app.url_map.add(app.url_rule_class(f"{mount}/<path:rest>", endpoint=endpoint, methods=None,
                                               host=host))
        exempt_from_csrf(app)  # and again at the first request, for a CSRFProtect set up later

    def _allowed(self, owner: str) -> bool:
        return True if self._can_manage is None else bool(self._can_manage(owner))

    def _administers(self, owner: str) -> bool:
        return self._can_administer is not None and bool(self._can_administer(owner))

    def current_owner(self) -> str | None:
        """The signed-in user per ``owner_loader``, or flask-login's ``current_user``."""
        if self._owner_loader is None:
            return _flask_login_owner()
        return signed_in_owner(self._owner_loader(), self._owner_loader)

    def _view(self, endpoint: str) -> Callable[..., Response]:
        def serve(rest: str = "") -> Response:
            web = state().web
            return to_flask(web.dispatch(web_request(web, self.current_owner())))

        serve.__name__ = endpoint
        return serve


def build_guard(config: Any) -> TokenGuard:
    """A guard from the app's ``TOKENGUARD_*`` settings, read as the CLI and ASGI read them."""
    return guard_from_settings(config, upper=True)


def web_options(config: Any) -> WebOptions:
    values = {field: config[f"TOKENGUARD_{key}"] for key, field in _WEB_KEYS.items()}
    headers = values["token_headers"]
    values["token_headers"] = (headers,) if isinstance(headers, str) else tuple(headers)
    return WebOptions(**values)


HAS_FLASK_LOGIN = importlib.util.find_spec("flask_login") is not None


def _flask_login_owner() -> str | None:
    if not HAS_FLASK_LOGIN or not hasattr(current_app, "login_manager"):
        return None
    from flask_login import current_user  # type: ignore[import-untyped]

    if current_user is None or not current_user.is_authenticated:
        return None
    return signed_in_owner(current_user.get_id(), "flask-login's current_user.get_id")


def web_request(web: TokenWeb, owner: str | None) -> WebRequest:
    """The Flask request as the shared web layer sees it (the body read up to the limit + 1)."""
    return WebRequest(
        method=request.method, path=request.path, get_header=header_getter(request.environ),
        body=_read_body(web.options.max_body_size),
        owner=owner, remote=request.remote_addr, origin=f"{request.scheme}://{request.host}",
        query=request.args.to_dict(), prefix=request.script_root,
    )


def _read_body(limit: int) -> bytes:
    length = request.content_length
    if length is not None and length > limit:
        return b"\0" * (limit + 1)  # too large: refused with 413 without reading it
    return request.stream.read(limit + 1)


def header_getter(environ: dict[str, Any]) -> HeaderGetter:
    """Every value of a header, straight from the WSGI environ (repeats arrive comma-joined)."""
    return environ_header_getter(environ)


#: The keys that build the guard (``build_guard``): nothing to them when a guard is given.
_GUARD_KEYS = tuple(name.upper() for name in guard_defaults())


def _static_host(app: Flask) -> str | None:
    """The host the app's static files answer on (its ``static_host``), as Flask set it up."""
    return next((rule.host for rule in app.url_map.iter_rules() if rule.endpoint == "static"), None)


def exempt_from_csrf(app: Flask) -> bool:
    """Flask-WTF's ``CSRFProtect``, when the app has it, leaves our routes alone: they carry
    their own CSRF check (and take bearer tokens). True once done."""
    csrf = app.extensions.get("csrf")
    if csrf is None or not hasattr(csrf, "exempt"):
        return False
    for endpoint in OWN_ENDPOINTS:
        csrf.exempt(app.view_functions[endpoint])
    return True


def request_identifier(found: TokenGuardState) -> Callable[[], None]:
    """The ``before_request`` of one app: verify a token presented to any view (RFC 6750 §3.1).

    A request without credentials passes unchanged (``current_token`` is ``None``);
    bad credentials are refused (400/401, 503 when the store is down: raised, for the
    extension's error handler) before the view runs, whether or not it is protected.
    The two mount points check their own callers. Bound to the app's state, so a
    request costs no look-up of it.
    """
    authenticator = found.web.authenticator
    read, verify = authenticator.reader.environ_token, authenticator.verify  # identify_environ's steps
    csrf_exempt = False

    def identify_request() -> None:
        nonlocal csrf_exempt
        current = current_request()
        rule = current.url_rule  # routed already: the mount points are the extension's own endpoints
        if rule is not None and rule.endpoint in OWN_ENDPOINTS:
            if not csrf_exempt:  # CSRFProtect's own hook runs after this one when set up later
                csrf_exempt = exempt_from_csrf(current_app)
            return
        environ = current.environ
        remote = environ.get("REMOTE_ADDR")
        info = read(environ, remote)  # the info from memory, None, or the token for the store
        environ[ENVIRON_KEY] = verify(info, remote) if isinstance(info, str) else info

    return identify_request


def refusal_answerer(authenticator: RequestAuthenticator) -> Callable[[TokenGuardError], Response]:
    """The error handler of one app for every refusal: its own RFC 6750 answer, as ``require_scope``
    gives it, whether the extension or the app's own code (``guard.require(…)``) raised it."""

    def answer_refusal(exc: TokenGuardError) -> Response:
        return to_flask(authenticator.respond(exc))

    return answer_refusal


class _VerbatimResponse(Response):
    """No Content-Type added to the web layer's bodiless answers (204, 303, RFC 7009's 200)."""

    default_mimetype = None


def to_flask(response: WebResponse) -> Response:
    return _VerbatimResponse(response.body, status=response.status, headers=response.headers)
