"""examples/django_project as a person deploys it: migrated on a fresh SQLite file, a staff user,
tokens from ``manage.py tokenguard``, and a real server in a process of its own.

Each server binds and listens before it prints its port, so the first request
waits in the listen queue: no polling and no sleep.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent / "examples" / "django_project"
KEY = "example-project-secret-key-0123456789abcdef"
ADMIN = ("admin", "a-test-password-0123")
#: starts the server on a socket bound and listening first, then prints its port
SERVERS = {
    "uvicorn-asgi": """
import socket, uvicorn
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(64)
print(sock.getsockname()[1], flush=True)
config = uvicorn.Config("notes.asgi:application", log_level="warning", lifespan="off")
uvicorn.Server(config).run(sockets=[sock])
""",
    "wsgiref-wsgi": """
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, make_server
from notes.wsgi import application

class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True

server = make_server("127.0.0.1", 0, application, server_class=Server)
print(server.server_port, flush=True)
server.serve_forever()
""",
}


class ExampleProject:
    """The example project on its own database file, set up with ``manage.py`` as its docs say."""

    def __init__(self, folder: Path) -> None:
        self.env = {**os.environ, "NOTES_DATABASE": str(folder / "notes.sqlite3"),
                    "TOKENGUARD_SECRET_KEY": KEY, "DJANGO_DEBUG": "0", "DJANGO_SUPERUSER_PASSWORD": ADMIN[1]}
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.manage("migrate", "--no-input", "-v", "0")
        self.manage("createsuperuser", "--no-input", "--username", ADMIN[0], "--email", "admin@example.com")

    def manage(self, *argv: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *argv], cwd=PROJECT, env=self.env,
                              capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {argv[0]} failed: {done.stderr}")
        return done.stdout

    def token(self, name: str, scope: str, *, owner: str = "1", project: str = "alpha") -> str:
        """A token made with ``manage.py tokenguard token create`` (owner 1: the staff user)."""
        return self.manage("tokenguard", "token", "create", name, "--owner", owner, "--scope", scope,
                           "--project", project).strip()

    @contextmanager
    def serve(self, kind: str) -> Iterator[str]:
        """The project under ``SERVERS[kind]``; yields its base URL, stops it afterwards."""
        process = subprocess.Popen([sys.executable, "-c", SERVERS[kind]], cwd=PROJECT, env=self.env,
                                   stdout=subprocess.PIPE, text=True)
        try:
            assert process.stdout is not None
            port = process.stdout.readline().strip()
            if not port.isdigit():
                raise RuntimeError(f"the {kind} server did not start (exit {process.wait()})")
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=30)
