"""Item 24 over the wire: raw bytes against a real server, for both adapters.

Each hostile request gets 400, 401, 403, 404, 409, 413 or 431 (200 only where
the token is really fine), never 500 and never silence; the server stays up;
what fails the offline checks costs no storage query; no answer echoes a token.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import pytest
from _security_helpers import SECRET, CountingStore
from _servers import ADAPTERS, API, get, raw, serve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenguard import TokenGuard

REFUSALS = frozenset({400, 401, 403, 404, 409, 413, 429, 431})  # 429: the default limiter
FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in string.ascii_letters + string.digits}


@dataclass
class Target:
    adapter: str
    url: str
    store: CountingStore
    read: str
    write: str
    revoked: str

    def send(self, request: bytes) -> tuple[int | None, bytes, dict[str, int]]:
        self.store.reset()
        status, data = raw(self.url, request)
        if status is None and b"<p>Error code: 400</p>" in data:
            status = 400  # http.server answers an unparsable request line HTTP/0.9-style
        return status, data, dict(self.store.calls)

    def alive(self) -> None:
        status, data = raw(self.url, get("/notes", b"Authorization: Bearer " + self.read.encode()))
        assert status == 200, data[:200]


@pytest.fixture(scope="module", params=ADAPTERS)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    store = CountingStore()
    guard = TokenGuard(store, secret_key=SECRET, load_entry_points=False, cache_ttl=None,
                       max_tokens_per_owner=None)
    read = guard.create_token("alice", "read", scopes=["read"]).token
    write = guard.create_token("alice", "write", scopes=["write"]).token
    revoked = guard.create_token("alice", "revoked", scopes=["read"])
    guard.revoke(revoked.info.id)
    with serve(request.param, guard) as url:
        yield Target(request.param, url, store, read, write, revoked.token)


Case = tuple[str, Callable[[Target], bytes], frozenset[int], bool]


def auth(value: bytes) -> bytes:
    return b"Authorization: " + value


def tok(t: Target) -> bytes:
    return t.read.encode()


def case(name: str, build: Callable[[Target], bytes], statuses: set[int], offline: bool = True) -> Case:
    return (name, build, frozenset(statuses), offline)


def bearer(value: bytes, path: str = "/notes") -> bytes:
    return get(path, auth(b"Bearer " + value))


def other_last(t: Target) -> bytes:
    """The read token with its last character changed: a checksum failure."""
    return tok(t)[:-1] + (b"B" if tok(t)[-1:] == b"A" else b"A")


def full_width_digits(t: Target) -> bytes:
    return "".join(FULL_WIDTH.get(c, c) if c.isdigit() else c for c in t.read).encode()


HUGE_BODY = b"POST /notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 99999999999999\r\n"
TLS_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"

CASES: list[Case] = [
    case("no credentials", lambda t: get("/notes"), {401}),
    case("bare Bearer", lambda t: get("/notes", auth(b"Bearer")), {400}),
    case("Bearer and spaces", lambda t: get("/notes", auth(b"Bearer     ")), {400}),
    case("other scheme", lambda t: get("/notes", auth(b"Basic YTpi")), {401}),
    case("header just over 8 KiB", lambda t: bearer(b"A" * 8200), {400, 431}),
    case("header of 70 KiB", lambda t: bearer(b"A" * 70_000), {400, 431}),
    case("500 headers", lambda t: get("/notes", *[b"X-H%d: v" % n for n in range(500)]), {401, 431}),
    case("NUL in the token", lambda t: bearer(tok(t)[:9] + b"\x00" + tok(t)[10:]), {400}),
    # http.server (werkzeug) ends a header line at a bare CR: what is left is a truncated token.
    case("bare CR in the token", lambda t: bearer(tok(t)[:9] + b"\r" + tok(t)[10:]), {400, 401}),
    case("LF splits the header", lambda t: get("/notes", auth(b"Bearer\nX-Evil: " + tok(t))), {400, 401}),
    # Servers may unfold an obs-fold (RFC 9112 §5.2): the token is then intact.
    case("obs-fold continuation", lambda t: get("/notes", auth(b"Bearer"), b" " + tok(t)), {200, 400},
         offline=False),
    case("UTF-8 in the token", lambda t: bearer(tok(t)[:-1] + "é".encode()), {400}),
    case("Latin-1 byte in the token", lambda t: bearer(tok(t)[:-1] + b"\xe9"), {400}),
    case("full-width digits", lambda t: bearer(full_width_digits(t)), {400}),
    case("two Authorization headers", lambda t: get("/notes", *[auth(b"Bearer " + tok(t))] * 2), {400}),
    case("Basic, then Bearer",
         lambda t: get("/notes", auth(b"Basic YTpi"), auth(b"Bearer " + tok(t))), {400}),
    case("Bearer, then Basic",
         lambda t: get("/notes", auth(b"Bearer " + tok(t)), auth(b"Basic YTpi")), {400}),
    case("Digest with parameters, then Bearer",
         lambda t: get("/notes", auth(b'Digest username="a", realm="b"'), auth(b"Bearer " + tok(t))), {400}),
    case("two Basic headers", lambda t: get("/notes", auth(b"Basic YTpi"), auth(b"Basic Yzpk")), {401}),
    case("Authorization and Api-Token",
         lambda t: get("/notes", auth(b"Bearer " + tok(t)), b"Api-Token: " + tok(t)), {400}),
    case("two Api-Token headers", lambda t: get("/notes", b"Api-Token: " + tok(t), b"Api-Token: x"), {400}),
    case("empty Api-Token", lambda t: get("/notes", b"Api-Token: "), {400, 401}),
    case("wrong prefix", lambda t: bearer(b"gh_" + tok(t)[3:]), {401}),
    case("bad checksum", lambda t: bearer(other_last(t)), {401}),
    case("truncated", lambda t: bearer(tok(t)[:-1]), {401}),
    case("extended", lambda t: bearer(tok(t) + b"A"), {401}),
    case("secret-token: with a typo", lambda t: bearer(b"secret-token:" + other_last(t)), {401}),
    case("secret-token: doubled", lambda t: bearer(b"secret-token:secret-token:" + tok(t)), {401}),
    case("token in the query string", lambda t: get("/notes?access_token=" + t.read), {401}),
    case("token in a form-like header", lambda t: bearer(b"access_token=" + tok(t)), {400}),
    case("management API, hostile header", lambda t: bearer(tok(t)[:-1] + b"\xff", API), {400}),
    case("unknown route", lambda t: bearer(other_last(t), "/nope"), {400, 401, 404}),
    case("request line garbage", lambda t: TLS_HELLO, {400}),
    case("absurd Content-Length", lambda t: HUGE_BODY + auth(b"Bearer " + other_last(t)) + b"\r\n\r\n",
         {400, 401, 413}),
    # Where the token itself is intact, the answer must be the token's own.
    case("revoked token", lambda t: bearer(t.revoked.encode()), {401}, offline=False),
    case("lowercase scheme", lambda t: get("/notes", auth(b"bearer " + tok(t))), {200}, offline=False),
    case("secret-token: form", lambda t: bearer(b"secret-token:" + tok(t)), {200}, offline=False),
    case("lowercase header name", lambda t: get("/notes", b"authorization: BEARER " + tok(t)), {200},
         offline=False),
]


@contextmanager
def access_log_silenced() -> Iterator[None]:
    """A client that puts a token in a URL leaks it to every access log on the way; the
    server's access log is the host's, not ours, so it is silenced for that one case."""
    access = logging.getLogger("werkzeug")
    level = access.level
    access.setLevel(logging.ERROR)
    try:
        yield
    finally:
        access.setLevel(level)


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_hostile_request(target: Target, name: str) -> None:
    _, build, statuses, offline = next(c for c in CASES if c[0] == name)
    with access_log_silenced() if "query string" in name else nullcontext():
        status, data, calls = target.send(build(target))
    assert status is not None, f"no HTTP answer: {data[:200]!r}"
    assert status in statuses, data[:400]
    assert status == 200 or status in REFUSALS
    if offline:
        assert calls.get("find", 0) == 0, calls
    body = data.decode("latin-1")
    for secret in (target.read, target.write, target.revoked):
        assert secret[3:] not in body
    target.alive()


def test_post_without_a_write_scope_is_403(target: Target) -> None:
    request = (b"POST /notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n"
               b"Authorization: Bearer " + target.read.encode() + b"\r\n\r\n")
    status, data, _ = target.send(request)
    assert status == 403, data[:300]
    assert b'error="insufficient_scope"' in data and b'scope="write"' in data
    status, data, _ = target.send(request.replace(target.read.encode(), target.write.encode()))
    assert status == 201, data[:300]


def test_error_answers_are_json_no_store_nosniff(target: Target) -> None:
    for request in (get("/notes"), get("/notes", auth(b"Bearer")), get("/notes", auth(b"Bearer tg_x"))):
        status, data, _ = target.send(request)
        head = data.split(b"\r\n\r\n", 1)[0].lower()
        assert status in {400, 401}
        assert b"content-type: application/json" in head
        assert b"cache-control: no-store" in head
        assert b"x-content-type-options: nosniff" in head
        assert b"www-authenticate: bearer realm=" in head


header_bytes = st.binary(min_size=0, max_size=120).filter(lambda b: b"\r\n" not in b)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.sampled_from([b"Authorization", b"Api-Token", b"authorization"]),
       scheme=st.sampled_from([b"Bearer ", b"bearer  ", b"", b"Bearer secret-token:", b"Basic "]),
       value=header_bytes)
def test_any_header_bytes_get_a_refusal_never_500(target: Target, name: bytes, scheme: bytes,
                                                  value: bytes) -> None:
    status, data, calls = target.send(get("/notes", name + b": " + scheme + value))
    assert status in REFUSALS, data[:300]
    assert calls.get("find", 0) == 0
