"""GitHub's secret-scanning partner endpoint, ``POST {api_path}/secret-scanning``, on Flask and ASGI.

The test makes its own ECDSA P-256 keys, publishes them from a key server of its own on
127.0.0.1 and signs bodies as GitHub does (``_secret_scanning_support``). The key
cache's clock is the test's, so nothing waits.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("cryptography")

from _secret_scanning_support import REPO, Key, KeyServer, key_server, sha256
from _testclock import ManualClock
from test_web_api_round2 import API, AsgiClient, Client, FlaskClient, make_guard
from tokenguard import TokenGuard, TokenInfo, hookimpl
from tokenguard.errors import ValidationError
from tokenguard.tokens import checksum
from tokenguard.web import openapi, secret_scanning
from tokenguard.web.options import WebOptions
from tokenguard.web.secret_scanning import (
    REFETCH_INTERVAL,
    GithubKeys,
    SecretScanning,
    find_tokens,
    token_pattern,
)

PATH = f"{API}/secret-scanning"


class Seconds:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Leaks:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []

    @hookimpl
    def tokenguard_token_leaked(self, info: TokenInfo, source: str, url: str | None) -> None:
        self.seen.append((info.id, source, url))


@dataclasses.dataclass
class World:
    guard: TokenGuard
    client: Client
    server: KeyServer
    key: Key
    seconds: Seconds
    leaks: Leaks
    keys: GithubKeys

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> Any:
        return self.client.raw("POST", PATH, {"Content-Type": "application/json", **(headers or {})}, body)

    def signed(self, matches: list[dict[str, Any]], key: Key | None = None) -> Any:
        body = json.dumps(matches).encode()
        signer = key or self.key
        return self.post(body, {"Github-Public-Key-Identifier": signer.identifier,
                                "Github-Public-Key-Signature": signer.sign(body)})


@pytest.fixture
def server() -> Iterator[KeyServer]:
    with key_server() as made:
        yield made


def enable(client: Client, url: str, seconds: Seconds) -> GithubKeys:
    """Switch the endpoint on in the adapter's web layer, with the test's key URL and clock."""
    web = client.web
    options = dataclasses.replace(web.options, secret_scanning=True, github_keys_url=url)
    keys = GithubKeys(url, clock=seconds, timeout=10.0)
    web.api.scanning = SecretScanning(web.guard, options, keys)
    return keys


@pytest.fixture(params=["flask", "asgi"])
def world(request: pytest.FixtureRequest, server: KeyServer) -> Iterator[World]:
    leaks = Leaks()
    guard = make_guard(ManualClock(), plugins=[leaks])
    client: Client = FlaskClient(guard) if request.param == "flask" else AsgiClient(guard)
    key = Key("key-1")
    server.keys.append(key)
    seconds = Seconds()
    keys = enable(client, server.url, seconds)
    yield World(guard, client, server, key, seconds, leaks, keys)
    guard.close()


def foreign_token(guard: TokenGuard) -> str:
    body = "Z" * 32
    return f"{guard.prefix}_{body}{checksum(body)}"


# -- the happy path and replays -----------------------------------------------------------------------


def test_reported_tokens_of_ours_are_revoked_and_labelled(world: World) -> None:
    ours = world.guard.create_token("alice", "ci", token_id="ci").token
    foreign = foreign_token(world.guard)
    reply = world.signed([
        {"token": ours, "type": "tokenguard_api_token", "url": REPO, "source": "content"},
        {"token": foreign, "type": "tokenguard_api_token", "url": REPO, "source": "commit"},
        {"token": "NMIfyYncKcRALEXAMPLE", "type": "tokenguard_api_token", "url": REPO},
    ])
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"] == "application/json"
    assert reply.body == [
        {"token_hash": sha256(ours), "token_type": "tokenguard_api_token", "label": "true_positive"},
        {"token_hash": sha256(foreign), "token_type": "tokenguard_api_token", "label": "false_positive"},
        {"token_hash": sha256("NMIfyYncKcRALEXAMPLE"), "token_type": "tokenguard_api_token",
         "label": "false_positive"},
    ]
    assert ours.encode() not in json.dumps(reply.body).encode()  # never echoed
    assert world.guard.get_token("ci").status == "revoked"
    assert world.leaks.seen == [("ci", "github", REPO)]
    assert world.keys.fetches == 1 and world.server.requests == 1


def test_a_replay_is_harmless(world: World) -> None:
    ours = world.guard.create_token("alice", "ci", token_id="ci").token
    matches = [{"token": ours, "type": "t", "url": REPO, "source": "content"}]
    first = world.signed(matches)
    revoked_at = world.guard.get_token("ci").revoked_at
    second = world.signed(matches)
    assert first.status == second.status == 200 and first.body == second.body
    assert world.guard.get_token("ci").revoked_at == revoked_at
    assert len(world.leaks.seen) == 1  # reported leaked once
    assert world.server.requests == 1  # the keys came from the cache


def test_an_empty_report_is_an_empty_answer(world: World) -> None:
    reply = world.signed([])
    assert (reply.status, reply.body) == (200, [])


# -- signatures ---------------------------------------------------------------------------------------


def test_a_bad_signature_is_401_and_changes_nothing(world: World) -> None:
    issued = world.guard.create_token("alice", "ci", token_id="ci")
    body = json.dumps([{"token": issued.token, "type": "t", "url": REPO}]).encode()
    impostor = Key(world.key.identifier)  # claims GitHub's identifier, signs with its own key
    for headers in (
        {"Github-Public-Key-Identifier": world.key.identifier,
         "Github-Public-Key-Signature": impostor.sign(body)},
        {"Github-Public-Key-Identifier": world.key.identifier,
         "Github-Public-Key-Signature": world.key.sign(body + b" ")},  # signed another body
        {"Github-Public-Key-Identifier": world.key.identifier, "Github-Public-Key-Signature": "not base64!"},
        {"Github-Public-Key-Identifier": world.key.identifier,
         "Github-Public-Key-Signature": base64.b64encode(b"garbage").decode()},
    ):
        reply = world.post(body, headers)
        assert (reply.status, reply.body["error"]) == (401, "invalid_signature"), headers
    assert world.guard.get_token("ci").status == "active" and world.leaks.seen == []


def test_a_missing_signature_or_identifier_is_401(world: World) -> None:
    issued = world.guard.create_token("alice", "ci", token_id="ci")
    body = json.dumps([{"token": issued.token, "type": "t"}]).encode()
    signature = world.key.sign(body)
    for headers in ({}, {"Github-Public-Key-Signature": signature},
                    {"Github-Public-Key-Identifier": world.key.identifier},
                    {"Github-Public-Key-Identifier": "bad id with spaces",
                     "Github-Public-Key-Signature": signature}):
        reply = world.post(body, headers)
        assert reply.status == 401, headers
    assert world.guard.get_token("ci").status == "active"
    assert world.server.requests == 0  # refused before any key was needed


def test_a_bearer_token_or_a_session_is_no_signature(world: World) -> None:
    manager = world.guard.create_token("alice", "m", scopes=["management"])
    body = json.dumps([{"token": manager.token, "type": "t"}]).encode()
    reply = world.post(body, {"Authorization": f"Bearer {manager.token}"})
    assert reply.status == 401
    assert world.guard.get_token(manager.info.id).status == "active"


def test_an_unknown_identifier_fetches_the_keys_again_once(world: World) -> None:
    issued = world.guard.create_token("alice", "ci", token_id="ci")
    matches = [{"token": issued.token, "type": "t", "url": REPO}]
    assert world.signed(matches, Key("never-published")).status == 401
    assert world.keys.fetches == 1
    new = Key("key-2")
    world.server.keys.append(new)  # GitHub publishes a new key
    refused = world.signed(matches, new)  # within REFETCH_INTERVAL of the last fetch: not fetched
    assert refused.status == 401 and world.keys.fetches == 1
    world.seconds.now += REFETCH_INTERVAL
    reply = world.signed(matches, new)
    assert reply.status == 200 and reply.body[0]["label"] == "true_positive"
    assert world.keys.fetches == 2
    assert world.signed(matches, new).status == 200 and world.keys.fetches == 2  # cached now
    world.seconds.now += REFETCH_INTERVAL
    assert world.signed(matches, world.key).status == 200 and world.keys.fetches == 2  # known: no fetch


def test_the_keys_expire_from_the_cache(world: World) -> None:
    matches = [{"token": "x", "type": "t"}]
    assert world.signed(matches).status == 200
    world.seconds.now += secret_scanning.KEYS_TTL
    assert world.signed(matches).status == 200 and world.keys.fetches == 2


def test_an_unreachable_key_server_is_503_and_changes_nothing(world: World) -> None:
    issued = world.guard.create_token("alice", "ci", token_id="ci")
    world.server.broken = True
    reply = world.signed([{"token": issued.token, "type": "t"}])
    assert (reply.status, reply.body["error"]) == (503, "temporarily_unavailable")
    assert reply.headers["retry-after"] == "60"
    assert world.guard.get_token("ci").status == "active"
    world.server.broken = False
    assert world.signed([{"token": issued.token, "type": "t"}]).status == 200  # it tries again


@pytest.mark.parametrize("body", [b"{}", b"not json", b'[{"type": "t"}]', b'["tg_x"]', b'[{"token": 5}]'])
def test_a_signed_malformed_body_is_400(world: World, body: bytes) -> None:
    reply = world.post(body, {"Github-Public-Key-Identifier": world.key.identifier,
                              "Github-Public-Key-Signature": world.key.sign(body)})
    assert (reply.status, reply.body["error"]) == (400, "invalid_request")


def test_only_post(world: World) -> None:
    reply = world.client.raw("GET", PATH, {}, b"")
    assert (reply.status, reply.headers["allow"]) == (405, "POST")


# -- off by default ------------------------------------------------------------------------------------


@pytest.mark.parametrize("adapter", ["flask", "asgi"])
def test_off_by_default(adapter: str, server: KeyServer) -> None:
    guard = make_guard(ManualClock())
    client: Client = FlaskClient(guard) if adapter == "flask" else AsgiClient(guard)
    assert WebOptions().secret_scanning is False
    assert WebOptions().github_keys_url == "https://api.github.com/meta/public_keys/secret_scanning"
    issued = guard.create_token("alice", "ci", token_id="ci")
    key = Key("k")
    server.keys.append(key)
    body = json.dumps([{"token": issued.token, "type": "t"}]).encode()
    reply = client.raw("POST", PATH, {"Content-Type": "application/json",
                                      "Github-Public-Key-Identifier": "k",
                                      "Github-Public-Key-Signature": key.sign(body)}, body)
    assert reply.status in (401, 404, 405)
    assert guard.get_token("ci").status == "active" and server.requests == 0
    guard.close()


def test_options_are_checked() -> None:
    with pytest.raises(ValidationError, match="github_keys_url"):
        WebOptions(secret_scanning=True, github_keys_url="file:///etc/passwd")
    with pytest.raises(ValidationError, match="secret_scanning"):
        WebOptions(secret_scanning="yes")  # type: ignore[arg-type]


def test_without_cryptography_switching_it_on_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    guard = make_guard(ManualClock())
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.asymmetric.ec", None)
    with pytest.raises(ValidationError, match=r"tokenguard\[github\]"):
        SecretScanning(guard, WebOptions(secret_scanning=True))
    SecretScanning(guard, WebOptions())  # off: cryptography is not needed
    guard.close()


def test_openapi_shows_the_endpoint_when_it_is_on() -> None:
    guard = make_guard(ManualClock())
    doc = openapi.document(guard, WebOptions(secret_scanning=True))
    operation = doc["paths"][PATH]["post"]
    assert operation["security"] == [] and "401" in operation["responses"]
    assert PATH not in openapi.document(guard, WebOptions())["paths"]
    guard.close()


# -- the scanner's pattern -----------------------------------------------------------------------------


def test_token_pattern_and_find_tokens() -> None:
    assert token_pattern("tg") == "tg_[0-9A-Za-z]{38}"
    assert token_pattern("acme2") == "acme2_[0-9A-Za-z]{38}"
    guard = make_guard(ManualClock())
    token = guard.create_token("alice", "ci").token
    text = f"a {token} b\nx{token}\n{token}x\n{foreign_token(guard)[:-1]}0\nsecret-token:{token}\n"
    found = list(find_tokens(text, "tg"))
    assert [(f.line, f.column) for f in found] == [(1, 3), (5, 14)]
    assert all(f.token == token for f in found) and token not in repr(found[0])
    assert found[0].hint == f"tg_…{token[-4:]}"
    guard.close()


def test_flask_switches_the_endpoint_on_from_its_config() -> None:
    """TOKENGUARD_SECRET_SCANNING and TOKENGUARD_GITHUB_KEYS_URL reach the web layer's options."""
    from flask import Flask

    from tokenguard import TokenGuard
    from tokenguard_flask import FlaskTokenGuard
    from tokenguard_flask.extension import state

    app = Flask(__name__)
    app.config.update(TOKENGUARD_SECRET_SCANNING=True, TOKENGUARD_GITHUB_KEYS_URL="http://127.0.0.1:9/keys")
    FlaskTokenGuard(app, TokenGuard("memory://", secret_key="k" * 40, load_entry_points=False))
    with app.app_context():
        options = state().web.options
    assert options.secret_scanning is True and options.github_keys_url == "http://127.0.0.1:9/keys"
