"""What an app's ``owner_loader`` returns, read by one rule on every adapter (Round 2).

``None``, ``""`` and ``False`` are nobody; a ``str`` or an ``int`` (not a
``bool``) is an owner, an int as its decimal string; anything else is a
``TypeError`` naming the callback. The idiom
``current_user.is_authenticated and current_user.id`` makes an anonymous
visitor nobody.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.testclient import TestClient

from tokenguard import TokenGuard
from tokenguard.web.http import signed_in_owner
from tokenguard_asgi import TokenGuardMiddleware
from tokenguard_flask import FlaskTokenGuard

API = "/api/tokens"
PAGE = "/settings/tokens"


@pytest.fixture
def guard() -> Iterator[TokenGuard]:
    built = TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False,
                       max_tokens_per_owner=None)
    yield built
    built.close()


@pytest.mark.parametrize("nobody", [None, "", False])
def test_none_empty_and_false_are_nobody(nobody: object) -> None:
    assert signed_in_owner(nobody) is None


@pytest.mark.parametrize(("value", "owner"), [("alice", "alice"), (42, "42"), (0, "0")])
def test_a_str_or_an_int_is_an_owner(value: object, owner: str) -> None:
    assert signed_in_owner(value) == owner


def app_owner_loader() -> object:
    return {"id": 7}


@pytest.mark.parametrize("value", [True, 3.5, b"alice", {"id": 7}, ["alice"], object()])
def test_anything_else_is_a_type_error_naming_the_callback(value: object) -> None:
    with pytest.raises(TypeError, match=r"owner_loader app_owner_loader returned an? \w+"):
        signed_in_owner(value, app_owner_loader)


class Adapter:
    """One app per adapter with the loader given (called with no argument, or the request); ``get``
    answers status and body."""

    def __init__(self, kind: str, guard: TokenGuard, loader: Callable[..., Any]) -> None:
        self.kind = kind
        if kind == "flask":
            app = Flask("owners")
            app.testing = True  # an app's mistake reaches the test as its exception
            FlaskTokenGuard(app, guard, owner_loader=loader)
            self.flask = app.test_client()
        else:
            asgi = Starlette(middleware=[Middleware(TokenGuardMiddleware, guard=guard, owner_loader=loader)])
            self.asgi = TestClient(asgi)

    def get(self, path: str) -> tuple[int, Any]:
        if self.kind == "flask":
            answer = self.flask.get(path)
            return answer.status_code, answer.get_json(silent=True)
        response = self.asgi.get(path)
        is_json = response.headers.get("content-type", "").startswith("application/json")
        return response.status_code, response.json() if is_json else None


ADAPTERS = ["flask", "asgi"]


@pytest.mark.parametrize("kind", ADAPTERS)
@pytest.mark.parametrize("nobody", [None, "", False])
def test_nobody_signed_in_gets_401_on_every_adapter(guard: TokenGuard, kind: str, nobody: object) -> None:
    guard.create_token("False", "not to be listed")  # an owner named as the str of False once was
    adapter = Adapter(kind, guard, lambda *_: nobody)
    assert adapter.get(API)[0] == 401
    assert adapter.get(PAGE)[0] == 401


@pytest.mark.parametrize("kind", ADAPTERS)
def test_a_numeric_user_id_is_its_decimal_string(guard: TokenGuard, kind: str) -> None:
    guard.create_token("7", "ci")
    status, body = Adapter(kind, guard, lambda *_: 7).get(API)
    assert status == 200 and [t["owner"] for t in body["tokens"]] == ["7"]


@pytest.mark.parametrize("kind", ADAPTERS)
def test_true_is_no_owner_but_the_apps_mistake(guard: TokenGuard, kind: str) -> None:
    def loader(*_: object) -> object:
        return True

    with pytest.raises(TypeError, match=r"owner_loader .*loader returned a bool"):
        Adapter(kind, guard, loader).get(API)


@pytest.mark.parametrize("kind", ADAPTERS)
def test_the_flask_login_idiom_makes_anonymous_visitors_nobody(guard: TokenGuard, kind: str) -> None:
    """``current_user.is_authenticated and current_user.id``: ``False`` for an anonymous visitor."""

    class Anonymous:
        is_authenticated = False
        id = None

    class Carol:
        is_authenticated = True
        id = 12

    visitor: list[Any] = [Anonymous()]

    def loader(*_: object) -> object:
        return visitor[0].is_authenticated and visitor[0].id

    guard.create_token("12", "carol's")
    adapter = Adapter(kind, guard, loader)
    assert adapter.get(API)[0] == 401
    visitor[0] = Carol()
    status, body = adapter.get(API)
    assert status == 200 and [t["owner"] for t in body["tokens"]] == ["12"]


def test_flask_login_without_a_loader_uses_the_same_rule(guard: TokenGuard) -> None:
    from flask_login import LoginManager, UserMixin, login_user

    class User(UserMixin):
        def __init__(self, user_id: int) -> None:
            self.id = user_id

    app = Flask("login")
    app.secret_key = "k"
    LoginManager(app).user_loader(lambda user_id: User(int(user_id)))
    FlaskTokenGuard(app, guard)

    @app.post("/login")
    def login() -> str:
        login_user(User(5))
        return ""

    client = app.test_client()
    assert client.get(API).status_code == 401
    client.post("/login")
    listed = client.get(API).json
    assert (listed["tokens"], listed["max_tokens"]) == ([], None)


def test_an_async_asgi_loader_follows_the_same_rule(guard: TokenGuard) -> None:
    answers: list[object] = [False, 9, 1.5]

    async def loader(request: Request) -> object:
        return answers.pop(0)

    app = Starlette(middleware=[Middleware(TokenGuardMiddleware, guard=guard, owner_loader=loader)])
    with TestClient(app) as client:
        assert client.get(API).status_code == 401
        assert client.get(API).status_code == 200
        with pytest.raises(TypeError, match=r"owner_loader .*loader returned a float"):
            client.get(API)
