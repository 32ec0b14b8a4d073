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


def make_guard(workdir: Path) -> tuple[TokenGuard, str]:
    guard = TokenGuard(f"sqlite:///{workdir}/web.db", secret_key=KEY, load_entry_points=False,
                       max_tokens_per_owner=None)
    token = guard.create_token("alice", "bench", scopes=["read"]).token
    return guard, token


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

    environ = EnvironBuilder(path="/notes", headers={"Authorization": f"Bearer {token}"}).get_environ()
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


def flask_rows(report: Report, guard: TokenGuard, token: str) -> None:
    callers = {name: wsgi_caller(app, token) for name, app in flask_apps(guard, token).items()}
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
        "client": ("127.0.0.1", 50000), "server": ("bench", 80),
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


def starlette_rows(report: Report, guard: TokenGuard, token: str) -> None:
    loop = asyncio.new_event_loop()
    try:
        callers = {name: asgi_caller(app, token, loop) for name, app in starlette_apps(guard, token).items()}
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


def main() -> None:
    header("web: protected endpoints in process")
    report = Report("web")
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as tmp:
        guard, token = make_guard(Path(tmp))
        flask_rows(report, guard, token)
        starlette_rows(report, guard, token)
        guard.close()
    report.save()


if __name__ == "__main__":
    main()
