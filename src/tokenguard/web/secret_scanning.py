"""Leaked tokens: GitHub's secret-scanning partner endpoint and the scanner behind ``token scan``.

GitHub (and any scanner speaking its partner format) POSTs ``{api_path}/secret-scanning``
with a JSON array of matches, ``[{"token", "type", "url", "source"}]``, signed with
ECDSA P-256 / SHA-256 over the raw body: ``Github-Public-Key-Signature`` (base64 DER) by
the key ``Github-Public-Key-Identifier`` names, published at ``WebOptions.github_keys_url``.
Every reported token of this guard is revoked and ``tokenguard_token_leaked`` fires; the
answer labels each match ``true_positive`` or ``false_positive`` by the SHA-256 of the
token (``token_hash``), never echoing a secret. A replay changes nothing: a token already
revoked stays revoked and is not reported leaked twice.

Off by default (``WebOptions.secret_scanning``); it needs the ``cryptography`` package
(``pip install tokenguard[github]``), imported only when switched on. The key list is
fetched with :mod:`urllib.request` (with a timeout), cached, and fetched again once when
a request names an unknown key, at most every ``REFETCH_INTERVAL`` seconds. The web layer
is synchronous: ASGI adapters already run it in a worker thread, so the fetch never
blocks the event loop.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tokenguard import tokens
from tokenguard.errors import TokenGuardError, ValidationError
from tokenguard.guard import TokenGuard
from tokenguard.web.http import WebRequest, WebResponse
from tokenguard.web.options import WebOptions

KEY_ID_HEADER = "Github-Public-Key-Identifier"
SIGNATURE_HEADER = "Github-Public-Key-Signature"
#: how long a fetched key list is trusted, and how often an unknown key may fetch it again.
KEYS_TTL = 24 * 3600.0
REFETCH_INTERVAL = 60.0
FETCH_TIMEOUT = 5.0
MAX_KEYS_DOCUMENT = 256 * 1024
MAX_MATCHES = 1000
SOURCE = "github"
_KEY_ID = re.compile(r"[A-Za-z0-9_.:+/=-]{1,200}")

Fetch = Callable[[str, float], bytes]
Clock = Callable[[], float]


class SignatureRefused(TokenGuardError):
    """The request is not signed by a key of the key list (401); nothing was done."""

    error_code = "invalid_signature"
    status_code = 401


class KeysUnavailable(TokenGuardError):
    """The key list could not be fetched (503): the scanner retries later."""

    error_code = "temporarily_unavailable"
    status_code = 503

    def headers(self, realm: str) -> list[tuple[str, str]]:
        return [("Retry-After", "60")]


def token_pattern(prefix: str) -> str:
    """The regular expression a scanner registers for this guard's tokens: ``{prefix}_[0-9A-Za-z]{38}``."""
    return rf"{re.escape(tokens.validate_prefix(prefix))}_[0-9A-Za-z]{{{tokens.BODY_LENGTH}}}"


@dataclass(frozen=True, slots=True)
class Found:
    """A token of ours found in text: its line (from 1), column (from 1) and value."""

    line: int
    column: int
    token: str = field(repr=False)

    @property
    def hint(self) -> str:
        return tokens.hint(self.token)


def find_tokens(text: str, prefix: str) -> Iterator[Found]:
    """Every string in ``text`` shaped like a token of ``prefix`` whose checksum matches.

    The checksum turns a random match into a one-in-56-billion chance: what is found is
    a token this format made, not a lookalike. Word boundaries keep ``xtg_…`` and longer
    runs out.
    """
    pattern = re.compile(rf"(?<![0-9A-Za-z_]){token_pattern(prefix)}(?![0-9A-Za-z])")
    for number, line in enumerate(text.splitlines(), start=1):
        for match in pattern.finditer(line):
            if tokens.checksum_matches(match.group(0)):
                yield Found(number, match.start() + 1, match.group(0))


def _fetch(url: str, timeout: float) -> bytes:
    # the configured URL, checked to be http(s) by WebOptions
    request = urllib.request.Request(url, headers={"Accept": "application/json",  # noqa: S310
                                                   "User-Agent": "tokenguard"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
        data: bytes = answer.read(MAX_KEYS_DOCUMENT + 1)
    if len(data) > MAX_KEYS_DOCUMENT:
        raise ValueError("the key list is too large")
    return data


def _require_cryptography() -> None:
    try:
        import cryptography.hazmat.primitives.asymmetric.ec  # noqa: F401
    except ImportError:
        raise ValidationError("secret_scanning needs the cryptography package: "
                              "pip install 'tokenguard[github]'", field="secret_scanning") from None


class GithubKeys:
    """GitHub's public keys by identifier: fetched, cached, fetched again on an unknown one."""

    def __init__(self, url: str, *, timeout: float = FETCH_TIMEOUT, fetch: Fetch = _fetch,
                 clock: Clock = time.monotonic) -> None:
        self.url = url
        self.timeout = timeout
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        #: how many times the key list was fetched (for operators and tests).
        self.fetches = 0

    def key(self, identifier: str) -> Any:
        """The public key ``identifier`` names, or ``None`` if the key list has none such."""
        with self._lock:
            now = self._clock()
            fresh = self._fetched_at is not None and now - self._fetched_at < KEYS_TTL
            if not fresh:
                self._load(now)
            elif identifier not in self._keys and self._fetched_at is not None and (
                    now - self._fetched_at >= REFETCH_INTERVAL):
                self._load(now)  # GitHub may have published a new key since
            return self._keys.get(identifier)

    def _load(self, now: float) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        try:
            document = json.loads(self._fetch(self.url, self.timeout))
            entries = document["public_keys"]
            keys = {}
            for entry in entries:
                key = load_pem_public_key(entry["key"].encode("ascii"))
                if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(entry["key_identifier"], str):
                    keys[entry["key_identifier"]] = key
        except (OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeError) as exc:
            raise KeysUnavailable(f"could not read the secret-scanning keys: {type(exc).__name__}") from None
        self._keys = keys
        self._fetched_at = now
        self.fetches += 1


class SecretScanning:
    """Answers ``POST {api_path}/secret-scanning`` (when ``options.secret_scanning`` is on)."""

    def __init__(self, guard: TokenGuard, options: WebOptions, keys: GithubKeys | None = None) -> None:
        self.guard = guard
        self.enabled = options.secret_scanning
        if self.enabled:
            _require_cryptography()
        self.keys = keys or GithubKeys(options.github_keys_url)

    def handle(self, request: WebRequest) -> WebResponse:
        self.verify(request)
        matches = _matches(request.body)
        return WebResponse.json([self._answer(match) for match in matches], 200)

    def verify(self, request: WebRequest) -> None:
        """Raises ``SignatureRefused`` unless a listed key signed the raw body."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        identifier = _single(request, KEY_ID_HEADER)
        signature_text = _single(request, SIGNATURE_HEADER)
        if not _KEY_ID.fullmatch(identifier):
            raise SignatureRefused("the public key identifier is malformed")
        try:
            signature = base64.b64decode(signature_text, validate=True)
        except (binascii.Error, ValueError):
            raise SignatureRefused("the signature is not base64") from None
        key = self.keys.key(identifier)
        if key is None:
            raise SignatureRefused("the public key identifier is unknown")
        try:
            key.verify(signature, request.body, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            raise SignatureRefused("the signature does not match the body") from None

    def _answer(self, match: dict[str, Any]) -> dict[str, str]:
        token: str = match["token"]
        url = match.get("url") if isinstance(match.get("url"), str) else None
        actor = "github secret scanning"
        info = self.guard.introspect(token)  # no remote: GitHub's address is never rate-limited
        if info is not None and info.revoked_at is None:
            self.guard.revoke_leaked(token, source=SOURCE, url=url, actor=actor)
        return {"token_hash": hashlib.sha256(token.encode("utf-8")).hexdigest(),
                "token_type": str(match.get("type") or ""),
                "label": "false_positive" if info is None else "true_positive"}


def _single(request: WebRequest, name: str) -> str:
    values = request.get_header(name)
    if len(values) != 1 or not values[0].strip():
        raise SignatureRefused(f"one {name} header is required")
    return values[0].strip()


def _matches(body: bytes) -> list[dict[str, Any]]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationError("the body is not valid JSON", field="body") from None
    if not isinstance(data, list) or len(data) > MAX_MATCHES:
        raise ValidationError(f"the body must be a JSON array of at most {MAX_MATCHES} matches",
                              field="body")
    for match in data:
        if not isinstance(match, dict) or not isinstance(match.get("token"), str):
            raise ValidationError("each match must be an object with a token string", field="token")
        try:
            match["token"].encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("a token is not valid Unicode", field="token") from None
    return data
