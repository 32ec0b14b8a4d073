"""GitHub's side of secret scanning, for the tests of the partner endpoint.

ECDSA P-256 keys the test makes, a key server of its own on 127.0.0.1 (``http.server`` in
a thread) that publishes their public halves as GitHub's ``public_keys`` document, and
reports signed as GitHub signs them: base64 DER over the raw body. Needs ``cryptography``:
a test module calls ``pytest.importorskip("cryptography")`` before importing this one.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

#: the ``url`` of the place GitHub found a token in.
REPO = "https://github.com/octocat/Hello-World/blob/1234/foo/bar.txt"


class Key:
    def __init__(self, identifier: str) -> None:
        self.identifier = identifier
        self.private = ec.generate_private_key(ec.SECP256R1())

    def pem(self) -> str:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self.private.sign(body, ec.ECDSA(hashes.SHA256()))).decode()


class KeyServer:
    """Publishes ``{"public_keys": [...]}`` at ``url``; counts the requests."""

    def __init__(self) -> None:
        self.keys: list[Key] = []
        self.requests = 0
        self.broken = False
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                if outer.broken:
                    self.send_response(500)
                    self.end_headers()
                    return
                body = json.dumps({"public_keys": [
                    {"key_identifier": k.identifier, "key": k.pem(), "is_current": True}
                    for k in outer.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/meta/public_keys/secret_scanning"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@contextmanager
def key_server(*identifiers: str) -> Iterator[KeyServer]:
    """A key server publishing a new key for each of ``identifiers``, closed afterwards."""
    made = KeyServer()
    made.keys.extend(Key(identifier) for identifier in identifiers)
    try:
        yield made
    finally:
        made.close()


def signed_report(key: Key, token: str) -> tuple[bytes, dict[str, str]]:
    """GitHub's report that it found ``token`` at ``REPO``, and the headers that sign it with ``key``."""
    body = json.dumps([{"token": token, "type": "tokenguard_api_token", "url": REPO,
                        "source": "content"}]).encode()
    return body, {"Content-Type": "application/json", "Github-Public-Key-Identifier": key.identifier,
                  "Github-Public-Key-Signature": key.sign(body)}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
