"""The PostgreSQL connections of the pages' reads (`arportal.read_pool.ReadPool`): never more
than its size, every caller answered, a dead connection replaced, nothing lost to a caller
that gave up waiting. PostgreSQL only: SQLite reads run in the process."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from arportal.read_pool import ReadPool
from arportal.testing import _postgres_unreachable, postgres_url


@pytest.fixture
async def dsn(request: pytest.FixtureRequest) -> str:
    """The tests' PostgreSQL; without one this module is skipped with the reason, as the
    PostgreSQL half of every database test is (see `arportal.testing.db_url`)."""
    url = postgres_url(request.config)
    reason = await _postgres_unreachable(url) if url else "no PostgreSQL configured"
    if reason:
        pytest.skip(reason)
    assert url is not None
    return url


async def backends(dsn: str, marker: str) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()",
            f"%{marker}%",
        )
        return [row["pid"] for row in rows]
    finally:
        await conn.close()


async def test_more_callers_than_connections_all_get_their_rows(dsn: str) -> None:
    pool = ReadPool(dsn, size=2)
    try:
        answers = await asyncio.gather(
            *(pool.fetch("SELECT $1::int AS n, pg_sleep(0.02) AS pool_marker_a", (n,))
              for n in range(10))
        )
        assert [rows[0]["n"] for rows in answers] == list(range(10))
        assert len(await backends(dsn, "pool_marker_a")) <= 2, "never more than its size"
        assert pool._open == 2
    finally:
        await pool.close()


async def test_a_connection_killed_under_it_is_replaced(dsn: str) -> None:
    pool = ReadPool(dsn, size=1)
    try:
        first = await pool.fetch("SELECT pg_backend_pid() AS pid, 'pool_marker_b' AS m", ())
        killer = await asyncpg.connect(dsn)
        await killer.execute("SELECT pg_terminate_backend($1)", first[0]["pid"])
        await killer.close()
        again = await pool.fetch("SELECT pg_backend_pid() AS pid", ())
        assert again[0]["pid"] != first[0]["pid"], "the page got its rows from a new connection"
        assert pool._open == 1
    finally:
        await pool.close()


async def test_a_caller_that_gives_up_waiting_loses_no_connection(dsn: str) -> None:
    pool = ReadPool(dsn, size=1)
    try:
        busy = asyncio.create_task(pool.fetch("SELECT pg_sleep(0.2)", ()))
        await asyncio.sleep(0.05)
        waiting = [asyncio.create_task(pool.fetch("SELECT 1 AS one", ())) for _ in range(3)]
        await asyncio.sleep(0.01)
        for task in waiting[:2]:
            task.cancel()
        await busy
        assert (await waiting[2])[0]["one"] == 1
        for task in waiting[:2]:
            with pytest.raises(asyncio.CancelledError):
                await task
        rows = await asyncio.gather(*(pool.fetch("SELECT 2 AS two", ()) for _ in range(5)))
        assert all(r[0]["two"] == 2 for r in rows)
        assert pool._open == 1 and len(pool._idle) == 1
    finally:
        await pool.close()


async def test_a_statement_error_reaches_the_caller_and_keeps_the_connection(dsn: str) -> None:
    pool = ReadPool(dsn, size=1)
    try:
        with pytest.raises(asyncpg.UndefinedTableError):
            await pool.fetch("SELECT * FROM no_such_table", ())
        assert (await pool.fetch("SELECT 3 AS three", ()))[0]["three"] == 3
        assert pool._open == 1
    finally:
        await pool.close()


async def test_closing_refuses_new_callers_and_closes_what_comes_back(dsn: str) -> None:
    pool = ReadPool(dsn, size=1)
    running: Any = asyncio.create_task(
        pool.fetch("SELECT pg_sleep(0.1), 'pool_marker_c' AS m", ())
    )
    await asyncio.sleep(0.03)
    waiter = asyncio.create_task(pool.fetch("SELECT 1", ()))
    await asyncio.sleep(0.01)
    await pool.close()
    with pytest.raises(asyncpg.InterfaceError):
        await waiter
    await running
    with pytest.raises(asyncpg.InterfaceError):
        await pool.fetch("SELECT 1", ())
    await asyncio.sleep(0.1)
    assert await backends(dsn, "pool_marker_c") == [], "the connection in use was closed after"
    assert pool._open == 0


SOCKET_DIR = "/var/run/postgresql"


async def test_a_unix_socket_url_reaches_both_pools(dsn: str) -> None:
    """docs/operators.md: on one machine, `postgresql://user@/db?host=<socket dir>`. Both the
    pages' read pool and Piccolo's pool (writes, transactions) connect over the socket."""
    from pathlib import Path
    from urllib.parse import urlparse

    from piccolo.querystring import QueryString

    from arportal import db

    parsed = urlparse(dsn)
    if parsed.hostname not in ("127.0.0.1", "localhost"):
        pytest.skip(f"the tests' PostgreSQL is on {parsed.hostname}, not this machine")
    if not Path(SOCKET_DIR, f".s.PGSQL.{parsed.port or 5432}").exists():
        pytest.skip(f"no PostgreSQL socket in {SOCKET_DIR}")
    user = f"{parsed.username}@" if parsed.username else ""
    socket_url = (f"postgresql://{user}/{parsed.path.lstrip('/')}"
                  f"?host={SOCKET_DIR}&port={parsed.port or 5432}")
    engine = db.engine_from_url(socket_url)
    db.use_database(engine, [])
    await db.start_engine()
    try:
        read = await db.fetch("SELECT {}::int AS n, inet_server_addr() AS address", 7)
        through_piccolo = await engine.run_querystring(
            QueryString("SELECT inet_server_addr() IS NULL AS local"))
    finally:
        await db.stop_engine()
    assert read == [{"n": 7, "address": None}], "no TCP address: the socket was used"
    assert [dict(row) for row in through_piccolo] == [{"local": True}]
