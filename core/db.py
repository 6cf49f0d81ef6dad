"""The database engine and the Piccolo apps (core + plugins) of the running instance.

Piccolo finds its engine and app registry through a `piccolo_conf` module; ours
(`arportal.piccolo_conf`) answers from the state set here, so one process can build apps on
different databases (tests on SQLite and PostgreSQL) without a global conf file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlparse

from piccolo.apps.migrations.tables import Migration
from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.table import Table

os.environ.setdefault("PICCOLO_CONF", "arportal.piccolo_conf")

CORE_APP = "arportal.piccolo_app"


@dataclass
class DatabaseState:
    engine: Engine | None = None
    registry: AppRegistry = field(default_factory=AppRegistry)


state = DatabaseState()


def engine_from_url(url: str) -> Engine:
    if url.startswith("sqlite:"):
        # sqlite:///relative.db and sqlite:////absolute/path.db, as SQLAlchemy spells them
        path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
        return SQLiteEngine(path=path or "arportal.db", timeout=30)
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"database: unsupported URL scheme {parsed.scheme!r}")
    return PostgresEngine(config={"dsn": url.replace("postgres://", "postgresql://", 1)})


def all_tables() -> list[type[Table]]:
    tables: list[type[Table]] = []
    for app_config in state.registry.app_configs.values():
        tables.extend(app_config.table_classes)
    return tables


def use_database(engine: Engine, app_modules: list[str]) -> None:
    """Point every table of the core and of the given plugin apps at `engine`."""
    state.engine = engine
    state.registry = AppRegistry(apps=[CORE_APP, *app_modules])
    for table in [*all_tables(), Migration]:
        table._meta.db = engine


async def start_engine() -> None:
    """Open the PostgreSQL pool in the running event loop (a pool belongs to one loop)."""
    engine = state.engine
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=10)
    elif isinstance(engine, SQLiteEngine):
        await engine.run_ddl("PRAGMA journal_mode=WAL")


async def stop_engine() -> None:
    engine = state.engine
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()


def is_postgres() -> bool:
    return isinstance(state.engine, PostgresEngine)
