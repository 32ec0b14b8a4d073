"""Round 2 of the lifecycle: descriptions, last use from where, leaks, and the new public names."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from _testclock import ManualClock
from tokenguard import MemoryStore, RevokedToken, TokenGuard, ValidationError, hookimpl, hookspecs
from tokenguard.models import TokenInfo
from tokenguard.validation import MAX_AGENT_LENGTH

KEY = "round-two-suite-secret-key-0123456789abcdef"
START = datetime(2032, 1, 2, 3, 4, 5, tzinfo=UTC)


class FailingTouches(MemoryStore):
    fail = False

    def touch(self, token_id: str, at: datetime, *, ip: str | None = None, agent: str | None = None) -> None:
        if self.fail:
            raise OSError("disk full")
        super().touch(token_id, at, ip=ip, agent=agent)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def store() -> FailingTouches:
    return FailingTouches()


@pytest.fixture
def guard(store: FailingTouches, clock: ManualClock) -> TokenGuard:
    return TokenGuard(store, secret_key=KEY, clock=clock, load_entry_points=False, limiter=None)


# -- descriptions --------------------------------------------------------------------------------


def test_a_description_is_kept_trimmed_and_changed(guard: TokenGuard) -> None:
    issued = guard.create_token("alice", "ci", description="  Deploys the 🚀 app, nightly.  ")
    assert issued.info.description == "Deploys the 🚀 app, nightly."
    assert guard.authenticate(issued.token).description == "Deploys the 🚀 app, nightly."
    assert guard.update_token(issued.info.id, description="x" * 500).description == "x" * 500
    assert guard.update_token(issued.info.id, description="").description == ""
    assert guard.create_token("alice", "none").info.description == ""


@pytest.mark.parametrize("bad", ["x" * 501, "line\nbreak", "tab\there", "bidi \u202e override",
                                 "zero\u200bwidth", "nul\x00", 42])
def test_a_bad_description_is_refused_as_names_are(guard: TokenGuard, bad: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        guard.create_token("alice", "ci", description=bad)
    assert caught.value.field == "description"
    issued = guard.create_token("alice", "ok")
    with pytest.raises(ValidationError):
        guard.update_token(issued.info.id, description=bad)


# -- last use, from where ----------------------------------------------------------------------------


def test_the_last_use_records_the_address_and_agent_once_a_minute(guard: TokenGuard,
                                                                  clock: ManualClock) -> None:
    issued = guard.create_token("alice", "ci")
    info = guard.authenticate(issued.token, remote="203.0.113.7", agent="curl/8.5.0")
    where = (info.last_used_at, info.last_used_ip, info.last_used_agent)
    assert where == (START, "203.0.113.7", "curl/8.5.0")

    clock.advance(seconds=30)
    guard.authenticate(issued.token, remote="198.51.100.1", agent="other/1")  # within the minute
    stored = guard.get_token(issued.info.id)
    assert (stored.last_used_ip, stored.last_used_agent) == ("203.0.113.7", "curl/8.5.0")

    clock.advance(seconds=30)
    guard.authenticate(issued.token, remote="198.51.100.1", agent="other/1")
    stored = guard.get_token(issued.info.id)
    assert (stored.last_used_at, stored.last_used_ip, stored.last_used_agent) == (
        START + timedelta(minutes=1), "198.51.100.1", "other/1")


def test_the_agent_is_cut_and_stripped_of_control_characters(guard: TokenGuard) -> None:
    issued = guard.create_token("alice", "ci")
    agent = "evil\r\nX-Injected: 1\x1b[31m\u202e" + "A" * 400
    info = guard.authenticate(issued.token, remote="10.0.0.1", agent=agent)
    assert info.last_used_agent is not None
    assert len(info.last_used_agent) == MAX_AGENT_LENGTH
    assert info.last_used_agent.startswith("evilX-Injected: 1[31mAAA")
    assert all(ch.isprintable() for ch in info.last_used_agent)
    assert guard.get_token(issued.info.id).last_used_agent == info.last_used_agent


def test_a_failed_bookkeeping_write_never_changes_the_answer(guard: TokenGuard, store: FailingTouches,
                                                             clock: ManualClock) -> None:
    issued = guard.create_token("alice", "ci")
    store.fail = True
    assert guard.authenticate(issued.token, remote="10.0.0.1", agent="a").id == issued.info.id
    assert guard.get_token(issued.info.id).last_used_at is None
    guard.revoke(issued.info.id)
    with pytest.raises(RevokedToken):
        guard.authenticate(issued.token, remote="10.0.0.1", agent="a")


def test_authenticate_takes_the_agent_as_a_keyword() -> None:
    parameters = inspect.signature(TokenGuard.authenticate).parameters
    assert parameters["agent"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["agent"].default is None


# -- leaks ----------------------------------------------------------------------------------------------


def test_a_leaked_token_is_revoked_and_reported(guard: TokenGuard) -> None:
    leaks: list[tuple[str, str, str | None]] = []

    class Listener:
        @hookimpl
        def tokenguard_token_leaked(self, info: TokenInfo, source: str, url: str | None) -> None:
            leaks.append((info.id, source, url))

    guard.plugins.register(Listener())
    issued = guard.create_token("alice", "ci")

    found = guard.revoke_leaked(issued.token, source="github", url="https://example.com/commit/1")

    assert found is not None and found.status == "revoked"
    assert leaks == [(issued.info.id, "github", "https://example.com/commit/1")]
    assert guard.revoke_leaked("tg_not-a-token", source="github") is None
    assert len(leaks) == 1


# -- the public names ---------------------------------------------------------------------------------


def test_the_new_options_are_keyword_only_and_documented() -> None:
    parameters = inspect.signature(TokenGuard).parameters
    assert parameters["expire_unused_after"].kind is inspect.Parameter.KEYWORD_ONLY
    assert "expire_unused_after" in (TokenGuard.__doc__ or "")
    for method, names in [(TokenGuard.create_token, ["description", "allowed_networks"]),
                          (TokenGuard.update_token, ["description", "allowed_networks"]),
                          (TokenGuard.rotate, ["grace", "expires_in"]),
                          (TokenGuard.deactivate_owner, ["actor"]),
                          (TokenGuard.reactivate_owner, ["actor"])]:
        found = inspect.signature(method).parameters
        for name in names:
            assert found[name].kind is inspect.Parameter.KEYWORD_ONLY, (method, name)
    assert inspect.signature(TokenGuard.expiring).parameters["within"].default == timedelta(days=7)
    assert inspect.signature(TokenGuard.unused).parameters["for_"].default == timedelta(days=90)
    assert inspect.signature(TokenGuard.remind).parameters["thresholds"].default == (30, 7, 1)


def test_the_new_hooks_are_specified() -> None:
    for name, arguments in [("tokenguard_token_expiring", ["info", "days_left"]),
                            ("tokenguard_token_leaked", ["info", "source", "url"]),
                            ("tokenguard_owner_deactivated", ["owner", "actor"]),
                            ("tokenguard_owner_reactivated", ["owner", "actor"])]:
        assert list(inspect.signature(getattr(hookspecs, name)).parameters) == arguments


def test_token_info_has_the_round_two_fields() -> None:
    info = TokenInfo("x", "o", "n", frozenset({"read"}))
    assert (info.description, info.allowed_networks, info.last_used_ip, info.last_used_agent,
            info.parent_id, info.unused_expires_at) == ("", frozenset(), None, None, None, None)
    assert info.effective_scopes == {"read"}
