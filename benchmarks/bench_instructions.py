"""Instructions per request, counted by valgrind: the protected endpoints of bench_web.py and bench_django.py.

Wall-clock ratios move by a few percent from run to run on a shared machine;
an instruction count does not. Each contender of ``bench_web.py`` (bare,
tokenguard, the peer, tokenguard with a token's ``allowed_networks``, and the
ceiling: the same decorator and view handed a token verified once, at start-up,
by a hook that checks nothing, which is what the framework's hook and the
decorator cost before any token is read; Flask and Starlette) and of
``bench_django.py`` (the bare DRF endpoint, tokenguard, django-rest-knox,
djangorestframework-api-key; on an SQLite file migrated and filled once, before
valgrind, and copied for each run) runs in its own process under ``valgrind
--tool=callgrind`` twice, once serving no request and once serving
``--requests``; the difference, divided, is what one request executes. Hash
randomisation is off in both runs so that their start-up is the same.

Instructions are not time (a cache miss costs more than an add), so this is the
companion of ``bench_web.py``, not its replacement: it shows where a difference
comes from and whether a change moved it.

    .venv/bin/python benchmarks/bench_instructions.py [--requests 2000] [--frameworks Flask Starlette]

Counts belong to one interpreter: run it with another version's Python (and the
packages each contender needs) to count there.

Needs valgrind (``apt-get install valgrind``); not part of ``make bench``
(about four minutes on two cores).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import HERE

DJANGO_WARM_UP = 50  # requests, as many as the Flask child's

CONTENDERS = [(framework, name) for framework in ("Flask", "Starlette")
              for name in ("bare", "tokenguard", "peer", "networks", "unverified")]
CONTENDERS += [("Django", name) for name in ("bare", "tokenguard", "knox", "api_key")]
LABELS = {
    ("Flask", "bare"): "bare endpoint",
    ("Flask", "tokenguard"): "tokenguard @require_scope",
    ("Flask", "peer"): "Flask-HTTPAuth HTTPTokenAuth (dict of tokens)",
    ("Flask", "networks"): "the same, token with allowed_networks (client allowed)",
    ("Flask", "unverified"): "ceiling: the same view, a token verified once",
    ("Starlette", "bare"): "bare endpoint",
    ("Starlette", "tokenguard"): "TokenGuardMiddleware + @require_scope",
    ("Starlette", "peer"): "AuthenticationMiddleware + @requires (dict)",
    ("Starlette", "networks"): "the same, token with allowed_networks (client allowed)",
    ("Starlette", "unverified"): "ceiling: the same endpoint, a token verified once",
    ("Django", "bare"): "bare DRF endpoint",
    ("Django", "tokenguard"): "middleware + TokenGuardAuthentication + HasScope",
    ("Django", "knox"): "django-rest-knox TokenAuthentication",
    ("Django", "api_key"): "djangorestframework-api-key HasAPIKey",
}
#: the prepared Django database (``--prepare``), for the Django children
PREPARED = "BENCH_DJANGO_PREPARED"


def serve(framework: str, name: str, requests: int) -> None:
    """The child: build one contender as bench_web.py does, warm it, then serve ``requests``."""
    if framework == "Django":
        serve_django(name, requests)
        return
    import bench_web

    from tokenguard import TokenGuard

    with tempfile.TemporaryDirectory(prefix="tg-bench-") as tmp:
        # The cache keeps its entry for the whole run: under valgrind a run lasts minutes,
        # and an entry aged out mid-run would add store look-ups to some runs only.
        guard = TokenGuard(f"sqlite:///{tmp}/web.db", secret_key=bench_web.KEY,
                           load_entry_points=False, max_tokens_per_owner=None, cache_ttl=3600)
        token = guard.create_token("alice", "bench", scopes=["read"]).token
        app_name, sent = name, token
        if name == "networks":  # the tokenguard endpoint, called with a token fenced to networks
            app_name = "tokenguard"
            sent = guard.create_token("alice", "fenced", scopes=["read"],
                                      allowed_networks=bench_web.NETWORKS).token
        if framework == "Flask":
            call = bench_web.wsgi_caller(bench_web.flask_apps(guard, token)[app_name], sent)
            for _ in range(bench_web.BATCH):  # the same warm-up in both runs
                call()
            settle()
            for _ in range(requests):
                call()
        else:
            loop = asyncio.new_event_loop()
            batch = bench_web.asgi_caller(bench_web.starlette_apps(guard, token)[app_name], sent, loop)
            batch()  # the same warm-up in both runs
            settle()
            for _ in range(requests // bench_web.BATCH):  # requests of BATCH each
                batch()
        guard.close()


def settle() -> None:
    """After the warm-up: collect, then freeze what is alive, in both runs of a contender.

    Without it, whether one full collection of the heap (every module, every object the
    imports made: millions of instructions) falls within the measured requests depends
    on where start-up left the collector's counters, which moves with anything (the
    checkout's path, a module's size) by thousands of instructions per request, for
    every contender alike. Frozen, the objects made at start-up are never traversed
    again (``gc.freeze()``, as servers that fork workers do); the young collections the
    requests themselves cause are still counted.
    """
    gc.collect()
    gc.freeze()


def prepare_django(workdir: Path) -> None:
    """The Django project's SQLite database, migrated and filled (``bench_django.py``'s tokens)."""
    import bench_django

    bench_django.setup("sqlite", str(workdir / "django.sqlite3"))
    made = bench_django.make_tokens()
    tokens = workdir / "tokens.json"
    tokens.write_text(json.dumps({credential: values[0] for credential, values in made.items()}))
    tokens.chmod(0o600)


def serve_django(name: str, requests: int) -> None:
    """One contender of ``bench_django.py`` in process, on a copy of the prepared database."""
    import bench_django

    prepared = Path(os.environ[PREPARED])
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as tmp:
        database = Path(tmp) / "django.sqlite3"
        shutil.copyfile(prepared / "django.sqlite3", database)
        bench_django.setup("sqlite", str(database), migrate=False)
        from django.conf import settings
        from django.test import override_settings

        # The cache keeps its entry for the whole run, as for Flask and Starlette above.
        override_settings(TOKENGUARD={**settings.TOKENGUARD, "cache_ttl": 3600}).enable()
        middleware, path, credential = bench_django.IN_PROCESS[name]
        token = json.loads((prepared / "tokens.json").read_text())[credential]
        call = bench_django.wsgi_caller(bench_django.handler(middleware), path,
                                        f"{bench_django.SCHEMES[credential]} {token}")
        for _ in range(DJANGO_WARM_UP):  # the same warm-up in both runs
            call()
        settle()
        for _ in range(requests):
            call()


def count(framework: str, name: str, requests: int) -> int:
    """Instructions executed by a child serving ``requests`` (after the same warm-up)."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         str(Path(__file__).resolve()), "--serve", framework, name, str(requests)],
        cwd=HERE, env=env, capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind: {done.stderr[-300:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--frameworks", nargs="+", choices=("Flask", "Starlette", "Django"),
                        default=("Flask", "Starlette", "Django"),
                        help="only these (Django needs django, DRF, knox and the api_key package)")
    parser.add_argument("--serve", nargs=3, metavar=("FRAMEWORK", "NAME", "REQUESTS"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--prepare", metavar="WORKDIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        framework, name, requests = args.serve
        serve(framework, name, int(requests))
        return
    if args.prepare:
        prepare_django(Path(args.prepare))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    requests = args.requests - args.requests % 50  # the Starlette caller serves batches of 50
    contenders = [(framework, name) for framework, name in CONTENDERS if framework in args.frameworks]
    jobs = [(framework, name, n) for framework, name in contenders for n in (0, requests)]
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as prepared:
        if "Django" in args.frameworks:
            # Django's database, made once outside valgrind: migrating under it would take minutes
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--prepare", prepared],
                           cwd=HERE, check=True, stdin=subprocess.DEVNULL)
            os.environ[PREPARED] = prepared
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            counts = dict(zip(jobs, pool.map(lambda job: count(*job), jobs), strict=True))
    per_request = {(f, n): (counts[(f, n, requests)] - counts[(f, n, 0)]) / requests
                   for f, n in contenders}
    print(f"instructions per request (valgrind, {requests} requests, PYTHONHASHSEED=0, "
          f"Python {sys.version.split()[0]})")
    for framework, name in contenders:
        bare = per_request[(framework, "bare")]
        mine = per_request[(framework, name)]
        extra = "" if name == "bare" else (f"  +{mine - bare:,.0f} over bare, "
                                           f"bare/this {bare / mine:.3f}")
        print(f"  {framework:>9} | {LABELS[(framework, name)]:<46} {mine:>10,.0f}{extra}")


if __name__ == "__main__":
    main()
