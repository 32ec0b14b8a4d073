"""The JSON audit log: one line per event, values encoded, never a secret."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tokenguard import (
    InsufficientScope,
    InvalidToken,
    RevokedToken,
    TokenGuard,
    TokenInfo,
    TokenLimitExceeded,
)

KEY = "audit-test-key-0123456789abcdefghijklmnopq"
AUDIT = "tokenguard.audit"


@pytest.fixture
def guard() -> TokenGuard:
    return TokenGuard("memory://", secret_key=KEY, max_tokens_per_owner=3, load_entry_points=False)


@pytest.fixture
def audit(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # every logger, so a secret logged anywhere is caught
    return caplog


def events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    lines = [r.getMessage() for r in caplog.records if r.name == AUDIT]
    for line in lines:
        assert "\n" not in line and "\r" not in line and "\u2028" not in line
        assert line.isascii()
    return [json.loads(line) for line in lines]


def test_every_event_is_one_json_line_with_time_and_outcome(
    guard: TokenGuard, audit: pytest.LogCaptureFixture
) -> None:
    issued = guard.create_token("alice", "ci", scopes=["write"], token_id="ci", actor="alice")
    info = guard.authenticate(issued.token, remote="203.0.113.9")
    with pytest.raises(InsufficientScope):
        guard.require(info, "management", remote="203.0.113.9")
    guard.update_token("ci", name="ci 2")
    guard.revoke("ci", actor="alice")
    with pytest.raises(RevokedToken):
        guard.authenticate(issued.token, remote="203.0.113.9")
    guard.reapprove("ci")
    guard.rotate("ci")
    guard.delete("ci")
    guard.create_token("alice", "x")
    guard.revoke_owner("alice", actor="ops")
    for i in range(3):
        guard.create_token("bob", f"b{i}")
    with pytest.raises(TokenLimitExceeded):
        guard.create_token("bob", "too many")

    logged = events(audit)
    assert [e["event"] for e in logged] == [
        "token_created", "scope_denied", "token_updated", "token_revoked", "auth_failed",
        "token_reapproved", "token_rotated", "token_deleted", "token_created", "owner_revoked",
        "token_created", "token_created", "token_created", "limit_reached",
    ]
    for entry in logged:
        assert entry["outcome"] in ("success", "failure")
        when = datetime.fromisoformat(entry["time"])
        assert when.utcoffset() == timedelta(0)
        assert abs(datetime.now(UTC) - when) < timedelta(minutes=1)
    created = logged[0]
    assert created == {**created, "token_id": "ci", "owner": "alice", "name": "ci", "actor": "alice",
                       "scopes": ["write"], "admin": False, "outcome": "success", "hint": issued.info.hint}
    assert logged[1]["outcome"] == "failure" and logged[1]["required"] == ["management"]
    assert logged[1]["remote"] == "203.0.113.9" and logged[1]["token_id"] == "ci"
    assert logged[4] == {**logged[4], "reason": "revoked", "remote": "203.0.113.9", "outcome": "failure"}
    assert logged[9]["owner"] == "alice" and logged[9]["actor"] == "ops" and len(logged[9]["token_ids"]) == 1
    assert logged[13] == {**logged[13], "owner": "bob", "limit": 3, "outcome": "failure"}


def test_a_newline_in_a_name_cannot_forge_a_line(guard: TokenGuard, audit: pytest.LogCaptureFixture) -> None:
    forged = '{"event": "token_deleted", "outcome": "success"}'
    # Names with control characters are refused at creation, but a plugin store or an
    # older database may hold one: the audit plugin must still encode it.
    info = TokenInfo(id="legacy", owner="alice\r\nx", name=f"evil\n{forged}\u2028{forged}",
                     scopes=frozenset({"read"}))
    guard.hook.tokenguard_token_revoked(info=info, actor=f"mallory\n{forged}", remote=f"10.0.0.2\n{forged}")
    with pytest.raises(InvalidToken):
        guard.authenticate("garbage", remote=f"10.0.0.1\n{forged}")
    logged = events(audit)
    assert [e["event"] for e in logged] == ["token_revoked", "auth_failed"]
    assert logged[0]["name"] == f"evil\n{forged}\u2028{forged}"
    assert logged[0]["actor"] == f"mallory\n{forged}"
    assert logged[0]["remote"] == f"10.0.0.2\n{forged}"
    assert logged[1]["remote"] == f"10.0.0.1\n{forged}"


def test_the_clear_token_is_never_logged(guard: TokenGuard, audit: pytest.LogCaptureFixture) -> None:
    issued = guard.create_token("alice", "ci", token_id="ci", expires_in=timedelta(days=1))
    secrets_seen = [issued.token]
    info = guard.authenticate(issued.token, remote="203.0.113.1")
    with pytest.raises(InsufficientScope):
        guard.require(info, "write")
    for typo in (issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B"), issued.token + "x",
                 "secret-token:" + issued.token[:-2]):
        with pytest.raises(InvalidToken):
            guard.authenticate(typo)
    guard.revoke_by_value(issued.token)
    guard.reapprove("ci")
    rotated = guard.rotate("ci")
    secrets_seen.append(rotated.token)
    with pytest.raises(InvalidToken):
        guard.authenticate(issued.token)
    guard.introspect(rotated.token)
    guard.delete("ci")
    text = audit.text + "".join(r.getMessage() for r in audit.records)
    assert audit.records, "expected audit records"
    for secret in secrets_seen:
        assert secret not in text
        assert secret[3:35] not in text  # not even the random part
        assert secret[3:23] not in text


def test_a_silent_logger_costs_nothing_and_logs_nothing(
    guard: TokenGuard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=AUDIT)
    guard.create_token("alice", "quiet")
    assert [r for r in caplog.records if r.name == AUDIT] == []


def test_the_round_two_events_each_have_their_own_name(audit: pytest.LogCaptureFixture) -> None:
    """Reminders, leaks, owners' deactivation, a rotation's grace and a network refusal."""
    from _testclock import START, ManualClock

    clock = ManualClock()
    guard = TokenGuard("memory://", secret_key=KEY, clock=clock, load_entry_points=False)
    guard.create_token("alice", "soon", token_id="soon", expires_in=timedelta(days=5))
    assert guard.remind() == 1
    fenced = guard.create_token("alice", "fenced", token_id="fenced", allowed_networks=["192.0.2.0/24"])
    with pytest.raises(InvalidToken):
        guard.authenticate(fenced.token, remote="203.0.113.7")
    guard.rotate("fenced", grace=timedelta(hours=1), actor="alice")
    guard.rotate("fenced")
    leaked = guard.create_token("alice", "leaked", token_id="leaked")
    guard.revoke_leaked(leaked.token, source="github", url="https://github.com/o/r/blob/x/f")
    guard.deactivate_owner("alice", actor="ops")
    guard.reactivate_owner("alice", actor="ops")
    guard.reactivate_owner("alice", actor="ops")  # active already: no event

    logged = [e for e in events(audit) if e["event"] != "token_created"]
    assert [e["event"] for e in logged] == [
        "token_expiring", "auth_failed", "token_rotated", "token_rotated", "token_revoked",
        "token_leaked", "owner_revoked", "owner_deactivated", "owner_reactivated",
    ]
    expiring, refused, graced, at_once, _, leak, _, deactivated, reactivated = logged
    assert expiring == {**expiring, "token_id": "soon", "owner": "alice", "days_left": 5,
                        "expires_at": str(START + timedelta(days=5))}
    assert refused == {**refused, "reason": "network_not_allowed", "remote": "203.0.113.7",
                       "hint": fenced.info.hint, "outcome": "failure"}
    assert graced == {**graced, "token_id": "fenced", "actor": "alice",
                      "previous_valid_until": str(START + timedelta(hours=1))}
    assert at_once["previous_valid_until"] is None
    assert leak == {**leak, "token_id": "leaked", "source": "github",
                    "url": "https://github.com/o/r/blob/x/f", "outcome": "success"}
    assert deactivated == {**deactivated, "owner": "alice", "actor": "ops"}
    assert reactivated == {**reactivated, "owner": "alice", "actor": "ops"}
    text = "".join(r.getMessage() for r in audit.records)
    assert fenced.token not in text and leaked.token not in text
    guard.close()
