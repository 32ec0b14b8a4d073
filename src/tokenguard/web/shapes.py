"""JSON shapes of the management API, defined once for both adapters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tokenguard.models import TokenInfo
from tokenguard.scopes import ScopeHierarchy


def timestamp(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``, to the second."""
    if value is None:
        return None
    return value.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def ordered_scopes(scopes: frozenset[str], hierarchy: ScopeHierarchy) -> list[str]:
    """Scopes in configuration order (lowest first), unknown ones last."""
    known = [s for s in hierarchy.order if s in scopes]
    return known + sorted(scopes - set(known))


def permission(info: TokenInfo, hierarchy: ScopeHierarchy) -> str:
    return "admin" if info.admin else hierarchy.level(info.scopes)


def token_json(info: TokenInfo, hierarchy: ScopeHierarchy, now: datetime) -> dict[str, Any]:
    """A token as the API shows it: never its secret or digest."""
    return {
        "id": info.id,
        "name": info.name,
        "owner": info.owner,
        "permission": permission(info, hierarchy),
        "scopes": ordered_scopes(info.scopes, hierarchy),
        "projects": sorted(info.projects),
        "admin": info.admin,
        "status": info.status_at(now),
        "hint": info.hint,
        "created_at": timestamp(info.created_at),
        "expires_at": timestamp(info.expires_at),
        "last_used_at": timestamp(info.last_used_at),
        "revoked_at": timestamp(info.revoked_at),
        "parent_id": info.parent_id,
        "description": info.description,
        "allowed_networks": sorted(info.allowed_networks),
        "last_used_ip": info.last_used_ip,
        "last_used_agent": info.last_used_agent,
    }


def introspection_json(info: TokenInfo | None, hierarchy: ScopeHierarchy, now: datetime) -> dict[str, Any]:
    """RFC 7662 §2.2: ``{"active": false}`` and nothing else unless the token is usable."""
    if info is None or info.status_at(now) != "active":
        return {"active": False}
    body: dict[str, Any] = {
        "active": True,
        "scope": " ".join(ordered_scopes(info.effective_scopes, hierarchy)),
        "client_id": info.owner,
        "username": info.owner,
        "sub": info.owner,
        "token_type": "Bearer",
        "iat": int(info.created_at.timestamp()),
        "jti": info.id,
        "name": info.name,
        "permission": permission(info, hierarchy),
        "projects": sorted(info.projects),
    }
    if info.expires_at is not None:
        body["exp"] = int(info.expires_at.timestamp())
    return body
