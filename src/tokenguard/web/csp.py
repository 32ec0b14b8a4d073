"""The settings page's Content-Security-Policy, and the sources a host's layout may add to it.

Ours allows nothing but the page's own origin and never a frame around it
(``frame-ancestors 'none'``: the page shows secrets). A host whose layout loads
a stylesheet, a font or an image from elsewhere lists them in
``WebOptions.csp_sources``; :func:`content_security_policy` merges them in.
Scripts stay strict: no ``'unsafe-inline'``, ``'unsafe-eval'``, ``data:`` or ``*``
(a host's inline script is allowed by its hash, ``'sha256-…'``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from tokenguard.errors import ValidationError

#: our policy, directive by directive, in the order the header lists them.
BASE_POLICY: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("default-src", ("'none'",)),
    ("style-src", ("'self'",)),
    ("script-src", ("'self'",)),
    ("img-src", ("'self'",)),
    ("connect-src", ("'self'",)),
    ("form-action", ("'self'",)),
    ("frame-ancestors", ("'none'",)),
    ("base-uri", ("'none'",)),
)
#: what ``csp_sources`` may extend; a directive not listed here is not ours to open.
EXTENSIBLE = frozenset({"style-src", "script-src", "img-src", "font-src", "connect-src",
                        "form-action", "media-src", "manifest-src"})
_SOURCE = re.compile(r"[!-~]{1,512}")
_NEVER_FOR_SCRIPTS = frozenset({"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'",
                                "'strict-dynamic'", "data:", "blob:", "*", "http:", "https:"})


def check_sources(sources: object) -> None:
    """``ValidationError`` unless ``sources`` maps extensible directives to lists of sources."""
    if not isinstance(sources, Mapping):
        raise ValidationError("csp_sources must map directives to lists of sources", field="csp_sources")
    for directive, values in sources.items():
        if directive not in EXTENSIBLE:
            raise ValidationError(f"csp_sources cannot change {directive!r}: only "
                                  f"{', '.join(sorted(EXTENSIBLE))}", field="csp_sources")
        if isinstance(values, str) or not isinstance(values, Sequence):
            raise ValidationError(f"csp_sources[{directive!r}] must be a list of sources",
                                  field="csp_sources")
        for value in values:
            if not isinstance(value, str) or not _SOURCE.fullmatch(value) or ";" in value or "," in value:
                raise ValidationError(f"csp_sources[{directive!r}]: {value!r} is not a source expression",
                                      field="csp_sources")
            if value.lower() == "'none'":
                raise ValidationError("csp_sources adds sources: 'none' has no place there",
                                      field="csp_sources")
            if directive == "script-src" and (value.lower() in _NEVER_FOR_SCRIPTS
                                              or value.lower().startswith("'nonce-")):
                raise ValidationError(f"csp_sources['script-src'] may not allow {value}: the page shows "
                                      "secrets (allow an inline script by its 'sha256-…' hash)",
                                      field="csp_sources")


def content_security_policy(extra: Mapping[str, Sequence[str]] | None = None) -> str:
    """Our policy with ``extra`` sources merged in (each listed once, ours first)."""
    directives = {name: list(values) for name, values in BASE_POLICY}
    for directive, values in (extra or {}).items():
        merged = directives.setdefault(directive, [])
        merged.extend(v for v in values if v not in merged)
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())
