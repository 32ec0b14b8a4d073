"""Hostile credentials (SECURITY.md items 2, 3, 8, 12, 13, 15, 24).

Whatever arrives in the headers, the answer is 400 or 401 (never 500), and
storage is queried only for a candidate whose length, prefix, alphabet and
checksum are right. The store here is a real MemoryStore that counts calls.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from _security_helpers import SECRET, CountingStore
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tokenguard import TokenGuard, tokens
from tokenguard.errors import AuthenticationError, InvalidToken, MalformedCredentials, TokenGuardError
from tokenguard.web.auth import RequestAuthenticator
from tokenguard.web.credentials import MAX_HEADER_LENGTH, read_token
from tokenguard.web.options import WebOptions

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in string.ascii_letters + string.digits}


class World:
    """One guard on a counting store, with one live token, shared by the properties."""

    def __init__(self) -> None:
        self.store = CountingStore()
        # No verification cache: every accepted request must show its one store look-up.
        self.guard = TokenGuard(self.store, secret_key=SECRET, load_entry_points=False,
                                max_tokens_per_owner=None, cache_ttl=None)
        self.token = self.guard.create_token("alice", "ci", scopes=["read"]).token
        self.web = RequestAuthenticator(self.guard, WebOptions())

    def getter(self, headers: dict[str, list[str]]) -> Callable[[str], list[str]]:
        lowered = {k.lower(): v for k, v in headers.items()}
        return lambda name: list(lowered.get(name.lower(), []))

    def answer(self, headers: dict[str, list[str]]) -> tuple[int, dict[str, int]]:
        """The status a protected endpoint gives these headers, and the store calls it made."""
        self.store.reset()
        try:
            self.web.protect(self.getter(headers), ["read"])
            status = 200
        except TokenGuardError as exc:
            response = self.web.respond(exc)
            status = response.status
            check_error_response(response, self.token)
        return status, dict(self.store.calls)


@cache
def world() -> World:
    return World()


def check_error_response(response: object, token: str) -> None:
    """Item 15: JSON, no-store, nosniff; and never the token in the answer."""
    from tokenguard.web.http import WebResponse

    assert isinstance(response, WebResponse)
    assert response.header("Content-Type") == "application/json"
    assert response.header("Cache-Control") == "no-store"
    assert response.header("X-Content-Type-Options") == "nosniff"
    body = json.loads(response.body)
    assert set(body) >= {"error", "error_description"}
    _, _, secret_body = token.partition("_")
    assert secret_body not in response.body.decode()
    assert all(secret_body not in value for _, value in response.headers)


def offline_ok(candidate: str | None) -> bool:
    try:
        tokens.parse(candidate, "tg")
    except InvalidToken:
        return False
    return True


# -- read_token: arbitrary header values ------------------------------------------------

header_text = st.text(st.characters(codec=None, exclude_categories=("Cs",)), max_size=60)
hostile_value = st.one_of(
    header_text,
    header_text.map(lambda s: "Bearer " + s),
    header_text.map(lambda s: "bearer  " + s),
    header_text.map(lambda s: "Bearer secret-token:" + s),
    st.sampled_from(["Bearer", "Bearer ", " Bearer\t", "Basic dXNlcjpwYXNz", "Bearer a b", ""]),
    st.tuples(st.text(string.ascii_letters + "-._~+/:=", min_size=1, max_size=4),
              st.integers(MAX_HEADER_LENGTH // 4 - 2, 20000))
    .map(lambda pair: "Bearer " + pair[0] * pair[1]),
)
header_map = st.dictionaries(
    st.sampled_from(["Authorization", "authorization", "Api-Token", "X-Other", "Cookie"]),
    st.lists(hostile_value, min_size=1, max_size=3),
    max_size=3,
)


@FAST
@given(header_map)
def test_read_token_returns_a_clean_token_none_or_400_for_any_headers(
    headers: dict[str, list[str]],
) -> None:
    getter = world().getter(headers)
    try:
        found = read_token(getter)
    except MalformedCredentials as exc:
        assert exc.status_code == 400
        return
    if found is not None:
        assert 0 < len(found) <= MAX_HEADER_LENGTH
        assert found.isascii() and found.isprintable()
        assert not any(c in found for c in " \t\r\n\x00")


@FAST
@given(header_map)
@example({"Authorization": ["Bearer " + "A" * 9000]})
@example({"Authorization": ["Bearer tg_\x00abc"]})
@example({"Authorization": ["Bearer x", "Bearer y"]})
def test_any_headers_answer_400_or_401_and_query_storage_only_after_offline_checks(
    headers: dict[str, list[str]],
) -> None:
    w = world()
    status, calls = w.answer(headers)
    assert status in {400, 401}
    try:
        candidate = read_token(w.getter(headers))
    except MalformedCredentials:
        candidate = None
    if not offline_ok(candidate):
        assert calls == {}


# -- mutations of a real token ------------------------------------------------------------

def _mutate(token: str, kind: str, index: int, char: str) -> str:
    i = index % len(token)
    if kind == "truncate":
        return token[:i]
    if kind == "extend":
        return token + char
    if kind == "insert":
        return token[:i] + char + token[i:]
    if kind == "delete":
        return token[:i] + token[i + 1 :]
    if kind == "replace":
        return token[:i] + char + token[i + 1 :]
    if kind == "swap":
        j = min(i + 1, len(token) - 1)
        chars = list(token)
        chars[i], chars[j] = chars[j], chars[i]
        return "".join(chars)
    if kind == "full_width":
        return token[:i] + FULL_WIDTH.get(token[i], "\uff10") + token[i + 1 :]
    if kind == "case":
        return token[:i] + token[i].swapcase() + token[i + 1 :]
    if kind == "prefix":
        return "gh" + token[2:]
    raise AssertionError(kind)


MUTATIONS = ["truncate", "extend", "insert", "delete", "replace", "swap", "full_width", "case", "prefix"]


@FAST
@given(
    st.sampled_from(MUTATIONS),
    st.integers(0, 200),
    st.characters(codec=None, exclude_categories=("Cs",)),
    st.booleans(),
)
def test_a_mutated_token_is_refused_offline(kind: str, index: int, char: str, rfc8959: bool) -> None:
    w = world()
    mutated = _mutate(w.token, kind, index, char)
    assume(mutated != w.token)
    presented = "secret-token:" + mutated if rfc8959 else mutated
    w.store.reset()
    with pytest.raises(InvalidToken):
        w.guard.authenticate(presented)
    assert w.store.calls == {}
    if presented.strip() in {w.token, "secret-token:" + w.token}:
        return  # surrounding whitespace is not part of a header value: the token is intact
    status, calls = w.answer({"Authorization": [f"Bearer {presented}"]})
    assert status in {400, 401} and calls == {}


@FAST
@given(st.one_of(
    st.none(), st.integers(), st.floats(), st.binary(max_size=80), st.text(max_size=80),
    st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=3), st.integers()),
    st.text(max_size=50).map(lambda s: "tg_" + s), st.integers(100, 10**5).map(lambda n: "tg_" + "A" * n),
))
def test_authenticate_refuses_any_object_without_touching_storage(value: object) -> None:
    w = world()
    assume(not isinstance(value, str) or not offline_ok(value))
    w.store.reset()
    with pytest.raises(InvalidToken):
        w.guard.authenticate(value)
    assert w.store.calls == {}


# -- the named cases of item 24, one by one ----------------------------------------------

def named_cases(token: str) -> list[tuple[str, dict[str, list[str]], int]]:
    body = token[3:]
    bad_checksum = token[:-1] + ("A" if token[-1] != "A" else "B")
    digits = "".join(FULL_WIDTH.get(c, c) if c.isdigit() else c for c in token)
    return [
        ("no credentials", {}, 401),
        ("other scheme", {"Authorization": ["Basic dXNlcjpwYXNz"]}, 401),
        ("bare Bearer", {"Authorization": ["Bearer"]}, 400),
        ("Bearer and spaces", {"Authorization": ["Bearer    "]}, 400),
        ("header over 8 KiB", {"Authorization": ["Bearer " + "A" * 8200]}, 400),
        ("Api-Token over 8 KiB", {"Api-Token": ["A" * 70000]}, 400),
        ("NUL", {"Authorization": [f"Bearer {token[:10]}\x00{token[10:]}"]}, 400),
        ("CR LF", {"Authorization": [f"Bearer {token}\r\nX-Injected: 1"]}, 400),
        ("trailing LF", {"Api-Token": [f"{token}\n"]}, 200),  # outer whitespace is not the token
        ("non-ASCII", {"Authorization": [f"Bearer {token[:-1]}é"]}, 400),
        ("full-width digits", {"Authorization": [f"Bearer {digits}"]}, 400),
        ("two Authorization", {"Authorization": [f"Bearer {token}", f"Bearer {token}"]}, 400),
        ("Authorization and Api-Token", {"Authorization": [f"Bearer {token}"], "Api-Token": [token]}, 400),
        ("wrong prefix", {"Authorization": [f"Bearer gh_{body}"]}, 401),
        ("bad checksum", {"Authorization": [f"Bearer {bad_checksum}"]}, 401),
        ("truncated", {"Authorization": [f"Bearer {token[:-1]}"]}, 401),
        ("extended", {"Authorization": [f"Bearer {token}A"]}, 401),
        ("secret-token: with bad checksum", {"Authorization": [f"Bearer secret-token:{bad_checksum}"]}, 401),
        ("secret-token: twice", {"Authorization": [f"Bearer secret-token:secret-token:{token}"]}, 401),
        ("query-like value", {"Authorization": [f"Bearer access_token={token}"]}, 400),
    ]


CASE_NAMES = [name for name, _, _ in named_cases("tg_" + "A" * 38)]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_named_hostile_credentials(name: str) -> None:
    w = world()
    headers, expected = next((h, e) for n, h, e in named_cases(w.token) if n == name)
    status, calls = w.answer(headers)
    assert status == expected
    if status == 200:
        assert calls.get("find") == 1
    else:
        assert calls == {}


@pytest.mark.parametrize("form", ["{t}", "secret-token:{t}", "bearer {t}", "BEARER  {t}"])
def test_the_accepted_forms_cost_exactly_one_lookup(form: str) -> None:
    w = world()
    value = form.format(t=w.token)
    headers = {"Authorization": [value]} if value.lower().startswith("bearer") else {"Api-Token": [value]}
    status, calls = w.answer(headers)
    assert status == 200
    assert calls["find"] == 1 and set(calls) <= {"find", "touch"}


def test_rotated_keys_cost_one_lookup_per_key_and_no_more() -> None:
    store = CountingStore()
    old = TokenGuard(store, secret_key=SECRET, load_entry_points=False, cache_ttl=None)
    token = old.create_token("alice", "ci").token
    both = TokenGuard(store, secret_key=["n" * 40, SECRET], load_entry_points=False, cache_ttl=None)
    store.reset()
    assert both.authenticate(token).owner == "alice"
    assert store.calls["find"] == 2
    store.reset()
    with pytest.raises(InvalidToken):
        both.authenticate(tokens.generate("tg"))   # well formed, unknown: one look-up per key
    assert store.calls == {"find": 2}


def test_token_in_the_query_string_is_never_read() -> None:
    """Item 13: read_token has no access to the URL; only headers are consulted."""
    w = world()
    seen: list[str] = []

    def getter(name: str) -> list[str]:
        seen.append(name.lower())
        return []

    assert read_token(getter) is None
    assert set(seen) == {"authorization", "api-token"}
    status, _ = w.answer({"X-Original-Url": [f"/notes?access_token={w.token}"]})
    assert status == 401


def test_authentication_errors_never_carry_the_token() -> None:
    """Item 14 at the source: the messages of every refusal, for tokens near a real one."""
    w = world()
    changed = w.token[:-1] + ("x" if w.token[-1] != "x" else "y")
    for presented in (changed, w.token + "x", "secret-token:" + w.token[:-2]):
        with pytest.raises(AuthenticationError) as caught:
            w.guard.authenticate(presented)
        assert w.token[3:-2] not in str(caught.value)
        assert presented not in str(caught.value)


class CountingHasher:
    """Wraps the guard's hasher and counts every HMAC it computes.

    ``checked_digest`` checks the checksum first and hashes only when it matches, so it
    counts when it answers a digest.
    """

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.calls = 0

    def __getattr__(self, name: str) -> object:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def counted(*args: object, **kwargs: object) -> object:
            answer = attr(*args, **kwargs)
            if not (name == "checked_digest" and answer is None):
                self.calls += 1
            return answer

        return counted


@FAST
@given(st.one_of(
    st.text(max_size=60), st.text(max_size=60).map(lambda s: "tg_" + s),
    st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 200), st.characters(codec="utf-8")),
))
def test_malformed_tokens_are_never_hashed(value: object) -> None:
    w = world()
    hasher = CountingHasher(w.guard._hasher)
    guard = TokenGuard(w.store, secret_key=SECRET, load_entry_points=False, cache_ttl=None)
    guard._hasher = hasher  # type: ignore[assignment]
    presented = _mutate(w.token, *value) if isinstance(value, tuple) else value
    if presented == w.token or offline_ok(presented):
        return
    with pytest.raises(InvalidToken):
        guard.authenticate(presented)
    assert hasher.calls == 0
    assert guard.authenticate(w.token).owner == "alice"
    assert hasher.calls >= 1


class CountingProber:
    """Stands in for the cache's digest (BLAKE2s) and counts every probe hashed with it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def __call__(self, data: bytes) -> object:
        self.calls += 1
        return self.inner(data)


@FAST
@given(st.one_of(
    st.text(max_size=60), st.text(max_size=60).map(lambda s: "tg_" + s),
    st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 200), st.characters(codec="utf-8")),
))
@example("tg_" + "a" * 38)  # the right shape, a wrong checksum: probed, never HMAC'd
@example("tg_" + "a" * 37 + "\u00e9")  # one non-ASCII letter: not even probed
def test_with_the_cache_on_a_bad_shape_is_never_hashed_and_a_bad_checksum_never_reaches_hmac(
    value: object,
) -> None:
    """Items 2, 3 and 24 with the verification cache on (the default).

    The cache is probed with the BLAKE2s of the token once its length, prefix and
    alphabet pass; the checksum is checked on a miss, before the HMAC and the store.
    """
    w = world()
    w.store.reset()
    guard = TokenGuard(w.store, secret_key=SECRET, load_entry_points=False)
    hasher = CountingHasher(guard._hasher)
    guard._hasher = hasher  # type: ignore[assignment]
    prober = CountingProber(guard.cache.digest)
    guard.cache.digest = prober
    presented = _mutate(w.token, *value) if isinstance(value, tuple) else value
    assume(presented != w.token and not offline_ok(presented))
    try:
        tokens.shape(presented, "tg")
        shaped = True
    except InvalidToken:
        shaped = False
    for attempt in range(2):  # the second time too: nothing about it was remembered
        assert guard.authenticate_cached(presented) is None
        with pytest.raises(InvalidToken):
            guard.authenticate(presented)
        assert hasher.calls == 0 and w.store.calls["find"] == 0
        # authenticate_cached probes once; authenticate once for the cache and once more to
        # file the miss (a store look-up would follow, were the checksum right)
        assert prober.calls == (3 * (attempt + 1) if shaped else 0)
    assert guard.authenticate(w.token).owner == "alice"
    assert hasher.calls == 1 and w.store.calls["find"] == 1 and len(guard.cache) == 1
