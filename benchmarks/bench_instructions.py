"""Instructions per request, counted by valgrind: the protected endpoints of bench_web.py, without noise.

Wall-clock ratios move by a few percent from run to run on a shared machine;
an instruction count does not. Each contender of ``bench_web.py`` (bare,
tokenguard, the peer; Flask and Starlette) runs in its own process under
``valgrind --tool=callgrind`` twice, once serving no request and once serving
``--requests``; the difference, divided, is what one request executes. Hash
randomisation is off in both runs so that their start-up is the same.

Instructions are not time (a cache miss costs more than an add), so this is the
companion of ``bench_web.py``, not its replacement: it shows where a difference
comes from and whether a change moved it.

    .venv/bin/python benchmarks/bench_instructions.py [--requests 2000]

Needs valgrind (``apt-get install valgrind``); not part of ``make bench``
(about four minutes on two cores).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import HERE

CONTENDERS = [(framework, name) for framework in ("Flask", "Starlette")
              for name in ("bare", "tokenguard", "peer")]
LABELS = {
    ("Flask", "bare"): "bare endpoint",
    ("Flask", "tokenguard"): "tokenguard @require_scope",
    ("Flask", "peer"): "Flask-HTTPAuth HTTPTokenAuth (dict of tokens)",
    ("Starlette", "bare"): "bare endpoint",
    ("Starlette", "tokenguard"): "TokenGuardMiddleware + @require_scope",
    ("Starlette", "peer"): "AuthenticationMiddleware + @requires (dict)",
}


def serve(framework: str, name: str, requests: int) -> None:
    """The child: build one contender as bench_web.py does, warm it, then serve ``requests``."""
    import bench_web

    from tokenguard import TokenGuard

    with tempfile.TemporaryDirectory(prefix="tg-bench-") as tmp:
        # The cache keeps its entry for the whole run: under valgrind a run lasts minutes,
        # and an entry aged out mid-run would add store look-ups to some runs only.
        guard = TokenGuard(f"sqlite:///{tmp}/web.db", secret_key=bench_web.KEY,
                           load_entry_points=False, max_tokens_per_owner=None, cache_ttl=3600)
        token = guard.create_token("alice", "bench", scopes=["read"]).token
        if framework == "Flask":
            call = bench_web.wsgi_caller(bench_web.flask_apps(guard, token)[name], token)
            for _ in range(bench_web.BATCH + requests):  # the same warm-up in both runs
                call()
        else:
            loop = asyncio.new_event_loop()
            batch = bench_web.asgi_caller(bench_web.starlette_apps(guard, token)[name], token, loop)
            for _ in range(1 + requests // bench_web.BATCH):  # requests of BATCH each
                batch()
        guard.close()


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
    parser.add_argument("--serve", nargs=3, metavar=("FRAMEWORK", "NAME", "REQUESTS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        framework, name, requests = args.serve
        serve(framework, name, int(requests))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    requests = args.requests - args.requests % 50  # the Starlette caller serves batches of 50
    jobs = [(framework, name, n) for framework, name in CONTENDERS for n in (0, requests)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        counts = dict(zip(jobs, pool.map(lambda job: count(*job), jobs), strict=True))
    per_request = {(f, n): (counts[(f, n, requests)] - counts[(f, n, 0)]) / requests
                   for f, n in CONTENDERS}
    print(f"instructions per request (valgrind, {requests} requests, PYTHONHASHSEED=0)")
    for framework, name in CONTENDERS:
        bare = per_request[(framework, "bare")]
        mine = per_request[(framework, name)]
        extra = "" if name == "bare" else (f"  +{mine - bare:,.0f} over bare, "
                                           f"bare/this {bare / mine:.3f}")
        print(f"  {framework:>9} | {LABELS[(framework, name)]:<46} {mine:>10,.0f}{extra}")


if __name__ == "__main__":
    main()
