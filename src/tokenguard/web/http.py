"""Framework-neutral request and response: what adapters translate to and from."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenguard.web.csrf import HostCsrf

#: Returns every value of a header, by case-insensitive name (empty list if absent).
HeaderGetter = Callable[[str], list[str]]

NO_STORE_HEADERS: tuple[tuple[str, str], ...] = (
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
    ("X-Content-Type-Options", "nosniff"),
)


@dataclass(slots=True)
class WebRequest:
    """One HTTP request, as the shared web layer sees it."""

    method: str
    #: the path below the mount point ("/" for the mount point itself).
    path: str
    get_header: HeaderGetter
    body: bytes = b""
    #: the signed-in user per the app's ``owner_loader`` (cookie session), if any.
    owner: str | None = None
    remote: str | None = None
    #: "scheme://host[:port]" as the client addressed it, for the Origin check.
    origin: str = ""
    query: dict[str, str] = field(default_factory=dict)
    #: the mount point, e.g. "/settings/tokens": which part of the web layer answers.
    root: str = ""
    #: where the app itself is mounted (WSGI ``SCRIPT_NAME``, ASGI ``root_path``), "" at "/".
    prefix: str = ""
    #: the host framework's CSRF protection, when it has one (Django); ``None``: ours.
    host_csrf: HostCsrf | None = None
    #: renders the page inside ``WebOptions.base_template`` with the host's own template engine
    #: (Django's), given the layout's parts (``tokenguard.*``: see ``tokenguard.web.render``);
    #: ``None``: the base template is a Jinja one.
    host_layout: Callable[[Mapping[str, Any]], str] | None = None

    def header(self, name: str) -> str | None:
        values = self.get_header(name)
        return values[0] if values else None

    @property
    def base_url(self) -> str:
        """The absolute path of the mount point as the browser sees it, for links and cookies."""
        return f"{self.prefix}{self.root}"

    def cookie(self, name: str) -> str | None:
        """The value of cookie ``name`` from the ``Cookie`` header(s), if sent."""
        for header in self.get_header("Cookie"):
            for pair in header.split(";"):
                key, sep, value = pair.strip().partition("=")
                if sep and key == name:
                    return value.strip().strip('"')
        return None

    @property
    def secure(self) -> bool:
        """True when the client reached us over HTTPS (cookies get ``Secure``)."""
        return self.origin.lower().startswith("https://")


@dataclass(slots=True)
class WebResponse:
    """A status, headers (repeatable) and a body; adapters copy them verbatim."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def json(
        cls, data: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()
    ) -> WebResponse:
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode()
        return cls(status, [("Content-Type", "application/json"), *NO_STORE_HEADERS, *headers],
                   body)

    @classmethod
    def redirect(cls, location: str, headers: Iterable[tuple[str, str]] = ()) -> WebResponse:
        """303 See Other: the Post/Redirect/Get answer to a form."""
        return cls(303, [("Location", location), ("Cache-Control", "no-store"), *headers])

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


def signed_in_owner(value: object, loader: object = None) -> str | None:
    """What an app's ``owner_loader`` returned, as an owner id; one rule for every adapter.

    ``None``, ``""`` and ``False`` are nobody, so ``current_user.is_authenticated and
    current_user.id`` works for anonymous visitors. A ``str`` is the owner; an ``int``
    (a user's numeric id, not a ``bool``) its decimal string. Anything else is the
    app's mistake: a ``TypeError`` naming ``loader``, the callback that returned it.
    """
    if value is None or value is False:
        return None
    if isinstance(value, str):
        return str(value) or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    name = getattr(loader, "__qualname__", None) or repr(loader)
    raise TypeError(f"owner_loader {name} returned a {type(value).__name__}: an owner is a str or "
                    "an int, and None, '' or False means nobody is signed in")
