"""Settings of the web layer, shared by both adapters (Flask reads them from TOKENGUARD_* keys)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tokenguard.errors import ValidationError

if TYPE_CHECKING:
    from tokenguard.web.http import WebRequest

_MOUNT = re.compile(r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_BLOCK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
THEMES = ("auto", "light", "dark")


#: where GitHub publishes the keys that sign its secret-scanning reports.
GITHUB_KEYS_URL = "https://api.github.com/meta/public_keys/secret_scanning"


@dataclass(frozen=True, slots=True)
class WebOptions:
    """What an admin may configure; validated once, at construction."""

    #: realm of the ``WWW-Authenticate`` challenge.
    realm: str = "api"
    #: header carrying ``Bearer <token>``.
    authorization_header: str = "Authorization"
    #: headers carrying the bare token.
    token_headers: tuple[str, ...] = ("Api-Token",)
    #: where the settings page and the management API are served.
    settings_path: str = "/settings/tokens"
    api_path: str = "/api/tokens"
    #: the shell snippet shown with a new secret: ``export {env_var}=…``.
    env_var: str = "API_TOKEN"
    #: let a bearer token with the management scope create tokens (off by default).
    allow_token_minting: bool = False
    #: name of the app, shown on the settings page.
    app_name: str = "API"
    #: where to send a visitor of the settings page who is not signed in (``?next=`` is added);
    #: ``None`` answers 401 with a short page instead.
    login_url: str | None = None
    #: largest request body the web layer reads; larger ones get 413.
    max_body_size: int = 64 * 1024
    #: the scope a bearer token needs to use the management API and introspection.
    management_scope: str = "management"
    #: how long a CSRF token stays valid, in seconds.
    csrf_max_age: int = 24 * 3600

    # -- inside the host app: layout, theme, language, links (see tokenguard.web.render) --
    #: the host's templates, looked up before ours (``tokenguard/<name>.html`` overrides ours):
    #: a directory, a Jinja2 loader, a Jinja2 ``Environment`` (its globals and filters kept),
    #: or anything with an ``env`` that is one (Starlette's ``Jinja2Templates``).
    templates: object = None
    #: a host template the page extends (``"base.html"``), filling ``content_block``; ``None``:
    #: our own layout (``tokenguard/layout.html``).
    base_template: str | None = None
    #: the block of ``base_template`` that receives the page (blocks ``title`` and ``head`` get
    #: the title and our stylesheet, script and CSRF meta tag too).
    content_block: str = "content"
    #: what the host's templates need besides the page's own variables (Flask: the context
    #: processors' ``current_user`` and the like), called once per rendering.
    template_context: Callable[[], Mapping[str, Any]] | None = None
    #: ``auto`` follows the visitor's system (``prefers-color-scheme``); ``light`` or ``dark`` forces one.
    theme: str = "auto"
    #: sources the host's layout needs, added to our Content-Security-Policy:
    #: ``{"style-src": ["https://cdn.example"], "img-src": ["data:"]}``.
    csp_sources: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    #: the locale of a request (``"de"``, ``"fr_CA"``), or ``None`` for its ``Accept-Language``.
    locale_selector: Callable[[WebRequest], object] | None = None
    #: the name the page shows for an owner ("Signed in as …"); default: the owner id.
    owner_display: Callable[[str], str] | None = None
    #: the projects an owner may give a token (a picker on the page; anything else is refused,
    #: on the page and the API); ``None``: projects typed freely (see tokenguard.web.projects).
    projects_loader: Callable[[str], Iterable[str]] | None = None
    #: the link back to the host app; ``None``: the app's root (``/`` below its mount prefix).
    home_url: str | None = None
    #: a sign-out link in our layout's top bar, when set.
    logout_url: str | None = None

    # -- token policies (see tokenguard.web.policy; the lifetimes and the limit are the guard's) --
    #: offer "never expires" on the create form (and accept no expiry on the API); ``None``:
    #: offered unless the guard has a ``max_lifetime``.
    allow_never_expires: bool | None = None
    #: the permission levels (scope names) an owner may give a token, on the page and the API;
    #: ``None``: every level, e.g. ``lambda owner: ["read", "write"]`` keeps management for the CLI.
    permission_levels: Callable[[str], Iterable[str]] | None = None

    # -- leaked tokens (see tokenguard.web.secret_scanning) --
    #: serve GitHub's secret-scanning partner endpoint, ``POST {api_path}/secret-scanning``
    #: (needs ``cryptography``: ``pip install 'tokenguard[github]'``).
    secret_scanning: bool = False
    #: where GitHub publishes the keys that sign its reports.
    github_keys_url: str = GITHUB_KEYS_URL

    def __post_init__(self) -> None:
        for field, path in (("settings_path", self.settings_path), ("api_path", self.api_path)):
            if not isinstance(path, str) or not _MOUNT.fullmatch(path):
                raise ValidationError(
                    f"{field} must be an absolute path without a trailing slash, like /api/tokens",
                    field=field,
                )
        api, page = self.api_path, self.settings_path
        if api == page or api.startswith(page + "/") or page.startswith(api + "/"):
            raise ValidationError("settings_path and api_path must not contain one another",
                                  field="api_path")
        names = (self.authorization_header, *self.token_headers)
        if isinstance(self.token_headers, str) or not all(
            isinstance(n, str) and _HEADER_NAME.fullmatch(n) for n in names
        ):
            raise ValidationError("header names must be HTTP tokens, like Api-Token",
                                  field="token_headers")
        if not _ENV_VAR.fullmatch(self.env_var):
            raise ValidationError("env_var must be a shell variable name", field="env_var")
        if not isinstance(self.max_body_size, int) or self.max_body_size < 1024:
            raise ValidationError("max_body_size must be an int of at least 1024", field="max_body_size")
        if not isinstance(self.csrf_max_age, int) or self.csrf_max_age < 60:
            raise ValidationError("csrf_max_age must be at least 60 seconds", field="csrf_max_age")
        self._check_host_options()

    def _check_host_options(self) -> None:
        from tokenguard.web.csp import check_sources  # the CSP's own rules, kept with it

        if self.theme not in THEMES:
            raise ValidationError("theme must be auto, light or dark", field="theme")
        if self.base_template is not None and not (isinstance(self.base_template, str)
                                                   and self.base_template):
            raise ValidationError("base_template must be a template name, like base.html",
                                  field="base_template")
        if (not isinstance(self.content_block, str) or not _BLOCK_NAME.fullmatch(self.content_block)
                or self.content_block in ("title", "head")):  # those two get the title and our assets
            raise ValidationError("content_block must be a Jinja block name other than title and head, "
                                  "like content", field="content_block")
        if not isinstance(self.secret_scanning, bool):
            raise ValidationError("secret_scanning must be a bool", field="secret_scanning")
        if not isinstance(self.github_keys_url, str) or not self.github_keys_url.startswith(
                ("https://", "http://")):
            raise ValidationError("github_keys_url must be an http(s) URL", field="github_keys_url")
        for name in ("login_url", "logout_url", "home_url"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or any(c in value for c in "\r\n\0")):
                raise ValidationError(f"{name} must be a URL or None", field=name)
        if self.allow_never_expires is not None and not isinstance(self.allow_never_expires, bool):
            raise ValidationError("allow_never_expires must be a bool or None", field="allow_never_expires")
        for name in ("locale_selector", "owner_display", "projects_loader", "template_context",
                     "permission_levels"):
            if getattr(self, name) is not None and not callable(getattr(self, name)):
                raise ValidationError(f"{name} must be callable or None", field=name)
        check_sources(self.csp_sources)

    def mount_for(self, path: str) -> str | None:
        """``api_path`` or ``settings_path`` when ``path`` is that mount point or below it.

        Every request of the host app asks this: a path that starts with neither
        mount point is answered by one ``startswith``.
        """
        mounts = (self.api_path, self.settings_path)
        if not path.startswith(mounts):
            return None
        for mount in mounts:
            if path == mount or path.startswith(mount + "/"):
                return mount
        return None
