"""Fault injection: a TCP proxy on 127.0.0.1 that a test can cut and restore.

Point a database URL at the proxy instead of the server; then

* ``cut()``: live connections are dropped and new ones refused (server unreachable);
* ``restore()``: the same port accepts and forwards again (server back);
* ``drop_connections()``: live connections are dropped, new ones still work
  (the server restarted under a connection pool);
* ``black_hole()``: connections are accepted and read, and never answered, live or new
  (a hung server, or a firewall that swallows packets); ``forward()`` ends it: the
  connections whose bytes were swallowed are dropped (their streams are torn), new
  ones are forwarded again.

Every loop is bounded by a socket timeout, and ``close()`` stops every thread.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from types import TracebackType

_POLL = 0.05


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.host = "127.0.0.1"
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._running = True
        self._listener: socket.socket | None = self._listen(0)
        self.port: int = self._listener.getsockname()[1]
        self.accepted = 0
        self._flowing = threading.Event()  # cleared: a frozen server, that keeps every byte
        self._flowing.set()
        self._swallowing = False  # a black hole: every byte read is dropped, nothing answers
        self._holes: list[socket.socket] = []  # accepted during a black hole, never connected
        self._torn: list[tuple[socket.socket, socket.socket]] = []  # pairs that lost bytes
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, port))
        listener.listen(64)
        listener.settimeout(_POLL)
        return listener

    def _accept_loop(self) -> None:
        while self._running:
            listener = self._listener
            if listener is None:
                threading.Event().wait(_POLL)
                continue
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            self._connect(client)

    def _connect(self, client: socket.socket) -> None:
        with self._lock:
            if self._swallowing:
                self._holes.append(client)
                self.accepted += 1
                threading.Thread(target=_swallow, args=(client,), daemon=True).start()
                return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _close(client)
            return
        for sock in (client, upstream):
            sock.settimeout(None)
        with self._lock:
            if self._listener is None:  # cut while connecting
                _close(client)
                _close(upstream)
                return
            self._pairs.append((client, upstream))
            self.accepted += 1
        pair = (client, upstream)
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(pair, source, sink), daemon=True).start()

    def _pump(self, pair: tuple[socket.socket, socket.socket], source: socket.socket,
              sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self._flowing.wait()
                with self._lock:
                    swallowed = self._swallowing
                    if swallowed and pair not in self._torn:
                        self._torn.append(pair)
                if not swallowed:
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)

    @property
    def is_cut(self) -> bool:
        return self._listener is None

    def drop_connections(self) -> int:
        """Close every live connection; return how many there were."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, upstream in pairs:
            _close(client)
            _close(upstream)
        return len(pairs)

    def cut(self) -> None:
        """The server becomes unreachable: connections dropped, new ones refused."""
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)  # shutdown first: a thread blocked in accept() lets go at once
        self.drop_connections()

    def restore(self) -> None:
        """The server is reachable again, on the same port."""
        for _ in range(100):  # a closing listener may hold the port for a moment
            with self._lock:
                if self._listener is not None:
                    return
                try:
                    self._listener = self._listen(self.port)
                    return
                except OSError:
                    pass
            threading.Event().wait(_POLL / 5)
        raise OSError(f"port {self.port} could not be listened on again")

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        self.cut()
        try:
            yield
        finally:
            self.restore()

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """The server stops answering without closing anything (a partition, a hung host)."""
        self._flowing.clear()
        try:
            yield
        finally:
            self._flowing.set()

    def black_hole(self) -> None:
        """Accept and read, never answer: live connections and new ones alike."""
        with self._lock:
            self._swallowing = True

    def forward(self) -> None:
        """End a black hole: connections that lost bytes are dropped, new ones forwarded."""
        with self._lock:
            self._swallowing = False
            holes, self._holes = self._holes, []
            torn, self._torn = self._torn, []
            self._pairs = [pair for pair in self._pairs if pair not in torn]
        for sock in holes:
            _close(sock)
        for client, upstream in torn:
            _close(client)
            _close(upstream)

    @contextlib.contextmanager
    def black_holed(self) -> Iterator[None]:
        self.black_hole()
        try:
            yield
        finally:
            self.forward()

    def close(self) -> None:
        self.forward()
        self._flowing.set()
        self._running = False
        self.cut()
        self._thread.join(timeout=5)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _swallow(sock: socket.socket) -> None:
    """Read until the peer or ``forward()`` closes the connection; answer nothing."""
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def through(url: str, proxy: TcpProxy, port: int) -> str:
    """``url`` with its ``host:port`` replaced by the proxy's."""
    marker = f"127.0.0.1:{port}"
    if marker not in url:
        raise ValueError("the URL does not name 127.0.0.1 and the expected port")
    return url.replace(marker, f"{proxy.host}:{proxy.port}", 1)
