"""``tokenguard demo``: the example app on SQLite, or a CLI walk-through anywhere.

``--app flask|starlette|fastapi`` runs ``examples/{app}_app.py`` from the
current directory (a source checkout) with ``TOKENGUARD_DATABASE_URL``,
``TOKENGUARD_SECRET_KEY``, ``HOST`` and ``PORT`` in its environment. ``--app
django`` runs ``examples/django_project``: ``manage.py migrate``, then
``manage.py runserver`` on the port, its tokens in the project's own SQLite
database (``NOTES_DATABASE``: the file of a ``sqlite:///`` database URL). When the
example is absent or its framework is not installed, and with
``--app walkthrough``, it runs the CLI on a throw-away SQLite file instead:
create, list, verify, revoke, verify again.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tokenguard import config
from tokenguard.cli_config import OPTIONS, CLIError, Console, database_url, given_options
from tokenguard.config import SETTINGS_BY_NAME, Source

APPS = ("flask", "starlette", "fastapi", "django", "walkthrough")
#: modules an example needs, checked before starting it.
APP_REQUIREMENTS = {
    "flask": ("flask",),
    "starlette": ("starlette", "uvicorn"),
    "fastapi": ("fastapi", "uvicorn"),
    "django": ("django",),
}
#: the extra that installs what each example needs.
APP_EXTRAS = {"flask": "flask", "starlette": "asgi", "fastapi": "asgi", "django": "django"}
#: the Django example: a project, run through its manage.py.
DJANGO_EXAMPLE = Path("examples") / "django_project" / "manage.py"
EXIT_INTERRUPTED = 130
#: the example's database when none is configured.
DEMO_DATABASE_URL = "sqlite:///tokenguard.db"
ENV_DATABASE_URL = SETTINGS_BY_NAME["database_url"].upper
ENV_SECRET_KEY = SETTINGS_BY_NAME["secret_key"].upper
ENV_SECRET_KEY_FILE = SETTINGS_BY_NAME["secret_key_file"].upper


def demo(args: argparse.Namespace, console: Console) -> int:
    if args.app == "walkthrough":
        return walkthrough(console)
    example = DJANGO_EXAMPLE if args.app == "django" else Path("examples") / f"{args.app}_app.py"
    script = Path.cwd() / example
    missing = [name for name in APP_REQUIREMENTS[args.app] if importlib.util.find_spec(name) is None]
    if not script.is_file():
        console.note(f"tokenguard: {example.as_posix()} is not in {Path.cwd()} (the example apps "
                     "come with a source checkout); running the CLI walk-through instead")
        return walkthrough(console)
    if missing:
        console.note(f"tokenguard: the {args.app} example needs {', '.join(missing)} "
                     f"(pip install 'tokenguard[{APP_EXTRAS[args.app]}]'); "
                     "running the CLI walk-through instead")
        return walkthrough(console)
    if args.app == "django":
        return _run_django(script, args, console)
    return _run_app(script, args, console)


def _run_app(script: Path, args: argparse.Namespace, console: Console) -> int:
    env = _example_environment(args, console)
    env.update(HOST="127.0.0.1", PORT=str(args.port))
    console.note(f"tokenguard: starting examples/{script.name} on http://127.0.0.1:{args.port} "
                 f"with {console.redact(env[ENV_DATABASE_URL])} (Ctrl-C stops it)")
    return _supervise([sys.executable, str(script)], env, Path.cwd())


def _run_django(manage: Path, args: argparse.Namespace, console: Console) -> int:
    """``manage.py migrate``, then ``manage.py runserver`` on the port (without the reloader,
    so that stopping the command stops the server)."""
    env = _example_environment(args, console)
    url = env[ENV_DATABASE_URL]
    if not url.startswith("sqlite:///"):
        raise CLIError("the Django example keeps its tokens in its own SQLite database: "
                       "give a sqlite:/// database URL, or none", 2)
    env["NOTES_DATABASE"] = str(Path(url.removeprefix("sqlite:///")).resolve())
    project = manage.parent
    migrated = subprocess.run([sys.executable, str(manage), "migrate", "--no-input", "-v", "0"],  # noqa: S603
                              env=env, cwd=project, check=False)
    if migrated.returncode != 0:
        raise CLIError("manage.py migrate failed", migrated.returncode)
    console.note(f"tokenguard: starting examples/django_project on http://127.0.0.1:{args.port} with "
                 f"{console.redact(url)} (Ctrl-C stops it)")
    command = [sys.executable, str(manage), "runserver", "--noreload", f"127.0.0.1:{args.port}"]
    return _supervise(command, env, project)


def _supervise(command: list[str], env: dict[str, str], cwd: Path) -> int:
    """Run the example until it ends, or until we are stopped (SIGTERM, Ctrl-C)."""
    try:
        # the interpreter running us, on the example of this checkout: no shell, no user input
        process = subprocess.Popen(command, env=env, cwd=cwd)  # noqa: S603
    except OSError as exc:
        raise CLIError(f"cannot start {Path(command[1]).name}: {exc}", 1) from None
    with _forwarding_sigterm(process):
        try:
            return process.wait()
        except KeyboardInterrupt:
            _stop(process)
            return EXIT_INTERRUPTED


def _example_environment(args: argparse.Namespace, console: Console) -> dict[str, str]:
    """The environment the example reads: what the options say, as ``TOKENGUARD_*`` variables.

    Validated as every command validates it, before the example starts. The current
    secret key goes as ``TOKENGUARD_SECRET_KEY`` (an example may read only that); with
    none configured, one is made for this run.
    """
    env = dict(console.env)
    env[ENV_DATABASE_URL] = database_url(args, console, default=DEMO_DATABASE_URL)
    given = given_options(args)
    if not (given.get("--secret-key-file") or env.get(ENV_SECRET_KEY, "").strip()
            or env.get(ENV_SECRET_KEY_FILE, "").strip()):
        env[ENV_SECRET_KEY] = secrets.token_urlsafe(48)
        console.note(f"tokenguard: {ENV_SECRET_KEY} is not set: using a key made for this run "
                     "(tokens made now stop working when it ends; export a key to keep them)")
    found = config.read_config(Source(env, "upper"), Source(given, "option"))
    for key in found.secret_key:
        console.hide(key if isinstance(key, str) else None)
    current = found.secret_key[0]
    env[ENV_SECRET_KEY] = current if isinstance(current, str) else current.decode("utf-8")
    env.pop(ENV_SECRET_KEY_FILE, None)
    for setting in OPTIONS:
        if setting.flag in given and setting.name not in ("database_url", "secret_key_file"):
            env[setting.upper] = given[setting.flag]
    return env


@contextmanager
def _forwarding_sigterm(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """While the app runs, a SIGTERM sent to us stops it too, instead of orphaning it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: process.send_signal(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True, slots=True)
class Step:
    """One command of the walk-through, what it feeds on stdin and the status it should end with."""

    title: str
    argv: tuple[str, ...]
    stdin_token: bool = False
    expected_status: int = 0


STEPS = (
    Step("Create a token for alice's CI pipeline: the secret is printed alone on stdout",
         ("token", "create", "ci pipeline", "--owner", "alice", "--scope", "write",
          "--project", "alpha", "--expires-in", "30d", "--id", "ci-pipeline")),
    Step("A second, read-only token", ("token", "create", "laptop", "--owner", "alice")),
    Step("List alice's tokens: the secret is never shown again, only a hint",
         ("token", "list", "--owner", "alice")),
    Step("Verify the first token, read from stdin", ("token", "verify"), stdin_token=True),
    Step("Revoke it", ("token", "revoke", "ci-pipeline")),
    Step("Verify again: refused", ("token", "verify"), stdin_token=True, expected_status=1),
    Step("The list shows it revoked", ("token", "list", "--owner", "alice")),
)


def walkthrough(console: Console, steps: Sequence[Step] = STEPS) -> int:
    """Run ``steps`` through the real CLI on a temporary SQLite file, printing each."""
    from tokenguard.cli import run

    with tempfile.TemporaryDirectory(prefix="tokenguard-demo-") as tmp:
        # its own configuration: none of the shell's TOKENGUARD_* settings (scopes, a key file…)
        env = {name: value for name, value in console.env.items() if name not in config.ENVIRON_KEYS}
        env[ENV_DATABASE_URL] = f"sqlite:///{Path(tmp) / 'demo.db'}"
        env[ENV_SECRET_KEY] = secrets.token_urlsafe(48)
        console.out(f"tokenguard walk-through on {env[ENV_DATABASE_URL]} (deleted at the end)\n")
        token = ""
        for number, step in enumerate(steps, 1):
            pipe = 'echo "$TOKEN" | ' if step.stdin_token else ""
            console.out(f"{number}. {step.title}\n   $ {pipe}tokenguard {shlex.join(step.argv)}")
            out, err = io.StringIO(), io.StringIO()
            sub = Console(stdin=io.StringIO(token if step.stdin_token else ""), stdout=out,
                          stderr=err, env=env)
            status = run(list(step.argv), sub)
            for line in (out.getvalue() + err.getvalue()).splitlines():
                console.out(f"   {line}")
            if status != step.expected_status:
                raise CLIError(f"walk-through step {number} ended with status {status}", 1)
            if number == 1:
                token = out.getvalue().strip()
            console.out("")
        console.out("Done: the same commands work on your database with TOKENGUARD_DATABASE_URL "
                    "and TOKENGUARD_SECRET_KEY set.")
    return 0
