"""Protected endpoints in process: Flask and Starlette, bare against protected, and against peers.

The apps are called directly (WSGI with a prepared environ; ASGI on one event
loop, a batch of requests per timing call): no network, so what differs
between contenders is only the framework glue and the token check. Each app
answers ``GET /notes`` with a small JSON body.

- Flask: bare; ``FlaskTokenGuard`` + ``@require_scope("read")``;
  Flask-HTTPAuth ``HTTPTokenAuth`` with its documented dict of tokens.
- Starlette: bare; ``TokenGuardMiddleware`` + ``@require_scope("read")``;
  Starlette's ``AuthenticationMiddleware`` with a bearer backend over a dict of
  tokens and ``@requires("read")``.

Each framework also measures the per-token network allow-list: the same protected
endpoint called with a second token that has ``allowed_networks`` (the client's
address within them), against the token without: the cost of the check on a warm
request (checked after the cache: one set look-up of the networks and the address).

Each framework also gets a ceiling: the same protected endpoint behind a hook (or
middleware) that hands it a token verified once, at start-up. It checks nothing, so
it is no contender; it shows what the framework's own machinery of a hook, a
decorator and the request's credentials costs before any token is looked at.

tokenguard runs on SQLite (the store every request would reach without its
cache) with the default verification cache.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import KEY, QUICK, Report, Row, header, interleaved, median, ratio, round_ratios, spread

from tokenguard import TokenGuard

BATCH = 50


#: the client address of every benchmarked request (WSGI ``REMOTE_ADDR``, ASGI ``client``).
CLIENT = "127.0.0.1"
#: the allow-list of the fenced token: the client's network among others, as an app would list them.
NETWORKS = ["203.0.113.0/24", "2001:db8::/32", "127.0.0.0/8"]


def make_guard(workdir: Path) -> tuple[TokenGuard, str, str]:
    """The guard, a token usable from anywhere, and one with ``allowed_networks`` (``NETWORKS``)."""
    guard = TokenGuard(f"sqlite:///{workdir}/web.db", secret_key=KEY, load_entry_points=False,
                       max_tokens_per_owner=None)
    token = guard.create_token("alice", "bench", scopes=["read"]).token
    fenced = guard.create_token("alice", "fenced", scopes=["read"], allowed_networks=NETWORKS).token
    return guard, token, fenced


# -- Flask ------------------------------------------------------------------------------------


def flask_apps(guard: TokenGuard, token: str) -> dict[str, Any]:
    from flask import Flask, jsonify, request
    from flask_httpauth import HTTPTokenAuth

    from tokenguard_flask import FlaskTokenGuard, current_token, require_scope

    bare = Flask("bare")

    @bare.get("/notes")
    def bare_notes() -> Any:
        return jsonify(owner="alice")

    protected = Flask("tokenguard")
    FlaskTokenGuard(protected, guard)

    @protected.get("/notes")
    @require_scope("read")
    def protected_notes() -> Any:
        return jsonify(owner=current_token.owner)

    peer = Flask("httpauth")
    auth = HTTPTokenAuth(scheme="Bearer")
    known = {token: "alice"}

    @auth.verify_token
    def verify_token(value: str) -> str | None:
        return known.get(value)

    @peer.get("/notes")
    @auth.login_required
    def peer_notes() -> Any:
        return jsonify(owner=auth.current_user())

    from tokenguard_flask.extension import ENVIRON_KEY

    unverified = Flask("unverified")
    verified_once = guard.authenticate(token)

    @unverified.before_request
    def hand_over() -> None:
        request.environ[ENVIRON_KEY] = verified_once

    @unverified.get("/notes")
    @require_scope("read")
    def unverified_notes() -> Any:
        return jsonify(owner=current_token.owner)

    return {"bare": bare, "tokenguard": protected, "peer": peer, "unverified": unverified}


def wsgi_caller(app: Any, token: str) -> Callable[[], None]:
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path="/notes", headers={"Authorization": f"Bearer {token}"},
                             environ_base={"REMOTE_ADDR": CLIENT}).get_environ()
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    def call() -> None:
        statuses.clear()
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO()
        body = b"".join(app(env, start_response))
        if not statuses[0].startswith("200") or b"alice" not in body:
            raise AssertionError(f"{statuses[0]}: {body[:200]!r}")

    return call


def flask_rows(report: Report, guard: TokenGuard, token: str, fenced: str) -> None:
    apps = flask_apps(guard, token)
    callers = {name: wsgi_caller(app, token) for name, app in apps.items()}
    callers["networks"] = wsgi_caller(apps["tokenguard"], fenced)
    samples = interleaved(callers, rounds=9 if QUICK else 21, seconds=0.05 if QUICK else 0.2)
    section = "Flask"
    report.add(Row(section, "bare endpoint", 1 / median(samples["bare"]), "req/s"))
    r = ratio(samples, "bare", "tokenguard")
    report.add(Row(section, "tokenguard @require_scope", 1 / median(samples["tokenguard"]), "req/s", r,
                   "bare", "≥ 0.90", r >= 0.90, spread(round_ratios(samples, "bare", "tokenguard"))))
    r_peer = ratio(samples, "bare", "peer")
    report.add(Row(section, "Flask-HTTPAuth HTTPTokenAuth (dict of tokens)", 1 / median(samples["peer"]),
                   "req/s", r_peer, "bare", "tokenguard ahead", r > r_peer,
                   spread(round_ratios(samples, "bare", "peer"))))
    ceiling_row(report, section, samples, 1 / median(samples["unverified"]))
    networks_row(report, section, samples, 1 / median(samples["networks"]), "tokenguard @require_scope")


def networks_row(report: Report, section: str, samples: dict[str, list[float]], rate: float,
                 reference: str) -> None:
    """The fenced token's rate against the same endpoint's with the unfenced one: the check's cost."""
    r = ratio(samples, "tokenguard", "networks")
    report.add(Row(section, "the same, token with allowed_networks (warm, client allowed)", rate, "req/s",
                   r, reference, "≥ 0.95", r >= 0.95,
                   f"{len(NETWORKS)} networks; {spread(round_ratios(samples, 'tokenguard', 'networks'))}"))


def ceiling_row(report: Report, section: str, samples: dict[str, list[float]], rate: float) -> None:
    middle = spread(round_ratios(samples, "bare", "unverified"))
    report.add(Row(section, "ceiling: the same, a token verified once at start-up", rate, "req/s",
                   ratio(samples, "bare", "unverified"), "bare", note=f"checks nothing; {middle}"))


# -- Starlette --------------------------------------------------------------------------------


def starlette_apps(guard: TokenGuard, token: str) -> dict[str, Any]:
    from starlette.applications import Starlette
    from starlette.authentication import (
        AuthCredentials,
        AuthenticationBackend,
        AuthenticationError,
        SimpleUser,
        requires,
    )
    from starlette.middleware import Middleware
    from starlette.middleware.authentication import AuthenticationMiddleware
    from starlette.requests import HTTPConnection, Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tokenguard_asgi import TokenGuardMiddleware, TokenPrincipal, require_scope

    async def bare_notes(request: Request) -> JSONResponse:
        return JSONResponse({"owner": "alice"})

    @require_scope("read")
    async def protected_notes(request: Request) -> JSONResponse:
        return JSONResponse({"owner": request.auth.token.owner})

    known = {token: "alice"}

    class BearerBackend(AuthenticationBackend):
        async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
            scheme, _, value = conn.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer":
                return None
            owner = known.get(value)
            if owner is None:
                raise AuthenticationError("invalid token")
            return AuthCredentials(["read"]), SimpleUser(owner)

    @requires("read")
    async def peer_notes(request: Request) -> JSONResponse:
        return JSONResponse({"owner": request.user.username})

    verified_once = guard.authenticate(token)

    class HandOver:
        """Hands every request the same token, verified once: the ceiling, no contender."""

        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
            scope["auth"] = scope["user"] = TokenPrincipal(verified_once, verified_once.effective_scopes)
            await self.app(scope, receive, send)

    return {
        "bare": Starlette(routes=[Route("/notes", bare_notes)]),
        "tokenguard": Starlette(routes=[Route("/notes", protected_notes)],
                                middleware=[Middleware(TokenGuardMiddleware, guard=guard)]),
        "peer": Starlette(routes=[Route("/notes", peer_notes)],
                          middleware=[Middleware(AuthenticationMiddleware, backend=BearerBackend())]),
        "unverified": Starlette(routes=[Route("/notes", protected_notes)], middleware=[Middleware(HandOver)]),
    }


def asgi_caller(app: Any, token: str, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/notes", "raw_path": b"/notes", "root_path": "", "query_string": b"",
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
        "client": (CLIENT, 50000), "server": ("bench", 80),
    }
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def one() -> None:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(dict(scope), receive, send)
        if sent[0]["status"] != 200 or b"alice" not in sent[1]["body"]:
            raise AssertionError(f"{sent[0]['status']}: {sent[1:2]!r}")

    async def batch() -> None:
        for _ in range(BATCH):
            await one()

    return lambda: loop.run_until_complete(batch())


def starlette_rows(report: Report, guard: TokenGuard, token: str, fenced: str) -> None:
    loop = asyncio.new_event_loop()
    try:
        apps = starlette_apps(guard, token)
        callers = {name: asgi_caller(app, token, loop) for name, app in apps.items()}
        callers["networks"] = asgi_caller(apps["tokenguard"], fenced, loop)
        samples = interleaved(callers, rounds=9 if QUICK else 21, seconds=0.05 if QUICK else 0.2)
    finally:
        loop.close()
    section = "Starlette"
    report.add(Row(section, "bare endpoint", BATCH / median(samples["bare"]), "req/s"))
    r = ratio(samples, "bare", "tokenguard")
    report.add(Row(section, "TokenGuardMiddleware + @require_scope", BATCH / median(samples["tokenguard"]),
                   "req/s", r, "bare", "≥ 0.85", r >= 0.85,
                   spread(round_ratios(samples, "bare", "tokenguard"))))
    r_peer = ratio(samples, "bare", "peer")
    report.add(Row(section, "AuthenticationMiddleware + @requires (dict)", BATCH / median(samples["peer"]),
                   "req/s", r_peer, "bare", "tokenguard ahead", r > r_peer,
                   spread(round_ratios(samples, "bare", "peer"))))
    ceiling_row(report, section, samples, BATCH / median(samples["unverified"]))
    networks_row(report, section, samples, BATCH / median(samples["networks"]),
                 "TokenGuardMiddleware + @require_scope")


def main() -> None:
    header("web: protected endpoints in process")
    report = Report("web")
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as tmp:
        guard, token, fenced = make_guard(Path(tmp))
        flask_rows(report, guard, token, fenced)
        starlette_rows(report, guard, token, fenced)
        guard.close()
    report.save()


if __name__ == "__main__":
    main()
