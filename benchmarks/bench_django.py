"""Django: one DRF endpoint, bare and behind tokenguard, django-rest-knox and djangorestframework-api-key.

One Django project (``django_bench/``) serves ``GET /notes/<contender>``: the same
DRF view with no authentication, with tokenguard (``TokenGuardMiddleware`` +
``TokenGuardAuthentication`` + ``HasScope("read")``), with knox's
``TokenAuthentication`` + ``IsAuthenticated``, and with ``HasAPIKey``. Each
library's table holds 1,000 tokens (keys, users) made with its own API; a user of
knox and an owner of tokenguard hold 1,000 tokens each besides.

- In process: Django's ``WSGIHandler`` called directly with a prepared environ
  (one handler per contender, each with its own ``MIDDLEWARE``), in interleaved
  rounds; figures are requests per second, ratios the median of per-round
  ratios to the bare endpoint. tokenguard runs as a project gets it (the default
  cache), and also with the cache off (every request reaches the store through
  Django's ORM) and without its middleware (DRF's authentication alone). A
  ceiling row hands the same view a token verified once at start-up: it checks
  nothing, and shows what DRF's authentication and permission machinery costs.
  Each contender sends one token, as in ``bench_web.py``: with the cache's
  5-second TTL, many tokens taking turns would make one contender's short
  rounds pay for every entry's refresh, which a server spreads over all its
  requests.
- Over a real server: gunicorn (one worker, one ``gthread`` thread, keep-alive),
  one server per contender, driven by wrk in interleaved rounds, as
  ``bench_http.py`` does.

Both on SQLite (a file) and on PostgreSQL (a scratch database on 127.0.0.1:5432,
dropped at the end). Settings are global in Django, so each database's in-process
part runs in a child process of its own (``--in-process``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from common import HERE, QUICK, RESULTS_DIR, Report, Row, header, interleaved, round_ratios, spread, us

TOKENS = 200 if QUICK else 1_000
HEAVY = 200 if QUICK else 1_000
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "admin_db": "test"}
DATABASES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
TG_MIDDLEWARE = ["tokenguard_django.middleware.TokenGuardMiddleware"]
#: contender -> (middleware, path, which credential): what each in-process handler serves
IN_PROCESS: dict[str, tuple[list[str], str, str]] = {
    "bare": ([], "/notes/bare", "tokenguard"),
    "tokenguard": (TG_MIDDLEWARE, "/notes/tokenguard", "tokenguard"),
    "tokenguard_drf": ([], "/notes/tokenguard", "tokenguard"),
    "tokenguard_nocache": (TG_MIDDLEWARE, "/notes/tokenguard", "tokenguard"),
    "knox": ([], "/notes/knox", "knox"),
    "api_key": ([], "/notes/api_key", "api_key"),
    "ceiling": (["django_bench.urls.HandOver"], "/notes/tokenguard", "tokenguard"),
    "tokenguard_heavy": (TG_MIDDLEWARE, "/notes/tokenguard", "tokenguard_heavy"),
    "knox_heavy": ([], "/notes/knox", "knox_heavy"),
}
SCHEMES = {"tokenguard": "Bearer", "tokenguard_heavy": "Bearer", "knox": "Token", "knox_heavy": "Token",
           "api_key": "Api-Key"}
OURS = "tokenguard: middleware + TokenGuardAuthentication + HasScope"
#: served over HTTP, one gunicorn each: one worker process, its threads answering keep-alive connections
SERVED = ("bare", "tokenguard", "knox", "api_key")
THREADS = 1


def environment(database: str, name: str, middleware: str = "") -> dict[str, str]:
    """What ``django_bench.settings`` reads."""
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "django_bench.settings",
            "BENCH_DJANGO_DATABASE": f"{database}:{name}", "BENCH_DJANGO_MIDDLEWARE": middleware}


# -- the child: one database, in process --------------------------------------------------------


def setup(database: str, name: str, *, migrate: bool = True) -> None:
    """Configure the project on ``database`` in this process (and migrate it)."""
    os.environ.update(environment(database, name))
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def make_tokens() -> dict[str, list[str]]:
    """Each library's tokens, made with its own API: ``TOKENS`` each, and a heavy user's ``HEAVY``."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from knox.models import AuthToken
    from rest_framework_api_key.models import APIKey

    from tokenguard_django import get_guard

    guard = get_guard()
    users = get_user_model()
    made: dict[str, list[str]] = {}
    with transaction.atomic():
        made["api_key"] = [APIKey.objects.create_key(name=f"alice{i}")[1] for i in range(TOKENS)]
        made["knox"] = [AuthToken.objects.create(user=users.objects.create_user(username=f"alice{i}"))[1]
                        for i in range(TOKENS)]
        heavy = users.objects.create_user(username="alice-heavy")
        made["knox_heavy"] = [AuthToken.objects.create(user=heavy)[1] for _ in range(HEAVY)]
        made["tokenguard"] = [guard.create_token(f"alice{i}", "bench", scopes=["read"]).token
                              for i in range(TOKENS)]
        made["tokenguard_heavy"] = [guard.create_token("alice-heavy", f"bench {i}", scopes=["read"]).token
                                    for i in range(HEAVY)]
    for token in (made["tokenguard"][0], made["tokenguard_heavy"][0]):
        guard.authenticate(token)  # last use recorded first: that once-a-minute write is not measured
    return made


def handler(middleware: list[str]) -> Any:
    """Django's WSGI application with this ``MIDDLEWARE`` (read once, when it is built)."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    with override_settings(MIDDLEWARE=middleware):
        return WSGIHandler()


BASE_ENVIRON = {
    "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1",
    "HTTP_USER_AGENT": "bench", "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
    "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
}


def wsgi_caller(app: Any, path: str, authorization: str) -> Callable[[], None]:
    """One request per call, as a WSGI server makes it (the response closed: ``request_finished``)."""
    prepared = {**BASE_ENVIRON, "PATH_INFO": path, "HTTP_AUTHORIZATION": authorization}
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    def call() -> None:
        statuses.clear()
        environ = dict(prepared)
        environ["wsgi.input"] = io.BytesIO()
        response = app(environ, start_response)
        body = b"".join(response)
        response.close()
        if not statuses[0].startswith("200") or b'"owner":"alice' not in body:
            raise AssertionError(f"{path}: {statuses[0]}: {body[:200]!r}")

    return call


def callers(made: dict[str, list[str]]) -> dict[str, Callable[[], None]]:
    """One caller per contender of ``IN_PROCESS``; tokenguard's with the project's state it needs."""
    from django.conf import settings
    from django_bench.urls import HandOver

    from tokenguard.web.app import TokenWeb
    from tokenguard_django import get_guard, registry
    from tokenguard_django.config import Config

    cached = registry.get_state()
    config = Config({**settings.TOKENGUARD, "cache_ttl": 0})
    uncached_guard = config.build_guard()
    uncached = registry.State(config, uncached_guard, TokenWeb(uncached_guard, config.web_options()), None)
    HandOver.VERIFIED_ONCE = get_guard().authenticate(made["tokenguard"][0])
    states = {"tokenguard_nocache": uncached, "tokenguard_heavy": uncached}
    made_callers = {}
    for name, (middleware, path, credential) in IN_PROCESS.items():
        call = wsgi_caller(handler(middleware), path, f"{SCHEMES[credential]} {made[credential][0]}")
        if path == "/notes/tokenguard":
            # The project holds one guard; this contender's is put in place before each request
            # (one assignment): the default one, or the one with the cache off.
            call = with_state(states.get(name, cached), call)
        made_callers[name] = call
    return made_callers


def with_state(state: Any, call: Callable[[], None]) -> Callable[[], None]:
    from tokenguard_django import registry

    install = registry._install  # the registry's own setter: no API for two guards in one project

    def run() -> None:
        install(state)
        call()

    return run


def in_process(database: str, name: str, out: Path) -> None:
    setup(database, name)
    made = make_tokens()
    (out / f"tokens-{database}.json").write_text(json.dumps({k: v[0] for k, v in made.items()}))
    (out / f"tokens-{database}.json").chmod(0o600)
    samples = interleaved(callers(made), rounds=7 if QUICK else 31, seconds=0.05 if QUICK else 0.1)
    report = Report("django")
    in_process_rows(report, f"Django {DATABASES[database]}", samples)
    (out / f"rows-{database}.json").write_text(json.dumps([asdict(r) for r in report.rows]))


def extra(samples: dict[str, list[float]], name: str) -> float:
    """Microseconds a request of ``name`` costs over a bare one, median of the rounds."""
    return us(statistics.median(a - b for a, b in zip(samples[name], samples["bare"], strict=True)))


def in_process_rows(report: Report, section: str, samples: dict[str, list[float]]) -> None:
    def rate(name: str) -> float:
        return 1 / statistics.median(samples[name])

    def of_bare(name: str) -> tuple[float, str]:
        rounds = round_ratios(samples, "bare", name)
        return statistics.median(rounds), f"+{extra(samples, name):,.0f} µs over bare; {spread(rounds)}"

    report.add(Row(section, "bare DRF endpoint", rate("bare"), "req/s", note="WSGIHandler, no middleware"))
    ours, note = of_bare("tokenguard")
    report.add(Row(section, OURS, rate("tokenguard"), "req/s", ours, "bare", "≥ 0.90", ours >= 0.90, note))
    for name, label in (("knox", "django-rest-knox TokenAuthentication + IsAuthenticated"),
                        ("api_key", "djangorestframework-api-key HasAPIKey")):
        theirs, note = of_bare(name)
        report.add(Row(section, f"{label}, {TOKENS:,} keys", rate(name), "req/s", theirs, "bare",
                       "tokenguard ahead", ours > theirs, note))
    for name, label in (("tokenguard_drf", "tokenguard, DRF authentication alone (no middleware)"),
                        ("tokenguard_nocache", "tokenguard, cache off: every request reaches the store")):
        r, note = of_bare(name)
        report.add(Row(section, label, rate(name), "req/s", r, "bare", note=note))
    heavy_ours, note = of_bare("tokenguard_heavy")
    report.add(Row(section, f"tokenguard, an owner of {HEAVY:,} tokens, cache off", rate("tokenguard_heavy"),
                   "req/s", heavy_ours, "bare", note=note))
    heavy_theirs, note = of_bare("knox_heavy")
    report.add(Row(section, f"django-rest-knox, a user of {HEAVY:,} tokens", rate("knox_heavy"), "req/s",
                   heavy_theirs, "bare", "tokenguard ahead", heavy_ours > heavy_theirs, note))
    r, note = of_bare("ceiling")
    report.add(Row(section, "ceiling: the same view, a token verified once at start-up", rate("ceiling"),
                   "req/s", r, "bare", note=f"checks nothing; {note}"))


# -- the parent: databases, children, servers ---------------------------------------------------


@contextmanager
def scratch_postgresql() -> Iterator[str | None]:
    """A fresh PostgreSQL database for this run (its name), dropped at the end; ``None`` if unreachable."""
    try:
        import psycopg

        admin = f"host={PG['host']} port={PG['port']} user={PG['user']} dbname={PG['admin_db']}"
        name = "tg_bench_" + secrets.token_hex(4)
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # any failure means: not measured, and why
        print(f"  PostgreSQL not measured: {exc}", flush=True)
        yield None
        return
    try:
        yield name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_child(database: str, name: str, workdir: Path) -> list[dict[str, Any]]:
    command = [sys.executable, str(Path(__file__).resolve()), "--in-process", database, name, str(workdir)]
    done = subprocess.run(command, cwd=HERE, check=False)
    rows_file = workdir / f"rows-{database}.json"
    if done.returncode != 0 or not rows_file.exists():
        raise RuntimeError(f"the {database} child failed with exit code {done.returncode}")
    rows: list[dict[str, Any]] = json.loads(rows_file.read_text())
    return rows


def served(report: Report, database: str, name: str, workdir: Path) -> None:
    """The four contenders over gunicorn + wrk, interleaved."""
    import bench_http

    section = f"gunicorn {DATABASES[database]}"
    if shutil.which("wrk") is None:
        report.add(Row(section, "not measured: wrk is not installed", 0, ""))
        return
    tokens = json.loads((workdir / f"tokens-{database}.json").read_text())
    scripts = {}
    for contender in SERVED:
        credential = "tokenguard" if contender == "bare" else contender
        script = workdir / f"{database}-{contender}.lua"
        script.write_text(f'wrk.headers["Authorization"] = "{SCHEMES[credential]} {tokens[credential]}"\n')
        script.chmod(0o600)
        scripts[contender] = (script, tokens[credential], SCHEMES[credential])
    servers = {contender: start_gunicorn(contender, database, name) for contender in SERVED}
    try:
        for contender, (server, url) in servers.items():
            script, token, scheme = scripts[contender]
            wait_ready(url, f"{scheme} {token}", server)
            bench_http.wrk(url, script, 1)  # warm: connections, caches
        rps: dict[str, list[float]] = {contender: [] for contender in SERVED}
        for _ in range(bench_http.ROUNDS):
            for contender, (_, url) in servers.items():
                rps[contender].append(bench_http.wrk(url, scripts[contender][0], bench_http.SECONDS))
    finally:
        for server, _ in servers.values():
            server.terminate()
        for server, _ in servers.values():
            server.wait(timeout=10)
    report.add(Row(section, "bare DRF endpoint", statistics.median(rps["bare"]), "req/s",
                   note=f"1 worker, gthread x{THREADS}, keep-alive; wrk -t1 -c{bench_http.CONNECTIONS}, "
                        f"{bench_http.SECONDS}s x {bench_http.ROUNDS} rounds"))
    ratios = {c: [a / b for a, b in zip(rps[c], rps["bare"], strict=True)] for c in SERVED}
    ours = statistics.median(ratios["tokenguard"])
    report.add(Row(section, OURS, statistics.median(rps["tokenguard"]), "req/s", ours, "bare",
                   note=spread(ratios["tokenguard"])))
    for contender, label in (("knox", "django-rest-knox TokenAuthentication + IsAuthenticated"),
                             ("api_key", "djangorestframework-api-key HasAPIKey")):
        theirs = statistics.median(ratios[contender])
        report.add(Row(section, label, statistics.median(rps[contender]), "req/s", theirs, "bare",
                       "tokenguard ahead", ours > theirs, spread(ratios[contender])))


def start_gunicorn(contender: str, database: str, name: str) -> tuple[subprocess.Popen[bytes], str]:
    import bench_http
    import gunicorn

    port = bench_http.free_port()
    command = [sys.executable, "-m", "gunicorn", "django_bench.wsgi:application", "--bind",
               f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "gthread", "--threads", str(THREADS),
               "--keep-alive", "30", "--log-level", "warning"]
    if gunicorn.version_info >= (25, 1):  # its control socket is one path per user: none for these
        command.append("--no-control-socket")
    server = subprocess.Popen(command, cwd=HERE, env=environment(database, name, contender),
                              stdout=subprocess.DEVNULL)
    return server, f"http://127.0.0.1:{port}/notes/{contender}"


def wait_ready(url: str, authorization: str, server: subprocess.Popen[bytes]) -> None:
    import time
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": authorization})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-process", nargs=3, metavar=("DATABASE", "NAME", "WORKDIR"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        database, name, workdir = args.in_process
        in_process(database, name, Path(workdir))
        return
    header("django: one DRF endpoint, bare and behind tokenguard, knox and drf-api-key")
    report = Report("django")
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as tmp, scratch_postgresql() as pg_name:
        workdir = Path(tmp)
        names = {"sqlite": str(workdir / "django.sqlite3"), "postgresql": pg_name}
        for database, name in names.items():
            if name is None:
                report.add(Row(f"Django {DATABASES[database]}", "not measured: PostgreSQL is unreachable",
                               0, ""))
                continue
            report.rows.extend(Row(**row) for row in run_child(database, name, workdir))
            served(report, database, name, workdir)
    RESULTS_DIR.mkdir(exist_ok=True)
    report.save()


if __name__ == "__main__":
    main()
