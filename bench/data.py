"""Benchmark databases: N invoices (default 1,000,000), 10,000 customers, 2 tenants.

The schema is made by the app's own migrations; the rows are then written directly (one
`sqlite3.executemany` transaction, or asyncpg `copy_records_to_table`), because going through
the ledger would make a 1M-row database take as long as the import benchmark itself.

Invoices are written in issue-date order over two years, the way a real ledger accumulates,
so one customer's invoices are spread over the whole table. Statuses: recent invoices are
mostly open, older ones mostly paid, a few void. Three designated customers of the first
tenant have links whose portal URLs go to a JSON file next to the database:

- `small`: 5 invoices (2 open);
- `bench`: exactly 50 open invoices (issued in the last 120 days, so most are overdue) and
  50 paid ones: the customer the portal benchmark loads;
- `big`: 5,000 invoices (about 30% open).

Databases are cached by size: a rerun with the same spec reuses them (the JSON and a
`bench_meta` row in the database must both carry the spec's fingerprint). On PostgreSQL the
database for N invoices is `<base database>_<N>` on the same server, created when missing.

    .venv/bin/python bench/data.py --invoices 20000 --engine both
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import secrets
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GENERATOR_VERSION = 2
"""Part of the fingerprint: raised when the rows or the schema change (2: the portal list's
covering index), so cached databases are built again."""
DEFAULT_INVOICES = 1_000_000
DEFAULT_CUSTOMERS = 10_000
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/bench"
CACHE_DIR = Path(__file__).resolve().parent / ".data"
SECRET_KEY = "arportal-bench-secret-not-for-production-" + "b" * 24
LINK_VALIDITY = dt.timedelta(days=3650)
BASE_URL = "http://127.0.0.1:8000"

CUSTOMER_COLUMNS = (
    "tenant", "external_id", "name", "email", "currency", "locale", "contacts", "extra",
    "created_at", "updated_at",
)
INVOICE_COLUMNS = (
    "tenant", "customer", "external_id", "number", "issue_date", "due_date", "currency",
    "total_minor", "amount_due_minor", "status", "pdf_url", "created_at", "updated_at",
)
LINK_COLUMNS = ("tenant", "customer", "nonce", "token_hash", "created_at", "expires_at")
COPY_CHUNK = 50_000
FINGERPRINT_SQL = "SELECT value FROM bench_meta WHERE key = 'fingerprint'"


@dataclass(frozen=True)
class Spec:
    """What a benchmark database holds. The designated customers' invoices count in
    `invoices`; the rest are spread at random over the other customers."""

    invoices: int = DEFAULT_INVOICES
    customers: int = DEFAULT_CUSTOMERS
    tenants: int = 2
    small: int = 5
    bench_open: int = 50
    bench_paid: int = 50
    big: int = 5_000
    days: int = 730
    seed: int = 3

    @property
    def designated_invoices(self) -> int:
        return self.small + self.bench_open + self.bench_paid + self.big

    def check(self) -> None:
        if self.invoices < self.designated_invoices:
            raise ValueError(
                f"invoices: at least {self.designated_invoices} are needed for the designated "
                f"customers (5, 50 open + 50 paid, {self.big}); got {self.invoices}"
            )
        if self.customers < self.tenants * 2 + 3:
            raise ValueError(f"customers: at least {self.tenants * 2 + 3}, got {self.customers}")

    def fingerprint(self) -> str:
        return json.dumps({"v": GENERATOR_VERSION, **asdict(self)}, sort_keys=True)


@dataclass
class Customer:
    id: int
    tenant: int
    external_id: str
    currency: str


# --- rows --------------------------------------------------------------------------------


def customer_rows(spec: Spec, tenant_ids: Sequence[int], now: dt.datetime) -> list[tuple[Any, ...]]:
    """Customers alternate between tenants; the three designated ones come first (tenant 1)."""
    rng = random.Random(spec.seed)
    rows = []
    designated = [("BENCH-SMALL", "Small Buyer Ltd"), ("BENCH-50", "Benchmark Buyer Ltd"),
                  ("BENCH-BIG", "Big Buyer Ltd")]
    for external_id, name in designated:
        rows.append((tenant_ids[0], external_id, name, "ap@buyer.example", "USD", "en",
                     "[]", "{}", now, now))
    for index in range(spec.customers - len(designated)):
        tenant = tenant_ids[index % len(tenant_ids)]
        currency = "EUR" if rng.random() < 0.2 else "USD"
        locale = rng.choice(("en", "en", "en", "fr", "de"))
        rows.append((tenant, f"C-{index:06d}", f"Customer {index:06d} Ltd",
                     f"ap{index}@customer.example", currency, locale, "[]", "{}", now, now))
    return rows


def _designated_schedule(
    spec: Spec, rng: random.Random, small: Customer, bench: Customer, big: Customer
) -> dict[int, list[tuple[Customer, str, float]]]:
    """days ago -> [(customer, status, share of the total still due)]."""
    plan: dict[int, list[tuple[Customer, str, float]]] = {}

    def add(customer: Customer, days_ago: int, status: str, due_share: float) -> None:
        plan.setdefault(days_ago, []).append((customer, status, due_share))

    for index in range(spec.small):
        add(small, rng.randint(0, 200), "open" if index < 2 else "paid", 1.0)
    for _ in range(spec.bench_open):
        add(bench, rng.randint(0, 120), "open", 1.0 if rng.random() < 0.8 else 0.5)
    for _ in range(spec.bench_paid):
        add(bench, rng.randint(121, spec.days - 1), "paid", 0.0)
    for _ in range(spec.big):
        open_ = rng.random() < 0.3
        add(big, rng.randint(0, spec.days - 1), "open" if open_ else "paid", 1.0)
    return plan


def _random_status(rng: random.Random, days_ago: int) -> tuple[str, float]:
    roll = rng.random()
    if roll < 0.03:
        return "void", 0.0
    open_share = 0.6 if days_ago < 60 else 0.1
    if roll < 0.03 + open_share:
        return "open", 1.0 if rng.random() < 0.85 else 0.4
    return "paid", 0.0


def invoice_rows(
    spec: Spec,
    customers: Sequence[Customer],
    today: dt.date,
    now: dt.datetime,
) -> Iterator[tuple[Any, ...]]:
    """Every invoice, oldest issue date first (dates and timestamps as Python objects)."""
    rng = random.Random(spec.seed + 1)
    by_external = {c.external_id: c for c in customers}
    small, bench, big = (by_external[k] for k in ("BENCH-SMALL", "BENCH-50", "BENCH-BIG"))
    others = [c for c in customers if not c.external_id.startswith("BENCH-")]
    plan = _designated_schedule(spec, rng, small, bench, big)
    rest = spec.invoices - spec.designated_invoices
    per_day = [rest // spec.days] * spec.days
    for day in rng.sample(range(spec.days), rest % spec.days):
        per_day[day] += 1
    sequence: dict[int, int] = {}
    for days_ago in range(spec.days - 1, -1, -1):
        issued = today - dt.timedelta(days=days_ago)
        todays: list[tuple[Customer, str, float]] = list(plan.get(days_ago, []))
        for _ in range(per_day[days_ago]):
            todays.append((rng.choice(others), *_random_status(rng, days_ago)))
        for customer, status, due_share in todays:
            number = sequence.get(customer.tenant, 0) + 1
            sequence[customer.tenant] = number
            external_id = f"INV-{number:07d}"
            total = rng.randint(10_00, 25_000_00)
            due = int(total * due_share) if status == "open" else 0
            yield (
                customer.tenant, customer.id, external_id, external_id, issued,
                issued + dt.timedelta(days=rng.choice((14, 30, 30, 45, 60))),
                customer.currency, total, due, status,
                f"https://files.example.com/invoices/{customer.tenant}/{external_id}.pdf",
                now, now,
            )


def _sqlite_value(value: Any) -> Any:
    """As Piccolo's SQLite adapters store them: ISO dates, UTC timestamps as str()."""
    if isinstance(value, dt.datetime):
        return str(value.astimezone(dt.UTC))
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def sqlite_row(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(_sqlite_value(value) for value in row)


# --- building ----------------------------------------------------------------------------


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///").removeprefix("sqlite://"))


async def migrate(url: str) -> None:
    """The core's migrations, run by the app's own code."""
    from arportal import db
    from arportal.migrate import run_migrations

    db.use_database(db.engine_from_url(url), [])
    await db.start_engine()
    try:
        await run_migrations()
    finally:
        await db.stop_engine()


async def reset_postgres(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


async def ensure_postgres_database(url: str) -> None:
    """Create the URL's database on its server when it does not exist."""
    import asyncpg

    name = urlparse(url).path.lstrip("/")
    admin = urlunparse(urlparse(url)._replace(path="/postgres"))
    conn = await asyncpg.connect(admin)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _links(customers: Sequence[Customer], now: dt.datetime) -> tuple[list[tuple[Any, ...]], dict]:
    """Link rows made exactly as `arportal.links.create_link` makes them, and the tokens."""
    from arportal.links import derive_token, token_hash

    rows, tokens = [], {}
    for customer in customers:
        nonce = secrets.token_hex(16)
        token = derive_token(SECRET_KEY.encode(), nonce)
        rows.append((customer.tenant, customer.id, nonce, token_hash(token), now,
                     now + LINK_VALIDITY))
        tokens[customer.external_id] = token
    return rows, tokens


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" for _ in columns)})'


def _customers_of(rows: Sequence[Sequence[Any]]) -> list[Customer]:
    return [Customer(id=row[0], tenant=row[1], external_id=row[2], currency=row[3])
            for row in rows]


def load_sqlite(url: str, spec: Spec, today: dt.date, now: dt.datetime) -> dict[str, str]:
    conn = sqlite3.connect(sqlite_path(url))
    try:
        conn.execute("PRAGMA synchronous=OFF")
        with conn:
            tenant_ids = []
            for index in range(spec.tenants):
                cursor = conn.execute(
                    _insert_sql("tenant", ("slug", "name", "created_at")),
                    (f"bench-{chr(97 + index)}", f"Bench Tenant {index + 1}",
                     _sqlite_value(now)),
                )
                tenant_ids.append(int(cursor.lastrowid or 0))
            conn.executemany(
                _insert_sql("customer", CUSTOMER_COLUMNS),
                (sqlite_row(row) for row in customer_rows(spec, tenant_ids, now)),
            )
            customers = _customers_of(conn.execute(
                "SELECT id, tenant, external_id, currency FROM customer ORDER BY id"
            ).fetchall())
            conn.executemany(
                _insert_sql("invoice", INVOICE_COLUMNS),
                (sqlite_row(row) for row in invoice_rows(spec, customers, today, now)),
            )
            link_rows, tokens = _links(
                [c for c in customers if c.external_id.startswith("BENCH-")], now
            )
            conn.executemany(_insert_sql("portal_link", LINK_COLUMNS),
                             [sqlite_row(row) for row in link_rows])
            conn.execute("CREATE TABLE bench_meta (key TEXT PRIMARY KEY, value TEXT)")
            conn.execute("INSERT INTO bench_meta VALUES ('fingerprint', ?)", (spec.fingerprint(),))
    finally:
        conn.close()
    return tokens


def _chunks(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def load_postgres(url: str, spec: Spec, today: dt.date, now: dt.datetime) -> dict[str, str]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            tenant_ids = [
                await conn.fetchval(
                    "INSERT INTO tenant (slug, name, created_at) VALUES ($1, $2, $3) RETURNING id",
                    f"bench-{chr(97 + index)}", f"Bench Tenant {index + 1}", now,
                )
                for index in range(spec.tenants)
            ]
            await conn.copy_records_to_table(
                "customer", records=customer_rows(spec, tenant_ids, now), columns=CUSTOMER_COLUMNS
            )
            customers = _customers_of(await conn.fetch(
                "SELECT id, tenant, external_id, currency FROM customer ORDER BY id"
            ))
            for chunk in _chunks(invoice_rows(spec, customers, today, now), COPY_CHUNK):
                await conn.copy_records_to_table("invoice", records=chunk, columns=INVOICE_COLUMNS)
            link_rows, tokens = _links(
                [c for c in customers if c.external_id.startswith("BENCH-")], now
            )
            await conn.copy_records_to_table("portal_link", records=link_rows, columns=LINK_COLUMNS)
            await conn.execute("CREATE TABLE bench_meta (key TEXT PRIMARY KEY, value TEXT)")
            await conn.execute(
                "INSERT INTO bench_meta VALUES ('fingerprint', $1)", spec.fingerprint()
            )
        # What autovacuum does soon after a bulk load: statistics and the visibility map.
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return tokens


def _designated_meta(spec: Spec, tokens: dict[str, str]) -> dict[str, Any]:
    described = {
        "small": ("BENCH-SMALL", spec.small, 2),
        "bench": ("BENCH-50", spec.bench_open + spec.bench_paid, spec.bench_open),
        "big": ("BENCH-BIG", spec.big, None),
    }
    return {
        key: {
            "tenant": "bench-a",
            "external_id": external_id,
            "invoices": invoices,
            "open_invoices": open_count,
            "token": tokens[external_id],
            "path": f"/p/{tokens[external_id]}",
            "url": f"{BASE_URL}/p/{tokens[external_id]}",
        }
        for key, (external_id, invoices, open_count) in described.items()
    }


async def build(url: str, spec: Spec, meta_path: Path | None = None) -> dict[str, Any]:
    """Build the database at `url` from nothing (an existing one is wiped), and write the
    JSON description next to it. Answers that description."""
    spec.check()
    started = time.perf_counter()
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        await ensure_postgres_database(url)
        await reset_postgres(url)
    await migrate(url)
    now = dt.datetime.now(dt.UTC)
    today = now.date()
    if url.startswith("sqlite"):
        tokens = await asyncio.to_thread(load_sqlite, url, spec, today, now)
    else:
        tokens = await load_postgres(url, spec, today, now)
    meta = {
        "fingerprint": spec.fingerprint(),
        "database": url,
        "engine": "sqlite" if url.startswith("sqlite") else "postgres",
        "spec": asdict(spec),
        "secret_key": SECRET_KEY,
        "built_at": now.isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - started, 1),
        "customers": _designated_meta(spec, tokens),
    }
    if meta_path is not None:
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


# --- cache -------------------------------------------------------------------------------


def postgres_url_for(base_url: str, invoices: int) -> str:
    parsed = urlparse(base_url)
    name = parsed.path.lstrip("/") or "bench"
    return urlunparse(parsed._replace(path=f"/{name}_{invoices}"))


def location(engine: str, spec: Spec, cache_dir: Path, postgres: str) -> tuple[str, Path]:
    """The database URL for this engine and size, and the JSON file next to it."""
    if engine == "sqlite":
        stem = cache_dir / f"sqlite-{spec.invoices}"
        return f"sqlite:///{stem}.db", stem.with_suffix(".json")
    url = postgres_url_for(postgres, spec.invoices)
    return url, cache_dir / f"postgres-{urlparse(url).path.lstrip('/')}.json"


async def stored_fingerprint(url: str) -> str | None:
    try:
        if url.startswith("sqlite"):
            path = sqlite_path(url)
            if not path.exists():
                return None
            conn = sqlite3.connect(path)
            try:
                row = conn.execute(FINGERPRINT_SQL).fetchone()
            finally:
                conn.close()
            return row[0] if row else None
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval(FINGERPRINT_SQL)
        finally:
            await conn.close()
    except Exception:
        return None


async def ensure(
    engine: str,
    spec: Spec,
    *,
    cache_dir: Path = CACHE_DIR,
    postgres: str = DEFAULT_POSTGRES,
    rebuild: bool = False,
    log: Any = print,
) -> dict[str, Any]:
    """The cached database for `engine` ("sqlite" or "postgres") and `spec`, built if needed."""
    url, meta_path = location(engine, spec, cache_dir, postgres)
    if not rebuild and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("fingerprint") == spec.fingerprint() == await stored_fingerprint(url):
            meta["cached"] = True
            return meta
    log(f"building {engine} database of {spec.invoices:,} invoices ({url}) ...")
    meta = await build(url, spec, meta_path)
    log(f"  built in {meta['build_seconds']} s")
    meta["cached"] = False
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=DEFAULT_INVOICES)
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    parser.add_argument("--engine", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES,
                        help="server and base database name (the size is appended)")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    spec = Spec(invoices=args.invoices, customers=args.customers)
    engines = ("sqlite", "postgres") if args.engine == "both" else (args.engine,)
    for engine in engines:
        meta = asyncio.run(ensure(engine, spec, cache_dir=args.cache_dir,
                                  postgres=args.postgres, rebuild=args.rebuild))
        state = "cached" if meta["cached"] else f"built in {meta['build_seconds']} s"
        print(f"{engine}: {meta['database']} ({state})")
        for key, customer in meta["customers"].items():
            print(f"  {key:<6} {customer['invoices']:>5} invoices  {customer['url']}")


if __name__ == "__main__":
    main()
