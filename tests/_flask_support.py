"""A small Flask app wired with FlaskTokenGuard, and a signed-in browser-like client, for the tests."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

from flask import Flask, request, session
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tokenguard import TokenGuard
from tokenguard_flask import FlaskTokenGuard, current_token, require_scope

ORIGIN = "http://localhost"
API = "/api/tokens"
PAGE = "/settings/tokens"
_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_NEW_TOKEN = re.compile(r'id="new-token" class="secret-value">([^<]+)<')




def make_guard(store: str = "memory://", **kwargs: Any) -> TokenGuard:
    kwargs.setdefault("max_tokens_per_owner", 5)
    return TokenGuard(store, secret_key=secrets.token_bytes(32), load_entry_points=False, **kwargs)


def make_app(guard: TokenGuard, *, can_manage: Callable[[str], bool] | None = None, **options: Any) -> Flask:
    app = Flask("tokenguard_test_app")
    app.config.update(SECRET_KEY="session-key-for-tests", TESTING=True)
    FlaskTokenGuard(app, guard, owner_loader=lambda: session.get("user"), can_manage=can_manage,
                    **options)

    @app.post("/_login")
    def login() -> tuple[str, int]:
        session["user"] = request.form["user"]
        return "", 204

    @app.get("/notes")
    @require_scope("read")
    def read_notes() -> dict[str, Any]:
        return {"owner": current_token.owner, "id": current_token.id}

    @app.post("/notes")
    @require_scope("write")
    def write_notes() -> tuple[dict[str, Any], int]:
        return {"owner": current_token.owner}, 201

    @app.get("/projects/<project>/notes")
    @require_scope("read", project_from="project")
    def project_notes(project: str) -> dict[str, Any]:
        return {"project": project, "owner": current_token.owner}

    @app.get("/async")
    @require_scope("read")
    async def async_notes() -> dict[str, Any]:
        return {"owner": current_token.owner, "async": True}

    @app.get("/any-token")
    @require_scope
    def any_token() -> dict[str, Any]:
        return {"scopes": sorted(current_token.scopes)}

    @app.get("/public")
    def public() -> dict[str, Any]:
        return {"anonymous": not current_token,
                "authorization": request.headers.get("Authorization")}

    return app


class Browser:
    """A test client that signs in with a cookie session and sends CSRF like the page does."""

    def __init__(self, app: Flask, user: str | None = "alice") -> None:
        self.client: FlaskClient = app.test_client()
        self.user = user
        if user is not None:
            assert self.client.post("/_login", data={"user": user}).status_code == 204

    def csrf(self) -> str:
        response = self.client.get(API)
        assert response.status_code == 200, response.data
        token = response.headers["X-CSRF-Token"]
        return token

    def write(self, method: str, path: str, json: Any = None, *, csrf: bool = True,
              headers: dict[str, str] | None = None, **kwargs: Any) -> TestResponse:
        sent = {"Origin": ORIGIN}
        if csrf:
            sent["X-CSRF-Token"] = self.csrf()
        sent.update(headers or {})
        return self.client.open(path, method=method, json=json, headers=sent, **kwargs)

    def create(self, name: str = "ci", **fields: Any) -> TestResponse:
        return self.write("POST", API, {"name": name, **fields})

    def page(self) -> TestResponse:
        return self.client.get(PAGE)

    def page_csrf(self) -> str:
        match = _META_CSRF.search(self.page().get_data(as_text=True))
        assert match is not None
        return match.group(1)

    def form(self, path: str, data: dict[str, str], *, csrf: bool = True,
             headers: dict[str, str] | None = None) -> TestResponse:
        fields = dict(data)
        if csrf:
            fields["csrf_token"] = self.page_csrf()
        return self.client.post(path, data=fields, headers={"Origin": ORIGIN, **(headers or {})})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_token_in(page: TestResponse) -> str:
    match = _NEW_TOKEN.search(page.get_data(as_text=True))
    assert match is not None, "the page shows no new token"
    return match.group(1)


class LiveServer:
    """A real werkzeug server for ``app`` on 127.0.0.1 and an ephemeral port, in a thread."""

    def __init__(self, app: Flask) -> None:
        import threading

        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="live-flask", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_example_app(config: dict[str, Any]) -> Flask:
    """``examples/flask_app.py``'s ``create_app``, loaded from the checkout."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parent.parent / "examples" / "flask_app.py"
    spec = importlib.util.spec_from_file_location("tokenguard_example_flask_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app: Flask = module.create_app(config)
    return app
