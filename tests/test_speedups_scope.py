"""The ASGI middleware's compiled reader (``_speedups.ScopeReader``) decides only what Python would.

``TokenGuardMiddleware`` hands every scope to one C call first. For an ordinary
request (``http``, no ``root_path``, a path outside the web layer's mounts, the
default clock, no ``before_authenticate`` hook) it answers as ``find_in_headers``
does and marks the scope; for everything else it answers ``False`` and leaves the
scope untouched, so that the Python path decides from the start. These tests hold
it to that over generated scopes, and to the clock and the hooks changing after
the middleware was built.
"""

from __future__ import annotations

import gc
import secrets
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenguard import TokenGuard, hookimpl
from tokenguard._clock import utcnow
from tokenguard._compiled import PURE_PYTHON

if not PURE_PYTHON:
    from tokenguard import _speedups

pytestmark = pytest.mark.skipif(PURE_PYTHON,
                                reason="TOKENGUARD_PURE_PYTHON=1: the compiled reader is not used")

AUTH = b"authorization"
TOKEN_HEADERS = (b"api-token",)
MOUNTS = ("/api/tokens", "/settings/tokens")
MARK = "tokenguard"


class Marker:
    """Stands in for the middleware: what the reader stores under ``MARK``."""


@pytest.fixture(scope="module")
def warm() -> Iterator[tuple[TokenGuard, str]]:
    guard = TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False,
                       prefix="tg", cache_ttl=3600)
    token = guard.create_token("alice", "ci", scopes=["read"]).token
    guard.authenticate(token)
    yield guard, token
    guard.close()


def _reader(guard: TokenGuard, marker: object, hooks: object = None) -> Any:
    index = guard.cache.warm_index
    assert index is not None
    live = guard._before_authenticate_impls if hooks is None else hooks
    return _speedups.ScopeReader(index, AUTH, TOKEN_HEADERS, guard.prefix, MOUNTS, MARK, marker, guard,
                                 utcnow, live).read


def _scope(token: str, **changes: object) -> dict[str, object]:
    scope: dict[str, object] = {
        "type": "http", "path": "/notes", "root_path": "", "query_string": b"",
        "headers": [(b"host", b"x"), (AUTH, b"Bearer " + token.encode())],
    }
    for name, value in changes.items():
        if value is _ABSENT:
            scope.pop(name, None)
        else:
            scope[name] = value
    return scope


_ABSENT = object()


def _expected(guard: TokenGuard, scope: dict[str, object]) -> object:
    """What the reader may answer: Python's reading of the same scope, in the reader's terms."""
    kind, root_path, path = scope.get("type"), scope.get("root_path", ""), scope.get("path")
    ordinary = (type(kind) is str and kind == "http" and type(root_path) is str and not root_path
                and type(path) is str and not path.startswith(MOUNTS) and "headers" in scope)
    if not ordinary:
        return False
    find = guard.cache.find_in_headers
    assert find is not None
    return find(scope["headers"], AUTH, TOKEN_HEADERS, guard.prefix)


def _scopes(token: str) -> st.SearchStrategy[dict[str, object]]:
    bearer = b"Bearer " + token.encode()
    headers = st.one_of(
        st.just([(b"host", b"x"), (AUTH, bearer)]),
        st.just([(b"host", b"x")]),
        st.just([(AUTH, bearer), (AUTH, bearer)]),
        st.just([(b"api-token", token.encode())]),
        st.just([(AUTH, b"Bearer " + token[:-1].encode() + (b"0" if token[-1] != "0" else b"1"))]),
        st.just(((AUTH, bearer),)),
        st.just(_ABSENT),
    )
    return st.fixed_dictionaries({
        "type": st.sampled_from(["http", "websocket", "lifespan", "HTTP", b"http", None, _ABSENT]),
        "root_path": st.sampled_from(["", "/prefix", b"", None, _ABSENT]),
        "path": st.sampled_from(["/notes", "/api/tokens", "/api/tokens/1", "/settings/tokens",
                                 "/api/tokensmith", "/api/token", "/", "", b"/notes", None, _ABSENT]),
        "headers": headers,
    }).map(lambda drawn: _scope(token, **drawn))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_reader_answers_only_what_python_would(warm: tuple[TokenGuard, str], data: st.DataObject) -> None:
    guard, token = warm
    marker = Marker()
    read = _reader(guard, marker)
    scope = data.draw(_scopes(token))
    before = dict(scope)
    answer = read(scope)
    assert answer == _expected(guard, before)
    if answer is False:
        assert scope == before  # untouched: Python decides from the start
    else:
        assert scope == {**before, MARK: marker}


def test_the_ordinary_cases_by_name(warm: tuple[TokenGuard, str]) -> None:
    guard, token = warm
    info = guard.authenticate(token)
    marker = Marker()
    read = _reader(guard, marker)
    scope = _scope(token)
    assert read(scope) == info and scope[MARK] is marker
    anonymous = _scope(token, headers=[(b"host", b"x")])
    assert read(anonymous) is None and anonymous[MARK] is marker
    assert read(_scope(token, root_path=_ABSENT)) == info  # a server that sends no root_path
    for other in (_scope(token, type="websocket"), _scope(token, type="lifespan"),
                  _scope(token, root_path="/mounted"), _scope(token, path="/api/tokens"),
                  _scope(token, path="/settings/tokens/new"), _scope(token, headers=_ABSENT),
                  _scope("tg_" + "0" * 38)):
        assert read(other) is False and MARK not in other
    assert read({"type": "http"}) is False
    assert read(["not", "a", "dict"]) is False


def test_a_clock_set_after_the_middleware_was_built_is_left_to_python() -> None:
    """The pytest plugin replaces ``guard.clock`` on a guard already mounted: the reader yields."""
    with TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False,
                    prefix="tg") as guard:
        token = guard.create_token("alice", "ci", scopes=["read"]).token
        info = guard.authenticate(token)
        read = _reader(guard, Marker())
        assert read(_scope(token)) == info
        guard.clock = lambda: datetime(2030, 1, 1, tzinfo=UTC)
        assert read(_scope(token)) is False
        guard.clock = utcnow
        assert read(_scope(token)) == info


class Recorder:
    def __init__(self) -> None:
        self.remotes: list[str | None] = []

    @hookimpl
    def tokenguard_before_authenticate(self, remote: str | None) -> None:
        self.remotes.append(remote)


def test_a_hook_registered_after_the_middleware_was_built_is_left_to_python() -> None:
    """``before_authenticate`` (the limiter) must see every request: the reader yields to it."""
    with TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False,
                    prefix="tg") as guard:
        token = guard.create_token("alice", "ci", scopes=["read"]).token
        info = guard.authenticate(token)
        read = _reader(guard, Marker())
        assert read(_scope(token)) == info
        recorder = Recorder()
        guard.plugins.register(recorder)
        assert read(_scope(token)) is False
        guard.plugins.unregister(recorder)
        assert read(_scope(token)) == info
        assert _reader(guard, Marker(), hooks=[None])(_scope(token)) is False  # never empty: never answers


def test_the_reader_refuses_bad_arguments(warm: tuple[TokenGuard, str]) -> None:
    guard, token = warm
    index = guard.cache.warm_index
    hooks: list[object] = []
    good: dict[str, Any] = {"index": index, "authorization": AUTH, "token_headers": TOKEN_HEADERS,
                            "prefix": "tg", "mounts": MOUNTS, "mark_key": MARK, "mark_value": None,
                            "guard": guard, "clock": utcnow, "hooks": hooks}
    assert _speedups.ScopeReader(**good).read(_scope(token)) is not False
    refused: list[tuple[str, object, type[Exception]]] = [
        ("index", object(), TypeError), ("authorization", "authorization", TypeError),
        ("token_headers", [b"api-token"], TypeError), ("token_headers", ("x",), TypeError),
        ("prefix", "", ValueError), ("prefix", b"tg", TypeError),
        ("mounts", ["/api"], TypeError), ("mounts", (b"/api",), TypeError),
    ]
    for name, bad, error in refused:
        with pytest.raises(error):
            _speedups.ScopeReader(**{**good, name: bad})
    with pytest.raises(RuntimeError, match="not initialised"):
        _speedups.ScopeReader.__new__(_speedups.ScopeReader).read({})


def test_reads_leak_neither_memory_nor_references(warm: tuple[TokenGuard, str]) -> None:
    guard, token = warm
    info = guard.authenticate(token)
    marker = Marker()
    read = _reader(guard, marker)
    scopes = [_scope(token), _scope(token, headers=[(b"host", b"x")]), _scope(token, path="/api/tokens"),
              _scope("tg_" + "0" * 38), _scope(token, type="websocket")]
    for _ in range(1000):
        for scope in scopes:
            read(scope)
    gc.collect()
    before = (sys.getrefcount(info), sys.getrefcount(marker), sys.getrefcount(guard))
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        for _ in range(20_000):
            for scope in scopes:
                read(scope)
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end - start < 4096
    assert (sys.getrefcount(info), sys.getrefcount(marker), sys.getrefcount(guard)) == before
