"""Did a call wait for a row lock held elsewhere? Asked of the server (PostgreSQL, MariaDB), never timed.

``call_beside_lock(holder, call)`` runs ``call`` in a thread while ``holder`` keeps its
transaction's locks, and meanwhile asks the server, over a connection of its own, whether
any session waits for ``holder``: PostgreSQL's ``pg_blocking_pids()``, MariaDB's
``information_schema.INNODB_LOCK_WAITS``. A call that waits would wait until the lock is
released, so the question is always answered before it can finish: then (or once the call
has returned) the holder's transaction is rolled back. A loaded machine changes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

T = TypeVar("T")

_SESSION_ID = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
_WAITING_FOR = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE :holder = ANY(pg_blocking_pids(pid))",
    "mysql": "SELECT COUNT(*) FROM information_schema.INNODB_LOCK_WAITS w "
             "JOIN information_schema.INNODB_TRX t ON t.trx_id = w.blocking_trx_id "
             "WHERE t.trx_mysql_thread_id = :holder",
}
#: How often to ask (not a deadline). InnoDB refreshes its INNODB_TRX / INNODB_LOCK_WAITS
#: snapshot only when it was last read over 0.1 s ago: asked more often, it never changes.
ASK_EVERY = 0.2
#: How long to wait for the call once the lock is gone: a bound on a hang, not a measure of speed.
HANG = 60.0


def call_beside_lock(holder: Connection, call: Callable[[], T]) -> tuple[T, bool]:
    """``call()``'s result, and whether it waited for a lock of ``holder`` (which is then rolled back)."""
    dialect = "mysql" if holder.dialect.name in ("mysql", "mariadb") else holder.dialect.name
    holder_id = holder.exec_driver_sql(_SESSION_ID[dialect]).scalar_one()
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the test below
            outcome["error"] = exc
        finally:
            done.set()

    monitor = create_engine(holder.engine.url, poolclass=NullPool)
    waited = False
    try:
        with monitor.connect() as watching:
            watching = watching.execution_options(isolation_level="AUTOCOMMIT")  # a fresh view each time
            thread = threading.Thread(target=run, name="beside-lock", daemon=True)
            thread.start()
            while not done.wait(ASK_EVERY):
                if watching.execute(text(_WAITING_FOR[dialect]), {"holder": holder_id}).scalar_one():
                    waited = True
                    break
    finally:
        holder.rollback()  # the lock goes: a call that waited for it can finish
        monitor.dispose()
    thread.join(timeout=HANG)
    assert done.is_set(), f"the call still runs {HANG:.0f} s after the lock was released"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"], waited
