"""Cross-site request forgery defences for cookie-authenticated writes.

Two independent checks, both required:

* a synchronizer token signed with itsdangerous under ``guard.derive_key("csrf")``,
  bound to the signed-in owner and valid for ``WebOptions.csrf_max_age``;
* the request must come from our own origin: ``Sec-Fetch-Site: same-origin``,
  or an ``Origin`` (or, failing that, ``Referer``) equal to ``WebRequest.origin``.
  A request with none of these signals is refused.

Requests authenticated by a bearer token need neither: a browser never
attaches such a header to a cross-site request on its own.

A host framework with CSRF protection of its own (Django's ``CsrfViewMiddleware``)
takes the place of both: its adapter hands each request a :class:`HostCsrf`, the
forms carry the host's token in the host's field, and the host's check decides.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from itsdangerous import BadData, URLSafeTimedSerializer

from tokenguard.web.http import WebRequest

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True, slots=True)
class HostCsrf:
    """The host framework's own CSRF protection for one request, used in place of ours.

    ``field``: the form field its token travels in (Django: ``csrfmiddlewaretoken``);
    ``token()``: the token for this request's forms (asked only when a page or a
    signed-in listing hands one out); ``passed()``: True when this request passed
    the host's check (asked for every cookie-authenticated write, never for a
    bearer token's). ``referrer_policy``: the pages' ``Referrer-Policy``, for a check that
    compares ``Origin`` (or ``Referer``) with the host, as Django's does: under
    ``no-referrer`` a browser sends ``Origin: null`` with the page's own forms.
    ``same-origin`` still sends nothing to another site.
    """

    field: str
    token: Callable[[], str]
    passed: Callable[[], bool]
    referrer_policy: str = "same-origin"


def owner_tag(owner: str) -> str:
    """A short digest of the owner id, so signed values do not spell it out."""
    return hashlib.sha256(owner.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class CsrfProtector:
    """Issues and verifies owner-bound CSRF tokens."""

    __slots__ = ("_max_age", "_serializer")

    def __init__(self, key: bytes, max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt="tokenguard.csrf")
        self._max_age = max_age

    def issue(self, owner: str) -> str:
        return self._serializer.dumps({"o": owner_tag(owner), "n": secrets.token_urlsafe(6)})

    def verify(self, token: str | None, owner: str) -> bool:
        if not token or len(token) > 512:
            return False
        try:
            data = self._serializer.loads(token, max_age=self._max_age)
        except BadData:
            return False
        tag = data.get("o") if isinstance(data, dict) else None
        return isinstance(tag, str) and hmac.compare_digest(tag.encode(), owner_tag(owner).encode())


def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(request: WebRequest) -> bool:
    """True when the browser says the request comes from a page of our own origin."""
    expected = request.origin.lower().rstrip("/")
    fetch_site = request.header("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site.strip().lower() != "same-origin":
        return False
    origin = request.header("Origin")
    if origin is not None and origin.strip() != "null":
        return bool(expected) and _origin_of(origin.strip()) == expected
    if fetch_site is not None:
        # Same-origin per Fetch Metadata; Origin is "null" under Referrer-Policy: no-referrer.
        return True
    referer = request.header("Referer")
    if referer is not None:
        return bool(expected) and _origin_of(referer.strip()) == expected
    return False
