"""Import benchmark (issue 3, item 3).

    .venv/bin/python bench/imports.py                     # 1,000,000 invoices, both engines
    .venv/bin/python bench/imports.py --invoices 20000

N invoices (over 10,000 customers of one tenant) as a CSV, through the real command line,
`arportal invoices import SLUG FILE.csv`, in a subprocess, timed from launch to exit (its
start-up included). The baseline inserts the same rows into the same schema in the same run:
plain `sqlite3.executemany` of the prepared rows in one transaction on SQLite, asyncpg's
`copy_records_to_table` (COPY) on PostgreSQL; only the insert and the commit are timed (the
rows are built beforehand). Each side gets a fresh database made the same way (migrations,
`arportal tenants create`, `arportal customers import`, untimed). Afterwards both databases
must hold the same invoices (count and sums). Then, unless `--no-profile`, the import runs
once more under py-spy to show where its time goes. Writes the `imports` section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import random
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data, profile, report, serve

TENANT = "bench"
BUDGET_RATIO = 0.80
INVOICE_HEADER = ("external_id", "customer_external_id", "number", "issue_date", "due_date",
                  "currency", "total", "amount_due", "status")
CHECK_SQL = "SELECT COUNT(*), SUM(total_minor), SUM(amount_due_minor) FROM invoice"


@dataclass
class Side:
    engine: str
    method: str
    seconds: float
    rows: int
    check: tuple[int, int, int]

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


# --- input files -------------------------------------------------------------------------


def write_customers(path: Path, customers: int) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("external_id", "name", "email", "currency"))
        for index in range(customers):
            writer.writerow((f"C-{index:06d}", f"Customer {index:06d} Ltd",
                             f"ap{index}@customer.example", "USD"))


def invoice_records(invoices: int, customers: int, today: dt.date, seed: int = 11):
    """(external_id, customer_external_id, number, issue, due, currency, total_minor,
    due_minor, status) for N invoices, oldest first."""
    rng = random.Random(seed)
    for index in range(invoices):
        issue = today - dt.timedelta(days=730 - (index * 730) // invoices)
        status = "paid" if rng.random() < 0.7 else "open"
        total = rng.randint(10_00, 25_000_00)
        external_id = f"INV-{index:08d}"
        yield (external_id, f"C-{rng.randrange(customers):06d}", external_id, issue,
               issue + dt.timedelta(days=30), "USD", total, total if status == "open" else 0,
               status)


def _amount(minor: int) -> str:
    return str(Decimal(minor).scaleb(-2))


def write_invoices(path: Path, invoices: int, customers: int, today: dt.date) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(INVOICE_HEADER)
        for ext, cust, number, issue, due, cur, total, due_minor, status in invoice_records(
            invoices, customers, today
        ):
            writer.writerow((ext, cust, number, issue.isoformat(), due.isoformat(), cur,
                             _amount(total), _amount(due_minor), status))


def read_back(path: Path) -> list[tuple[Any, ...]]:
    """The invoice CSV as the baseline inserts it (minor units, dates)."""
    rows = []
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for ext, cust, number, issue, due, cur, total, due_amount, status in reader:
            rows.append((ext, cust, number, dt.date.fromisoformat(issue),
                         dt.date.fromisoformat(due), cur, int(Decimal(total).scaleb(2)),
                         int(Decimal(due_amount).scaleb(2)), status))
    return rows


# --- databases ---------------------------------------------------------------------------


def cli(config: Path, *args: str) -> float:
    """Run `arportal --config CONFIG ARGS...`; seconds from launch to exit."""
    command = [str(Path(sys.executable).with_name("arportal")), "--config", str(config), *args]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=serve.REPO,
                            env=serve.bench_env(config))
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {result.stderr.strip()[-1000:]}")
    return elapsed


async def fresh(url: str) -> None:
    if url.startswith("sqlite"):
        path = data.sqlite_path(url)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        await data.ensure_postgres_database(url)
        await data.reset_postgres(url)


def prepare(url: str, config: Path, customers_csv: Path) -> None:
    """A fresh database with the schema, the tenant and its customers (untimed)."""
    asyncio.run(fresh(url))
    cli(config, "migrate")
    cli(config, "tenants", "create", TENANT, "--name", "Bench Imports")
    cli(config, "customers", "import", TENANT, str(customers_csv))


async def check(url: str) -> tuple[int, int, int]:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(data.sqlite_path(url))
        try:
            count, total, due = conn.execute(CHECK_SQL).fetchone()
        finally:
            conn.close()
    else:
        import asyncpg

        pg = await asyncpg.connect(url)
        try:
            count, total, due = await pg.fetchrow(CHECK_SQL)
        finally:
            await pg.close()
    return int(count), int(total or 0), int(due or 0)


def baseline_sqlite(url: str, records: list[tuple[Any, ...]]) -> float:
    conn = sqlite3.connect(data.sqlite_path(url))
    try:
        tenant = conn.execute("SELECT id FROM tenant WHERE slug = ?", (TENANT,)).fetchone()[0]
        ids = dict(conn.execute("SELECT external_id, id FROM customer WHERE tenant = ?",
                                (tenant,)).fetchall())
        stamp = str(dt.datetime.now(dt.UTC))
        rows = [
            (tenant, ids[cust], ext, number, issue.isoformat(), due.isoformat(), cur, total,
             due_minor, status, None, stamp, stamp)
            for ext, cust, number, issue, due, cur, total, due_minor, status in records
        ]
        sql = data._insert_sql("invoice", data.INVOICE_COLUMNS)
        started = time.perf_counter()
        with conn:
            conn.executemany(sql, rows)
        return time.perf_counter() - started
    finally:
        conn.close()


async def baseline_postgres(url: str, records: list[tuple[Any, ...]]) -> float:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        tenant = await conn.fetchval("SELECT id FROM tenant WHERE slug = $1", TENANT)
        ids = {r["external_id"]: r["id"] for r in await conn.fetch(
            "SELECT external_id, id FROM customer WHERE tenant = $1", tenant)}
        stamp = dt.datetime.now(dt.UTC)
        rows = [
            (tenant, ids[cust], ext, number, issue, due, cur, total, due_minor, status, None,
             stamp, stamp)
            for ext, cust, number, issue, due, cur, total, due_minor, status in records
        ]
        started = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table("invoice", records=rows,
                                              columns=data.INVOICE_COLUMNS)
        return time.perf_counter() - started
    finally:
        await conn.close()


def profile_import(engine: str, args: argparse.Namespace, files: tuple[Path, Path],
                   log: Any) -> tuple[profile.Summary, float]:
    """The same import again, on a fresh database, under `py-spy record` (a separate run:
    sampling slows it). Answers the summary and the profiled run's seconds."""
    customers_csv, invoices_csv = files
    work = args.cache_dir / "run-imports"
    url = _url(engine, args)
    config = serve.write_config(work / f"{engine}.toml", url, data.SECRET_KEY)
    prepare(url, config, customers_csv)
    tool = profile.py_spy()
    if tool is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    output = work / f"profile-{engine}.txt"
    command = [tool, "record", "--nonblocking", "--rate", "100", "--format", "raw",
               "--output", str(output), "--",
               str(Path(sys.executable).with_name("arportal")), "--config", str(config),
               "invoices", "import", TENANT, str(invoices_csv)]
    log(f"[{engine}] profiling the import with py-spy ...")
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=serve.REPO,
                            env=serve.bench_env(config))
    seconds = time.perf_counter() - started
    if result.returncode != 0 or not output.exists():
        raise RuntimeError(f"py-spy failed: {result.stderr.strip()[-1000:]}")
    return profile.summarize(output.read_text(), rate=100), seconds


def _url(engine: str, args: argparse.Namespace) -> str:
    if engine == "sqlite":
        return f"sqlite:///{args.cache_dir / 'run-imports' / 'imports.db'}"
    return str(args.postgres)


def run_engine(engine: str, args: argparse.Namespace, files: tuple[Path, Path],
               log: Any) -> tuple[Side, Side, float]:
    customers_csv, invoices_csv = files
    work = args.cache_dir / "run-imports"
    url = _url(engine, args)
    config = serve.write_config(work / f"{engine}.toml", url, data.SECRET_KEY)
    log(f"[{engine}] fresh database, tenant and {args.customers:,} customers ...")
    prepare(url, config, customers_csv)
    cli_floor = cli(config, "tenants", "list")
    log(f"[{engine}] arportal invoices import ({args.invoices:,} rows) ...")
    seconds = cli(config, "invoices", "import", TENANT, str(invoices_csv))
    imported = Side(engine, "`arportal invoices import` (CLI, subprocess)", seconds,
                    args.invoices, asyncio.run(check(url)))
    log(f"    {seconds:.1f} s, {imported.rows_per_s:,.0f} rows/s")
    log(f"[{engine}] fresh database for the baseline ...")
    prepare(url, config, customers_csv)
    records = read_back(invoices_csv)
    if engine == "sqlite":
        seconds = baseline_sqlite(url, records)
        method = "`sqlite3.executemany`, one transaction"
    else:
        seconds = asyncio.run(baseline_postgres(url, records))
        method = "asyncpg `copy_records_to_table` (COPY), one transaction"
    baseline = Side(engine, method, seconds, len(records), asyncio.run(check(url)))
    log(f"    baseline {seconds:.1f} s, {baseline.rows_per_s:,.0f} rows/s")
    return imported, baseline, cli_floor


def section(results: list[tuple[Side, Side, float]], args: argparse.Namespace,
            load_at_start: str, pg_version: str,
            profiles: dict[str, tuple[profile.Summary, float]] | None = None) -> str:
    lines = report.machine_lines(load_at_start, {"postgresql": pg_version})
    lines += [
        f"- Rows: {args.invoices:,} invoices over {args.customers:,} customers of one tenant, "
        "as a CSV with columns " + ", ".join(f"`{c}`" for c in INVOICE_HEADER) + ".",
        "- The import is timed from launching the CLI to its exit (start-up included; "
        "`CLI floor` is `arportal tenants list` on the same database, for scale). The "
        "baseline times only the insert and the commit of rows built beforehand.",
        "",
    ]
    rows = []
    for imported, baseline, floor in results:
        without = imported.rows / max(imported.seconds - floor, 1e-9)
        rows.append([imported.engine, imported.method, f"{imported.seconds:.1f}",
                     report.fmt(imported.rows_per_s),
                     f"CLI floor {floor:.1f} s; {report.fmt(without)} rows/s without it"])
        rows.append([baseline.engine, baseline.method, f"{baseline.seconds:.1f}",
                     report.fmt(baseline.rows_per_s), ""])
    lines += report.table(["engine", "how", "seconds", "rows/s", "note"], rows)
    lines += ["", "Budget (issue 3): the import at no less than 80% of the baseline's speed.", ""]
    budget = []
    for imported, baseline, _ in results:
        ratio = imported.rows_per_s / baseline.rows_per_s if baseline.rows_per_s else 0.0
        same = imported.check == baseline.check
        budget.append([imported.engine, f">= {BUDGET_RATIO:.0%}", f"{ratio:.0%}",
                       report.verdict(ratio >= BUDGET_RATIO),
                       "yes" if same else f"no: {imported.check} vs {baseline.check}"])
    lines += report.table(["engine", "budget", "import / baseline", "verdict",
                           "same rows stored (count, sums)"], budget)
    for engine, (summary, seconds) in (profiles or {}).items():
        lines += ["", f"#### Where the import's time goes ({engine})", "",
                  f"The same import again on a fresh database under `py-spy record --rate 100 "
                  f"--nonblocking --format raw` ({seconds:.1f} s with sampling; raw stacks in "
                  f"`bench/.data/run-imports/profile-{engine}.txt`).", ""]
        lines += profile.markdown(summary)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Import benchmark (issue 3, item 3).")
    parser.add_argument("--invoices", type=int, default=data.DEFAULT_INVOICES)
    parser.add_argument("--customers", type=int, default=data.DEFAULT_CUSTOMERS)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--postgres", default=data.DEFAULT_POSTGRES,
                        help="this database is wiped and rebuilt twice per run")
    parser.add_argument("--cache-dir", type=Path, default=data.CACHE_DIR)
    parser.add_argument("--no-doc", dest="doc", action="store_false")
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="skip the py-spy run of the import")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    load_at_start = report.load_average()
    pg_version = asyncio.run(report.postgres_version(args.postgres))

    def log(message: str) -> None:
        print(message, flush=True)

    work = args.cache_dir / "run-imports"
    work.mkdir(parents=True, exist_ok=True)
    customers_csv = work / f"customers-{args.customers}.csv"
    invoices_csv = work / f"invoices-{args.invoices}-{args.customers}.csv"
    write_customers(customers_csv, args.customers)
    log(f"writing {invoices_csv.name} ...")
    write_invoices(invoices_csv, args.invoices, args.customers, dt.date.today())
    files = (customers_csv, invoices_csv)
    results = [run_engine(engine, args, files, log) for engine in engines]
    profiles = {engine: profile_import(engine, args, files, log)
                for engine in engines if args.profile}
    for imported, baseline, _ in results:
        print(f"{imported.engine}: import {imported.rows_per_s:,.0f} rows/s, baseline "
              f"{baseline.rows_per_s:,.0f} rows/s: "
              f"{imported.rows_per_s / baseline.rows_per_s:.0%}; same rows: "
              f"{imported.check == baseline.check}")
    if args.doc:
        report.replace_section(
            "imports", section(results, args, load_at_start, pg_version, profiles))
        print(f"wrote {report.DOC}")


if __name__ == "__main__":
    main()
