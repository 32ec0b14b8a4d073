"""A visitor of the settings page who is not signed in: sent to sign in, or told how.

A browser (one that asks for HTML, accepts anything with ``*/*``, or says nothing
of what it accepts) is redirected to ``login_url`` with ``next=`` the page's own
path, so signing in brings it back; a script or ``fetch`` that asks for JSON (and
not HTML) gets the 401 page and its challenge instead of a redirect it cannot
follow. Without a ``login_url`` there is nowhere to send anyone: 401 for all.
"""

from __future__ import annotations

from urllib.parse import quote

from tokenguard.web.http import WebResponse
from tokenguard.web.options import WebOptions

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def wants_html(accept: str | None) -> bool:
    """True when ``Accept`` is absent, names HTML with a quality above zero, or accepts ``*/*``
    without naming JSON."""
    if accept is None or not accept.strip():
        return True
    anything = json = False
    for entry in accept.split(",")[:64]:
        kind, *params = (part.strip() for part in entry.split(";"))
        kind = kind.lower()
        refused = any(p.replace(" ", "").lower() in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params)
        if refused:
            continue
        if kind in _HTML_TYPES:
            return True
        anything = anything or kind == "*/*"
        json = json or kind == "application/json" or kind.endswith("+json")
    return anything and not json


def signin_url(login_url: str, path: str) -> str:
    """``login_url`` with ``next=`` the URL-encoded ``path`` (``&`` when it has a query already)."""
    sep = "&" if "?" in login_url else "?"
    return f"{login_url}{sep}next={quote(path, safe='/')}"


def signin_redirect(options: WebOptions, path: str, accept: str | None) -> WebResponse | None:
    """The 303 to ``options.login_url`` for a browser, or ``None``: answer 401 with the page.

    ``path``: the page's own absolute path as the browser sees it (mount prefix included).
    """
    if not options.login_url or not wants_html(accept):
        return None
    return WebResponse.redirect(signin_url(options.login_url, path))
