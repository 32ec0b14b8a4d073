"""A token's details page ({settings_path}/{id}) and projects_loader, through Flask, Starlette and FastAPI.

Every test runs against the three adapters with real requests (Flask's test
client, Starlette's TestClient), on a guard whose clock the test moves by hand.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Security
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import tokenguard_asgi
from _flask_support import make_app as make_flask_app
from _flask_support import make_guard
from _site_support import response_text, sign_in
from _testclock import ManualClock as Clock
from tokenguard import TokenGuard, TokenInfo
from tokenguard_asgi.fastapi import current_token

PAGE = "/settings/tokens"
API = "/api/tokens"
CSP_FRAGMENT = "frame-ancestors 'none'"
_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_NEW_TOKEN = re.compile(r'id="new-token" class="secret-value">([^<]+)<')


class Reply:
    """What a test reads of a response, whichever client gave it."""

    def __init__(self, status: int, headers: Any, text: str) -> None:
        self.status = status
        self.headers = headers
        self.text = text

    def secret(self) -> str:
        found = _NEW_TOKEN.search(self.text)
        assert found is not None, "the page shows no new token"
        return found.group(1)


class Site:
    """One app with tokenguard mounted, and a browser signed in as ``user`` (a cookie session)."""

    def __init__(self, name: str, origin: str, client: Any, user: str) -> None:
        self.name = name
        self.origin = origin
        self.client = client
        self.user = user

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self._reply(self.client.get(path, headers=headers or {}))

    def csrf(self) -> str:
        found = _META_CSRF.search(self.get(PAGE).text)
        assert found is not None
        return found.group(1)

    def form(self, path: str, data: dict[str, Any], *, csrf: bool = True) -> Reply:
        fields = {"csrf_token": self.csrf(), **data} if csrf else dict(data)
        if self.name == "flask":
            response = self.client.post(path, data=fields, headers={"Origin": self.origin})
        else:
            response = self.client.post(path, data=fields, headers={"Origin": self.origin},
                                        follow_redirects=False)
        return self._reply(response)

    def api(self, method: str, path: str, body: dict[str, Any]) -> Reply:
        listing = self.client.get(API)
        headers = {"X-CSRF-Token": listing.headers["X-CSRF-Token"], "Origin": self.origin}
        return self._reply(self.client.open(path, method=method, json=body, headers=headers)
                           if self.name == "flask" else
                           self.client.request(method, path, json=body, headers=headers))

    def use(self, token: str) -> int:
        """The status of a protected endpoint of the app called with ``token``."""
        status: int = self.client.get("/notes", headers={"Authorization": f"Bearer {token}"}).status_code
        return status

    def _reply(self, response: Any) -> Reply:
        return Reply(response.status_code, response.headers, response_text(self.name, response))


# -- the three apps ---------------------------------------------------------------------------------

@tokenguard_asgi.require_scope("read")
async def _notes(request: Request) -> JSONResponse:
    return JSONResponse({"owner": request.auth.token.owner})


def _session_user(request: Request) -> str | None:
    return request.session.get("user")


def starlette_app(guard: TokenGuard, **options: Any) -> Starlette:
    return Starlette(
        routes=[Route("/login/{user}", sign_in), Route("/notes", _notes)],
        middleware=[Middleware(SessionMiddleware, secret_key=secrets.token_hex(16)),
                    Middleware(tokenguard_asgi.TokenGuardMiddleware, guard=guard,
                               owner_loader=_session_user, **options)],
    )


def fastapi_app(guard: TokenGuard, **options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/login/{user}")
    def sign_in(user: str, request: Request) -> dict[str, str]:
        request.session["user"] = user
        return {"signed_in": user}

    @app.get("/notes")
    def notes(token: Annotated[TokenInfo, Security(current_token, scopes=["read"])]) -> dict[str, str]:
        return {"owner": token.owner}

    # the last added is the outermost: the session is read before tokenguard asks who is signed in
    app.add_middleware(tokenguard_asgi.TokenGuardMiddleware, guard=guard, owner_loader=_session_user,
                       **options)
    app.add_middleware(SessionMiddleware, secret_key=secrets.token_hex(16))
    return app


SiteFactory = Callable[..., Site]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def guard(clock: Clock) -> Iterator[TokenGuard]:
    made = make_guard(clock=clock, max_tokens_per_owner=10)
    yield made
    made.close()


@pytest.fixture(params=["flask", "starlette", "fastapi"])
def make_site(request: pytest.FixtureRequest, guard: TokenGuard) -> Iterator[SiteFactory]:
    """``make_site(user="alice", **options)``: the adapter's app with those options, signed in."""
    opened: list[Any] = []

    def make(user: str = "alice", *, on: TokenGuard | None = None, **options: Any) -> Site:
        if request.param == "flask":
            app: Flask = make_flask_app(on or guard, **options)
            client: Any = app.test_client()
            assert client.post("/_login", data={"user": user}).status_code == 204
            return Site("flask", "http://localhost", client, user)
        build = starlette_app if request.param == "starlette" else fastapi_app
        asgi = build(on or guard, **options)
        client = TestClient(asgi)
        client.__enter__()
        opened.append(client)
        assert client.get(f"/login/{user}").status_code == 200
        return Site(request.param, "http://testserver", client, user)

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def alice(make_site: SiteFactory) -> Site:
    return make_site()


def details_of(site: Site, token_id: str) -> Reply:
    return site.get(f"{PAGE}/{token_id}")


def edit(site: Site, token_id: str, **fields: Any) -> Reply:
    data = {"name": "ci", "description": "", "projects": "", "allowed_networks": "", **fields}
    return site.form(f"{PAGE}/{token_id}", data)


# -- the page -----------------------------------------------------------------------------------------

def test_details_page_shows_every_field_and_the_history(alice: Site, guard: TokenGuard, clock: Clock) -> None:
    parent = guard.create_token("alice", "deployer", scopes=["management"], token_id="deployer")
    child = guard.create_token("alice", "ci <nightly>", scopes=["write"], projects=["alpha", "beta"],
                               description="Runs the nightly build", allowed_networks=["203.0.113.0/24"],
                               token_id="nightly", parent=parent.info, expires_in=timedelta(days=30))
    clock.advance(hours=2)
    guard.authenticate(child.token, remote="203.0.113.7", agent="curl/8.5.0")
    clock.advance(hours=1)
    guard.revoke("nightly")

    reply = details_of(alice, "nightly")
    assert reply.status == 200
    assert CSP_FRAGMENT in reply.headers["Content-Security-Policy"]
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["X-Frame-Options"] == "DENY"
    text = reply.text
    assert "ci &lt;nightly&gt;" in text and "<nightly>" not in text
    assert 'id="detail-description">Runs the nightly build<' in text
    assert "<code>nightly</code>" in text and child.info.hint in text
    assert "perm-write" in text and "<code>read</code>" in text  # write, implying read
    assert '<span class="tag">alpha</span><span class="tag">beta</span>' in text
    assert "203.0.113.0/24" in text
    assert "from 203.0.113.7" in text and "curl/8.5.0" in text
    assert 'href="/settings/tokens/deployer">deployer</a>' in text  # minted by
    assert "status-revoked" in text
    history = text.split('id="token-history"', 1)[1].split("</ol>", 1)[0]
    assert [e for e in re.findall(r'class="event">([^<]+)<', history)] == ["Created", "Last used", "Revoked"]
    assert "2030-01-01T15:00:00Z" in history  # revoked three hours after 12:00
    assert 'action="/settings/tokens/nightly/reapprove"' in text
    assert 'action="/settings/tokens/nightly/rotate"' not in text  # a revoked token is not rotated
    assert child.token not in text


def test_the_list_links_each_name_to_its_details_page(alice: Site, guard: TokenGuard) -> None:
    guard.create_token("alice", "laptop", token_id="laptop")
    assert 'href="/settings/tokens/laptop">laptop</a>' in alice.get(PAGE).text


def test_edit_saves_name_description_projects_and_networks(alice: Site, guard: TokenGuard) -> None:
    guard.create_token("alice", "old name", token_id="t1", projects=["alpha"])
    reply = edit(alice, "t1", name="new name", description="line one\nline two",
                 projects="beta, gamma", allowed_networks="10.0.0.0/8\n2001:db8::/32")
    assert reply.status == 303 and reply.headers["Location"] == f"{PAGE}/t1"
    info = guard.get_token("t1")
    assert info.name == "new name" and info.description == "line one line two"
    assert info.projects == frozenset({"beta", "gamma"})
    assert info.allowed_networks == frozenset({"10.0.0.0/8", "2001:db8::/32"})
    shown = details_of(alice, "t1").text
    assert "Changes saved." in shown and 'id="detail-name">new name<' in shown
    assert "Changes saved." not in details_of(alice, "t1").text  # the flash is shown once
    listed = alice.get(PAGE).text
    assert ">new name</a>" in listed

    edit(alice, "t1", name="new name")  # empty boxes: no description, every project, anywhere
    cleared = guard.get_token("t1")
    assert cleared.description == "" and cleared.projects == frozenset() and not cleared.allowed_networks


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"description": "x" * 501}, "description", "500"),
    ({"allowed_networks": "10.0.0.0/33"}, "allowed_networks", ""),
    ({"allowed_networks": "not-a-network"}, "allowed_networks", ""),
    ({"name": ""}, "name", ""),
    ({"name": "y" * 101}, "name", "100"),
    ({"projects": "ok, not ok!"}, "projects", ""),
])
def test_edit_refuses_bad_values_and_keeps_what_was_sent(alice: Site, guard: TokenGuard,
                                                          fields: dict[str, str], field: str,
                                                          message: str) -> None:
    guard.create_token("alice", "kept", token_id="t1", description="before")
    reply = edit(alice, "t1", **{"name": "changed", "description": "after", **fields})
    assert reply.status == 400
    assert f'id="{field}-error"' in reply.text and message in reply.text.split(f'id="{field}-error"')[1][:200]
    if field != "description":
        assert ">after</textarea>" in reply.text  # what was typed is not lost
    info = guard.get_token("t1")
    assert info.name == "kept" and info.description == "before"  # nothing saved


def test_a_description_of_500_characters_is_accepted(alice: Site, guard: TokenGuard) -> None:
    guard.create_token("alice", "t", token_id="t1")
    assert edit(alice, "t1", name="t", description="d" * 500).status == 303
    assert guard.get_token("t1").description == "d" * 500


def test_another_owners_token_is_404(make_site: SiteFactory, guard: TokenGuard) -> None:
    guard.create_token("bob", "bob's", token_id="bobs")
    alice = make_site("alice")
    assert details_of(alice, "bobs").status == 404
    assert details_of(alice, "nothing-here").status == 404
    refused = edit(alice, "bobs", name="mine now")
    assert refused.status == 404
    assert guard.get_token("bobs").name == "bob's"


def test_edit_without_csrf_or_from_elsewhere_is_refused(alice: Site, guard: TokenGuard) -> None:
    guard.create_token("alice", "t", token_id="t1")
    no_token = alice.form(f"{PAGE}/t1", {"name": "changed", "description": "", "projects": "",
                                          "allowed_networks": ""}, csrf=False)
    assert no_token.status == 403
    assert CSP_FRAGMENT in no_token.headers["Content-Security-Policy"]
    fields = {"csrf_token": alice.csrf(), "name": "changed", "description": "", "projects": "",
              "allowed_networks": ""}
    other_site = alice.client.post(f"{PAGE}/t1", data=fields, headers={"Origin": "https://evil.example"})
    assert other_site.status_code == 403
    assert guard.get_token("t1").name == "t"


def test_signed_out_visitors_get_the_pages_401(make_site: SiteFactory, guard: TokenGuard) -> None:
    guard.create_token("alice", "t", token_id="t1")
    site = make_site("alice")
    client = site.client
    if site.name == "flask":
        with client.session_transaction() as session:
            session.clear()
    else:
        client.cookies.clear()
    reply = site.get(f"{PAGE}/t1")
    assert reply.status == 401 and "t1" not in reply.text


def test_a_deactivated_owner_sees_the_token_but_cannot_reapprove_it(alice: Site, guard: TokenGuard) -> None:
    guard.create_token("alice", "t", token_id="t1")
    guard.deactivate_owner("alice")
    assert details_of(alice, "t1").status == 200
    refused = alice.form(f"{PAGE}/t1/reapprove", {"return_to": "details"})
    assert refused.status == 403 and "deactivated" in refused.text
    assert guard.get_token("t1").status == "revoked"


def test_actions_sent_from_the_details_page_come_back_to_it(alice: Site, guard: TokenGuard) -> None:
    guard.create_token("alice", "t", token_id="t1")
    revoked = alice.form(f"{PAGE}/t1/revoke", {"return_to": "details"})
    assert revoked.status == 303 and revoked.headers["Location"] == f"{PAGE}/t1"
    assert "Revoked “t”." in details_of(alice, "t1").text
    elsewhere = alice.form(f"{PAGE}/t1/reapprove", {"return_to": "https://evil.example/"})
    assert elsewhere.status == 303 and elsewhere.headers["Location"] == PAGE  # no open redirect


# -- rotation with a grace period, and regenerate with a new expiry ----------------------------------

def test_rotate_with_grace_keeps_the_old_secret_until_the_grace_ends(alice: Site, guard: TokenGuard,
                                                                     clock: Clock) -> None:
    old = guard.create_token("alice", "ci", token_id="ci", expires_in=timedelta(days=30)).token
    offered = details_of(alice, "ci").text
    for value in ("none", "1h", "24h", "7d"):
        assert f'<option value="{value}">' in offered
    reply = alice.form(f"{PAGE}/ci/rotate", {"grace": "24h", "hint": guard.get_token("ci").hint,
                                             "return_to": "details"})
    assert reply.status == 200
    new = reply.secret()
    assert "keeps working until" in reply.text and "2 Jan 2030 12:00 UTC" in reply.text
    assert alice.use(new) == 200 and alice.use(old) == 200
    clock.advance(hours=23, minutes=59)
    assert alice.use(old) == 200
    clock.advance(minutes=1)
    assert alice.use(old) == 401
    assert alice.use(new) == 200
    assert guard.get_token("ci").expires_at == guard.get_token("ci").created_at + timedelta(days=30)


def test_rotate_without_grace_stops_the_old_secret_at_once(alice: Site, guard: TokenGuard) -> None:
    old = guard.create_token("alice", "ci", token_id="ci").token
    reply = alice.form(f"{PAGE}/ci/rotate", {"grace": "none"})
    assert reply.status == 200 and "The previous secret no longer works." in reply.text
    assert alice.use(old) == 401 and alice.use(reply.secret()) == 200


def test_the_grace_offered_is_capped_by_the_tokens_remaining_life(alice: Site, guard: TokenGuard,
                                                                  clock: Clock) -> None:
    guard.create_token("alice", "short", token_id="short", expires_in=timedelta(days=2))
    offered = details_of(alice, "short").text
    assert '<option value="24h">' in offered and '<option value="7d">' not in offered
    clock.advance(hours=47)
    offered = details_of(alice, "short").text
    assert '<option value="1h">' not in offered and '<option value="none">' in offered


def test_regenerate_with_a_new_expiry(alice: Site, guard: TokenGuard, clock: Clock) -> None:
    old = guard.create_token("alice", "soon", token_id="soon", expires_in=timedelta(days=3)).token
    clock.advance(days=1)
    reply = alice.form(f"{PAGE}/soon/rotate", {"expires": "90", "grace": "none", "return_to": "details"})
    assert reply.status == 200
    info = guard.get_token("soon")
    assert info.expires_at == clock.now + timedelta(days=90)
    assert alice.use(reply.secret()) == 200 and alice.use(old) == 401

    custom = alice.form(f"{PAGE}/soon/rotate", {"expires": "custom", "expires_on": "2030-06-30"})
    assert custom.status == 200
    assert guard.get_token("soon").expires_at is not None
    assert guard.get_token("soon").expires_at.isoformat() == "2030-07-01T00:00:00+00:00"  # through 30 Jun


def test_regenerate_stays_within_the_maximum_lifetime(make_site: SiteFactory, clock: Clock) -> None:
    capped = make_guard(clock=clock, max_lifetime=timedelta(days=30), default_lifetime=timedelta(days=30))
    site = make_site(on=capped)
    capped.create_token("alice", "capped", token_id="capped", expires_in=timedelta(days=7))
    refused = site.form(f"{PAGE}/capped/rotate", {"expires": "90", "return_to": "details"})
    assert refused.status == 303 and refused.headers["Location"] == f"{PAGE}/capped"
    assert "maximum lifetime" in details_of(site, "capped").text
    assert capped.get_token("capped").expires_at == clock.now + timedelta(days=7)
    capped.close()


# -- projects from the host ------------------------------------------------------------------------------

PROJECTS = {"alice": ["alpha", "beta"], "bob": ["gamma"]}


def load_projects(owner: str) -> list[str]:
    return PROJECTS.get(owner, [])


def test_projects_loader_offers_a_picker_on_both_forms(make_site: SiteFactory, guard: TokenGuard) -> None:
    alice = make_site(projects_loader=load_projects)
    create_form = alice.get(PAGE).text
    assert 'type="checkbox" name="projects" value="alpha"' in create_form
    assert 'value="gamma"' not in create_form
    assert 'id="projects" name="projects" type="text"' not in create_form
    created = alice.form(PAGE, {"name": "picked", "permission": "read", "expires": "30",
                                "projects": ["alpha", "beta"]})
    assert created.status == 200
    (info,) = guard.list_tokens("alice")
    assert info.projects == frozenset({"alpha", "beta"})
    edit_form = details_of(alice, info.id).text
    assert 'value="alpha" checked' in edit_form and 'value="beta" checked' in edit_form
    assert edit(alice, info.id, name="picked", projects=["beta"]).status == 303
    assert guard.get_token(info.id).projects == frozenset({"beta"})


def test_projects_loader_refuses_other_projects_on_the_page(make_site: SiteFactory,
                                                            guard: TokenGuard) -> None:
    alice = make_site(projects_loader=load_projects)
    refused = alice.form(PAGE, {"name": "sneaky", "permission": "read", "expires": "30",
                                "projects": ["alpha", "gamma"]})
    assert refused.status == 400 and 'id="projects-error"' in refused.text
    assert "offered to you" in refused.text
    assert guard.list_tokens("alice") == []
    guard.create_token("alice", "t", token_id="t1", projects=["alpha"])
    assert edit(alice, "t1", name="t", projects=["gamma"]).status == 400
    assert guard.get_token("t1").projects == frozenset({"alpha"})


def test_projects_loader_keeps_a_project_no_longer_offered(make_site: SiteFactory, guard: TokenGuard) -> None:
    guard.create_token("alice", "t", token_id="t1", projects=["legacy", "alpha"])
    alice = make_site(projects_loader=load_projects)
    shown = details_of(alice, "t1").text
    assert 'value="legacy" checked' in shown and "no longer offered" in shown
    assert edit(alice, "t1", name="renamed", projects=["legacy", "alpha"]).status == 303
    assert guard.get_token("t1").name == "renamed"


def test_projects_loader_refuses_other_projects_through_the_api(make_site: SiteFactory,
                                                               guard: TokenGuard) -> None:
    alice = make_site(projects_loader=load_projects)
    refused = alice.api("POST", API, {"name": "api", "scopes": ["read"], "projects": ["gamma"]})
    assert refused.status == 400
    body = json.loads(refused.text)
    assert body["error"] == "invalid_request" and body["field"] == "projects"
    assert "offered" in body["error_description"]
    assert guard.list_tokens("alice") == []
    made = alice.api("POST", API, {"name": "api", "scopes": ["read"], "projects": ["alpha"]})
    assert made.status == 201
    token_id = guard.list_tokens("alice")[0].id
    assert alice.api("PATCH", f"{API}/{token_id}", {"projects": ["beta", "gamma"]}).status == 400
    assert alice.api("PATCH", f"{API}/{token_id}", {"projects": ["beta"]}).status == 200
    assert guard.get_token(token_id).projects == frozenset({"beta"})


def test_without_projects_loader_projects_are_free_text(alice: Site, guard: TokenGuard) -> None:
    assert 'id="projects" name="projects" type="text"' in alice.get(PAGE).text
    made = alice.api("POST", API, {"name": "api", "scopes": ["read"], "projects": ["anything"]})
    assert made.status == 201


def test_the_readme_projects_loader_snippet(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's example runs as written and refuses a project it does not offer."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    heading = "## A token's details page, and projects from your app\n"
    section = readme.split(heading, 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "readme_snippet"}
    exec(compile(code, "README.md", "exec"), namespace)  # our own README
    client = namespace["app"].test_client()
    with client.session_transaction() as session:
        session["user"] = "alice"
    assert 'type="checkbox" name="projects" value="beta"' in client.get(PAGE).get_data(as_text=True)
    csrf = client.get(API).headers["X-CSRF-Token"]
    headers = {"X-CSRF-Token": csrf, "Origin": "http://localhost"}
    refused = client.post(API, json={"name": "ci", "projects": ["gamma"]}, headers=headers)
    assert refused.status_code == 400 and refused.json["field"] == "projects"
    assert client.post(API, json={"name": "ci", "projects": ["alpha"]}, headers=headers).status_code == 201
    namespace["app"].extensions["tokenguard"].guard.close()


def test_rotate_takes_an_absolute_expiry_within_the_maximum(clock: Clock) -> None:
    """``guard.rotate(expires_at=…)``: the regenerate form's custom date, exactly, within the cap."""
    from datetime import UTC, datetime

    from tokenguard import ValidationError

    capped = make_guard(clock=clock, max_lifetime=timedelta(days=30), default_lifetime=timedelta(days=7))
    token_id = capped.create_token("alice", "t").info.id
    when = datetime(2030, 1, 20, tzinfo=UTC)
    assert capped.rotate(token_id, expires_at=when).info.expires_at == when
    with pytest.raises(ValidationError, match="maximum lifetime"):
        capped.rotate(token_id, expires_at=datetime(2030, 3, 1, tzinfo=UTC))
    with pytest.raises(ValidationError, match="not both"):
        capped.rotate(token_id, expires_in=timedelta(days=1), expires_at=when)
    assert capped.get_token(token_id).expires_at == when
    capped.close()


def test_the_details_page_in_german(alice: Site, guard: TokenGuard) -> None:
    guard.create_token("alice", "ci", token_id="ci", description="Baut jede Nacht")
    text = alice.get(f"{PAGE}/ci", headers={"Accept-Language": "de-DE,de;q=0.9"}).text
    assert '<html lang="de">' in text
    for german in ("Verlauf", "Änderungen speichern", "Gar nicht", "Noch 24 Stunden", "Alle API-Tokens"):
        assert german in text, german
    assert "Save changes" not in text and "Not at all" not in text


def test_the_projects_refusal_is_translated_on_the_page_and_english_in_the_api(make_site: SiteFactory,
                                                                              guard: TokenGuard) -> None:
    alice = make_site(projects_loader=load_projects)
    guard.create_token("alice", "t", token_id="t1")
    fields = {"csrf_token": alice.csrf(), "name": "t", "description": "", "projects": ["gamma"],
              "allowed_networks": ""}
    refused = alice.client.post(f"{PAGE}/t1", data=fields,
                                headers={"Origin": alice.origin, "Accept-Language": "fr"})
    text = refused.get_data(as_text=True) if alice.name == "flask" else refused.text
    assert refused.status_code == 400
    assert "seuls les projets qui vous sont proposés peuvent être choisis" in text
    answer = alice.api("POST", API, {"name": "api", "projects": ["gamma"]})
    assert json.loads(answer.text)["error_description"] == "only the projects offered to you can be chosen"


def test_every_string_of_the_token_is_escaped(alice: Site, guard: TokenGuard) -> None:
    issued = guard.create_token("alice", "<img src=x onerror=alert(1)>", token_id="t1",
                                description="<script>alert('d')</script>")
    guard.authenticate(issued.token, remote="192.0.2.1", agent="<script>alert('ua')</script>")
    text = details_of(alice, "t1").text
    assert "<script>" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(&#39;ua&#39;)&lt;/script&gt;" in text
    assert "&lt;script&gt;alert(&#39;d&#39;)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
