"""Item 25 over HTTP: every lifecycle change and refusal is one JSON audit line, newline-safe."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from _security_helpers import SECRET
from _servers import ADAPTERS, API, serve, signed_in

from tokenguard import TokenGuard

SCOPES = {"read": [], "write": ["read"], "management": ["write"]}


@pytest.fixture(params=ADAPTERS)
def world(request: pytest.FixtureRequest) -> Iterator[tuple[str, TokenGuard]]:
    guard = TokenGuard("memory://", secret_key=SECRET, load_entry_points=False, scopes=SCOPES,
                       max_tokens_per_owner=3)
    with serve(request.param, guard) as url:
        yield url, guard


def audit_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    lines = [r.getMessage() for r in caplog.records if r.name == "tokenguard.audit"]
    for line in lines:
        assert "\n" not in line and "\r" not in line and line.isascii()
    return [json.loads(line) for line in lines]


def drive_every_change(url: str) -> dict[str, str]:
    """Create, rename, rotate, revoke, re-approve, delete, fail, deny and hit the limit, over HTTP."""
    client, headers = signed_in(url)
    made = client.post(API, json={"name": "ci", "scopes": ["read"]}, headers=headers).json()
    token_id, secret = made["info"]["id"], made["token"]
    assert client.patch(f"{API}/{token_id}", json={"name": "ci renamed"}, headers=headers).status_code == 200
    secret = client.post(f"{API}/{token_id}/rotate", headers=headers).json()["token"]
    assert client.post(f"{API}/{token_id}/revoke", headers=headers).status_code == 200
    assert client.post(f"{API}/{token_id}/reapprove", headers=headers).status_code == 200
    http = httpx.Client(base_url=url, timeout=10)
    assert http.post("/notes", headers={"Authorization": f"Bearer {secret}"}).status_code == 403
    typo = secret[:-1] + ("x" if secret[-1] != "x" else "y")
    assert http.get("/notes", headers={"Authorization": f"Bearer {typo}"}).status_code == 401
    for n in range(3):
        client.post(API, json={"name": f"filler {n}"}, headers=headers)
    assert client.post(API, json={"name": "one too many"}, headers=headers).status_code == 409
    assert client.delete(f"{API}/{token_id}", headers=headers).status_code == 204
    client.close()
    http.close()
    return {"id": token_id, "secret": secret}


def test_every_lifecycle_change_over_http_is_audited(world: tuple[str, TokenGuard],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    url, _ = world
    caplog.set_level(logging.INFO, logger="tokenguard.audit")
    done = drive_every_change(url)
    events = audit_events(caplog)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_kind.setdefault(event["event"], []).append(event)
        when = datetime.fromisoformat(event["time"])
        assert when.utcoffset() == timedelta(0)
        assert event["outcome"] in {"success", "failure"}
    for kind in ("token_created", "token_updated", "token_rotated", "token_revoked", "token_reapproved",
                 "token_deleted"):
        mine = [e for e in by_kind.get(kind, []) if e["token_id"] == done["id"]]
        assert len(mine) == 1, kind
        assert mine[0]["owner"] == "alice" and mine[0]["outcome"] == "success" and mine[0]["actor"] == "alice"
    denied = by_kind["scope_denied"]
    assert denied[0]["token_id"] == done["id"] and denied[0]["remote"] == "127.0.0.1"
    assert denied[0]["required"] == ["write"] and denied[0]["outcome"] == "failure"
    failed = by_kind["auth_failed"]
    assert failed[0]["remote"] == "127.0.0.1" and failed[0]["reason"] and failed[0]["outcome"] == "failure"
    assert by_kind["limit_reached"][0]["owner"] == "alice"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert done["secret"][3:] not in text and done["secret"][3:-1] not in text


def test_a_hostile_owner_id_cannot_forge_an_audit_line(world: tuple[str, TokenGuard],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    url, guard = world
    caplog.set_level(logging.INFO, logger="tokenguard.audit")
    forged = 'mallory\n{"event": "token_deleted", "owner": "alice"}'
    client = httpx.Client(base_url=url, timeout=10)
    signed = client.post("/login/" + forged.replace("\n", "%0A").replace('"', "%22").replace(" ", "%20"))
    assert signed.status_code == 200   # the host app let this owner id through: ours must cope
    listing = client.get(API)
    assert listing.status_code in {200, 400, 401, 403}
    headers = {"X-CSRF-Token": listing.headers.get("X-CSRF-Token", ""), "Origin": url}
    response = client.post(API, json={"name": "x"}, headers=headers)
    assert response.status_code in {400, 401, 403}, response.text[:200]
    events = audit_events(caplog)
    assert all(e["event"] != "token_deleted" for e in events)
    assert guard.list_tokens() == []
    client.close()


def test_lifecycle_events_carry_the_client_address(world: tuple[str, TokenGuard],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    url, _ = world
    caplog.set_level(logging.INFO, logger="tokenguard.audit")
    drive_every_change(url)
    lifecycle = {"token_created", "token_revoked", "token_reapproved", "token_rotated", "token_deleted",
                 "limit_reached", "auth_failed", "scope_denied"}
    events = [e for e in audit_events(caplog) if e["event"] in lifecycle]
    assert {e["event"] for e in events} == lifecycle
    assert all(e.get("remote") == "127.0.0.1" for e in events), events
    assert {e["actor"] for e in events if e["event"] == "limit_reached"} == {"alice"}


def test_revocation_and_introspection_by_value_audit_the_client_address(
    world: tuple[str, TokenGuard], caplog: pytest.LogCaptureFixture,
) -> None:
    url, guard = world
    manager = guard.create_token("alice", "manager", scopes=["management"]).token
    caplog.set_level(logging.INFO, logger="tokenguard.audit")
    with httpx.Client(base_url=url, timeout=10) as http:
        for path in (f"{API}/revoke", f"{API}/introspect"):
            answer = http.post(path, data={"token": "tg_" + "A" * 38},
                               headers={"Authorization": f"Bearer {manager}"})
            assert answer.status_code == 200
    failed = [e for e in audit_events(caplog) if e["event"] == "auth_failed"]
    assert len(failed) == 2 and all(e.get("remote") == "127.0.0.1" for e in failed), failed
