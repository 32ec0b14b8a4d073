"""The pytest plugin in the package (entry point ``pytest11``): ``make_token`` and ``tokenguard_guard``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tokenguard import ExpiredToken, InsufficientScope, MemoryStore, TokenGuard
from tokenguard.testing import MakeToken

pytest_plugins = ["pytester"]


def test_fixtures_are_available_to_any_test(make_token: MakeToken, tokenguard_guard: TokenGuard) -> None:
    token = make_token("write", projects=("alpha",))
    info = tokenguard_guard.authenticate(token)
    assert info.owner == "test-user" and info.scopes == {"write"} and info.projects == {"alpha"}
    tokenguard_guard.require(info, "read", project="alpha")
    with pytest.raises(InsufficientScope):
        tokenguard_guard.require(info, "management")
    assert isinstance(tokenguard_guard.store, MemoryStore)


def test_make_token_options(make_token: MakeToken, tokenguard_guard: TokenGuard) -> None:
    default = tokenguard_guard.authenticate(make_token())
    assert default.scopes == {"read"} and not default.admin
    admin = tokenguard_guard.authenticate(make_token(owner="root", admin=True, name="ops"))
    assert (admin.owner, admin.name, admin.admin) == ("root", "ops", True)
    forever = tokenguard_guard.authenticate(make_token(expires_in=None))
    assert forever.expires_at is None
    assert default.expires_at is not None


def test_many_tokens_for_one_owner_and_distinct_names(
    make_token: MakeToken, tokenguard_guard: TokenGuard
) -> None:
    tokens = [make_token("read") for _ in range(25)]  # no per-owner limit in tests
    assert len(set(tokens)) == 25
    names = {i.name for i in tokenguard_guard.list_tokens("test-user")}
    assert len(names) == 25


def test_short_lived_tokens_expire(tokenguard_guard: TokenGuard, make_token: MakeToken) -> None:
    token = make_token(expires_in=timedelta(hours=1))
    info = tokenguard_guard.authenticate(token)
    later = info.created_at + timedelta(hours=1)
    tokenguard_guard.clock = lambda: later
    with pytest.raises(ExpiredToken):
        tokenguard_guard.authenticate(token)


TINY_SUITE = """
    import pytest
    from tokenguard import InsufficientScope, InvalidToken

    def test_write_token(make_token, tokenguard_guard):
        info = tokenguard_guard.authenticate(make_token("write"))
        tokenguard_guard.require(info, "read")
        with pytest.raises(InsufficientScope):
            tokenguard_guard.require(info, "management")

    def test_each_test_gets_a_fresh_guard(tokenguard_guard):
        assert tokenguard_guard.list_tokens() == []

    def test_tokens_from_another_guard_are_unknown(make_token):
        from tokenguard import TokenGuard
        other = TokenGuard("memory://", secret_key="x" * 32, load_entry_points=False)
        with pytest.raises(InvalidToken):
            other.authenticate(make_token())
"""


def test_plugin_is_loaded_through_its_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=TINY_SUITE)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_without_the_plugin_the_fixtures_do_not_exist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=TINY_SUITE)
    result = pytester.runpytest_subprocess("-q", "-p", "no:tokenguard", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*fixture 'make_token' not found*"])


def test_plugin_in_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=TINY_SUITE)
    pytester.runpytest("-q", "-p", "no:cacheprovider").assert_outcomes(passed=3)
