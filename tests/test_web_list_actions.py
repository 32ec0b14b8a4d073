"""Actions from a sorted, filtered or paged token table come back to that same view.

Revoke, re-approve, rotate and delete forms carry the table's query in a hidden
``list_query`` field; the page reads it as the table's own GET parameters are read
(``listing.ListQuery``), so only ``sort``, ``status``, ``q`` and ``page`` pass, always
below the settings page: never an open redirect. Through Flask's test client and
Starlette's TestClient, as a browser sends the forms it was shown.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol
from urllib.parse import quote_plus

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from _flask_support import ORIGIN, PAGE, Browser, make_app, make_guard
from _testclock import ManualClock
from tokenguard import TokenGuard
from tokenguard_asgi import TokenGuardMiddleware

_ROW = re.compile(r'<tr id="token-([^"]+)"')
_FORM = re.compile(r'<form method="post" action="([^"]*)"[^>]*>(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
#: page 2 of alice's active tokens whose name has "job" in it, by name, Z to A.
VIEW = {"sort": "-name", "status": "active", "q": "job", "page": "2"}
VIEW_QUERY = "sort=-name&status=active&q=job&page=2"


@dataclass
class Answer:
    status: int
    location: str
    text: str


class Client(Protocol):
    def get(self, path: str, params: dict[str, str] | None = None) -> Answer: ...

    def post(self, path: str, fields: list[tuple[str, str]]) -> Answer: ...


class FlaskClient:
    def __init__(self, guard: TokenGuard) -> None:
        self.browser = Browser(make_app(guard), "alice")

    def get(self, path: str, params: dict[str, str] | None = None) -> Answer:
        client = self.browser.client
        response = client.get(path, query_string=params) if params else client.get(path)
        return Answer(response.status_code, response.headers.get("Location", ""),
                      response.get_data(as_text=True))

    def post(self, path: str, fields: list[tuple[str, str]]) -> Answer:
        body = "&".join(f"{key}={value}" for key, value in _encoded(fields))
        response = self.browser.client.post(path, data=body, headers={
            "Origin": ORIGIN, "Content-Type": "application/x-www-form-urlencoded"})
        return Answer(response.status_code, response.headers.get("Location", ""),
                      response.get_data(as_text=True))


class StarletteClient:
    def __init__(self, client: TestClient) -> None:
        self.client = client

    def get(self, path: str, params: dict[str, str] | None = None) -> Answer:
        response = self.client.get(path, params=params, follow_redirects=False)
        return Answer(response.status_code, response.headers.get("location", ""), response.text)

    def post(self, path: str, fields: list[tuple[str, str]]) -> Answer:
        body = "&".join(f"{key}={value}" for key, value in _encoded(fields))
        response = self.client.post(path, content=body, follow_redirects=False, headers={
            "Origin": "http://testserver", "Content-Type": "application/x-www-form-urlencoded"})
        return Answer(response.status_code, response.headers.get("location", ""), response.text)


def _encoded(fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(quote_plus(key), quote_plus(value)) for key, value in fields]


@pytest.fixture
def guard() -> TokenGuard:
    """60 active tokens of alice ("job 00" to "job 59", a minute apart), 5 revoked ("old 0" to "old 4")."""
    clock = ManualClock()
    made = make_guard(max_tokens_per_owner=None, clock=clock)
    for number in range(60):
        made.create_token("alice", f"job {number:02d}", expires_in=timedelta(days=90))
        clock.advance(minutes=1)
    for number in range(5):
        made.revoke(made.create_token("alice", f"old job {number}").info.id)
    return made


@pytest.fixture(params=["flask", "starlette"])
def client(request: pytest.FixtureRequest, guard: TokenGuard) -> Iterator[Client]:
    if request.param == "flask":
        yield FlaskClient(guard)
        return
    app = Starlette(middleware=[Middleware(TokenGuardMiddleware, guard=guard,
                                           owner_loader=lambda request: "alice")])
    with TestClient(app) as test_client:
        yield StarletteClient(test_client)


def rows(page: str) -> list[str]:
    return _ROW.findall(page)


def form_of(page: str, action: str) -> tuple[str, list[tuple[str, str]]]:
    """The first form posting to a path ending in ``/{action}``, and its hidden fields, as shown."""
    for target, inner in _FORM.findall(page):
        if target.endswith("/" + action):
            hidden = [(name, html.unescape(value)) for name, value in _HIDDEN.findall(inner)]
            return html.unescape(target), hidden
    raise AssertionError(f"no {action} form on the page")


def names_of(guard: TokenGuard, ids: list[str]) -> list[str]:
    return [guard.get_token(token_id).name for token_id in ids]


def test_the_table_shown_is_the_view_asked_for(client: Client, guard: TokenGuard) -> None:
    shown = client.get(PAGE, VIEW)
    assert names_of(guard, rows(shown.text)) == [f"job {n:02d}" for n in range(9, -1, -1)]
    _target, fields = form_of(shown.text, "revoke")
    assert ("list_query", VIEW_QUERY) in fields


def test_revoke_comes_back_to_the_same_view(client: Client, guard: TokenGuard) -> None:
    target, fields = form_of(client.get(PAGE, VIEW).text, "revoke")
    done = client.post(target, fields)
    assert (done.status, done.location) == (303, f"{PAGE}?{VIEW_QUERY}")
    assert guard.get_token(target.split("/")[-2]).status == "revoked"
    back = client.get(done.location)
    assert "Revoked “job 09”." in back.text
    assert names_of(guard, rows(back.text)) == [f"job {n:02d}" for n in range(8, -1, -1)]


def test_reapprove_comes_back_to_the_revoked_view(client: Client, guard: TokenGuard) -> None:
    view = {"status": "revoked", "sort": "name"}
    target, fields = form_of(client.get(PAGE, view).text, "reapprove")
    done = client.post(target, fields)
    assert (done.status, done.location) == (303, f"{PAGE}?sort=name&status=revoked")
    assert names_of(guard, rows(client.get(done.location).text)) == [f"old job {n}" for n in range(1, 5)]


def test_rotate_shows_the_secret_above_the_same_view(client: Client, guard: TokenGuard) -> None:
    target, fields = form_of(client.get(PAGE, VIEW).text, "rotate")
    done = client.post(target, fields)
    assert done.status == 200 and "Token rotated: “job 09”" in done.text
    assert names_of(guard, rows(done.text)) == [f"job {n:02d}" for n in range(9, -1, -1)]
    assert f'data-replace-url="{html.escape(f"{PAGE}?{VIEW_QUERY}")}"' in done.text
    again = client.post(target, fields)  # the form sent again: already rotated, back to the view
    assert (again.status, again.location) == (303, f"{PAGE}?{VIEW_QUERY}")


def test_delete_confirmed_at_once_comes_back_to_the_same_view(client: Client, guard: TokenGuard) -> None:
    target, fields = form_of(client.get(PAGE, VIEW).text, "delete")
    done = client.post(target, [*fields, ("confirm", "yes")])  # as the page's script sends it
    assert (done.status, done.location) == (303, f"{PAGE}?{VIEW_QUERY}")
    assert len(guard.list_tokens("alice")) == 64


def test_delete_through_the_confirmation_page_keeps_the_view(client: Client, guard: TokenGuard) -> None:
    target, fields = form_of(client.get(PAGE, VIEW).text, "delete")
    confirm = client.post(target, fields)  # without the script: the confirmation page
    assert confirm.status == 200 and f'href="{html.escape(f"{PAGE}?{VIEW_QUERY}")}"' in confirm.text
    target, fields = form_of(confirm.text, "delete")
    assert ("list_query", VIEW_QUERY) in fields and ("confirm", "yes") in fields
    done = client.post(target, fields)
    assert (done.status, done.location) == (303, f"{PAGE}?{VIEW_QUERY}")
    assert len(guard.list_tokens("alice")) == 64


def test_the_plain_list_sends_no_list_query_and_comes_back_plain(client: Client) -> None:
    target, fields = form_of(client.get(PAGE).text, "revoke")
    assert [name for name, _value in fields if name == "list_query"] == []
    assert client.post(target, fields).location == PAGE


@pytest.mark.parametrize(("sent", "location"), [
    ("sort=name&next=https://evil.example/&page=2", f"{PAGE}?sort=name&page=2"),
    ("//evil.example/", PAGE),
    ("https://evil.example/?sort=name", PAGE),
    ("sort=drop&status=everything&page=-1&q=", PAGE),
    ("q=a%0d%0aSet-Cookie:+x%3D1", f"{PAGE}?q=a+Set-Cookie%3A+x%3D1"),
    ("page=99999999999", PAGE),
])
def test_only_the_tables_own_parameters_pass(client: Client, guard: TokenGuard, sent: str,
                                             location: str) -> None:
    target, fields = form_of(client.get(PAGE).text, "revoke")
    done = client.post(target, [*fields, ("list_query", sent)])
    assert (done.status, done.location) == (303, location)


def test_a_list_query_sent_twice_is_the_plain_list(client: Client) -> None:
    target, fields = form_of(client.get(PAGE, VIEW).text, "revoke")
    done = client.post(target, [*fields, ("list_query", "sort=name")])
    assert (done.status, done.location) == (303, PAGE)


def test_actions_from_the_details_page_still_go_back_to_it(client: Client, guard: TokenGuard) -> None:
    token_id = rows(client.get(PAGE, {"status": "active"}).text)[0]
    target, fields = form_of(client.get(f"{PAGE}/{token_id}").text, "revoke")
    done = client.post(target, [*fields, ("list_query", "sort=name")])
    assert (done.status, done.location) == (303, f"{PAGE}/{token_id}")
