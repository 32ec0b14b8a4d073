"""Checks on every value a caller hands the core: each failure is a ``ValidationError``."""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from tokenguard.errors import ValidationError

MAX_NAME_LENGTH = 100
MAX_OWNER_LENGTH = 255
MAX_PROJECTS = 50
MAX_DESCRIPTION_LENGTH = 500
MAX_NETWORKS = 50
#: What is kept of a client's User-Agent and address with its last use.
MAX_AGENT_LENGTH = 200
MAX_ADDRESS_LENGTH = 64
TOKEN_ID_PATTERN = re.compile(r"[a-z0-9_-]{1,64}")
#: Ids the web layer's own routes use below ``settings_path`` and ``api_path``: a token so
#: named would be shadowed by the route (``/admin`` is the inventory, not token "admin"'s page).
RESERVED_TOKEN_IDS = frozenset({"admin", "static", "self", "secret-scanning", "revoke", "introspect"})
PROJECT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}")
# Cc: control; Cf: format (bidi overrides, zero-width); Zl/Zp: line and paragraph
# separators; Cs: lone surrogates (not encodable); Co/Cn: private use, unassigned.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _check_text(value: object, field: str, max_length: int, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", field=field)
    text = value.strip()
    if not text and not empty:
        raise ValidationError(f"{field} must not be empty", field=field, reason="empty")
    if len(text) > max_length:
        raise ValidationError(f"{field} must be at most {max_length} characters", field=field,
                              reason="too_long", params={"max": max_length})
    for char in text:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise ValidationError(
                f"{field} must not contain control, format or bidirectional characters "
                f"(found U+{ord(char):04X})",
                field=field, reason="bad_character", params={"character": f"U+{ord(char):04X}"},
            )
    return text


def name(value: object) -> str:
    """A token name: 1 to 100 printable characters, surrounding spaces trimmed."""
    return _check_text(value, "name", MAX_NAME_LENGTH)


def description(value: object) -> str:
    """What a token is for: up to 500 printable characters (``""``: none), spaces trimmed.

    Refused as names are: control, format and bidirectional characters, line breaks too.
    """
    return _check_text(value, "description", MAX_DESCRIPTION_LENGTH, empty=True)


def owner(value: object) -> str:
    """An owner id as the host app knows it (a user id or login), exactly: never trimmed.

    ``"alice "`` is not ``"alice"``: trimming would let one user act as another, and
    so would a database collation that ignores trailing spaces (MariaDB's PAD SPACE).
    An id with whitespace around it is refused instead.
    """
    text = _check_text(value, "owner", MAX_OWNER_LENGTH)
    if text != value:
        raise ValidationError("owner must not begin or end with whitespace", field="owner")
    return text


def token_id(value: object) -> str:
    """A chosen id for a new token: ``[a-z0-9_-]{1,64}``, and none of ``RESERVED_TOKEN_IDS``."""
    if not isinstance(value, str) or not TOKEN_ID_PATTERN.fullmatch(value):
        raise ValidationError("id must match [a-z0-9_-]{1,64}", field="id", reason="id_pattern")
    if value in RESERVED_TOKEN_IDS:
        raise ValidationError(f"id {value!r} is reserved for the settings page and API routes "
                              f"(reserved: {', '.join(sorted(RESERVED_TOKEN_IDS))})", field="id",
                              reason="id_reserved", params={"id": value})
    return value


def is_token_id(value: object) -> bool:
    """True for any id a stored token may have (a reserved one too: it may predate the reservation)."""
    return isinstance(value, str) and TOKEN_ID_PATTERN.fullmatch(value) is not None


def projects(values: object) -> frozenset[str]:
    if values is None:
        return frozenset()
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValidationError("projects must be a list of project names", field="projects")
    result = set()
    for value in values:
        if not isinstance(value, str) or not PROJECT_PATTERN.fullmatch(value):
            raise ValidationError(
                "each project must match [A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}", field="projects",
                reason="project_pattern",
            )
        result.add(value)
    if len(result) > MAX_PROJECTS:
        raise ValidationError(f"at most {MAX_PROJECTS} projects", field="projects", reason="too_many",
                              params={"max": MAX_PROJECTS})
    return frozenset(result)


def lifetime(value: object, field: str) -> timedelta | None:
    if value is None:
        return None
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationError(f"{field} must be a positive timedelta or None", field=field)
    return value


def grace(value: object) -> timedelta:
    """How long a rotated token's old secret keeps working: a positive timedelta."""
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationError("grace must be a positive timedelta or None", field="grace")
    return value


def span(value: timedelta) -> str:
    """A lifetime as people write it: "30 days", "1 day", "12 hours", "90 minutes", "45 seconds"."""
    seconds = int(value.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def expiry(
    now: datetime,
    expires_in: object,
    expires_at: object,
    max_lifetime: timedelta | None,
) -> datetime | None:
    """The absolute expiry from a relative or absolute request, within ``max_lifetime``."""
    if expires_at is not None:
        if not isinstance(expires_at, datetime) or expires_at.tzinfo is None:
            raise ValidationError("expires_at must be a timezone-aware datetime", "expires_at")
        if expires_in is not None:
            raise ValidationError("give expires_in or expires_at, not both", "expires_at")
        try:  # UTC, as the stores keep it; an offset may push a far date past datetime.max
            when: datetime | None = expires_at.astimezone(UTC)
        except OverflowError:
            raise ValidationError("expiry is too far in the future", field="expires_at",
                                  reason="expiry_too_far") from None
    elif expires_in is None:
        when = None
    elif isinstance(expires_in, timedelta):
        try:
            when = now + expires_in
        except OverflowError:
            raise ValidationError("expiry is too far in the future", field="expires_in",
                                  reason="expiry_too_far") from None
    else:
        raise ValidationError("expires_in must be a timedelta or None", field="expires_in")
    field = "expires_at" if expires_at is not None else "expires_in"
    if when is not None and when <= now:
        raise ValidationError("expiry must be in the future", field=field, reason="expiry_past")
    if max_lifetime is not None:
        if when is None:
            raise ValidationError(
                f"tokens must expire within {span(max_lifetime)} (max_lifetime)", field=field,
                reason="expiry_required", params={"lifetime": max_lifetime},
            )
        if when - now > max_lifetime:
            raise ValidationError(f"expiry is beyond the maximum lifetime of {span(max_lifetime)}", field,
                                  reason="expiry_beyond_max", params={"lifetime": max_lifetime})
    return when


# -- client networks -------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(values: object) -> frozenset[str]:
    """CIDR networks, IPv4 or IPv6, in their canonical text (``2001:db8::/32``).

    A bare address is its own network (``/32``, ``/128``). A network written with host
    bits set (``10.1.2.3/8``) is refused, not silently widened or narrowed: the message
    says which network was probably meant.
    """
    if values is None:
        return frozenset()
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValidationError("allowed_networks must be a list of CIDR networks",
                              field="allowed_networks")
    result = set()
    for value in values:
        result.add(str(_network(value)))
    if len(result) > MAX_NETWORKS:
        raise ValidationError(f"at most {MAX_NETWORKS} allowed networks", field="allowed_networks",
                              reason="too_many", params={"max": MAX_NETWORKS})
    return frozenset(result)


def _network(value: object) -> Network:
    if not isinstance(value, str) or not value.isascii() or not 0 < len(value.strip()) <= 64:
        raise ValidationError("each allowed network must be a CIDR network such as "
                              "203.0.113.0/24 or 2001:db8::/32", field="allowed_networks",
                              reason="network_invalid")
    text = value.strip()
    try:
        return ipaddress.ip_network(text)
    except ValueError:
        pass
    try:
        meant = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValidationError(f"{text!r} is not a CIDR network such as 203.0.113.0/24 or "
                              "2001:db8::/32", field="allowed_networks", reason="network_not_cidr",
                              params={"network": text}) from None
    raise ValidationError(f"{text!r} has host bits set: write the network, {meant}",
                          field="allowed_networks", reason="network_host_bits",
                          params={"network": text, "meant": str(meant)})


@functools.lru_cache(maxsize=4096)
def parse_networks(values: frozenset[str]) -> tuple[Network, ...]:
    """Canonical network texts (as :func:`networks` returns them) as ``ipaddress`` networks.

    Memoised: the sets repeat (one per restricted token at most), the parsing need not.
    """
    return tuple(ipaddress.ip_network(value) for value in values)


def client_address(address: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A client's address as ``ipaddress`` reads it; an IPv4-mapped IPv6 address is its IPv4.

    ``None`` for anything that is not an address (a Unix socket, ``"testclient"``).
    """
    if not isinstance(address, str):
        return None
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.scope_id is not None:
            parsed = ipaddress.IPv6Address(address.split("%", 1)[0])
        if parsed.ipv4_mapped is not None:
            return parsed.ipv4_mapped
    return parsed


def address_in(address: object, allowed: frozenset[str]) -> bool:
    """True when ``address`` is in one of the ``allowed`` networks (an unreadable one never is)."""
    parsed = client_address(address)
    if parsed is None:
        return False
    return any(parsed in network for network in parse_networks(allowed))


def _contains(outer: Network, inner: Network) -> bool:
    return outer.version == inner.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def networks_within(inner: frozenset[str], outer: frozenset[str]) -> bool:
    """True when every network of ``inner`` lies in one of ``outer`` (an empty ``outer``: anywhere).

    An empty ``inner`` (anywhere) is within only an empty ``outer``.
    """
    if not outer:
        return True
    if not inner:
        return False
    wide = parse_networks(outer)
    return all(any(_contains(o, i) for o in wide) for i in parse_networks(inner))


def networks_intersection(first: frozenset[str], second: frozenset[str]) -> frozenset[str] | None:
    """The addresses in both, as networks; ``None`` when no address is in both.

    An empty set means anywhere, as ``allowed_networks`` does: it leaves the other as it is.
    """
    if not first:
        return second
    if not second:
        return first
    kept: set[Network] = set()
    for a in parse_networks(first):
        for b in parse_networks(second):
            if _contains(b, a):
                kept.add(a)
            elif _contains(a, b):
                kept.add(b)
    if not kept:
        return None
    # CIDR blocks are nested or disjoint: the ones inside another kept one add nothing
    narrowest = {n for n in kept if not any(m != n and _contains(m, n) for m in kept)}
    return frozenset(str(n) for n in narrowest)


def user_agent(value: object) -> str | None:
    """A User-Agent as kept with a token's last use: control characters out, 200 characters at most."""
    return _printable(value, MAX_AGENT_LENGTH)


def remote_address(value: object) -> str | None:
    """A client address as kept with a token's last use (as the adapter gave it, bounded)."""
    return _printable(value, MAX_ADDRESS_LENGTH)


def _printable(value: object, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    if not value.isprintable():
        value = "".join(char for char in value if unicodedata.category(char) not in _REFUSED_CATEGORIES)
    value = value.strip()[:limit]
    return value or None
