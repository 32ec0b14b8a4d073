"""Structured audit log: one JSON object per line on the ``tokenguard.audit`` logger.

Every event hook has its own event name: ``token_created``, ``token_revoked``,
``token_reapproved``, ``token_rotated`` (with ``previous_valid_until`` after a rotation
with a grace period), ``token_updated``, ``token_deleted``, ``token_expiring`` (a
reminder), ``token_leaked``, ``owner_revoked``, ``owner_deactivated``,
``owner_reactivated``, ``auth_failed`` (its ``reason``: ``unknown``, ``revoked``,
``expired``, ``expired_unused``, ``network_not_allowed``…), ``scope_denied`` and
``limit_reached``.

Values are JSON-encoded, so a token name containing a newline cannot forge a
log line. Secrets never reach this module: events carry ``TokenInfo`` only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tokenguard._clock import utcnow
from tokenguard.hookspecs import hookimpl
from tokenguard.models import TokenInfo

logger = logging.getLogger("tokenguard.audit")


def emit(event: str, outcome: str = "success", **fields: Any) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    record = {"event": event, "outcome": outcome, "time": utcnow().isoformat(), **fields}
    logger.info(json.dumps(record, ensure_ascii=True, sort_keys=True, default=str))


def _token_fields(info: TokenInfo) -> dict[str, Any]:
    return {"token_id": info.id, "owner": info.owner, "name": info.name, "hint": info.hint}


@hookimpl
def tokenguard_token_created(info: TokenInfo, actor: str | None, remote: str | None) -> None:
    emit("token_created", actor=actor, remote=remote, scopes=sorted(info.scopes), admin=info.admin,
         **_token_fields(info))


@hookimpl
def tokenguard_token_revoked(info: TokenInfo, actor: str | None, remote: str | None) -> None:
    emit("token_revoked", actor=actor, remote=remote, **_token_fields(info))


@hookimpl
def tokenguard_token_reapproved(info: TokenInfo, actor: str | None, remote: str | None) -> None:
    emit("token_reapproved", actor=actor, remote=remote, **_token_fields(info))


@hookimpl
def tokenguard_token_rotated(info: TokenInfo, actor: str | None, remote: str | None,
                             previous_valid_until: datetime | None) -> None:
    emit("token_rotated", actor=actor, remote=remote, previous_valid_until=previous_valid_until,
         expires_at=info.expires_at, **_token_fields(info))


@hookimpl
def tokenguard_token_updated(info: TokenInfo, actor: str | None, remote: str | None) -> None:
    emit("token_updated", actor=actor, remote=remote, **_token_fields(info))


@hookimpl
def tokenguard_token_deleted(info: TokenInfo, actor: str | None, remote: str | None) -> None:
    emit("token_deleted", actor=actor, remote=remote, **_token_fields(info))


@hookimpl
def tokenguard_owner_revoked(
    owner: str, token_ids: Sequence[str], actor: str | None, remote: str | None
) -> None:
    emit("owner_revoked", owner=owner, token_ids=list(token_ids), actor=actor, remote=remote)


@hookimpl
def tokenguard_owner_deactivated(owner: str, actor: str | None) -> None:
    emit("owner_deactivated", owner=owner, actor=actor)


@hookimpl
def tokenguard_owner_reactivated(owner: str, actor: str | None) -> None:
    emit("owner_reactivated", owner=owner, actor=actor)


@hookimpl
def tokenguard_token_expiring(info: TokenInfo, days_left: int) -> None:
    emit("token_expiring", days_left=days_left, expires_at=info.expires_at, **_token_fields(info))


@hookimpl
def tokenguard_token_leaked(info: TokenInfo, source: str, url: str | None) -> None:
    emit("token_leaked", source=source, url=url, **_token_fields(info))


@hookimpl
def tokenguard_auth_failed(reason: str, hint: str | None, remote: str | None) -> None:
    emit("auth_failed", outcome="failure", reason=reason, hint=hint, remote=remote)


@hookimpl
def tokenguard_scope_denied(
    info: TokenInfo, required: Sequence[str], project: str | None, remote: str | None
) -> None:
    emit("scope_denied", outcome="failure", required=list(required), project=project,
         remote=remote, **_token_fields(info))


@hookimpl
def tokenguard_limit_reached(owner: str, limit: int, actor: str | None, remote: str | None) -> None:
    emit("limit_reached", outcome="failure", owner=owner, limit=limit, actor=actor, remote=remote)
