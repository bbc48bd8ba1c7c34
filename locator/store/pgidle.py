"""A few idle PostgreSQL connections kept for reuse, so that a store operation needn't open its own.

Opening a connection makes PostgreSQL start a backend process (a fork, authentication, catalogue caches):
a few milliseconds of both cores' time, paid by every version poll, reload and write when each one
connects anew. A worker that reloads on every edit feels that as latency. So a finished operation's
connection, when it ended cleanly and outside any transaction, is kept (at most ``keep``) and handed to the
next one.

A kept connection can go bad while idle (PostgreSQL restarted, the connection was cut). Before reuse it is
checked without a round trip: an idle connection that the server has written to (an error notice, end of
file) is readable, and is closed and replaced. Connections never cross a fork: a child drops its parent's
without touching them (closing would end the parent's session on the shared socket).
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg.pq import TransactionStatus

# In a forked child, the parent's connections: held here so that no finaliser ever closes them from the child.
_ORPHANS: list[psycopg.Connection] = []


class IdleConnections:
    """Connections from ``connect()``, kept idle between uses (at most ``keep``)."""

    def __init__(self, connect: Callable[[], psycopg.Connection], *, keep: int = 4) -> None:
        self._connect = connect
        self._keep = keep
        self._idle: list[psycopg.Connection] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection for one operation: kept for the next one if it ends cleanly."""
        conn = self._take() or self._connect()
        clean = False
        try:
            yield conn
            clean = True
        finally:
            if clean and not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE:
                self._give(conn)
            else:
                conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            if self._pid != os.getpid():
                _ORPHANS.extend(idle)
                return
        for conn in idle:
            conn.close()

    def _take(self) -> psycopg.Connection | None:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's connections are not ours to use or close
                _ORPHANS.extend(self._idle)
                self._idle, self._pid = [], os.getpid()
            while self._idle:
                conn = self._idle.pop()
                if _usable(conn):
                    return conn
                conn.close()
        return None

    def _give(self, conn: psycopg.Connection) -> None:
        with self._lock:
            if self._pid == os.getpid() and len(self._idle) < self._keep:
                self._idle.append(conn)
                return
        conn.close()


def _usable(conn: psycopg.Connection) -> bool:
    """An idle connection the server hasn't written to since (readable means notice or end of file)."""
    if conn.closed or conn.broken:
        return False
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable
