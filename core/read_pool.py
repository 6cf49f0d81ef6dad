"""The PostgreSQL connections of the pages' read path (`arportal.db.fetch`).

asyncpg's pool costs about 45 us of CPU per statement on top of the statement itself (an
`asyncio.Queue` get on acquire, a task spawned by `asyncio.shield` on every release),
measured against a connection held by the caller (115 against 70 us for `SELECT 1`). A page
runs one or two short statements, so this pool keeps only what they need: idle connections
on a list, callers beyond `size` waiting in line, and a connection that failed dropped, never
handed out again. Writes and transactions keep using Piccolo's engine and its asyncpg pool.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import asyncpg


class ReadPool:
    """At most `size` connections to `dsn`, opened when first needed, for one event loop."""

    def __init__(self, dsn: str, size: int) -> None:
        self.dsn = dsn
        self.size = size
        self._idle: list[asyncpg.Connection] = []
        self._waiting: collections.deque[asyncio.Future[asyncpg.Connection | None]] = (
            collections.deque()
        )
        self._open = 0
        self._closed = False

    async def fetch(self, sql: str, args: tuple[Any, ...]) -> list[asyncpg.Record]:
        """Rows of one read-only statement. When the connection breaks on the way (the server
        restarted, an administrator ended the session, the socket died) it is dropped and
        the statement runs once more on a new one: reads are safe to repeat. An error of the
        statement itself reaches the caller and the connection stays."""
        for attempt in (1, 2):
            connection = await self._acquire()
            try:
                records = await connection.fetch(sql, *args)
            except Exception as exc:
                if not _connection_broken(exc, connection):
                    self._release(connection)
                    raise
                self._drop(connection)
                if attempt == 2:
                    raise
                continue
            except BaseException:
                self._drop(connection)
                raise
            self._release(connection)
            return records
        raise AssertionError("unreachable")

    async def _acquire(self) -> asyncpg.Connection:
        if self._closed:
            raise asyncpg.InterfaceError("the read pool is closed")
        while self._idle:
            connection = self._idle.pop()
            if not connection.is_closed():
                return connection
            self._open -= 1
        if self._open >= self.size:
            waiter: asyncio.Future[asyncpg.Connection | None] = (
                asyncio.get_running_loop().create_future()
            )
            self._waiting.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._pass_on(waiter.result())
                raise
            if handed is not None:
                return handed
        self._open += 1
        try:
            return await asyncpg.connect(self.dsn)
        except BaseException:
            self._open -= 1
            self._wake_one(None)
            raise

    def _release(self, connection: asyncpg.Connection) -> None:
        if self._closed or connection.is_in_transaction() or connection.is_closed():
            self._drop(connection)
        else:
            self._pass_on(connection)

    def _pass_on(self, handed: asyncpg.Connection | None) -> None:
        """What a caller got and will not use (a connection, or with None the right to
        open one) goes to the next in line; an unused connection goes back to the idle list."""
        if not self._wake_one(handed) and handed is not None:
            self._idle.append(handed)

    def _drop(self, connection: asyncpg.Connection) -> None:
        """Forget a connection; a caller in line opens a new one in its place."""
        self._open -= 1
        connection.terminate()
        self._wake_one(None)

    def _wake_one(self, connection: asyncpg.Connection | None) -> bool:
        """Hand `connection` (or, with None, the right to open one) to the first caller
        still waiting; False when nobody waits."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return True
        return False

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        self._open -= len(idle)
        await asyncio.gather(*(connection.close() for connection in idle),
                             return_exceptions=True)
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(asyncpg.InterfaceError("the read pool is closed"))


def _connection_broken(exc: Exception, connection: asyncpg.Connection) -> bool:
    """Whether `exc` left the connection unusable, rather than reporting a bad statement:
    anything but a server error, or a server error of class 08 (connection exception) or 57
    (operator intervention: shutdown, terminated backend)."""
    if connection.is_closed() or not isinstance(exc, asyncpg.PostgresError):
        return True
    return str(getattr(exc, "sqlstate", "") or "").startswith(("08", "57"))
