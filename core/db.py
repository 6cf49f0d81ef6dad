"""The database engine and the Piccolo apps (core + plugins) of the running instance.

Piccolo finds its engine and app registry through a `piccolo_conf` module; ours
(`arportal.piccolo_conf`) answers from the state set here, so one process can build apps on
different databases (tests on SQLite and PostgreSQL) without a global conf file.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import itertools
import logging
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from piccolo.apps.migrations.tables import Migration
from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.querystring import QueryString
from piccolo.table import Table

from arportal.read_pool import ReadPool

os.environ.setdefault("PICCOLO_CONF", "arportal.piccolo_conf")
logging.getLogger("aiosqlite").setLevel(logging.INFO)
"""aiosqlite logs every statement with its parameters at DEBUG: settings secrets (NetSuite
tokens, gateway keys) and customers' data would reach any log configured at DEBUG."""

CORE_APP = "arportal.piccolo_app"


@dataclass
class DatabaseState:
    engine: Engine | None = None
    registry: AppRegistry = field(default_factory=AppRegistry)
    reader: sqlite3.Connection | None = None
    read_pool: ReadPool | None = None


state = DatabaseState()


class CountedSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine, with every statement noted by `count_queries`."""

    __slots__ = ()

    async def run_querystring(self, querystring: Any, in_pool: bool = False) -> Any:
        note_query()
        return await super().run_querystring(querystring, in_pool=in_pool)

    async def run_ddl(self, ddl: str, in_pool: bool = False) -> Any:
        note_query()
        return await super().run_ddl(ddl, in_pool=in_pool)


class CountedPostgresEngine(PostgresEngine):
    """Piccolo's PostgreSQL engine, with every statement noted by `count_queries`."""

    __slots__ = ()

    async def run_querystring(self, querystring: Any, in_pool: bool = True) -> Any:
        note_query()
        return await super().run_querystring(querystring, in_pool=in_pool)

    async def run_ddl(self, ddl: str, in_pool: bool = True) -> Any:
        note_query()
        return await super().run_ddl(ddl, in_pool=in_pool)


def engine_from_url(url: str) -> Engine:
    if url.startswith("sqlite:"):
        # sqlite:///relative.db and sqlite:////absolute/path.db, as SQLAlchemy spells them
        path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
        return CountedSQLiteEngine(path=path or "arportal.db", timeout=30)
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"database: unsupported URL scheme {parsed.scheme!r}")
    return CountedPostgresEngine(config={"dsn": url.replace("postgres://", "postgresql://", 1)})


def all_tables() -> list[type[Table]]:
    tables: list[type[Table]] = []
    for app_config in state.registry.app_configs.values():
        tables.extend(app_config.table_classes)
    return tables


def use_database(engine: Engine, app_modules: list[str]) -> None:
    """Point every table of the core and of the given plugin apps at `engine`."""
    _close_reader()
    state.read_pool = None
    state.engine = engine
    state.registry = AppRegistry(apps=[CORE_APP, *app_modules])
    tables: list[type[Table]] = [*all_tables(), Migration]
    for table in tables:
        table._meta.db = engine


async def _reset_connection(connection: Any) -> None:
    """What a connection needs on its way back to the pool: only a rollback if a transaction
    was left open. asyncpg's default reset (`RESET ALL`, `UNLISTEN *`, unlocking advisory
    locks) is a round trip after every query; nothing here sets session state, LISTENs or
    takes session-level advisory locks (the ledger's are transaction-scoped)."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


WRITE_POOL_SIZE = 6
READ_POOL_SIZE = 4
"""Connections per process: Piccolo's pool for writes and transactions, `ReadPool` for the
pages' reads (`fetch`); ten in all, as Piccolo's pool alone had."""


async def start_engine() -> None:
    """Open the PostgreSQL pools in the running event loop (a pool belongs to one loop)."""
    engine = state.engine
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(
            min_size=2, max_size=WRITE_POOL_SIZE, reset=_reset_connection
        )
        state.read_pool = ReadPool(engine.config["dsn"], READ_POOL_SIZE)
    elif isinstance(engine, SQLiteEngine):
        await engine.run_ddl("PRAGMA journal_mode=WAL")


async def stop_engine() -> None:
    engine = state.engine
    _close_reader()
    if state.read_pool is not None:
        await state.read_pool.close()
        state.read_pool = None
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()


def is_postgres() -> bool:
    return isinstance(state.engine, PostgresEngine)


def transaction(write: bool = True) -> Any:
    """A transaction (`async with transaction(): ...`): Piccolo queries and raw SQL inside it
    run on its connection, and it commits when the block ends without an error.

    IMMEDIATE on SQLite for writes, so two writers queue instead of one failing with
    "database is locked" when it upgrades a read to a write; DEFERRED for reads. Nested inside
    another transaction it joins that one."""
    engine = state.engine
    if engine is None:
        raise RuntimeError("no database engine: call arportal.db.use_database first")
    if is_postgres() or not write:
        return engine.transaction()
    from piccolo.engine.sqlite import TransactionType

    return engine.transaction(transaction_type=TransactionType.immediate)


# --- The read path of pages ------------------------------------------------------------------

_query_count: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "arportal_query_count", default=None
)
_PLACEHOLDER = re.compile(r"\{\}")


@contextlib.contextmanager
def count_queries() -> Iterator[list[int]]:
    """Count the SQL statements run in this context (`fetch` and Piccolo queries alike):
    `with count_queries() as n: ...; n[0]`."""
    counter = [0]
    token = _query_count.set(counter)
    try:
        yield counter
    finally:
        _query_count.reset(token)


def note_query() -> None:
    counter = _query_count.get()
    if counter is not None:
        counter[0] += 1


def _reader() -> sqlite3.Connection:
    """One read-only connection per process to the SQLite file, kept open.

    Piccolo's SQLite engine opens a connection (and a thread) per query outside a
    transaction; a page's few small indexed reads cost far less run here directly. WAL mode
    lets them proceed while another connection writes.
    """
    if state.reader is None:
        engine = state.engine
        assert isinstance(engine, SQLiteEngine)
        conn = sqlite3.connect(engine.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA query_only = 1")
        state.reader = conn
    return state.reader


def _close_reader() -> None:
    if state.reader is not None:
        state.reader.close()
        state.reader = None


async def fetch(sql: str, *args: Any) -> list[dict[str, Any]]:
    """Run a read-only query written with `{}` placeholders; answer rows as dicts.

    For the small, bounded, indexed reads of pages. It sees committed data only, so never use
    it inside a write transaction to read that transaction's own changes.
    """
    engine = state.engine
    if isinstance(engine, SQLiteEngine):
        note_query()
        cursor = _reader().execute(_sqlite_sql(sql), args)
        names = tuple(column[0] for column in cursor.description)
        converters = _sqlite_converters(names)
        rows = cursor.fetchall()
        if not converters:
            return [dict(zip(names, row, strict=True)) for row in rows]
        result = []
        for row in rows:
            item = dict(zip(names, row, strict=True))
            for name, convert in converters:
                value = item[name]
                if value is not None:
                    item[name] = convert(value)
            result.append(item)
        return result
    assert engine is not None
    pool = state.read_pool
    if pool is None:
        return await engine.run_querystring(QueryString(sql, *args))  # type: ignore[no-any-return]
    note_query()
    records = await pool.fetch(_postgres_sql(sql), args)
    if not records:
        return []
    names = tuple(records[0].keys())
    return [dict(zip(names, record, strict=True)) for record in records]


def _utc_timestamp(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


@functools.lru_cache(maxsize=256)
def _sqlite_converters(names: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    """SQLite keeps dates and timestamps as text: the columns named `date`, `*_date` and
    `*_at` are read back as `date` and UTC `datetime`, as Piccolo's own SQLite engine does.
    Only those columns are converted (Piccolo converts every value, integers included)."""
    converters: list[tuple[str, Any]] = []
    for name in names:
        if name == "date" or name.endswith("_date"):
            converters.append((name, dt.date.fromisoformat))
        elif name.endswith("_at"):
            converters.append((name, _utc_timestamp))
    return tuple(converters)


@functools.lru_cache(maxsize=256)
def _sqlite_sql(sql: str) -> str:
    return _PLACEHOLDER.sub("?", sql)


@functools.lru_cache(maxsize=256)
def _postgres_sql(sql: str) -> str:
    numbers = itertools.count(1)
    return _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)
