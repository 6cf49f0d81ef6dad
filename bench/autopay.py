"""Autopay throughput benchmark (issue 8, item 7).

    .venv/bin/python bench/autopay.py                       # 10,000 invoices, both engines
    .venv/bin/python bench/autopay.py --invoices 500 --engines sqlite --no-doc

N invoices due today (over `--customers` customers, each with a saved sandbox card and autopay
on) are charged by one run of the autopay job for the tenant, in-process, against a sandbox
gateway that answers each charge in `--latency` seconds (200 ms), with `max_in_flight`
gateway calls at once (the default, 8). The run does everything a real one does: the
pre-debit notices (`notice_days = 0`, so in the same run), one attempt row per invoice
claimed before its call, a ledger payment per charge, a receipt in the outbox, the events and
audit entries. Timed from the job's start to its end; afterwards every invoice must be paid,
charged once. The gateway alone bounds the run at N x latency / max_in_flight; a second run
with no latency (`--db-invoices`) shows the database work per invoice. Writes the `autopay`
section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import secrets
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arportal import hookimpl
from bench import data, report

BUDGET_SECONDS = 300.0
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/bench_autopay"


@dataclass
class Result:
    engine: str
    invoices: int
    latency: float
    max_in_flight: int
    seconds: float
    charged: int
    paid: int
    once: bool

    @property
    def per_second(self) -> float:
        return self.invoices / self.seconds if self.seconds else 0.0

    @property
    def floor(self) -> float:
        """What the gateway alone costs: every call waits `latency`, `max_in_flight` at once."""
        return self.invoices * self.latency / self.max_in_flight


class BenchGateways:
    """A gateway plugin of the autopay plugin: the sandbox, answering in `latency` s."""

    def __init__(self, latency: float):
        from arportal.plugins.autopay.gateways.sandbox import SandboxGateway

        self.gateway = SandboxGateway(name="bench_sandbox", latency=latency)

    @hookimpl
    def arportal_payment_gateways(self) -> list[Any]:
        return [self.gateway]


async def _fresh_database(engine: str, work: Path, postgres: str) -> str:
    if engine == "sqlite":
        path = work / "autopay.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    await data.ensure_postgres_database(postgres)
    await data.reset_postgres(postgres)
    return postgres


async def _seed(ctx: Any, invoices: int, customers: int, max_in_flight: int) -> None:
    from arportal.ledger import CustomerIn, InvoiceIn, upsert_customers, upsert_invoices
    from arportal.plugins.autopay.models import AutopayMethod
    from arportal.settings_store import apply_settings

    await apply_settings(ctx, {"features": {"autopay": True}, "autopay": {
        "enable_for_new_customers": True, "notice_days": 0, "gateway": "bench_sandbox",
        "max_in_flight": max_in_flight}})
    rows = await upsert_customers(ctx, [
        CustomerIn(external_id=f"C{n:05d}", name=f"Customer {n}", email=f"ap{n}@buyer.test",
                   currency="EUR") for n in range(customers)
    ])
    today = ctx.today()
    await upsert_invoices(ctx, [
        InvoiceIn(external_id=f"I{n:06d}", customer_external_id=f"C{n % customers:05d}",
                  number=f"INV-{n:06d}", issue_date=today - dt.timedelta(30), due_date=today,
                  currency="EUR", total=Decimal(100 + n % 900) + Decimal("0.25"))
        for n in range(invoices)
    ])
    now = dt.datetime.now(dt.UTC)
    await AutopayMethod.insert(*[
        AutopayMethod(tenant=ctx.tenant_id, customer=row["id"], key=secrets.token_hex(8),
                      gateway="bench_sandbox", reference=f"sandbox_ok_{secrets.token_hex(6)}",
                      brand="visa", last4="4242", exp_month=12, exp_year=today.year + 3,
                      consent_text="bench", consented_at=now, saved_on=today - dt.timedelta(1))
        for row in rows
    ])


async def run_once(engine: str, invoices: int, customers: int, latency: float,
                   max_in_flight: int, work: Path, postgres: str, log: Any) -> Result:
    from arportal.app import build_app
    from arportal.config import Config
    from arportal.models import Invoice
    from arportal.plugins.autopay import plugin as autopay_plugin
    from arportal.plugins.autopay.charging import run_autopay
    from arportal.plugins.autopay.models import AutopayAttempt, AutopaySandboxCharge
    from arportal.tenancy import create_tenant, load_context

    gateways = BenchGateways(latency)
    url = await _fresh_database(engine, work, postgres)
    config = Config(database=url, secret_key="bench-" + "k" * 40, base_url="http://127.0.0.1",
                    files_dir=str(work / "files"))
    app = build_app(config, plugins=[("autopay", autopay_plugin), ("bench", gateways)])
    for hook in app.on_startup:
        await hook(app)
    try:
        tenant = await create_tenant("bench", "Bench Supplies")
        ctx = await load_context(app.state.host, config, tenant, actor="bench")
        await _seed(ctx, invoices, customers, max_in_flight)
        ctx = await load_context(app.state.host, config, tenant, actor="job:autopay.charge")
        log(f"[{engine}] {invoices:,} invoices, latency {latency * 1000:.0f} ms: charging")
        started = time.perf_counter()
        outcome = await run_autopay(ctx)
        seconds = time.perf_counter() - started
        paid = await Invoice.count().where(Invoice.status == "paid")
        attempts = await AutopayAttempt.count()
        charges = await AutopaySandboxCharge.select(AutopaySandboxCharge.requests)
        once = attempts == invoices and len(charges) == invoices and all(
            row["requests"] == 1 for row in charges
        )
        log(f"[{engine}] {seconds:.1f} s, {outcome}")
        return Result(engine, invoices, latency, max_in_flight, seconds,
                      int(outcome["succeeded"]), paid, once)
    finally:
        for hook in app.on_shutdown:
            await hook(app)


def section(results: list[Result], load_at_start: str, pg_version: str) -> str:
    lines = report.machine_lines(load_at_start, {"postgresql": pg_version})
    lines += [
        "- One run of the autopay job for one tenant, in-process (`bench/autopay.py`): every "
        "invoice due today, a saved sandbox card per customer; notices, attempt rows, gateway "
        "calls, ledger payments, receipts (outbox), events and audit entries all included.",
        "- The gateway is the sandbox answering each charge after the latency shown; the "
        "floor is what the gateway alone costs (invoices x latency / max_in_flight).",
        "",
    ]
    rows = []
    for r in results:
        budget = r.latency > 0 and r.invoices >= 10_000
        rows.append([
            r.engine, f"{r.invoices:,}", f"{r.latency * 1000:.0f} ms", r.max_in_flight,
            f"{r.seconds:.1f}", f"{r.per_second:.1f}", f"{r.floor:.0f}",
            f"{r.seconds * 1000 / r.invoices:.1f}" if not r.latency else "",
            f"{r.paid:,} / {r.invoices:,}", "yes" if r.once else "**no**",
            report.verdict(r.seconds < BUDGET_SECONDS and r.once and r.paid == r.invoices)
            if budget else "n/a",
        ])
    lines += report.table(
        ["engine", "invoices", "gateway latency", "max_in_flight", "seconds", "invoices/s",
         "gateway floor, s", "database ms per invoice", "paid", "each charged once",
         f"budget < {BUDGET_SECONDS:.0f} s"],
        rows,
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Autopay throughput benchmark (issue 8).")
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--max-in-flight", type=int, default=8)
    parser.add_argument("--db-invoices", type=int, default=2_000,
                        help="invoices of the run without latency (0: skip it)")
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--cache-dir", type=Path, default=data.CACHE_DIR)
    parser.add_argument("--no-doc", dest="doc", action="store_false")
    args = parser.parse_args(argv)
    load_at_start = report.load_average()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    pg_version = (asyncio.run(report.postgres_version(args.postgres))
                  if "postgres" in engines else "not run")
    work = args.cache_dir / "run-autopay"
    work.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        print(message, flush=True)

    results = []
    for engine in engines:
        results.append(asyncio.run(run_once(
            engine, args.invoices, args.customers, args.latency, args.max_in_flight, work,
            args.postgres, log)))
        if args.db_invoices:
            customers = max(1, args.customers * args.db_invoices // args.invoices)
            results.append(asyncio.run(run_once(
                engine, args.db_invoices, customers, 0.0, args.max_in_flight, work,
                args.postgres, log)))
    if args.doc:
        report.replace_section("autopay", section(results, load_at_start, pg_version))
        print(f"wrote {report.DOC}")


if __name__ == "__main__":
    main()
