"""How the CLI shows tokens: a JSON shape for programs, a table and a card for people."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tokenguard.models import OwnerState, TokenInfo

TABLE_COLUMNS = ("ID", "NAME", "OWNER", "SCOPES", "PROJECTS", "STATUS", "EXPIRES", "LAST USED", "HINT")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def info_json(info: TokenInfo, now: datetime) -> dict[str, Any]:
    """Every public field of ``info``, datetimes in ISO 8601, plus ``status`` at ``now``."""
    return {
        "id": info.id,
        "owner": info.owner,
        "name": info.name,
        "scopes": sorted(info.scopes),
        "projects": sorted(info.projects),
        "admin": info.admin,
        "created_at": _iso(info.created_at),
        "expires_at": _iso(info.expires_at),
        "last_used_at": _iso(info.last_used_at),
        "revoked_at": _iso(info.revoked_at),
        "hint": info.hint,
        "parent_id": info.parent_id,
        "status": info.status_at(now),
        "description": info.description,
        "allowed_networks": sorted(info.allowed_networks),
        "last_used_ip": info.last_used_ip,
        "last_used_agent": info.last_used_agent,
    }


def owner_json(state: OwnerState, active_tokens: int) -> dict[str, Any]:
    return {"owner": state.owner, "active": state.active,
            "deactivated_at": _iso(state.deactivated_at), "deactivated_by": state.deactivated_by,
            "active_tokens": active_tokens}


def owner_card(state: OwnerState, active_tokens: int) -> str:
    fields = [("owner", safe(state.owner)), ("status", "active" if state.active else "deactivated")]
    if not state.active:
        fields += [("since", _short(state.deactivated_at)), ("by", safe(state.deactivated_by or "-"))]
    fields.append(("active tokens", str(active_tokens)))
    width = max(len(label) for label, _ in fields)
    return "\n".join(f"{label + ':':<{width + 1}} {value}" for label, value in fields)


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=True)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _short(value: datetime | None, empty: str = "-") -> str:
    return empty if value is None else value.strftime("%Y-%m-%d %H:%M")


def safe(text: str) -> str:
    """``text`` fit for a terminal: control, format and bidi characters shown escaped."""
    if all(unicodedata.category(c) not in _UNSAFE_CATEGORIES for c in text):
        return text
    return "".join(
        c if unicodedata.category(c) not in _UNSAFE_CATEGORIES else f"\\u{ord(c):04x}" for c in text
    )


def scope_label(info: TokenInfo) -> str:
    return "admin" if info.admin else ",".join(sorted(info.scopes))


def _row(info: TokenInfo, now: datetime) -> tuple[str, ...]:
    return (
        info.id, safe(info.name), safe(info.owner), scope_label(info),
        ",".join(sorted(info.projects)) or "*", info.status_at(now),
        _short(info.expires_at, "never"), _short(info.last_used_at), safe(info.hint),
    )


def table(infos: Sequence[TokenInfo], now: datetime) -> str:
    """Aligned columns, one token per line, under a header."""
    rows = [TABLE_COLUMNS, *(_row(info, now) for info in infos)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(TABLE_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def card(info: TokenInfo, now: datetime) -> str:
    """One token as ``field: value`` lines."""
    fields = [
        ("id", info.id), ("name", safe(info.name)), ("owner", safe(info.owner)),
        ("status", info.status_at(now)), ("scopes", scope_label(info)),
        ("projects", ", ".join(sorted(info.projects)) or "all"),
        ("created", _short(info.created_at)), ("expires", _short(info.expires_at, "never")),
        ("last used", _short(info.last_used_at, "never")),
        ("revoked", _short(info.revoked_at)), ("hint", safe(info.hint)),
    ]
    if info.parent_id:
        fields.append(("minted by", info.parent_id))
    if info.description:
        fields.append(("description", safe(info.description)))
    if info.allowed_networks:
        fields.append(("networks", ", ".join(sorted(info.allowed_networks))))
    if info.last_used_ip or info.last_used_agent:
        fields.append(("last used from", safe(" ".join(
            part for part in (info.last_used_ip, info.last_used_agent) if part))))
    width = max(len(label) for label, _ in fields)
    return "\n".join(f"{label + ':':<{width + 1}} {value}" for label, value in fields)
