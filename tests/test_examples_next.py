"""Every example's sign-in ``next``: a same-site path is kept, anything else becomes ``/``.

Through each framework's test client and through a real server (werkzeug for Flask,
uvicorn for Starlette and FastAPI) driven with httpx, because a test client can hide
what a header injection would do on the wire.
"""

from __future__ import annotations

import functools
import html
import importlib.util
import re
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlencode

import httpx
import pytest
from flask.testing import FlaskClient
from starlette.testclient import TestClient

from _flask_support import LiveServer
from _live import serve_asgi
from tokenguard import TokenGuard

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FRAMEWORKS = ("flask", "starlette", "fastapi")
FORM = "application/x-www-form-urlencoded"
GOOD = "/notes/alpha?x=1"
HOSTILE = [
    "//evil.example",
    "/%09/evil.example",
    "/\t/evil.example",
    "/\\evil.example",
    "https://evil.example",
    "/%2F%2Fevil.example",
    "/%2f%2fevil.example",
    "\r\nSet-Cookie: x=1",
    "/\r\nSet-Cookie: x=1",
    "%0d%0aSet-Cookie:%20x=1",
    "/%0d%0aSet-Cookie:%20x=1",
    "/%0D%0ASet-Cookie:%20x=1",
    "javascript:alert(1)",
    "",
]
# how the value reaches /login: form-encoded as a browser would, or written into the body as it
# is (so the server decodes "%09" to a tab, "%0d%0a" to CR LF), or read back from the sign-in page
SENT_AS = ("form", "raw body", "page")
_HIDDEN_NEXT = re.compile(r'name="next" value="([^"]*)"')
Answer = tuple[int, list[tuple[str, str]], str]


@functools.cache
def example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_next_{name}", EXAMPLES / f"{name}_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the FastAPI example's annotations through it
    spec.loader.exec_module(module)
    return module


def make_app(name: str, guard: TokenGuard) -> Any:
    if name == "flask":
        return example(name).create_app({"TOKENGUARD_DATABASE_URL": "memory://",
                                         "TOKENGUARD_SECRET_KEY": secrets.token_urlsafe(40)})
    return example(name).create_app(guard)


@pytest.fixture(params=FRAMEWORKS)
def client(request: pytest.FixtureRequest, tokenguard_guard: TokenGuard) -> Iterator[Any]:
    app = make_app(request.param, tokenguard_guard)
    if request.param == "flask":
        yield app.test_client()
        return
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as asgi:
        yield asgi


@pytest.fixture(scope="module", params=FRAMEWORKS)
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    """The example on a real server, one per framework for the module: its base URL."""
    guard = TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False)
    app = make_app(request.param, guard)
    try:
        if request.param == "flask":
            with LiveServer(app) as live:
                yield live.url
        else:
            with serve_asgi(app) as url:
                yield url
    finally:
        guard.close()


@pytest.fixture(scope="module")
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=10) as client:
        yield client


@pytest.fixture
def live(http: httpx.Client) -> httpx.Client:
    """An httpx client of the real server that does not follow redirects, no cookie kept."""
    http.cookies.clear()
    return http


def answer(client: Any, method: str, path: str, body: bytes = b"") -> Answer:
    if isinstance(client, FlaskClient):
        flask = client.open(path, method=method, data=body, content_type=FORM)
        return flask.status_code, list(flask.headers.items()), flask.get_data(as_text=True)
    response = client.request(method, path, content=body, headers={"Content-Type": FORM},
                              follow_redirects=False)
    return response.status_code, response.headers.multi_items(), response.text


def sign_in(client: Any, value: str, sent_as: str) -> Answer:
    if sent_as == "form":
        body = urlencode({"user": "alice", "next": value}).encode()
    elif sent_as == "raw body":
        body = b"user=alice&next=" + value.encode()
    else:
        status, _, page = answer(client, "GET", "/?" + urlencode({"next": value}))
        assert status == 200
        match = _HIDDEN_NEXT.search(page)
        assert match is not None, page
        offered = html.unescape(match.group(1))
        assert offered == (GOOD if value == GOOD else "/")
        body = urlencode({"user": "alice", "next": offered}).encode()
    return answer(client, "POST", "/login", body)


def assert_redirects_to(got: Answer, expected: str) -> None:
    status, headers, _ = got
    assert status == 303
    for name, value in headers:
        assert not {"\r", "\n"} & set(name + value), (name, value)
        assert not (name.lower() == "set-cookie" and value.startswith("x=")), value
    location = [value for name, value in headers if name.lower() == "location"]
    assert len(location) == 1
    assert location[0].startswith("/") and not location[0].startswith(("//", "/\\"))
    assert location[0] == expected


@pytest.mark.parametrize("sent_as", SENT_AS)
@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_next_goes_home(client: Any, value: str, sent_as: str) -> None:
    assert_redirects_to(sign_in(client, value, sent_as), "/")


@pytest.mark.parametrize("sent_as", SENT_AS)
def test_a_same_site_next_is_kept(client: Any, sent_as: str) -> None:
    assert_redirects_to(sign_in(client, GOOD, sent_as), GOOD)


@pytest.mark.parametrize("sent_as", SENT_AS)
@pytest.mark.parametrize("value", [*HOSTILE, GOOD])
def test_on_a_real_server(live: httpx.Client, value: str, sent_as: str) -> None:
    assert_redirects_to(sign_in(live, value, sent_as), GOOD if value == GOOD else "/")


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_safe_next_itself(name: str) -> None:
    safe_next = example(name).safe_next
    for value in HOSTILE:
        assert safe_next(value) == "/", value
        assert safe_next(unquote(value)) == "/", value
    assert safe_next(None) == "/"
    assert safe_next(GOOD) == GOOD
    assert safe_next("/settings/tokens") == "/settings/tokens"
