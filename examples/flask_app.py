"""A notes app with API tokens, on Flask.

Run it::

    pip install 'tokenguard[flask]'
    python examples/flask_app.py            # http://127.0.0.1:5000 (PORT to change)

Sign in as alice or bob, create a token on the settings page, then call the
notes API with it::

    curl -H "Authorization: Bearer $NOTES_API_TOKEN" http://127.0.0.1:5000/api/notes
    curl -H "Authorization: Bearer $NOTES_API_TOKEN" -H "Content-Type: application/json" \\
         -d '{"text": "hello"}' http://127.0.0.1:5000/api/notes

Configuration: TOKENGUARD_DATABASE_URL (default sqlite:///demo.db) and
TOKENGUARD_SECRET_KEY (generated for this run when unset: tokens then stop
working on restart). ``flask --app examples/flask_app.py tokens list`` works too.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
from collections import defaultdict
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, abort, redirect, render_template_string, request, session, url_for

from tokenguard.cli_config import environment_options
from tokenguard_flask import FlaskTokenGuard, current_token, require_scope

USERS = ("alice", "bob")
ENV_VAR = "NOTES_API_TOKEN"


class Notes:
    """Each user's notes, in memory: the app's own data, nothing to do with tokens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_owner: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def list(self, owner: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._by_owner[owner])

    def add(self, owner: str, text: str) -> dict[str, Any]:
        with self._lock:
            note = {"id": len(self._by_owner[owner]) + 1, "text": text}
            self._by_owner[owner].append(note)
            return note


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Notes</title>
<style>
 body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}
 button,.button{font:inherit;padding:.5rem 1rem;border-radius:8px;border:1px solid #c9d0d8;background:#fff;
   cursor:pointer;text-decoration:none;color:inherit;display:inline-block}
 .primary{background:#2f5bea;border-color:#2f5bea;color:#fff} code{background:#f1f3f6;padding:.1rem .3rem}
</style></head><body>
<h1>Notes</h1>
{% if user %}
  <p>Signed in as <strong>{{ user }}</strong>.</p>
  <p><a class="button primary" href="{{ settings_path }}">Manage API tokens</a></p>
  <p>Then try: <code>curl -H "Authorization: Bearer ${{ env_var }}" {{ request.host_url }}api/notes</code></p>
  <form method="post" action="{{ url_for('logout') }}"><button>Sign out</button></form>
{% else %}
  <p>Sign in (demo users, no password):</p>
  <form method="post" action="{{ url_for('login') }}">
    <input type="hidden" name="next" value="{{ next }}">
    {% for name in users %}<button name="user" value="{{ name }}">Sign in as {{ name }}</button> {% endfor %}
  </form>
{% endif %}
</body></html>"""


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


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        TOKENGUARD_DATABASE_URL=os.environ.get("TOKENGUARD_DATABASE_URL", "sqlite:///demo.db"),
        TOKENGUARD_SECRET_KEY=os.environ.get("TOKENGUARD_SECRET_KEY", ""),
        TOKENGUARD_APP_NAME="Notes", TOKENGUARD_ENV_VAR=ENV_VAR, TOKENGUARD_LOGIN_URL="/",
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
    )
    # TOKENGUARD_PREFIX and TOKENGUARD_MAX_TOKENS_PER_OWNER, read as the tokenguard CLI reads them
    from_environment = environment_options(os.environ)
    app.config.update(TOKENGUARD_PREFIX=from_environment["prefix"],
                      TOKENGUARD_MAX_TOKENS_PER_OWNER=from_environment["max_tokens_per_owner"])
    app.config.update(config or {})
    if not app.config["TOKENGUARD_SECRET_KEY"]:
        app.config["TOKENGUARD_SECRET_KEY"] = secrets.token_urlsafe(48)
        print("warning: TOKENGUARD_SECRET_KEY is not set; using a key made for this run "
              "(tokens stop working on restart)", file=sys.stderr)
    tokens = FlaskTokenGuard(app)
    app.secret_key = app.extensions["tokenguard"].guard.derive_key("example session")
    tokens.owner_loader(signed_in_user)
    add_pages(app)
    add_notes_api(app, Notes())
    return app


def signed_in_user() -> str | None:
    """Who is signed in (the session cookie): the extension's ``owner_loader``."""
    user = session.get("user")
    return user if user in USERS else None


def add_pages(app: Flask) -> None:
    @app.get("/")
    def home() -> str:
        return render_template_string(
            PAGE, user=signed_in_user(), users=USERS, next=safe_next(request.args.get("next")),
            settings_path=app.config["TOKENGUARD_SETTINGS_PATH"], env_var=ENV_VAR)

    @app.post("/login")
    def login() -> Any:
        user = request.form.get("user")
        if user not in USERS:
            abort(400)
        session.clear()
        session["user"] = user
        return redirect(safe_next(request.form.get("next")), 303)

    @app.post("/logout")
    def logout() -> Any:
        session.clear()
        return redirect(url_for("home"), 303)


def add_notes_api(app: Flask, notes: Notes) -> None:
    @app.get("/api/notes")
    @require_scope("read")
    def list_notes() -> Any:
        return {"owner": current_token.owner, "notes": notes.list(current_token.owner)}

    @app.post("/api/notes")
    @require_scope("write")
    def add_note() -> Any:
        data = request.get_json(silent=True)
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > 1000:
            return {"error": "invalid_request", "error_description": "text: 1 to 1000 characters"}, 400
        return notes.add(current_token.owner, text.strip()), 201


def main() -> None:
    port = int(os.environ.get("PORT", "5000"))
    app = create_app()
    print(f"Notes example on http://127.0.0.1:{port}/ : sign in as alice or bob, then open "
          f"http://127.0.0.1:{port}{app.config['TOKENGUARD_SETTINGS_PATH']} to create a token.")
    print(f"Then: curl -H \"Authorization: Bearer ${ENV_VAR}\" http://127.0.0.1:{port}/api/notes")
    app.run(host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
