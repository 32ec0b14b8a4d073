"""The owner's token table with many tokens, through Flask's test client and Starlette's TestClient.

Sort by column, filter by status, search by name, pages of 50 (GET parameters, links
that keep the others), parameters not understood fall back to the defaults, and the
"expires soon" mark on exactly the active tokens that expire within 7 days.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from _flask_support import PAGE, Browser, make_app, make_guard
from _testclock import ManualClock
from tokenguard import TokenGuard
from tokenguard.models import TokenInfo
from tokenguard_asgi import TokenGuardMiddleware

DASH = "\N{EN DASH}"
KINDS = ("Deploy", "backup", "REPORT")
LEVELS = ("read", "write", "management")
_ROW = re.compile(r'<tr id="token-([^"]+)" class="([^"]*)"')
_NAME = re.compile(r'class="token-name"[^>]*>([^<]*)<')


@dataclass
class Fixture:
    guard: TokenGuard
    clock: ManualClock
    ids: list[str]  # alice's tokens, in the order they were made


@pytest.fixture
def made() -> Fixture:
    """63 tokens of alice made a minute apart (some revoked, some expired, some used), 2 of bob."""
    clock = ManualClock()
    guard = make_guard(max_tokens_per_owner=None, clock=clock)
    ids: list[str] = []
    for number in range(63):
        # tokens 60-62 expire in 1, 7 and 8 days; 3 and 4 have expired; the rest live 90 days
        days = {3: 1, 4: 1, 60: 1, 61: 7, 62: 8}.get(number, 90)
        issued = guard.create_token("alice", f"{KINDS[number % 3]} job {number:02d}",
                                    scopes=[LEVELS[number % 3]], expires_in=timedelta(days=days))
        ids.append(issued.info.id)
        if number == 10:
            used_later = issued.token
        if number == 20:
            guard.authenticate(issued.token)  # used at minute 20
        clock.advance(minutes=1)
    guard.authenticate(used_later)  # used last, at minute 63
    for number in (0, 5, 61):
        guard.revoke(ids[number])
    for number in range(2):
        guard.create_token("bob", f"Deploy job of bob {number}", expires_in=timedelta(days=2))
    clock.advance(days=1, minutes=-1)  # 3, 4 and 60 have expired; 62 has 7 days left, to the second
    return Fixture(guard, clock, ids)


Get = Callable[[dict[str, str]], str]


def flask_get(guard: TokenGuard) -> Iterator[Get]:
    alice = Browser(make_app(guard), "alice")

    def get(params: dict[str, str]) -> str:
        response = alice.client.get(PAGE, query_string=params)
        assert response.status_code == 200, response.data
        return response.get_data(as_text=True)

    yield get


def starlette_get(guard: TokenGuard) -> Iterator[Get]:
    app = Starlette(middleware=[Middleware(TokenGuardMiddleware, guard=guard,
                                           owner_loader=lambda request: "alice")])
    with TestClient(app) as client:
        def get(params: dict[str, str]) -> str:
            response = client.get(PAGE, params=params)
            assert response.status_code == 200, response.text
            return response.text

        yield get


@pytest.fixture(params=[flask_get, starlette_get], ids=["flask", "starlette"])
def get(request: pytest.FixtureRequest, made: Fixture) -> Iterator[Get]:
    yield from request.param(made.guard)


def rows(page: str) -> list[str]:
    return [token_id for token_id, _class in _ROW.findall(page)]


def names(page: str) -> list[str]:
    return [html.unescape(name) for name in _NAME.findall(page)]


def tokens(made: Fixture) -> list[TokenInfo]:
    return made.guard.list_tokens("alice")


def href(page: str, rel: str) -> str:
    found = re.search(rf'rel="{rel}" href="([^"]*)"', page)
    assert found is not None, f"no {rel} link"
    return html.unescape(found.group(1))


def test_the_default_is_newest_first_in_pages_of_50(get: Get, made: Fixture) -> None:
    first = get({})
    newest_first = made.ids[::-1]
    assert rows(first) == newest_first[:50]
    assert f"1{DASH}50 of 63" in first and "Page 1 of 2" in first
    assert href(first, "next") == f"{PAGE}?page=2" and 'rel="prev"' not in first
    second = get({"page": "2"})
    assert rows(second) == newest_first[50:]
    assert f"51{DASH}63 of 63" in second and href(second, "prev") == PAGE
    assert "of bob" not in first + second


@pytest.mark.parametrize("column", ["name", "permission", "created", "expires", "last_used"])
def test_each_column_sorts_both_ways(get: Get, made: Fixture, column: str) -> None:
    by_id = sorted(tokens(made), key=lambda t: t.id)
    value: dict[str, Callable[[TokenInfo], Any]] = {
        "name": lambda t: t.name.casefold(),
        "permission": lambda t: LEVELS.index(made.guard.scopes.level(t.scopes)),
        "created": lambda t: t.created_at, "expires": lambda t: t.expires_at,
        "last_used": lambda t: t.last_used_at}
    key = value[column]
    present = [t for t in by_id if key(t) is not None]
    absent = [t.id for t in by_id if key(t) is None]  # never used: last, either way
    ascending = [t.id for t in sorted(present, key=key)] + absent
    descending = [t.id for t in sorted(present, key=key, reverse=True)] + absent
    up = get({"sort": column})
    assert rows(up) + rows(get({"sort": column, "page": "2"})) == ascending
    down = get({"sort": f"-{column}"})
    assert rows(down) + rows(get({"sort": f"-{column}", "page": "2"})) == descending
    back = PAGE if column == "created" else f"{PAGE}?sort=-{column}"  # -created: the default, unsaid
    assert f'aria-sort="ascending"><a class="sort-link" href="{back}"' in up
    assert f'aria-sort="descending"><a class="sort-link" href="{PAGE}?sort={column}"' in down
    assert href(up, "next") == f"{PAGE}?sort={column}&page=2"


def test_sorting_by_name_ignores_case_and_by_last_use_puts_the_latest_first(get: Get, made: Fixture) -> None:
    assert names(get({"sort": "name"}))[:3] == ["backup job 01", "backup job 04", "backup job 07"]
    assert rows(get({"sort": "-last_used"}))[:2] == [made.ids[10], made.ids[20]]


@pytest.mark.parametrize(("status", "count"), [("active", 57), ("revoked", 3), ("expired", 3)])
def test_the_status_filter(get: Get, made: Fixture, status: str, count: int) -> None:
    now = made.clock()
    expected = [t.id for t in sorted(tokens(made), key=lambda t: t.created_at, reverse=True)
                if t.status_at(now) == status]
    page = get({"status": status})
    assert rows(page) + rows(get({"status": status, "page": "2"})) * (count > 50) == expected
    assert len(expected) == count
    assert f'<option value="{status}" selected>' in page and f"of {count}</p>" in page


def test_the_search_is_a_case_insensitive_part_of_the_name(get: Get, made: Fixture) -> None:
    page = get({"q": "  dePLOY  "})
    found = names(page)
    assert len(found) == 21 and all(name.startswith("Deploy job") for name in found)
    assert f"1{DASH}21 of 21" in page and 'value="dePLOY"' in page
    assert names(get({"q": "job 4"})) == [f"{KINDS[n % 3]} job {n}" for n in range(49, 39, -1)]
    assert names(get({"q": "REPORT", "status": "revoked"})) == ["REPORT job 05"]
    nothing = get({"q": "no such name"})
    assert rows(nothing) == [] and "No token matches." in nothing
    assert "You have no API tokens yet." not in nothing


def test_links_keep_the_other_parameters(get: Get, made: Fixture) -> None:
    page = get({"q": "o", "status": "active", "sort": "name"})
    assert href(page, "next") == f"{PAGE}?sort=name&status=active&q=o&page=2"
    second = get({"q": "o", "status": "active", "sort": "name", "page": "2"})
    assert href(second, "prev") == f"{PAGE}?sort=name&status=active&q=o"
    assert f'href="{PAGE}?sort=-name&amp;status=active&amp;q=o"' in second  # the name column: the other way
    # the search form carries the sort; a new search starts at page 1
    assert '<input type="hidden" name="sort" value="name">' in second
    assert 'name="page"' not in second


@pytest.mark.parametrize("params", [
    {"sort": "hint"}, {"sort": "--name"}, {"status": "gone"}, {"status": ""}, {"page": "x"},
    {"page": "0"}, {"page": "-1"}, {"page": "1e3"}, {"page": "٣"}, {"page": "9" * 40},
    {"page": "9" * 5000}, {"page": "0" * 5000 + "2"},
    {"sort": "name\x00"}, {"q": ""}, {"status": "ACTIVE"},
])
def test_parameters_not_understood_are_the_defaults(get: Get, made: Fixture, params: dict[str, str]) -> None:
    assert rows(get(params)) == made.ids[::-1][:50]


def test_a_page_past_the_last_is_the_last(get: Get, made: Fixture) -> None:
    assert rows(get({"page": "7"})) == made.ids[::-1][50:]
    assert rows(get({"page": "7", "q": "REPORT"})) == rows(get({"q": "REPORT"}))


def test_a_long_search_is_cut_and_still_answers(get: Get) -> None:
    page = get({"q": "job " + "x" * 5000})
    assert rows(page) == [] and 'value="job ' + "x" * 96 + '"' in page


def test_expires_soon_marks_exactly_the_active_tokens_expiring_within_7_days(get: Get, made: Fixture) -> None:
    marked: dict[str, str] = {}
    for number in ("1", "2"):
        for token_id, classes in _ROW.findall(get({"page": number})):
            marked[token_id] = classes
    soon = {token_id for token_id, classes in marked.items() if "expires-soon" in classes.split()}
    # 60 has expired, 61 is revoked, 62 (7 days left, to the minute) is marked; 90-day tokens are not
    assert soon == {made.ids[62]}
    page = get({"sort": "expires", "status": "active"})
    assert f'href="{PAGE}/{made.ids[62]}#regenerate"' in page
    assert page.count("expires soon") == 1 and page.count("#regenerate") == 1
    made.clock.advance(minutes=1)  # now 62 has less than 7 days left: still marked ...
    assert rows(get({"q": "job 62"})) == [made.ids[62]] and "expires-soon" in get({"q": "job 62"})
    made.clock.advance(days=7)  # ... and once it has expired, it is not
    assert "expires-soon" not in get({"q": "job 62"})


def test_a_token_8_days_from_expiry_is_not_marked_until_it_is_7(get: Get, made: Fixture) -> None:
    made.clock.advance(minutes=-1)  # 62 now has 7 days and a minute left
    assert "expires-soon" not in get({"q": "job 62"})
    made.clock.advance(minutes=1)
    assert "expires-soon" in get({"q": "job 62"})


def test_an_owner_with_no_tokens_sees_no_table_tools() -> None:
    bare = make_guard(max_tokens_per_owner=None)
    page = next(flask_get(bare))({"q": "x", "status": "revoked"})
    assert "You have no API tokens yet." in page and 'id="list-search"' not in page


@pytest.mark.parametrize(("language", "words"), [
    ("de", ["Nach Name suchen", f"1{DASH}50 von 63", "läuft bald ab", "Neu ausstellen", "Weiter"]),
    ("fr", ["Rechercher par nom", f"1{DASH}50 sur 63", "expire bientôt", "Régénérer", "Suivant"]),
    ("nl", ["Zoeken op naam", f"1{DASH}50 van 63", "verloopt binnenkort", "Opnieuw aanmaken", "Volgende"]),
])
def test_the_table_speaks_the_visitors_language(made: Fixture, language: str, words: list[str]) -> None:
    alice = Browser(make_app(made.guard), "alice")
    page = alice.client.get(PAGE, query_string={"sort": "expires"},
                            headers={"Accept-Language": language}).get_data(as_text=True)
    assert [word for word in words if word not in page] == []
    assert "expires soon" not in page and "Search by name" not in page
