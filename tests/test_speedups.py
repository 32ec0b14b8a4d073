"""The compiled warm hit (``tokenguard/_speedups.c``) answers exactly as the Python hot path does.

``VerificationCache.find_fresh`` returns a cached token's info when it is fresh,
alive and needs no ``last_used_at`` write, and ``None`` for everything else, so
that the Python path decides (and refuses, with its hooks). These tests hold it
to that: the same answers as the Python path over generated inputs, ``None`` on
every boundary, no hashing before the shape checks, no leaked references.

``Hasher.checked_digest`` (``TokenDigester`` in C) is a cache miss's first step: the
checksum, then the HMAC. It is held to the Python checksum and HMAC the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import subprocess
import sys
import time
from collections import OrderedDict
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _hooks import assert_steady
from tokenguard import InvalidToken, TokenGuard, TokenGuardError, hookimpl, tokens
from tokenguard._compiled import PURE_PYTHON
from tokenguard.cache import CachedToken, VerificationCache

try:
    from tokenguard import _speedups
except ImportError as exc:  # pragma: no cover
    if not PURE_PYTHON:  # the suite runs the compiled path: a build that lost it is a failure
        raise AssertionError(
            "tokenguard._speedups is not built: install with a C compiler (pip install -e .), "
            "or set TOKENGUARD_PURE_PYTHON=1 to test the pure-Python path alone"
        ) from exc

KEY = secrets.token_bytes(32)
ALPHABET = tokens.ALPHABET


@pytest.fixture
def guard() -> Iterator[TokenGuard]:
    with TokenGuard("memory://", secret_key=KEY, load_entry_points=False, prefix="tg") as made:
        yield made


def test_a_default_guard_takes_the_compiled_path(guard: TokenGuard) -> None:
    if PURE_PYTHON:
        assert guard.cache.find_fresh is None
        return
    assert guard.cache.find_fresh is not None
    token = guard.create_token("alice", "ci", scopes=["read"]).token
    assert guard.cache.find_fresh(token, "tg") is None  # not cached yet
    info = guard.authenticate(token)  # a miss: the store, then cached
    assert guard.cache.find_fresh(token, "tg") == info
    assert guard.cache.find_fresh(token.encode(), "tg") == info


def test_a_clock_of_ones_own_or_no_cache_keeps_the_python_path() -> None:
    assert VerificationCache(5, 10, clock=lambda: 1.0).find_fresh is None
    assert VerificationCache(0, 10).find_fresh is None
    assert VerificationCache(5, 0).find_fresh is None


def test_pure_python_can_be_chosen_by_environment() -> None:
    code = ("import tokenguard._compiled as c, secrets, tokenguard as t;"
            "g = t.TokenGuard('memory://', secret_key=secrets.token_bytes(32), load_entry_points=False);"
            "tok = g.create_token('a', 'n').token; info = g.authenticate(tok);"
            "assert g.authenticate_cached(tok) == info;"
            "print(c.PURE_PYTHON, g.cache.find_fresh, g._hasher.checked_digest.__self__ is g._hasher)")
    env = {**os.environ, "TOKENGUARD_PURE_PYTHON": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "None", "True"]


compiled = pytest.mark.skipif(PURE_PYTHON, reason="TOKENGUARD_PURE_PYTHON=1: the compiled path is off")


def _warm(guard: TokenGuard, **options: object) -> tuple[str, object]:
    token = guard.create_token("alice", "ci", scopes=["read"], **options).token  # type: ignore[arg-type]
    return token, guard.authenticate(token)


def _entry(guard: TokenGuard) -> object:
    (entry,) = guard.cache._entries.values()
    return entry


@compiled
def test_boundaries_answer_none_for_the_python_path_to_decide(guard: TokenGuard) -> None:
    find = guard.cache.find_fresh
    assert find is not None
    token, info = _warm(guard)
    entry = _entry(guard)
    assert find(token, "tg") == info

    entry.deadline = time.monotonic() - 0.001  # type: ignore[attr-defined]  # older than the TTL
    assert find(token, "tg") is None
    entry.deadline = time.monotonic() + 60  # type: ignore[attr-defined]
    assert find(token, "tg") == info

    entry.touch_due = time.time() - 0.001  # type: ignore[attr-defined]  # a last_used_at write is due
    assert find(token, "tg") is None
    entry.touch_due = time.time() + 60  # type: ignore[attr-defined]
    assert find(token, "tg") == info

    guard.revoke(info.id)  # type: ignore[attr-defined]
    assert find(token, "tg") is None  # the entry went at once
    assert guard.cache._entries == OrderedDict()


class OtherEntry(CachedToken):
    __slots__ = ()


@compiled
def test_an_unusual_entry_is_left_to_the_python_path(guard: TokenGuard) -> None:
    """The entry's slots are read in place only for an exact CachedToken holding floats."""
    find = guard.cache.find_fresh
    assert find is not None
    token, info = _warm(guard)
    (key,) = guard.cache._entries
    entry = _entry(guard)
    assert find(token, "tg") == info
    entry.deadline = int(time.monotonic()) + 60  # type: ignore[attr-defined]  # an int: not read in place
    assert find(token, "tg") is None
    entry.deadline = time.monotonic() + 60  # type: ignore[attr-defined]
    assert find(token, "tg") == info
    del entry.info  # type: ignore[attr-defined]
    assert find(token, "tg") is None
    entry.info = info  # type: ignore[attr-defined]
    other = OtherEntry.__new__(OtherEntry)
    for name in CachedToken.__slots__:
        setattr(other, name, getattr(entry, name))
    guard.cache._entries[key] = other
    assert find(token, "tg") is None
    assert guard.authenticate_cached(token) == info  # Python's path still answers


@compiled
def test_an_expired_token_is_left_to_the_python_path(guard: TokenGuard) -> None:
    token, info = _warm(guard, expires_in=timedelta(seconds=30))
    entry = _entry(guard)
    assert guard.cache.find_fresh(token, "tg") == info  # type: ignore[misc]
    entry.expires_at = time.time() - 0.001  # type: ignore[attr-defined]
    entry.touch_due = entry.touch_due  # type: ignore[attr-defined]  # recomputes fresh_until
    assert guard.cache.find_fresh(token, "tg") is None  # type: ignore[misc]
    with pytest.raises(TokenGuardError, match="expired"):
        guard.authenticate_cached(token)


@compiled
def test_a_hit_moves_the_token_to_the_end_of_the_lru() -> None:
    with TokenGuard("memory://", secret_key=KEY, load_entry_points=False, prefix="tg", cache_size=2,
                    max_tokens_per_owner=None) as guard:
        first, _ = _warm(guard)
        second, _ = _warm(guard)
        assert guard.cache.find_fresh(first, "tg") is not None  # type: ignore[misc]  # first is newest
        third, _ = _warm(guard)  # evicts the least recently used: second
        assert guard.cache.find_fresh(second, "tg") is None  # type: ignore[misc]
        assert guard.cache.find_fresh(first, "tg") is not None  # type: ignore[misc]
        assert guard.cache.find_fresh(third, "tg") is not None  # type: ignore[misc]


def _index(guard: TokenGuard) -> _speedups.WarmIndex:
    index = guard.cache.warm_index
    assert index is not None
    return index


@compiled
def test_no_hashing_before_length_prefix_and_alphabet_pass(guard: TokenGuard) -> None:
    token, info = _warm(guard)
    index = _index(guard)
    body = token[3:]
    refused = [
        token + "a", token[:-1], "xx_" + body, "tg-" + body, token[:-1] + "_", token[:-1] + "é",
        token[:-1] + "\x00", token[:-1] + "\uff10", "x" * 10_000_000, b"tg_" + body.encode() + b"\xff",
        bytearray(token.encode()), memoryview(token.encode()), 41, None,
    ]
    before = index.probes
    for bad in refused:
        assert index.find(bad, "tg") is None
    headers = [[(b"authorization", b"Bearer " + _as_bytes(bad))] for bad in refused if isinstance(bad, str)]
    for listed in headers:
        assert index.find_in_headers(listed, b"authorization", (b"api-token",), "tg") is False
    assert index.probes == before
    assert index.find(token, "tg") == info
    assert index.find(token.encode(), "tg") == info
    assert index.find_in_headers([(b"authorization", b"Bearer " + token.encode())], b"authorization",
                                 (b"api-token",), "tg") == info
    assert index.probes == before + 3


# BLAKE2's own known answer (blake2s-kat.txt): key 00..1f, input 00.
BLAKE2S_KAT = "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1"


@compiled
def test_the_probe_digest_is_blake2s_known_answer() -> None:
    index = _speedups.WarmIndex(bytes(range(32)), 32, OrderedDict(), CachedToken)
    assert index.digest(b"\x00").hex() == BLAKE2S_KAT


@compiled
@settings(max_examples=500, deadline=None)
@given(key=st.binary(min_size=1, max_size=32), size=st.integers(1, 32),
       data=st.binary(min_size=1, max_size=64))
def test_the_probe_digest_is_hashlibs_keyed_blake2s(key: bytes, size: int, data: bytes) -> None:
    """The C BLAKE2s of a probe is hashlib's, for every key, digest size and one-block input."""
    index = _speedups.WarmIndex(key, size, OrderedDict(), CachedToken)
    assert index.digest(data) == hashlib.blake2s(data, key=key, digest_size=size).digest()


@compiled
def test_the_probe_digest_changes_with_every_byte_of_a_token(guard: TokenGuard) -> None:
    """A probe reads every byte: each one-character change of a token gives another digest."""
    index = _index(guard)
    for number in range(50):
        token = guard.create_token(f"user{number}", "ci", scopes=["read"]).token.encode()
        digest = index.digest(token)
        assert digest == guard.cache.probe(token.decode())  # the Python side files entries by this
        seen = {digest}
        for position in range(len(token)):
            for other in (b"0", b"z", b"_"):
                if token[position:position + 1] != other:
                    changed = token[:position] + other + token[position + 1:]
                    seen.add(index.digest(changed))
        assert len(seen) == 1 + sum(
            3 - (token[position:position + 1] in (b"0", b"z", b"_")) for position in range(len(token)))


@compiled
def test_the_warm_index_refuses_bad_arguments() -> None:
    for key, size in ((b"", 16), (bytes(33), 16), (bytes(32), 0), (bytes(32), 33)):
        with pytest.raises(ValueError, match="key of 1 to 32 bytes"):
            _speedups.WarmIndex(key, size, OrderedDict(), CachedToken)
    with pytest.raises(TypeError):
        _speedups.WarmIndex("text", 16, OrderedDict(), CachedToken)  # type: ignore[arg-type]

    class NoSlots:
        deadline = fresh_until = info = 0.0

    with pytest.raises(TypeError, match="no __slots__ attribute"):
        _speedups.WarmIndex(bytes(32), 16, OrderedDict(), NoSlots)
    with pytest.raises(AttributeError, match="deadline"):
        _speedups.WarmIndex(bytes(32), 16, OrderedDict(), dict)
    index = _speedups.WarmIndex(bytes(32), 16, OrderedDict(), CachedToken)
    for data in (b"", bytes(65)):
        with pytest.raises(ValueError, match="1 to 64 bytes"):
            index.digest(data)
    with pytest.raises(TypeError, match="bytes"):
        index.digest(bytearray(8))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="not initialised"):
        _speedups.WarmIndex.__new__(_speedups.WarmIndex).digest(b"x")
    assert index.probes == 0


class Shaped(str):
    pass


@compiled
def test_subclasses_and_other_types_are_left_to_python(guard: TokenGuard) -> None:
    token, info = _warm(guard)
    find = guard.cache.find_fresh
    assert find is not None
    assert find(Shaped(token), "tg") is None
    assert guard.authenticate(Shaped(token)) == info  # the Python path still answers
    with pytest.raises(ValueError, match="prefix"):
        find(token, "")
    with pytest.raises(ValueError, match="prefix"):
        find(token, "a" * 17)
    with pytest.raises(ValueError, match="prefix"):
        find(token, "té")
    with pytest.raises(TypeError, match="prefix"):
        find(token, b"tg")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        find(token)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _speedups.WarmIndex(bytes(32), 16, [], CachedToken)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="not initialised"):
        _speedups.WarmIndex.__new__(_speedups.WarmIndex).find(token, "tg")
    with pytest.raises(RuntimeError, match="not initialised"):
        _speedups.WarmIndex.__new__(_speedups.WarmIndex).find_in_headers([], b"authorization", (), "tg")


def _variants(token: str) -> st.SearchStrategy[str | bytes]:
    """The token, and strings near it: one character changed, dropped, added; any text."""
    position = st.integers(0, len(token) - 1)
    char = st.characters(codec="utf-8") | st.sampled_from("_-+/=é\uff10\x00 " + ALPHABET)
    near = st.one_of(
        st.just(token),
        st.builds(lambda i, c: token[:i] + c + token[i + 1:], position, char),
        st.builds(lambda i: token[:i] + token[i + 1:], position),
        st.builds(lambda i, c: token[:i] + c + token[i:], position, char),
        st.text(max_size=80),
    )
    return st.one_of(near, near.map(lambda s: s.encode("utf-8", "surrogatepass")))


@pytest.fixture(scope="module")
def warm_guard() -> Iterator[tuple[TokenGuard, str]]:
    with TokenGuard("memory://", secret_key=KEY, load_entry_points=False, prefix="tg") as made:
        token = made.create_token("alice", "ci", scopes=["read"]).token
        made.authenticate(token)
        yield made, token


@compiled
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_same_answers_as_the_python_path(warm_guard: tuple[TokenGuard, str], data: st.DataObject) -> None:
    guard, token = warm_guard
    candidate = data.draw(_variants(token))
    compiled = guard.cache.find_fresh
    assert compiled is not None
    answer = compiled(candidate, "tg")
    guard.cache.find_fresh = None  # the pure-Python hot path, on the same cache
    try:
        try:
            expected = guard.authenticate_cached(candidate)
        except InvalidToken:
            expected = None
    finally:
        guard.cache.find_fresh = compiled
    assert answer == expected
    if candidate in (token, token.encode()):
        assert answer is not None


@compiled
def test_hits_leak_neither_memory_nor_references(guard: TokenGuard) -> None:
    token, info = _warm(guard)
    raw = token.encode()
    find = guard.cache.find_fresh
    assert find is not None
    key = next(iter(guard.cache._entries))
    in_headers = guard.cache.find_in_headers
    assert in_headers is not None
    headers = [(b"host", b"x"), (b"authorization", b"Bearer " + raw)]
    assert in_headers(headers, b"authorization", (b"api-token",), "tg") == info

    def run() -> None:
        find(token, "tg")
        find(raw, "tg")
        find(token[:-1] + "!", "tg")
        find(token[:-1] + "0" if token[-1] != "0" else token[:-1] + "1", "tg")  # shaped, unknown
        in_headers(headers, b"authorization", (b"api-token",), "tg")
        in_headers(headers[:1], b"authorization", (b"api-token",), "tg")

    assert_steady(run, (info, key, token, raw))


# -- find_in_headers: the ASGI middleware's common case ----------------------------------------

AUTH = b"authorization"
TOKEN_HEADERS = (b"api-token",)


def _python_answer(guard: TokenGuard, headers: object) -> object:
    """What the middleware's Python path makes of these headers, in find_in_headers' terms."""
    from tokenguard_asgi._translate import plain_credentials

    credential = plain_credentials(headers, AUTH, frozenset(TOKEN_HEADERS))  # type: ignore[arg-type]
    if credential is None:
        return None
    if not credential:
        return False
    compiled = guard.cache.find_fresh
    guard.cache.find_fresh = None
    try:
        return guard.authenticate_cached(credential) or False
    except InvalidToken:
        return False
    finally:
        guard.cache.find_fresh = compiled


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "ignore")


def _header_lists(token: str) -> st.SearchStrategy[list[tuple[bytes, bytes]]]:
    value = st.one_of(
        st.just(f"Bearer {token}".encode()),
        _variants(token).map(lambda v: b"Bearer " + _as_bytes(v)),
        st.sampled_from([b"bearer " + token.encode(), b"Basic " + token.encode(), b"Bearer", b"Bearer ",
                         b"Bearer  " + token.encode(), token.encode(), b""]),
        st.binary(max_size=60),
    )
    name = st.sampled_from([AUTH, b"api-token", b"host", b"accept", b"Authorization", b"x-api-token"])
    return st.lists(st.tuples(name, value), max_size=5)


@compiled
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_headers_give_the_same_answers_as_the_python_path(
    warm_guard: tuple[TokenGuard, str], data: st.DataObject
) -> None:
    guard, token = warm_guard
    headers = data.draw(_header_lists(token))
    find = guard.cache.find_in_headers
    assert find is not None
    assert find(headers, AUTH, TOKEN_HEADERS, "tg") == _python_answer(guard, headers)


@compiled
def test_headers_cases_by_name(guard: TokenGuard) -> None:
    token, info = _warm(guard)
    find = guard.cache.find_in_headers
    assert find is not None
    bearer = (AUTH, b"Bearer " + token.encode())

    def answer(headers: object) -> object:
        return find(headers, AUTH, TOKEN_HEADERS, "tg")

    assert answer([(b"host", b"x"), bearer]) == info
    assert answer([]) is None
    assert answer([(b"host", b"x")]) is None
    assert answer([bearer, bearer]) is False  # duplicated
    assert answer([bearer, (b"api-token", token.encode())]) is False  # two credentials
    assert answer([(b"api-token", token.encode())]) is False  # the token header: Python reads it
    assert answer([(AUTH, b"bearer " + token.encode())]) is False  # another spelling: Python decides
    assert answer([(AUTH, b"Bearer ")]) is False
    assert answer([(AUTH, b"Bearer " + token.encode() + b" ")]) is False
    assert answer(((b"host", b"x"), bearer)) is False  # a tuple of headers: not the common shape
    assert answer([[AUTH, b"Bearer " + token.encode()]]) is False  # lists as pairs
    assert answer([(AUTH, bytearray(b"Bearer " + token.encode()))]) is False
    assert answer([(AUTH, b"Bearer " + token.encode(), b"x")]) is False
    guard.revoke(info.id)
    assert answer([bearer]) is False  # no longer cached: the Python path refuses it
    with pytest.raises(TypeError):
        find([bearer], "authorization", TOKEN_HEADERS, "tg")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        find([bearer], AUTH, ["api-token"], "tg")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        find([bearer], AUTH, ("api-token",), "tg")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prefix"):
        find([], AUTH, TOKEN_HEADERS, "")


# -- TokenDigester: the checksum, then the HMAC, on a cache miss -------------------------------


def _checked_by_python(hasher: tokens.Hasher, canonical: str) -> str | None:
    return hasher.digest(canonical) if tokens.checksum_matches(canonical) else None


@compiled
@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_the_digester_answers_as_the_python_checksum_and_hmac(data: st.DataObject) -> None:
    hasher = tokens.Hasher(KEY)
    token = tokens.generate("tg")
    position = st.integers(len("tg_"), len(token) - 1)
    canonical = data.draw(st.one_of(
        st.just(token),
        st.builds(lambda i, c: token[:i] + c + token[i + 1:], position, st.sampled_from(ALPHABET)),
        st.builds(lambda r: f"tg_{r}{tokens.checksum(r)}",
                  st.text(ALPHABET, min_size=tokens.RANDOM_LENGTH, max_size=tokens.RANDOM_LENGTH)),
    ))
    expected = _checked_by_python(hasher, canonical)
    assert hasher.checked_digest(canonical) == expected
    if canonical == token:
        assert expected is not None
        assert expected == hmac.new(KEY, token.encode(), hashlib.sha256).hexdigest()


@compiled
def test_the_digester_checks_the_crc_of_every_random_text() -> None:
    hasher = tokens.Hasher(KEY)
    for _ in range(2000):  # checksums that need all 6 base62 digits, and every byte of the CRC table
        token = tokens.generate("tg")
        assert hasher.checked_digest(token) == hasher.digest(token)
        wrong = token[:-1] + ("0" if token[-1] != "0" else "1")
        assert hasher.checked_digest(wrong) is None


class CountingSha:
    """A SHA-256 state standing in for a pad: counts the copies TokenDigester makes of it."""

    def __init__(self, real: object, counter: list[int]) -> None:
        self.real = real
        self.counter = counter

    def copy(self) -> CountingSha:
        self.counter[0] += 1
        return CountingSha(self.real.copy(), self.counter)  # type: ignore[attr-defined]

    def update(self, data: object) -> None:
        self.real.update(data)  # type: ignore[attr-defined]

    def digest(self) -> bytes:
        return self.real.digest()  # type: ignore[attr-defined,no-any-return]

    def hexdigest(self) -> str:
        return self.real.hexdigest()  # type: ignore[attr-defined,no-any-return]


@compiled
def test_the_digester_hashes_nothing_before_the_checksum_matches() -> None:
    hasher = tokens.Hasher(KEY)
    copies = [0]
    inner, outer = (CountingSha(pad, copies) for pad in hasher._keyed[0].pads)
    digester = _speedups.TokenDigester(inner, outer)
    token = tokens.generate("tg")
    refused = [token[:-1] + ("0" if token[-1] != "0" else "1"), token[:-6] + "!!!!!!", token[:-6] + "zzzzzz",
               "tg_" + "0" * 37, "", "é" * 41, token[:-1] + "\uff10"]
    for bad in refused:
        assert digester.checked_digest(bad) is None
    assert copies[0] == 0
    assert digester.checked_digest(token) == hasher.digest(token)
    assert copies[0] == 2  # the inner pad, then the outer
    with pytest.raises(TypeError):
        digester.checked_digest(token.encode())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        digester.checked_digest(Shaped(token))
    with pytest.raises(TypeError, match="one type"):
        _speedups.TokenDigester(inner, hashlib.sha256())
    with pytest.raises(RuntimeError, match="not initialised"):
        _speedups.TokenDigester.__new__(_speedups.TokenDigester).checked_digest(token)


@compiled
def test_the_digester_leaks_neither_memory_nor_references() -> None:
    hasher = tokens.Hasher(KEY)
    token = tokens.generate("tg")
    wrong = token[:-1] + ("0" if token[-1] != "0" else "1")
    checked = hasher.checked_digest

    def run() -> None:
        checked(token)
        checked(wrong)

    assert_steady(run, (token,))


def test_a_bad_checksum_is_refused_with_its_reason_on_either_path() -> None:
    failures: list[str] = []

    class Recorder:
        @hookimpl
        def tokenguard_auth_failed(self, reason: str, hint: str | None, remote: str | None) -> None:
            failures.append(reason)

    with TokenGuard("memory://", secret_key=KEY, load_entry_points=False, prefix="tg", cache_ttl=None,
                    plugins=[Recorder()]) as guard:
        token = guard.create_token("alice", "ci", scopes=["read"]).token
        wrong = token[:-1] + ("0" if token[-1] != "0" else "1")
        with pytest.raises(InvalidToken, match="checksum"):
            guard.authenticate(wrong)
        assert guard.authenticate(token).owner == "alice"
    assert failures == [tokens.CHECKSUM_MISMATCH]
