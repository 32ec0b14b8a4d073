"""HTML rendering: one rendering of the page's content, the layout around it, and its headers.

Templates are ours unless the host has its own of the same name: the host's
(``WebOptions.templates``; Flask: the app's own loader) are looked up first, so
the host's ``tokenguard/layout.html``, or any of ``tokenguard/settings.html``,
``confirm_delete.html``, ``problem.html``, ``content.html``, ``head.html``,
replaces ours. A page is rendered in two steps:

1. its content (``tokenguard/<page>.html``, wrapped by ``tokenguard/content.html``
   in ``<div class="tokenguard" data-theme=…>``), to one piece of HTML; a top-level
   ``{% set title = … %}`` of the page is its title;
2. a layout around it: ours (``tokenguard/layout.html``: ``content``, ``page_title``,
   ``head`` and every variable of the page), or with ``WebOptions.base_template``
   the host's base template, extended with its block ``title`` filled with the
   title, ``head`` with our stylesheet, script and CSRF meta tag (after the
   host's own: ``super()``) and ``content_block`` (default ``content``) with the
   page. Those three are also ``tokenguard.title``, ``tokenguard.head`` and
   ``tokenguard.content`` there, for a base template whose blocks have other names.
   A host framework with a template engine of its own (Django) renders that
   base template itself, given the same parts (``WebRequest.host_layout``).

The security headers hold in every layout; a host's layout that needs assets
from elsewhere lists them in ``WebOptions.csp_sources`` (:mod:`tokenguard.web.csp`).
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    Template,
)
from markupsafe import Markup

from tokenguard.web.csp import content_security_policy
from tokenguard.web.csrf import CSRF_FIELD
from tokenguard.web.http import WebRequest, WebResponse
from tokenguard.web.i18n import PageLanguage, request_locale, template_callables
from tokenguard.web.options import WebOptions
from tokenguard.web.signin import signin_url

CONTENT_SECURITY_POLICY = content_security_policy()
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))
#: where our templates are, as the host addresses them: ``tokenguard/settings.html``.
TEMPLATE_FOLDER = "tokenguard"
LAYOUT = f"{TEMPLATE_FOLDER}/layout.html"
HEAD = f"{TEMPLATE_FOLDER}/head.html"
#: the app name the adapters default to: the page then says "the API", never "the API API".
DEFAULT_APP_NAME = "API"
_BRIDGE = """{{% extends tokenguard.base_template %}}
{{% block title %}}{{{{ tokenguard.title }}}}{{% endblock %}}
{{% block head %}}{{{{ super() }}}}{{{{ tokenguard.head }}}}{{% endblock %}}
{{% block {block} %}}{{{{ tokenguard.content }}}}{{% endblock %}}
"""


def page_headers(options: WebOptions) -> tuple[tuple[str, str], ...]:
    """The security headers of every page and asset, with the host's ``csp_sources`` merged in."""
    return (
        ("Content-Security-Policy", content_security_policy(options.csp_sources)),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    )


PAGE_HEADERS = page_headers(WebOptions())


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    version: str


def _load_assets() -> dict[str, Asset]:
    assets = {}
    for entry in resources.files("tokenguard.web").joinpath("static").iterdir():
        if entry.is_file() and not entry.name.startswith("."):
            body = entry.read_bytes()
            kind = mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind.endswith("javascript"):
                kind += "; charset=utf-8"
            assets[entry.name] = Asset(body, kind, hashlib.sha256(body).hexdigest()[:12])
    return assets


def host_environment(templates: object) -> Environment | None:
    """The host's Jinja2 ``Environment`` in ``templates`` (itself, or Starlette's ``Jinja2Templates.env``)."""
    if isinstance(templates, Environment):
        return templates
    found = getattr(templates, "env", None) if templates is not None else None
    return found if isinstance(found, Environment) else None


def page_environment(templates: object = None) -> Environment:
    """The environment our pages render in: the host's templates first, then ours.

    ``templates``: ``None``, a directory, a loader, or the host's ``Environment``
    (or an object with one as ``env``). A host environment is overlaid, never
    changed: its globals and filters (``url_for``…) serve its templates, its
    loader comes first; our i18n extension and policies are the overlay's own.
    """
    ours = PackageLoader("tokenguard.web", "templates")
    host = host_environment(templates)
    if host is not None:
        loader = ours if host.loader is None else ChoiceLoader([host.loader, ours])
        # our whitespace rules, so every adapter's page is the same bytes (the host's templates
        # rendered here lose only blank lines around their block tags)
        env = host.overlay(loader=loader, autoescape=True, trim_blocks=True, lstrip_blocks=True)
        # what we add stays ours, and globals the host adds later still show (Jinja reads a Mapping)
        env.globals = ChainMap({}, host.globals)  # type: ignore[assignment]
        env.policies = dict(host.policies)
        env.add_extension("jinja2.ext.i18n")
    else:
        if templates is None:
            chosen: BaseLoader = ours
        elif isinstance(templates, str | os.PathLike):
            chosen = ChoiceLoader([FileSystemLoader(os.fspath(templates)), ours])
        elif isinstance(templates, BaseLoader):
            chosen = ChoiceLoader([templates, ours])
        else:
            raise TypeError("templates must be a directory, a Jinja2 loader or Environment, or have an "
                            f"Environment as .env (like Starlette's Jinja2Templates), not {templates!r}")
        env = Environment(loader=chosen, autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                          lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
    env.policies["ext.i18n.trimmed"] = True
    env.newstyle_gettext = True  # type: ignore[attr-defined]
    return env


def app_label(app_name: str) -> str:
    """The app's name as "the … API" wants it: ``""`` for the default (the page says "the API").

    ``"Notes"`` and ``"Notes API"`` both read "the Notes API".
    """
    name = app_name.strip()
    if name.lower() == DEFAULT_APP_NAME.lower():
        return ""
    if name.lower().endswith(" api"):
        name = name[:-4].rstrip()
    return name


def host_csrf_values(context: Mapping[str, Any], request: WebRequest | None) -> dict[str, str]:
    """The forms' CSRF field and token: the host framework's when it checks CSRF itself, else ours."""
    host = request.host_csrf if request is not None else None
    if host is None:
        return {"csrf_field": CSRF_FIELD}
    return {"csrf_field": host.field, "csrf_token": host.token() if context.get("csrf_token") else ""}


class Renderer:
    """Renders the pages (autoescaped, in the request's language) and serves the bundled assets."""

    def __init__(self, options: WebOptions | None = None) -> None:
        self.options = options or WebOptions()
        self.env = page_environment(self.options.templates)
        self.assets = _load_assets()
        self.headers = page_headers(self.options)
        self._bridge: Template | None = None
        if self.options.base_template is not None:
            self._bridge = self.env.from_string(_BRIDGE.format(block=self.options.content_block))

    def asset_url(self, root: str, name: str) -> str:
        return f"{root}/static/{name}?v={self.assets[name].version}"

    def page(self, template: str, context: Mapping[str, Any], status: int = 200,
             headers: Iterable[tuple[str, str]] = (), *, request: WebRequest | None = None,
             locale: object = None) -> WebResponse:
        """The page ``template`` in its layout, with our security headers and ``no-store``.

        ``request``: for its language (``locale_selector``, ``Accept-Language``) and
        the sign-in link's ``next=``; ``locale``: one the adapter chose already.
        """
        language = PageLanguage.of(request_locale(request, self.options, locale))
        html = self.render(template, context, language, request)
        security = self.headers
        if request is not None and request.host_csrf is not None:  # the host's check reads Origin
            policy = request.host_csrf.referrer_policy
            security = tuple((name, policy if name == "Referrer-Policy" else value)
                             for name, value in security)
        return WebResponse(status, [("Content-Type", "text/html; charset=utf-8"), *security,
                                    *NO_STORE, *headers], html.encode("utf-8"))

    def render(self, template: str, context: Mapping[str, Any], language: PageLanguage,
               request: WebRequest | None = None) -> str:
        host = dict(self.options.template_context()) if self.options.template_context else {}
        values = {**host, **self.page_values(context, language, request)}
        name = template if "/" in template else f"{TEMPLATE_FOLDER}/{template}"
        module = self.env.get_template(name).make_module(values)
        content = Markup(str(module))  # noqa: S704 - rendered by the autoescaping environment
        title = getattr(module, "title", None) or language.gettext("API tokens")
        app_name = values["app_name"]
        page_title = (Markup("{} · {}").format(title, app_name) if app_label(app_name)
                      else Markup("{}").format(title))
        head = Markup(self.env.get_template(HEAD).render(values))  # noqa: S704 - as content
        if self._bridge is None:
            return self.env.get_template(LAYOUT).render(
                {**values, "content": content, "page_title": page_title, "head": head})
        parts = {"base_template": self.options.base_template, "content": content, "title": title,
                 "page_title": page_title, "head": head, "lang": language.lang, "theme": self.options.theme}
        if request is not None and request.host_layout is not None:
            return request.host_layout(parts)
        return self._bridge.render({**host, "tokenguard": parts})

    def page_values(self, context: Mapping[str, Any], language: PageLanguage,
                    request: WebRequest | None) -> dict[str, Any]:
        """What every template of ours sees: the page's own values, and the layout's."""
        options = self.options
        root = str(context.get("root", ""))
        owner = context.get("owner")
        app_name = str(context.get("app_name", options.app_name))
        prefix = request.prefix if request is not None else ""
        path = f"{request.base_url}{request.path.rstrip('/')}" if request is not None else root
        host_gettext = self.env.globals.get("gettext") if host_environment(options.templates) else None
        fallback = host_gettext if callable(host_gettext) else None
        return {
            "csrf_token": "", "login_url": options.login_url, "replace_url": "", **context,
            **host_csrf_values(context, request),
            "app_name": app_name, "app_label": app_label(app_name),
            "owner_name": (options.owner_display or str)(owner) if owner else "",
            "home_url": options.home_url or f"{prefix}/", "logout_url": options.logout_url,
            "signin_link": signin_url(options.login_url, path or "/") if options.login_url else "",
            "theme": options.theme, "lang": language.lang, "locale": language.locale, "i18n": language,
            "asset": lambda name: self.asset_url(root, name),
            **template_callables(language, fallback),
        }

    def asset(self, name: str) -> WebResponse | None:
        found = self.assets.get(name)
        if found is None:
            return None
        return WebResponse(200, [("Content-Type", found.content_type), *self.headers,
                                 ("Cache-Control", "public, max-age=31536000, immutable"),
                                 ("ETag", f'"{found.version}"')], found.body)
