"""A notes app with API tokens, on Starlette: the same app as examples/flask_app.py.

Run it::

    pip install 'tokenguard[asgi]' uvicorn
    python examples/starlette_app.py        # http://127.0.0.1:8000 (PORT to change)

Sign in as alice or bob, create a token on the settings page, then call the
notes API with it::

    curl -H "Authorization: Bearer $NOTES_API_TOKEN" http://127.0.0.1:8000/api/notes
    curl -H "Authorization: Bearer $NOTES_API_TOKEN" -H "Content-Type: application/json" \\
         -d '{"text": "hello"}' http://127.0.0.1:8000/api/notes

Configuration: TOKENGUARD_DATABASE_URL (default sqlite:///demo.db) and
TOKENGUARD_SECRET_KEY (generated for this run when unset: tokens then stop
working on restart).
"""

from __future__ import annotations

import html
import json
import os
import secrets
import threading
from collections import defaultdict
from urllib.parse import parse_qs, unquote, urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tokenguard import TokenGuard
from tokenguard_asgi import TokenGuardMiddleware, require_scope

USERS = ("alice", "bob")
ENV_VAR = "NOTES_API_TOKEN"


class Notes:
    """Each user's notes, in memory: the app's own data, nothing to do with tokens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_owner: dict[str, list[dict[str, object]]] = defaultdict(list)

    def list(self, owner: str) -> list[dict[str, object]]:
        with self._lock:
            return list(self._by_owner[owner])

    def add(self, owner: str, text: str) -> dict[str, object]:
        with self._lock:
            note = {"id": len(self._by_owner[owner]) + 1, "text": text}
            self._by_owner[owner].append(note)
            return note


def signed_in_user(request: Request) -> str | None:
    user = request.session.get("user")
    return user if user in USERS else None


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site (``/notes?x=1``), else ``/``.

    Checked as sent and percent-decoded: browsers drop tabs and newlines (``/\\t/evil.example``
    is ``//evil.example``) and read ``\\`` as ``/``; a CR LF would break the Location header.
    """
    if not value:
        return "/"
    for path in (value, unquote(value)):
        if (not path.startswith("/") or path.startswith("//") or "\\" in path
                or any(c <= " " or c == "\x7f" for c in path)):
            return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


async def home(request: Request) -> HTMLResponse:
    user = signed_in_user(request)
    if user is None:
        next_path = html.escape(safe_next(request.query_params.get("next")))
        buttons = "".join(f'<button name="user" value="{name}">Sign in as {name}</button> ' for name in USERS)
        body = (f'<p>Sign in (demo users, no password):</p><form method="post" action="/login">'
                f'<input type="hidden" name="next" value="{next_path}">{buttons}</form>')
    else:
        body = (f"<p>Signed in as <strong>{html.escape(user)}</strong>.</p>"
                '<p><a href="/settings/tokens">Manage your API tokens</a></p>'
                f"<p>Then: <code>curl -H \"Authorization: Bearer ${ENV_VAR}\" "
                f"{html.escape(str(request.base_url))}api/notes</code></p>"
                '<form method="post" action="/logout"><button>Sign out</button></form>')
    return HTMLResponse(f"<!doctype html><title>Notes</title><h1>Notes</h1>{body}")


async def login(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    user = form.get("user", [""])[0]
    if user not in USERS:
        return HTMLResponse("unknown user", status_code=400)
    request.session["user"] = user
    return RedirectResponse(safe_next(form.get("next", ["/"])[0]), status_code=303)


async def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/", status_code=303)


@require_scope("read")
async def list_notes(request: Request) -> JSONResponse:
    owner = request.auth.token.owner
    return JSONResponse({"owner": owner, "notes": request.app.state.notes.list(owner)})


@require_scope("write")
async def add_note(request: Request) -> JSONResponse:
    try:
        data = json.loads(await request.body())
    except ValueError:
        data = None
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str) or not text.strip() or len(text) > 1000:
        return JSONResponse({"error": "invalid_request", "error_description": "text: 1 to 1000 characters"},
                            status_code=400)
    return JSONResponse(request.app.state.notes.add(request.auth.token.owner, text.strip()), status_code=201)


def create_app(guard: TokenGuard | None = None, *, session_secret: str | None = None) -> Starlette:
    """The notes app; without a guard, TokenGuardMiddleware builds one from the environment."""
    app = Starlette(
        routes=[
            Route("/", home),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/api/notes", list_notes, methods=["GET"]),
            Route("/api/notes", add_note, methods=["POST"]),
        ],
        middleware=[
            # outermost first: the session must exist before the token middleware asks who is signed in
            Middleware(SessionMiddleware, secret_key=session_secret or secrets.token_urlsafe(32),
                       same_site="lax", https_only=False),
            Middleware(TokenGuardMiddleware, guard=guard, owner_loader=signed_in_user,
                       app_name="Notes", env_var=ENV_VAR, login_url="/"),
        ],
    )
    app.state.notes = Notes()
    return app


def main() -> None:
    import uvicorn

    os.environ.setdefault("TOKENGUARD_DATABASE_URL", "sqlite:///demo.db")
    if not os.environ.get("TOKENGUARD_SECRET_KEY"):
        os.environ["TOKENGUARD_SECRET_KEY"] = secrets.token_urlsafe(48)
        print("TOKENGUARD_SECRET_KEY is not set: using a key made for this run "
              "(tokens stop working when it ends)")
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    base = f"http://{host}:{port}"
    print(f"Notes (Starlette) on {base}/ : sign in as alice or bob, then create a token at "
          f"{base}/settings/tokens")
    print(f'Then: curl -H "Authorization: Bearer ${ENV_VAR}" {base}/api/notes')
    uvicorn.run(create_app(), host=host, port=port, log_level="info")


if __name__ == "__main__":
    main()
