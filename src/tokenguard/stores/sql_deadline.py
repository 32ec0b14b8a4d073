"""Client-side deadlines for the SQL store: a database that never answers costs one deadline, not minutes.

A black hole (a server, proxy or firewall that accepts connections, then never
answers) is bounded by nothing on an established PostgreSQL connection: libpq
has no read timeout, and TCP keepalives are answered by whatever accepted the
connection. So every store call has a deadline, kept by one watchdog thread per
process. When a deadline passes while its call still waits, the watchdog shuts
down the socket the call waits on (``shutdown(SHUT_RDWR)`` on a duplicate of its
descriptor): the blocked driver wakes at once with a lost-connection error, the
caller raises :class:`DeadlineExceeded` (the store: ``StoreUnavailable``) and
discards the connection, so nothing reuses it.

* The hot path arms a deadline on its thread's kept connection (:meth:`Watchdog.arm`,
  :meth:`Watchdog.disarm`): two turns of one lock and a deque append, no thread hop,
  no timer object. The watchdog sleeps until the earliest pending deadline; while
  the store is busy it wakes about once per timeout, and an idle process never.
* Work through the engine's pool runs inside :func:`call_deadline` (a thread-local
  deadline for the whole store call); the pool hooks of :func:`install` watch each
  connection from check-out to check-in, ping a pooled connection within the
  deadline (instead of SQLAlchemy's unbounded pre-ping) and open a new one in a
  helper thread the caller waits for no longer than the deadline (libpq's own
  connect timeout counts whole seconds, at least 2, per address tried).
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import monotonic
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

from tokenguard.errors import ValidationError

__all__ = ["DEFAULT_TIMEOUT", "URL_OPTION", "WATCHDOG", "Deadline", "DeadlineExceeded",
           "call_deadline", "checked_timeout", "duplicate_socket", "install"]

#: Seconds a store call may wait for the database before the request gets a 503.
DEFAULT_TIMEOUT = 5.0
#: The longest deadline accepted (a store call waiting longer than this is a configuration error).
MAX_TIMEOUT = 86400.0
#: The store URL's query parameter that sets the deadline (``…?tokenguard_timeout=2``).
URL_OPTION = "tokenguard_timeout"


class DeadlineExceeded(Exception):
    """The database did not answer within the store's deadline; the connection was shut down."""


def checked_timeout(value: object, field: str = "timeout") -> float:
    """``value`` as seconds: a positive, finite number (at most a day), else ``ValidationError``."""
    if isinstance(value, str) and field == URL_OPTION:
        try:
            value = float(value)
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 < value <= MAX_TIMEOUT:
        raise ValidationError(f"{field} must be a positive number of seconds, at most {MAX_TIMEOUT:g}",
                              field=field)
    return float(value)


class Deadline:
    """One store call's deadline: the sockets to shut down when it passes before the call ends."""

    __slots__ = ("at", "done", "fired", "queue", "seconds", "sock", "watched")

    def __init__(self, at: float, seconds: float, queue: deque[Deadline],
                 sock: socket.socket | None) -> None:
        self.at = at
        self.seconds = seconds
        self.queue = queue
        #: the hot path's socket (its kept connection's duplicate: not closed here)
        self.sock = sock
        #: (key, socket, owned) for connections used meanwhile; owned duplicates are closed here
        self.watched: list[tuple[object, socket.socket, bool]] | None = None
        self.done = False
        self.fired = False

    def exceeded(self) -> DeadlineExceeded:
        return DeadlineExceeded(f"no answer from the database within {self.seconds:g} s")


class Watchdog:
    """One thread that shuts down the sockets of calls whose deadline passed."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        #: pending deadlines per timeout, in the order they pass (each is ``monotonic() + seconds``)
        self._queues: dict[float, deque[Deadline]] = {}
        #: when the thread looks again on its own (``inf``: only when notified)
        self._wake_at = math.inf
        #: a deadline was armed since the thread last looked
        self._armed = False
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, sock: socket.socket | None = None) -> Deadline:
        """A deadline ``seconds`` from now; ``sock`` (if any) is shut down when it passes first."""
        with self._lock:
            queue = self._queues.get(seconds)
            if queue is None:
                queue = self._queues[seconds] = deque()
            deadline = Deadline(monotonic() + seconds, seconds, queue, sock)
            queue.append(deadline)
            self._armed = True
            if deadline.at < self._wake_at:  # sooner than the thread looks: tell it
                self._wake_at = deadline.at
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="tokenguard-store-deadlines",
                                                    daemon=True)
                    self._thread.start()
                self._wake.notify()
        return deadline

    def disarm(self, deadline: Deadline) -> bool:
        """End ``deadline``'s call: True if it passed first (its sockets were shut down)."""
        with self._lock:
            deadline.done = True
            queue = deadline.queue
            while queue and queue[0].done:
                queue.popleft()
            watched, deadline.watched = deadline.watched, None
        if watched:
            for _, sock, owned in watched:
                if owned:
                    sock.close()
        return deadline.fired

    def watch(self, deadline: Deadline, key: object, sock: socket.socket, *, owned: bool) -> None:
        """Shut ``sock`` down too if ``deadline`` passes before :meth:`unwatch` (once per ``key``).

        Raises ``DeadlineExceeded`` (closing an owned ``sock``) if it has passed already.
        """
        with self._lock:
            fired = deadline.fired
            watched = deadline.watched
            known = watched is not None and any(entry[0] is key for entry in watched)
            if not fired and not known:
                if watched is None:
                    watched = deadline.watched = []
                watched.append((key, sock, owned))
                return
        if owned:
            sock.close()
        if fired:
            raise deadline.exceeded()

    def unwatch(self, deadline: Deadline, key: object) -> bool:
        """Stop watching what was watched under ``key``; True if ``deadline`` passed meanwhile."""
        with self._lock:
            watched = deadline.watched
            if not watched:
                return deadline.fired
            kept = [entry for entry in watched if entry[0] is not key]
            if len(kept) != len(watched):
                deadline.watched = kept
            gone = [entry for entry in watched if entry[0] is key]
        for _, sock, owned in gone:
            if owned:
                sock.close()
        return deadline.fired

    def _run(self) -> None:
        with self._lock:
            while True:
                now = monotonic()
                wake_at = math.inf
                for queue in self._queues.values():
                    while queue and (queue[0].done or queue[0].at <= now):
                        passed = queue.popleft()
                        if not passed.done:
                            _fire(passed)
                    if queue:
                        wake_at = min(wake_at, queue[0].at)
                if wake_at == math.inf and self._armed and self._queues:
                    # Busy lately: look again once the shortest timeout has passed. A deadline
                    # armed from now on passes no sooner, so arming it needs no notify.
                    wake_at = now + min(self._queues)
                elif wake_at == math.inf:
                    self._queues.clear()  # idle: sleep until the next arm
                self._armed = False
                self._wake_at = wake_at
                self._wake.wait(None if wake_at == math.inf else wake_at - now)

    def forget_after_fork(self) -> None:
        """In a forked child: no thread, no pending deadlines (the parent's calls are not ours)."""
        self._reset()


def _fire(deadline: Deadline) -> None:
    """Shut ``deadline``'s sockets down (under the watchdog's lock: its call cannot end meanwhile)."""
    deadline.fired = True
    sockets = [entry[1] for entry in deadline.watched or ()]
    if deadline.sock is not None:
        sockets.append(deadline.sock)
    for sock in sockets:
        with contextlib.suppress(OSError):  # closed by the driver already: nothing waits on it
            sock.shutdown(socket.SHUT_RDWR)


#: The process's one watchdog.
WATCHDOG = Watchdog()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=WATCHDOG.forget_after_fork)


def duplicate_socket(dbapi_connection: Any) -> socket.socket | None:
    """A socket on a duplicate of the connection's descriptor (``None``: the driver has none).

    The duplicate keeps the descriptor number from being reused by another file while it
    is watched, whatever the driver does with its own; close it when done.
    """
    try:
        fileno = getattr(dbapi_connection, "fileno", None)  # psycopg, mysqlclient
        if callable(fileno):
            descriptor = fileno()
        else:
            driver_socket = getattr(dbapi_connection, "_sock", None)  # PyMySQL
            if driver_socket is None:
                return None
            descriptor = driver_socket.fileno()
    except Exception:  # closed, or not a network connection
        return None
    if not isinstance(descriptor, int) or descriptor < 0:
        return None
    duplicate = os.dup(descriptor)
    try:
        return socket.socket(fileno=duplicate)
    except OSError:  # not a socket
        os.close(duplicate)
        return None


_local = threading.local()


def current() -> Deadline | None:
    """The deadline of the store call running on this thread, if any."""
    return getattr(_local, "deadline", None)


@contextmanager
def call_deadline(seconds: float | None) -> Iterator[Deadline | None]:
    """One store call's deadline on this thread; a call made inside another shares its deadline.

    When it passes first, whatever the call raised (or returned) becomes ``DeadlineExceeded``.
    ``seconds=None``: no deadline.
    """
    outer = current()
    if outer is not None or seconds is None:
        yield outer
        return
    deadline = WATCHDOG.arm(seconds)
    _local.deadline = deadline
    try:
        yield deadline
    except BaseException:
        _local.deadline = None
        if WATCHDOG.disarm(deadline):
            raise deadline.exceeded() from None
        raise
    _local.deadline = None
    if WATCHDOG.disarm(deadline):
        raise deadline.exceeded()


# -- the engine's pool, within the call's deadline ---------------------------------------

_FRESH = "tokenguard.fresh"


def install(engine: Engine, *, ping: bool, bounded_connect: bool) -> Callable[[], None]:
    """Hook ``engine`` so that the store call's deadline covers its pool; returns the unhooker.

    Always: a checked-out connection is watched until checked in or detached. ``ping``:
    a pooled connection is pinged at check-out, within the deadline (give the engine
    ``pool_pre_ping=False``). ``bounded_connect``: a new connection is opened within it.
    Outside a store call (no deadline on the thread) the hooks change nothing but the ping,
    which is then made as SQLAlchemy's pre-ping would.
    """
    dialect = engine.dialect

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        deadline = current()
        if deadline is not None:
            _watch_connection(deadline, record, dbapi_connection)
        if ping and not record.info.pop(_FRESH, False):
            _ping(dbapi_connection, deadline)

    def on_release(dbapi_connection: Any, record: Any) -> None:
        deadline = current()
        if deadline is not None:
            WATCHDOG.unwatch(deadline, record)

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        record.info[_FRESH] = True  # just opened: no ping at its first check-out

    def do_connect(dialect_: Any, record: Any, cargs: Any, cparams: Any) -> Any:
        deadline = current()
        if deadline is None:
            return None  # SQLAlchemy connects, bounded by the driver's connect timeout
        connection = _connect_within(deadline, lambda: dialect.connect(*cargs, **cparams))
        try:  # the dialect's first queries on it (server version, …) are within the deadline too
            _watch_connection(deadline, record, connection)
        except DeadlineExceeded:
            _close_quietly(connection)
            raise
        return connection

    def _ping(dbapi_connection: Any, deadline: Deadline | None) -> None:
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:
            if deadline is not None and deadline.fired:
                raise deadline.exceeded() from None  # the pool discards the connection
            if isinstance(exc, dialect.loaded_dbapi.Error) and \
                    dialect.is_disconnect(exc, dbapi_connection, None):
                raise DisconnectionError("pre-ping failed") from None  # the pool replaces it
            raise
        if not alive:
            raise DisconnectionError("pre-ping failed")

    hooks: list[tuple[str, Callable[..., Any]]] = [
        ("checkout", on_checkout), ("checkin", on_release), ("detach", on_release)]
    if ping:
        hooks.append(("connect", on_connect))
    if bounded_connect:
        hooks.append(("do_connect", do_connect))
    for name, hook in hooks:
        event.listen(engine, name, hook)

    def uninstall() -> None:
        for name, hook in hooks:
            with contextlib.suppress(Exception):  # removed already
                event.remove(engine, name, hook)

    return uninstall


def _watch_connection(deadline: Deadline, key: object, dbapi_connection: Any) -> None:
    sock = duplicate_socket(dbapi_connection)
    if sock is not None:
        WATCHDOG.watch(deadline, key, sock, owned=True)
    elif deadline.fired:
        raise deadline.exceeded()


def _close_quietly(connection: Any) -> None:
    with contextlib.suppress(Exception):
        connection.close()


class _Attempt:
    """A connect running in a helper thread, which closes what it opens once nobody waits for it."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._abandoned = False
        self._connection: Any = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, args=(connect,), name="tokenguard-connect",
                         daemon=True).start()

    def _run(self, connect: Callable[[], Any]) -> None:
        try:
            connection = connect()
        except BaseException as exc:  # handed to the caller
            with self._lock:
                self._error = exc
                self._finished.set()
            return
        with self._lock:
            abandoned = self._abandoned
            if not abandoned:
                self._connection = connection
                self._finished.set()
        if abandoned:
            _close_quietly(connection)

    def outcome(self, deadline: Deadline) -> Any:
        try:
            self._finished.wait(max(0.0, deadline.at - monotonic()))
        finally:  # given up at the deadline (or interrupted): the helper closes what it opens
            with self._lock:
                abandoned = self._abandoned = not self._finished.is_set()
        if abandoned:
            raise deadline.exceeded()
        error, self._error = self._error, None
        if error is not None:
            raise error
        return self._connection


def _connect_within(deadline: Deadline, connect: Callable[[], Any]) -> Any:
    """``connect()``, or ``DeadlineExceeded`` once ``deadline`` passes (the attempt is abandoned)."""
    if deadline.fired or deadline.at <= monotonic():
        raise deadline.exceeded()
    return _Attempt(connect).outcome(deadline)
