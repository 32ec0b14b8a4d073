"""A notes app with API tokens, on FastAPI: the same app as examples/flask_app.py.

Run it::

    pip install 'tokenguard[asgi]' fastapi uvicorn
    python examples/fastapi_app.py          # http://127.0.0.1:8000 (PORT to change)

Sign in as alice or bob, create a token on the settings page, then call the
notes API with it (its OpenAPI document at /docs shows the bearer scheme)::

    curl -H "Authorization: Bearer $NOTES_API_TOKEN" http://127.0.0.1:8000/api/notes

Configuration: TOKENGUARD_DATABASE_URL (default sqlite:///demo.db) and
TOKENGUARD_SECRET_KEY (generated for this run when unset: tokens then stop
working on restart).
"""

from __future__ import annotations

import html
import os
import secrets
import threading
from collections import defaultdict
from typing import Annotated
from urllib.parse import parse_qs, unquote, urlsplit

from fastapi import FastAPI, Request, Security
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.middleware.sessions import SessionMiddleware

from tokenguard import TokenGuard, TokenInfo
from tokenguard_asgi import TokenGuardMiddleware
from tokenguard_asgi.fastapi import current_token

USERS = ("alice", "bob")
ENV_VAR = "NOTES_API_TOKEN"


class NewNote(BaseModel):
    text: str = Field(min_length=1, max_length=1000)


class Note(BaseModel):
    id: int
    text: str


class NoteList(BaseModel):
    owner: str
    notes: list[Note]


class Notes:
    """Each user's notes, in memory: the app's own data, nothing to do with tokens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_owner: dict[str, list[Note]] = defaultdict(list)

    def list(self, owner: str) -> list[Note]:
        with self._lock:
            return list(self._by_owner[owner])

    def add(self, owner: str, text: str) -> Note:
        with self._lock:
            note = Note(id=len(self._by_owner[owner]) + 1, text=text)
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


def create_app(guard: TokenGuard | None = None, *, session_secret: str | None = None) -> FastAPI:
    """The notes app; without a guard, TokenGuardMiddleware builds one from the environment."""
    app = FastAPI(title="Notes")
    notes = Notes()
    # add_middleware wraps what is there: the session (added last) runs first, so the
    # token middleware's owner_loader can read it.
    app.add_middleware(TokenGuardMiddleware, guard=guard, owner_loader=signed_in_user,
                       app_name="Notes", env_var=ENV_VAR, login_url="/")
    app.add_middleware(SessionMiddleware, secret_key=session_secret or secrets.token_urlsafe(32),
                       same_site="lax", https_only=False)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request, next: str | None = None) -> str:
        user = signed_in_user(request)
        if user is None:
            buttons = "".join(f'<button name="user" value="{n}">Sign in as {n}</button> ' for n in USERS)
            body = (f'<p>Sign in (demo users, no password):</p><form method="post" action="/login">'
                    f'<input type="hidden" name="next" value="{html.escape(safe_next(next))}">'
                    f"{buttons}</form>")
        else:
            body = (f"<p>Signed in as <strong>{html.escape(user)}</strong>.</p>"
                    '<p><a href="/settings/tokens">Manage your API tokens</a> · '
                    '<a href="/docs">API docs</a></p>'
                    f"<p>Then: <code>curl -H \"Authorization: Bearer ${ENV_VAR}\" "
                    f"{html.escape(str(request.base_url))}api/notes</code></p>"
                    '<form method="post" action="/logout"><button>Sign out</button></form>')
        return f"<!doctype html><title>Notes</title><h1>Notes</h1>{body}"

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> RedirectResponse:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        user = form.get("user", [""])[0]
        if user not in USERS:
            return RedirectResponse("/", status_code=303)
        request.session["user"] = user
        return RedirectResponse(safe_next(form.get("next", ["/"])[0]), status_code=303)

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request) -> RedirectResponse:
        request.session.clear()
        return RedirectResponse("/", status_code=303)

    @app.get("/api/notes")
    def list_notes(token: Annotated[TokenInfo, Security(current_token, scopes=["read"])]) -> NoteList:
        return NoteList(owner=token.owner, notes=notes.list(token.owner))

    @app.post("/api/notes", status_code=201)
    def add_note(
        note: NewNote, token: Annotated[TokenInfo, Security(current_token, scopes=["write"])]
    ) -> Note:
        return notes.add(token.owner, note.text.strip())

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
    print(f"Notes (FastAPI) on {base}/ : sign in as alice or bob, then create a token at "
          f"{base}/settings/tokens (API docs: {base}/docs)")
    print(f'Then: curl -H "Authorization: Bearer ${ENV_VAR}" {base}/api/notes')
    uvicorn.run(create_app(), host=host, port=port, log_level="info")


if __name__ == "__main__":
    main()
