"""The adapters' compiled readers (``ScopeReader``, ``EnvironReader``) decide only what Python would.

``TokenGuardMiddleware`` hands every scope to one C call first. For an ordinary
request (``http``, no ``root_path``, a path outside the web layer's mounts, the
default clock, no ``before_authenticate`` hook) it answers as ``find_in_headers``
does and marks the scope; for everything else it answers ``False`` and leaves the
scope untouched, so that the Python path decides from the start. The Flask
extension's ``before_request`` does the same with the WSGI environ, which it only
reads. These tests hold both to that over generated requests, and to the clock
and the hooks changing after the app was built.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _hooks import RemoteRecorder, assert_steady
from tokenguard import TokenGuard, TokenInfo
from tokenguard._clock import utcnow
from tokenguard._compiled import PURE_PYTHON
from tokenguard.cache import VerificationCache
from tokenguard_asgi import TokenPrincipal

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


@pytest.fixture
def fresh() -> Iterator[tuple[TokenGuard, str, TokenInfo]]:
    """A guard of the test's own (its clock, cache and hooks get changed) and a warm token."""
    with TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False,
                    prefix="tg") as guard:
        token = guard.create_token("alice", "ci", scopes=["read"]).token
        yield guard, token, guard.authenticate(token)


def _environ_reader(guard: TokenGuard, hooks: object = None) -> Any:
    index = guard.cache.warm_index
    assert index is not None
    live = guard._before_authenticate_impls if hooks is None else hooks
    return _speedups.EnvironReader(index, "HTTP_AUTHORIZATION", ("HTTP_API_TOKEN",), guard.prefix, guard,
                                   utcnow, guard.cache, live).read


def _reader(guard: TokenGuard, marker: object, hooks: object = None) -> Any:
    index = guard.cache.warm_index
    assert index is not None
    live = guard._before_authenticate_impls if hooks is None else hooks
    return _speedups.ScopeReader(index, AUTH, TOKEN_HEADERS, guard.prefix, MOUNTS, MARK, marker,
                                 TokenPrincipal, TokenInfo, guard, utcnow, guard.cache, live).read


def _token_in(read: Any, scope: dict[str, object]) -> object:
    """The reader's answer, with ``True`` (the scope holds a principal) shown as the principal's token."""
    answer = read(scope)
    if answer is not True:
        return answer
    principal = scope["auth"]
    assert type(principal) is TokenPrincipal and scope["user"] is principal
    return principal.token


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
    expected = _expected(guard, before)
    if isinstance(expected, TokenInfo) and expected.admin:
        expected = False  # an admin token's principal holds the configured scopes: Python makes it
    if answer is False:
        assert expected is False
        assert scope == before  # untouched: Python decides from the start
    elif answer is None:
        assert expected is None
        assert scope == {**before, MARK: marker}
    else:
        assert answer is True and isinstance(expected, TokenInfo)
        principal = scope["auth"]
        assert scope == {**before, MARK: marker, "auth": principal, "user": principal}
        made = TokenPrincipal(expected, expected.effective_scopes)  # what Python makes
        assert type(principal) is TokenPrincipal
        assert (principal.token, principal._effective, principal._listed) == (
            made.token, made._effective, made._listed)
        assert principal.scopes == made.scopes and repr(principal) == repr(made)
        assert (principal.is_authenticated, principal.display_name) == (True, expected.owner)


def test_the_ordinary_cases_by_name(warm: tuple[TokenGuard, str]) -> None:
    guard, token = warm
    info = guard.authenticate(token)
    marker = Marker()
    read = _reader(guard, marker)
    scope = _scope(token)
    assert _token_in(read, scope) == info and scope[MARK] is marker
    anonymous = _scope(token, headers=[(b"host", b"x")])
    assert read(anonymous) is None and anonymous[MARK] is marker
    assert _token_in(read, _scope(token, root_path=_ABSENT)) == info  # a server that sends no root_path
    for other in (_scope(token, type="websocket"), _scope(token, type="lifespan"),
                  _scope(token, root_path="/mounted"), _scope(token, path="/api/tokens"),
                  _scope(token, path="/settings/tokens/new"), _scope(token, headers=_ABSENT),
                  _scope("tg_" + "0" * 38)):
        assert read(other) is False and MARK not in other
    assert read({"type": "http"}) is False
    assert read(["not", "a", "dict"]) is False


def test_an_admin_token_is_left_to_python(fresh: tuple[TokenGuard, str, TokenInfo]) -> None:
    """An admin token holds every configured scope: the middleware's Python path makes its principal."""
    guard, user, info = fresh
    admin = guard.create_token("root", "ops", admin=True).token
    guard.authenticate(admin)
    read = _reader(guard, Marker())
    scope = _scope(admin)
    assert read(scope) is False and scope == _scope(admin)
    assert _token_in(read, _scope(user)) == info


def test_a_clock_or_cache_set_after_the_middleware_was_built_is_left_to_python(
    fresh: tuple[TokenGuard, str, TokenInfo],
) -> None:
    """The pytest plugin replaces ``guard.clock`` on a guard already mounted: the reader yields."""
    guard, token, info = fresh
    read = _reader(guard, Marker())
    assert _token_in(read, _scope(token)) == info
    guard.clock = lambda: datetime(2030, 1, 1, tzinfo=UTC)
    assert read(_scope(token)) is False
    guard.clock = utcnow
    assert _token_in(read, _scope(token)) == info
    cache = guard.cache
    guard.cache = VerificationCache()  # the reader reads the old cache's index: Python decides
    assert read(_scope(token)) is False
    guard.cache = cache
    assert _token_in(read, _scope(token)) == info


def test_a_hook_registered_after_the_middleware_was_built_is_left_to_python(
    fresh: tuple[TokenGuard, str, TokenInfo],
) -> None:
    """``before_authenticate`` (the limiter) must see every request: the reader yields to it."""
    guard, token, info = fresh
    read = _reader(guard, Marker())
    assert _token_in(read, _scope(token)) == info
    recorder = RemoteRecorder()
    guard.plugins.register(recorder)
    assert read(_scope(token)) is False
    guard.plugins.unregister(recorder)
    assert _token_in(read, _scope(token)) == info
    assert _reader(guard, Marker(), hooks=[None])(_scope(token)) is False  # never empty: never answers


def test_the_reader_refuses_bad_arguments(warm: tuple[TokenGuard, str]) -> None:
    guard, token = warm
    index = guard.cache.warm_index
    hooks: list[object] = []
    good: dict[str, Any] = {"index": index, "authorization": AUTH, "token_headers": TOKEN_HEADERS,
                            "prefix": "tg", "mounts": MOUNTS, "mark_key": MARK, "mark_value": None,
                            "principal_type": TokenPrincipal, "info_type": TokenInfo, "guard": guard,
                            "clock": utcnow, "cache": guard.cache, "hooks": hooks}
    assert _speedups.ScopeReader(**good).read(_scope(token)) is not False
    refused: list[tuple[str, object, type[Exception]]] = [
        ("index", object(), TypeError), ("authorization", "authorization", TypeError),
        ("token_headers", [b"api-token"], TypeError), ("token_headers", ("x",), TypeError),
        ("prefix", "", ValueError), ("prefix", b"tg", TypeError),
        ("mounts", ["/api"], TypeError), ("mounts", (b"/api",), TypeError),
        ("principal_type", "TokenPrincipal", TypeError), ("principal_type", Marker, AttributeError),
        ("info_type", TokenPrincipal, AttributeError),
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
    def run() -> None:
        for scope in scopes:
            read(scope)

    assert_steady(run, (info, marker, guard))


# -- EnvironReader: the Flask extension's common case -------------------------------------------


def _environ(token: str, **changes: object) -> dict[str, object]:
    environ: dict[str, object] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/notes", "HTTP_HOST": "x",
                                  "HTTP_AUTHORIZATION": f"Bearer {token}", "REMOTE_ADDR": "127.0.0.1"}
    for name, value in changes.items():
        if value is _ABSENT:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ


def _environ_expected(guard: TokenGuard, environ: dict[str, object]) -> object:
    """The extension's Python reading of the environ, in the reader's terms (anything odd: Python's)."""
    if "HTTP_API_TOKEN" in environ:
        return False
    if "HTTP_AUTHORIZATION" not in environ:
        return None
    value = environ["HTTP_AUTHORIZATION"]
    if type(value) is not str or not value.startswith("Bearer "):
        return False
    find = guard.cache.find_fresh
    assert find is not None
    return find(value[len("Bearer "):], guard.prefix) or False


def _environs(token: str) -> st.SearchStrategy[dict[str, object]]:
    other = token[:-1] + ("0" if token[-1] != "0" else "1")
    authorization = st.sampled_from([
        f"Bearer {token}", f"Bearer {other}", f"bearer {token}", f"Basic {token}", f"Bearer  {token}",
        f"Bearer {token}, Bearer {token}", f"Bearer {token} ", f"Bearer {token}é", "Bearer ", "Bearer", token,
        "", f"Bearer {token}".encode(), None, _ABSENT,
    ])
    return st.fixed_dictionaries({
        "HTTP_AUTHORIZATION": authorization,
        "HTTP_API_TOKEN": st.sampled_from([_ABSENT, token, ""]),
        "HTTP_X_API_TOKEN": st.sampled_from([_ABSENT, token]),
    }).map(lambda drawn: _environ(token, **drawn))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_environ_reader_answers_only_what_python_would(
    warm: tuple[TokenGuard, str], data: st.DataObject
) -> None:
    guard, token = warm
    read = _environ_reader(guard)
    environ = data.draw(_environs(token))
    before = dict(environ)
    assert read(environ) == _environ_expected(guard, before)
    assert environ == before  # only read


def test_the_environ_cases_by_name(warm: tuple[TokenGuard, str]) -> None:
    guard, token = warm
    info = guard.authenticate(token)
    read = _environ_reader(guard)
    assert read(_environ(token)) == info
    assert read(_environ(token, HTTP_AUTHORIZATION=_ABSENT)) is None
    for other in (_environ(token, HTTP_API_TOKEN=token),
                  _environ(token, HTTP_AUTHORIZATION=f"bearer {token}"),
                  _environ(token, HTTP_AUTHORIZATION=f"Bearer {token}, Bearer {token}"),
                  _environ("tg_" + "0" * 38), _environ(token, HTTP_AUTHORIZATION=None)):
        assert read(other) is False
    assert read(["not", "a", "dict"]) is False


def test_the_environ_reader_yields_to_a_new_clock_cache_or_hook(
    fresh: tuple[TokenGuard, str, TokenInfo],
) -> None:
    guard, token, info = fresh
    read = _environ_reader(guard)
    assert read(_environ(token)) == info
    guard.clock = lambda: datetime(2030, 1, 1, tzinfo=UTC)
    assert read(_environ(token)) is False
    guard.clock = utcnow
    cache = guard.cache
    guard.cache = VerificationCache()
    assert read(_environ(token)) is False
    guard.cache = cache
    recorder = RemoteRecorder()
    guard.plugins.register(recorder)
    assert read(_environ(token)) is False
    guard.plugins.unregister(recorder)
    assert read(_environ(token)) == info
    assert _environ_reader(guard, hooks=[None])(_environ(token)) is False


def test_the_environ_reader_refuses_bad_arguments(warm: tuple[TokenGuard, str]) -> None:
    guard, token = warm
    good: dict[str, Any] = {"index": guard.cache.warm_index, "authorization_key": "HTTP_AUTHORIZATION",
                            "token_keys": ("HTTP_API_TOKEN",), "prefix": "tg", "guard": guard,
                            "clock": utcnow, "cache": guard.cache, "hooks": []}
    assert _speedups.EnvironReader(**good).read(_environ(token)) is not False
    refused: list[tuple[str, object, type[Exception]]] = [
        ("index", object(), TypeError), ("authorization_key", b"HTTP_AUTHORIZATION", TypeError),
        ("token_keys", ["HTTP_API_TOKEN"], TypeError), ("token_keys", (b"HTTP_API_TOKEN",), TypeError),
        ("prefix", "", ValueError),
    ]
    for name, bad, error in refused:
        with pytest.raises(error):
            _speedups.EnvironReader(**{**good, name: bad})
    with pytest.raises(RuntimeError, match="not initialised"):
        _speedups.EnvironReader.__new__(_speedups.EnvironReader).read({})


def test_environ_reads_leak_neither_memory_nor_references(warm: tuple[TokenGuard, str]) -> None:
    guard, token = warm
    info = guard.authenticate(token)
    read = _environ_reader(guard)
    environs = [_environ(token), _environ(token, HTTP_AUTHORIZATION=_ABSENT),
                _environ(token, HTTP_API_TOKEN="x"), _environ("tg_" + "0" * 38)]
    def run() -> None:
        for environ in environs:
            read(environ)

    assert_steady(run, (info, guard))
