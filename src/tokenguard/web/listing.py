"""Lists of tokens in pages: the owner's table on the settings page, and what the admin inventory shares.

The settings page's query parameters (all optional; a value that is not understood
is the default, never an error): ``sort`` (``name``, ``permission``, ``created``,
``expires``, ``last_used``; a leading ``-`` for descending; default ``-created``),
``status`` (``active``, ``revoked``, ``expired`` or ``all``, the default), ``q``
(a case-insensitive part of the name) and ``page`` (pages of ``PAGE_SIZE``; past
the last one, the last one).

The action forms (revoke, re-approve, rotate, delete) carry the table's query in the
hidden field ``LIST_QUERY_FIELD``, so that they come back to the same view; it is read
as ``ListQuery.from_text`` reads it, so only these parameters pass, below the page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, urlencode

from tokenguard.models import TokenInfo
from tokenguard.scopes import ScopeHierarchy

PAGE_SIZE = 50
#: an active token that expires this soon is highlighted, with a link to regenerate it.
EXPIRES_SOON = timedelta(days=7)
#: the owner's table's sortable columns (``_sort_value``: by what).
SORT_COLUMNS = ("name", "permission", "created", "expires", "last_used")
DEFAULT_SORT = "-created"
STATUS_FILTERS = ("all", "active", "revoked", "expired")
MAX_SEARCH = 100
MAX_PAGE = 1_000_000
#: the action forms' hidden field holding the table's query string (``ListQuery.text``).
LIST_QUERY_FIELD = "list_query"
#: longer than any query ``ListQuery.text`` writes (a search of MAX_SEARCH 4-byte characters).
MAX_LIST_QUERY = 2048

Item = TypeVar("Item")


# -- shared by the owner's table and the admin inventory ---------------------------------------


def sort_by(tokens: Sequence[TokenInfo], value: Callable[[TokenInfo], Any],
            descending: bool) -> list[TokenInfo]:
    """By ``value`` (text compared case-insensitively), then by id; ``None`` comes last either way."""
    present: list[tuple[Any, TokenInfo]] = []
    absent: list[TokenInfo] = []
    for info in tokens:
        found = value(info)
        if found is None:
            absent.append(info)
        else:
            present.append((found.casefold() if isinstance(found, str) else found, info))
    present.sort(key=lambda pair: pair[1].id)
    present.sort(key=lambda pair: pair[0], reverse=descending)  # stable: ids stay in order
    return [info for _value, info in present] + sorted(absent, key=lambda t: t.id)


def sort_tokens(tokens: Sequence[TokenInfo], sort: str) -> list[TokenInfo]:
    """By the ``TokenInfo`` attribute ``sort`` names (``-``: descending), as ``sort_by`` orders."""
    key = sort.removeprefix("-")
    return sort_by(tokens, lambda info: getattr(info, key), sort.startswith("-"))


def toggled(current: str, column: str) -> str:
    """The sort a column's header asks for: the other way when sorted by it ascending, else ascending."""
    return "-" + column if current == column else column


def whole_number(text: str, least: int, most: int) -> int | None:
    """``text`` as a whole number from ``least`` to ``most`` (ASCII digits only), else ``None``."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(most)):  # int() of 5,000 digits raises
        return None
    number = int(text)
    return number if least <= number <= most else None


def link(base: str, params: Mapping[str, str]) -> str:
    """``base`` with ``params`` as its query string (none: ``base`` alone)."""
    return f"{base}?{urlencode(params)}" if params else base


@dataclass(frozen=True, slots=True)
class Page(Generic[Item]):
    """One page of a list: its items, and where it stands in the whole."""

    items: list[Item]
    total: int
    page: int
    pages: int

    @property
    def first(self) -> int:
        """The position (from 1) of the page's first item; 0 on an empty page."""
        return (self.page - 1) * PAGE_SIZE + 1 if self.items else 0

    @property
    def last(self) -> int:
        """The position of the page's last item; 0 on an empty page."""
        return self.first + len(self.items) - 1 if self.items else 0


def pages_for(total: int) -> int:
    """How many pages of ``PAGE_SIZE`` hold ``total`` items (at least one, empty)."""
    return max(1, math.ceil(total / PAGE_SIZE))


def page_of(items: Sequence[Item], page: int) -> Page[Item]:
    """Page ``page`` (from 1) of ``items``; past the last one it is empty."""
    start = (page - 1) * PAGE_SIZE
    return Page(list(items[start:start + PAGE_SIZE]), len(items), page, pages_for(len(items)))


# -- the owner's table on the settings page ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The sort, status filter, search and page the owner's table was asked for."""

    sort: str = DEFAULT_SORT
    status: str = "all"
    search: str = ""
    page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> ListQuery:
        """From query parameters; anything not understood is the default."""
        sort = params.get("sort", "").strip()
        status = params.get("status", "").strip()
        page = params.get("page", "").strip()
        return cls(
            sort=sort if sort.removeprefix("-") in SORT_COLUMNS else DEFAULT_SORT,
            status=status if status in STATUS_FILTERS else "all",
            search=" ".join(params.get("q", "").split())[:MAX_SEARCH],
            page=whole_number(page, 1, MAX_PAGE) or 1,
        )

    @classmethod
    def from_text(cls, text: str) -> ListQuery:
        """From a query string (``sort=name&page=2``), as ``parse`` reads parameters."""
        return cls.parse(dict(parse_qsl(text[:MAX_LIST_QUERY])))

    @property
    def text(self) -> str:
        """The query string that asks for this, defaults left out (``""``: the plain list)."""
        return urlencode(self.params())

    @property
    def column(self) -> str:
        return self.sort.removeprefix("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    @property
    def filtered(self) -> bool:
        """True when the table shows only some of the tokens."""
        return self.status != "all" or bool(self.search)

    def params(self, **changes: Any) -> dict[str, str]:
        """The query parameters that ask for this (with ``changes``), defaults left out."""
        query = replace(self, **changes)
        values = {"sort": "" if query.sort == DEFAULT_SORT else query.sort,
                  "status": "" if query.status == "all" else query.status, "q": query.search,
                  "page": "" if query.page == 1 else str(query.page)}
        return {key: value for key, value in values.items() if value}

    def link(self, base: str, **changes: Any) -> str:
        """``base`` asking for this, with ``changes``."""
        return link(base, self.params(**changes))


def expires_soon(info: TokenInfo, now: datetime) -> bool:
    """An active token that stops working within ``EXPIRES_SOON``."""
    return (info.status_at(now) == "active" and info.expires_at is not None
            and info.expires_at - now <= EXPIRES_SOON)


def _sort_value(column: str, hierarchy: ScopeHierarchy) -> Callable[[TokenInfo], Any]:
    if column == "permission":  # by level, lowest first; an admin token above every level
        rank = {name: index for index, name in enumerate(hierarchy.order)}
        return lambda info: len(rank) if info.admin else rank.get(hierarchy.level(info.scopes), 0)
    attribute = {"name": "name", "created": "created_at", "expires": "expires_at",
                 "last_used": "last_used_at"}[column]
    return lambda info: getattr(info, attribute)


def owner_listing(tokens: Sequence[TokenInfo], query: ListQuery, hierarchy: ScopeHierarchy,
                  now: datetime) -> Page[TokenInfo]:
    """The owner's tokens the query matches, sorted, one page of them (past the last: the last)."""
    needle = query.search.casefold()
    chosen = [t for t in tokens if (query.status == "all" or t.status_at(now) == query.status)
              and needle in t.name.casefold()]
    ordered = sort_by(chosen, _sort_value(query.column, hierarchy), query.descending)
    return page_of(ordered, min(query.page, pages_for(len(ordered))))


@dataclass(frozen=True, slots=True)
class ListView:
    """The owner's table as the page shows it: the page of tokens and the links around it."""

    query: ListQuery
    found: Page[TokenInfo]
    #: how many tokens the owner has in all, whatever the filters.
    owned: int
    base: str
    sort_links: dict[str, str]
    previous_link: str
    next_link: str


def list_view(tokens: Sequence[TokenInfo], query: ListQuery, hierarchy: ScopeHierarchy, now: datetime,
              base: str) -> ListView:
    """``owner_listing`` with the links its headers and pager need, each keeping the other parameters."""
    found = owner_listing(tokens, query, hierarchy, now)
    shown = replace(query, page=found.page)
    return ListView(
        query=shown, found=found, owned=len(tokens), base=base,
        sort_links={column: shown.link(base, sort=toggled(shown.sort, column), page=1)
                    for column in SORT_COLUMNS},
        previous_link=shown.link(base, page=found.page - 1) if found.page > 1 else "",
        next_link=shown.link(base, page=found.page + 1) if found.page < found.pages else "",
    )
