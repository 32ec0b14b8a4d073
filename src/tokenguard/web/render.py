"""HTML rendering: the Jinja2 templates, the static assets, and the page security headers."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from tokenguard.web.http import WebResponse

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


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


class Renderer:
    """Renders the page templates (autoescaped) and serves the bundled assets."""

    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("tokenguard.web", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.assets = _load_assets()

    def asset_url(self, root: str, name: str) -> str:
        return f"{root}/static/{name}?v={self.assets[name].version}"

    def page(self, template: str, context: Mapping[str, Any], status: int = 200,
             headers: Iterable[tuple[str, str]] = ()) -> WebResponse:
        root = str(context.get("root", ""))
        html = self.env.get_template(template).render(
            **context, asset=lambda name: self.asset_url(root, name))
        return WebResponse(status, [("Content-Type", "text/html; charset=utf-8"), *PAGE_HEADERS,
                                    *NO_STORE, *headers], html.encode("utf-8"))

    def asset(self, name: str) -> WebResponse | None:
        found = self.assets.get(name)
        if found is None:
            return None
        return WebResponse(200, [("Content-Type", found.content_type), *PAGE_HEADERS,
                                 ("Cache-Control", "public, max-age=31536000, immutable"),
                                 ("ETag", f'"{found.version}"')], found.body)
