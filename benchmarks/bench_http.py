"""Over the network: uvicorn (one worker, httptools, uvloop when installed) driven by wrk.

Three servers on 127.0.0.1: a bare Starlette endpoint, the same endpoint
behind ``TokenGuardMiddleware`` + ``@require_scope`` (SQLite store, default
cache), and behind Starlette's ``AuthenticationMiddleware``. wrk runs against
each in turn, in interleaved rounds; figures are median requests per second
and the median of per-round ratios.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import HERE, KEY, QUICK, Report, Row, header, spread

from tokenguard import TokenGuard

APPS = ("bare", "tokenguard", "starlette_auth")
ROUNDS = 3 if QUICK else 9  # short rounds, many: the median of per-round ratios steadies
SECONDS = 2
CONNECTIONS = 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(app: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", f"http_apps:{app}", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", "--no-access-log"]
    server = subprocess.Popen(command, cwd=HERE, env=env, stdout=subprocess.DEVNULL)
    return server, f"http://127.0.0.1:{port}/notes"


def wait_ready(url: str, token: str, server: subprocess.Popen[bytes]) -> None:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def wrk(url: str, script: Path, seconds: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise RuntimeError(f"wrk saw error responses from {url}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"no Requests/sec in wrk output: {out[-300:]}")
    return float(found.group(1))


def main() -> None:
    header("http: uvicorn + wrk")
    report = Report("http")
    if shutil.which("wrk") is None:
        report.add(Row("uvicorn", "not measured: wrk is not installed", 0, ""))
        report.save()
        return
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir}/http.db"
        guard = TokenGuard(url, secret_key=KEY, load_entry_points=False)
        token = guard.create_token("alice", "wrk", scopes=["read"]).token
        guard.close()
        token_file = workdir / "token"
        token_file.write_text(token)
        token_file.chmod(0o600)
        script = workdir / "bearer.lua"
        script.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
        script.chmod(0o600)
        env = {**os.environ, "BENCH_DATABASE_URL": url, "BENCH_SECRET_KEY": KEY.decode(),
               "BENCH_PEER_TOKEN_FILE": str(token_file)}
        servers = {app: start_server(app, env) for app in APPS}
        try:
            for server, address in servers.values():
                wait_ready(address, token, server)
                wrk(address, script, 1)  # warm: connections, cache, JIT-free but page cache
            rps: dict[str, list[float]] = {app: [] for app in APPS}
            for _ in range(ROUNDS):
                for app, (_, address) in servers.items():
                    rps[app].append(wrk(address, script, SECONDS))
        finally:
            for server, _ in servers.values():
                server.terminate()
            for server, _ in servers.values():
                server.wait(timeout=10)
    section = "uvicorn+wrk"
    report.add(Row(section, "bare Starlette endpoint", statistics.median(rps["bare"]), "req/s",
                   note=f"1 worker, wrk -t1 -c{CONNECTIONS}, {SECONDS}s x {ROUNDS} rounds"))
    our_rounds = [a / b for a, b in zip(rps["tokenguard"], rps["bare"], strict=True)]
    ours = statistics.median(our_rounds)
    report.add(Row(section, "TokenGuardMiddleware + @require_scope", statistics.median(rps["tokenguard"]),
                   "req/s", ours, "bare", "≥ 0.85", ours >= 0.85, spread(our_rounds)))
    peer_rounds = [a / b for a, b in zip(rps["starlette_auth"], rps["bare"], strict=True)]
    peer = statistics.median(peer_rounds)
    report.add(Row(section, "AuthenticationMiddleware + @requires (dict)",
                   statistics.median(rps["starlette_auth"]), "req/s", peer, "bare", "tokenguard ahead",
                   ours > peer, spread(peer_rounds)))
    report.save()


if __name__ == "__main__":
    main()
