"""The fault-injection proxy does what the fault tests rely on."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from faults import TcpProxy, through


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(1024):
            self.request.sendall(data)


@pytest.fixture
def echo() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def roundtrip(port: int, payload: bytes = b"ping") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(payload)
        return sock.recv(1024)


def test_forwards_cuts_and_restores_on_the_same_port(echo: int) -> None:
    with TcpProxy("127.0.0.1", echo) as proxy:
        assert roundtrip(proxy.port) == b"ping"
        live = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        live.sendall(b"a")
        assert live.recv(10) == b"a"
        proxy.cut()
        assert proxy.is_cut
        assert live.recv(10) == b""                     # the live connection is gone
        live.close()
        with pytest.raises(OSError):
            roundtrip(proxy.port)                       # and nobody gets in
        proxy.restore()
        assert roundtrip(proxy.port, b"back") == b"back"


def test_drop_connections_keeps_accepting(echo: int) -> None:
    with TcpProxy("127.0.0.1", echo) as proxy:
        live = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        live.sendall(b"x")
        assert live.recv(10) == b"x"
        assert proxy.drop_connections() == 1
        assert live.recv(10) == b""
        live.close()
        assert roundtrip(proxy.port) == b"ping"


def test_through_rewrites_only_the_server_address() -> None:
    with TcpProxy("127.0.0.1", 5432) as proxy:
        url = through("postgresql+psycopg://postgres@127.0.0.1:5432/db", proxy, 5432)
        assert url == f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/db"
        with pytest.raises(ValueError):
            through("postgresql://elsewhere:5432/db", proxy, 5432)


def test_black_hole_reads_and_never_answers_then_forward_drops_what_it_tore(echo: int) -> None:
    with TcpProxy("127.0.0.1", echo) as proxy:
        live = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        live.sendall(b"a")
        assert live.recv(10) == b"a"
        proxy.black_hole()
        live.sendall(b"lost")
        held = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)  # still accepted
        held.sendall(b"lost too")
        for sock in (live, held):
            sock.settimeout(0.2)
            with pytest.raises(TimeoutError):
                sock.recv(10)                           # read, never answered
        proxy.forward()
        for sock in (live, held):
            sock.settimeout(2)
            assert sock.recv(10) == b""                 # their streams were torn: dropped
            sock.close()
        assert roundtrip(proxy.port, b"back") == b"back"
