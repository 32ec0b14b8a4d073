"""The OpenAPI document names every route the management API dispatches, and nothing it does not.

Requests are sent to ``TokenWeb.dispatch`` for every path built from the API's own words
(up to three segments, four below ``admin``) and every method, with no credentials: a
route that exists answers 401, 400 or 200 (and 405 names the methods it has); only a path
no route knows is 404 ``not_found``. Each dispatched path and method must match a path
template of the document, and each template of the document must be dispatched.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import secrets

import pytest

from tokenguard import TokenGuard
from tokenguard.web import openapi
from tokenguard.web.app import TokenWeb
from tokenguard.web.http import WebRequest
from tokenguard.web.options import WebOptions

WORDS = ("x", "admin", "tokens", "owners", "self", "rotate", "revoke", "reapprove", "deactivate",
         "reactivate", "introspect", "openapi.json", "secret-scanning", "delete")
METHODS = ("GET", "POST", "PATCH", "DELETE", "PUT")
SCANNING = importlib.util.find_spec("cryptography") is not None


@pytest.fixture(scope="module")
def web() -> TokenWeb:
    guard = TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False)
    return TokenWeb(guard, WebOptions(secret_scanning=SCANNING), can_administer=lambda owner: True)


def answer(web: TokenWeb, method: str, path: str) -> tuple[int, list[str]]:
    body = b"{}" if method != "GET" else b""
    response = web.dispatch(WebRequest(method, path, lambda name: ["application/json"]
                                       if name.lower() == "content-type" else [], body=body))
    if response.status == 404:
        assert json.loads(response.body)["error"] == "not_found"
    allowed = [v for k, v in response.headers if k.lower() == "allow"]
    return response.status, allowed[0].split(", ") if allowed else []


def templates(web: TokenWeb) -> dict[str, set[str]]:
    document = openapi.document(web.guard, web.options)
    return {path: {m.upper() for m in item if m != "parameters"} for path, item in document["paths"].items()}


def pattern(template: str) -> re.Pattern[str]:
    """``{id}`` is one segment; ``{owner}`` the rest of the path (an owner may hold ``/``)."""
    text = re.escape(template).replace(r"\{id\}", "[^/]+").replace(r"\{owner\}", ".+")
    return re.compile(text)


def documented(found: dict[str, set[str]], path: str, method: str) -> bool:
    return any(method in methods and pattern(template).fullmatch(path)
               for template, methods in found.items())


def candidate_paths(root: str) -> list[str]:
    paths = [root]
    for length in (1, 2, 3):
        paths += ["/".join((root, *words)) for words in itertools.product(WORDS, repeat=length)]
    paths += ["/".join((root, "admin", *words)) for words in itertools.product(WORDS, repeat=3)]
    return paths


def test_every_dispatched_route_is_in_the_document(web: TokenWeb) -> None:
    found = templates(web)
    missing = set()
    for path in candidate_paths(web.options.api_path):
        for method in METHODS:
            status, allowed = answer(web, method, path)
            if status == 404:
                continue
            for dispatched in allowed if status == 405 else [method]:
                if not documented(found, path, dispatched):
                    missing.add((dispatched, path))
    assert sorted(missing) == []


def test_every_documented_route_is_dispatched(web: TokenWeb) -> None:
    found = templates(web)
    if SCANNING:
        assert f"{web.options.api_path}/secret-scanning" in found
    for template, methods in found.items():
        path = template.replace("{id}", "x").replace("{owner}", "x")
        for method in methods:
            status, _ = answer(web, method, path)
            assert status not in (404, 405), (method, template)


def test_the_admin_routes_are_documented(web: TokenWeb) -> None:
    found = templates(web)
    root = web.options.api_path
    assert found[f"{root}/admin/tokens"] == {"GET"}
    assert found[f"{root}/admin/tokens/{{id}}"] == {"DELETE"}
    assert found[f"{root}/admin/tokens/{{id}}/revoke"] == {"POST"}
    assert found[f"{root}/admin/owners/{{owner}}/deactivate"] == {"POST"}
    assert found[f"{root}/admin/owners/{{owner}}/reactivate"] == {"POST"}
    assert found[f"{root}/self/rotate"] == {"POST"}
    document = openapi.document(web.guard, web.options)
    filters = {p["name"] for p in document["paths"][f"{root}/admin/tokens"]["get"]["parameters"]}
    assert {"owner", "status", "scope", "project", "expiring_within_days", "unused_for_days",
            "page"} <= filters
    refs = re.findall(r'"#/components/schemas/([A-Za-z]+)"', json.dumps(document))
    assert set(refs) <= set(document["components"]["schemas"])  # no dangling reference
