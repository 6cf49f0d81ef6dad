"""Statement PDF benchmark (issue 5, item 8).

    .venv/bin/python bench/statements.py                  # 3 rounds, 2 worker processes
    .venv/bin/python bench/statements.py --rounds 1 --no-doc

In one run, on one SQLite database (a tenant with two customers: 12 lines, and 1,000 lines
over 2026), the real app served by uvicorn (1 server process, `process_workers` PDF
processes, access log off):

- a 1-page account statement through the portal, end to end (`GET /p/<token>/statements/
  account.pdf`, 5 requests a round, the median);
- the 1,000-line account statement through the portal, end to end;
- the same 1,000-line statement as one HTML document laid out by WeasyPrint alone in one
  process (`HTML(string=...).write_pdf()`, in a separate Python process, the HTML the
  plugin makes with the page numbers counted by WeasyPrint), the baseline; and the same
  with Python's cyclic collector paused as the plugin's workers run it (one collection
  after, timed), to show what the parallel runs gain by themselves.

Rounds interleave the three; medians are reported. Budget: the 1,000-line statement no slower
end to end than WeasyPrint alone; goal: half its time. The SQL statements that read a
statement's data are counted in-process for both customers (a fixed number). Writes the
`statements` section of docs/benchmarks.md (`--no-doc` leaves the file alone).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes.util
import datetime as dt
import gc
import json
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench import report, serve

WORK = Path(__file__).resolve().parent / ".data" / "statements"
SECRET_KEY = "arportal-bench-secret-not-for-production-" + "s" * 24
BUDGET_RATIO = 1.0
GOAL_RATIO = 0.5
PERIOD = ("2026-01-01", "2026-12-31")
SMALL_REQUESTS = 5


def write_config(path: Path, database: str, process_workers: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "\n".join([
            f'database = "{database}"',
            f'secret_key = "{SECRET_KEY}"',
            'base_url = "http://127.0.0.1:8000"',
            f'files_dir = "{path.parent / "files"}"',
            "run_jobs = false",
            "failed_lookup_limit = 1000000",
            f"process_workers = {process_workers}",
            "",
            "[plugins]",
            'enabled = ["statements"]',
        ]) + "\n"
    )
    return path


def ledger(customer: str, count: int) -> dict[str, list[dict[str, Any]]]:
    """`count` lines in 2026: invoices, payments and credit notes in turn."""
    items: dict[str, list[dict[str, Any]]] = {"invoices": [], "payments": [], "credit-notes": []}
    for i in range(count):
        day = (dt.date(2026, 1, 1) + dt.timedelta(days=i * 360 // max(count, 1))).isoformat()
        amount = str(Decimal(1000 + 7 * i) / 100)
        reference = f"{customer}-{i:05d}"
        if i % 3 == 0:
            items["invoices"].append({
                "external_id": reference, "customer_external_id": customer, "number": reference,
                "issue_date": day, "due_date": day, "currency": "EUR",
                "total": str(Decimal(amount) * 2),
            })
        else:
            kind = "payments" if i % 3 == 1 else "credit-notes"
            items[kind].append({
                "external_id": reference, "customer_external_id": customer, "date": day,
                "currency": "EUR", "amount": amount,
            })
    return items


async def seed(config_path: Path) -> dict[str, Any]:
    """Migrate, make the tenant and its two customers through the admin API, in-process."""
    from arportal.api_keys import create_api_key
    from arportal.app import build_app
    from arportal.config import load_config
    from arportal.tenancy import create_tenant

    app = build_app(load_config(config_path))
    for hook in app.on_startup:
        await hook(app)
    try:
        tenant = await create_tenant("bench", "Bench Supplies Ltd")
        key, _ = await create_api_key(tenant["id"])
        headers = {"Authorization": f"Bearer {key}"}
        transport = httpx.ASGITransport(app=app)
        links = {}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for customer, count in (("SMALL", 12), ("BIG", 1000)):
                answer = await client.put("/api/v1/customers", headers=headers, json=[
                    {"external_id": customer, "name": f"Customer {customer.title()} GmbH"}
                ])
                answer.raise_for_status()
                links[customer] = httpx.URL(answer.json()[0]["portal_url"]).path
                for kind, items in ledger(customer, count).items():
                    if items:
                        (await client.put(f"/api/v1/{kind}", headers=headers, json=items)
                         ).raise_for_status()
        return {"tenant_id": tenant["id"], "links": links}
    finally:
        for hook in app.on_shutdown:
            await hook(app)


async def alone(config_path: Path, tenant_id: int, repeat: int) -> dict[str, Any]:
    """In this process: the BIG statement's HTML as one document through WeasyPrint, timed;
    and the SQL statements that read each statement's data."""
    from weasyprint import HTML

    from arportal import db, fetch
    from arportal.app import build_app
    from arportal.config import load_config
    from arportal.models import Tenant
    from arportal.plugins.statements import documents
    from arportal.plugins.statements.pdf import fetcher_for, html_for
    from arportal.tenancy import load_context

    app = build_app(load_config(config_path), migrate=False)
    for hook in app.on_startup:
        await hook(app)
    try:
        tenant = await Tenant.select().where(Tenant.id == tenant_id).first()
        ctx = await load_context(app.state.host, app.state.config, tenant)
        queries = {}
        docs = {}
        for external_id in ("SMALL", "BIG"):
            (customer,) = await fetch(
                "SELECT id, external_id, name, locale, currency FROM customer "
                "WHERE tenant = {} AND external_id = {}", tenant_id, external_id,
            )
            with db.count_queries() as counted:
                docs[external_id] = await documents.account_document(ctx, customer, *PERIOD)
            queries[external_id] = counted[0]
        document = docs["BIG"]
        html = html_for(document, 1, len(document.pages), None)
        seconds, paused, pages = [], [], 0
        for _ in range(repeat):
            gc.collect()
            started = time.perf_counter()
            rendered = HTML(string=html, base_url="arportal-asset:",
                            url_fetcher=fetcher_for(document)).render()
            rendered.write_pdf()
            seconds.append(time.perf_counter() - started)
            pages = len(rendered.pages)
            del rendered
            gc.collect()
            gc.disable()
            started = time.perf_counter()
            HTML(string=html, base_url="arportal-asset:",
                 url_fetcher=fetcher_for(document)).render().write_pdf()
            gc.collect()
            paused.append(time.perf_counter() - started)
            gc.enable()
        return {
            "seconds": seconds,
            "paused": paused,
            "pages": pages,
            "planned_pages": len(document.pages),
            "queries": queries,
            "lines": sum(len(s.lines) for s in document.sections),  # type: ignore[union-attr]
        }
    finally:
        for hook in app.on_shutdown:
            await hook(app)


def measure_alone(config_path: Path, tenant_id: int, repeat: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--alone", str(config_path), "--tenant", str(tenant_id),
         "--repeat", str(repeat)],
        capture_output=True, text=True, check=True, cwd=serve.REPO,
        env=serve.bench_env(config_path),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def fetch_pdf(client: httpx.Client, url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    assert response.content.startswith(b"%PDF-"), response.text[:200]
    return elapsed, response.content


def pdf_pages(content: bytes) -> int:
    import io

    import pypdf

    return len(pypdf.PdfReader(io.BytesIO(content)).pages)


def harfbuzz_subset() -> str:
    return "present" if ctypes.util.find_library("harfbuzz-subset") else "ABSENT (3-4x slower)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--process-workers", type=int, default=2)
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--alone", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--tenant", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.alone:
        print(json.dumps(asyncio.run(alone(args.alone, args.tenant, args.repeat))))
        return

    load_at_start = report.load_average()
    WORK.mkdir(parents=True, exist_ok=True)
    database = WORK / "statements.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    config_path = write_config(WORK / "arportal.toml", f"sqlite:///{database}",
                               args.process_workers)
    seeded = asyncio.run(seed(config_path))
    links = seeded["links"]
    urls = {name: f"{path}/statements/account.pdf?from={PERIOD[0]}&to={PERIOD[1]}"
            for name, path in links.items()}

    small: list[float] = []
    big: list[float] = []
    alone_runs: list[float] = []
    paused_runs: list[float] = []
    info: dict[str, Any] = {}
    with serve.uvicorn_server(serve.REAL_APP, config_path, workers=1, log_dir=WORK,
                              name="statements") as server, \
            httpx.Client(base_url=server.base, timeout=120) as client:
        for name in ("SMALL", "BIG"):  # warm-up: the worker processes start
            for _ in range(2):
                fetch_pdf(client, urls[name])
        info["small_pages"] = pdf_pages(fetch_pdf(client, urls["SMALL"])[1])
        big_pdf = fetch_pdf(client, urls["BIG"])[1]
        info["big_pages"] = pdf_pages(big_pdf)
        info["big_bytes"] = len(big_pdf)
        for round_ in range(args.rounds):
            small.append(statistics.median(
                fetch_pdf(client, urls["SMALL"])[0] for _ in range(SMALL_REQUESTS)
            ))
            big.append(fetch_pdf(client, urls["BIG"])[0])
            measured = measure_alone(config_path, seeded["tenant_id"], 1)
            alone_runs += measured["seconds"]
            paused_runs += measured["paused"]
            info.update({k: v for k, v in measured.items() if k not in ("seconds", "paused")})
            print(f"round {round_ + 1}: 1 page {small[-1]:.3f} s, 1,000 lines {big[-1]:.3f} s, "
                  f"WeasyPrint alone {alone_runs[-1]:.3f} s", flush=True)

    ratio = statistics.median(big) / statistics.median(alone_runs)
    info["paused"] = paused_runs
    body = render(load_at_start, args, small, big, alone_runs, ratio, info)
    print(body)
    if not args.no_doc:
        report.replace_section("statements", body)


def render(load_at_start: str, args: argparse.Namespace, small: list[float], big: list[float],
           alone_runs: list[float], ratio: float, info: dict[str, Any]) -> str:
    extra = {name: metadata.version(name) for name in ("weasyprint", "pydyf", "pypdf")}
    extra["libharfbuzz-subset"] = harfbuzz_subset()
    lines = [
        "## Statement PDFs (issue 5, item 8)",
        "",
        *report.machine_lines(load_at_start, extra),
        f"- Setup: SQLite, uvicorn with 1 server process, `process_workers = "
        f"{args.process_workers}`; {args.rounds} rounds, medians; the 1-page figure is the "
        f"median of {SMALL_REQUESTS} requests a round",
        "",
        *report.table(
            ["what", "median s", "pages", "lines"],
            [
                ["1-page statement, portal end to end", f"{statistics.median(small):.3f}",
                 info["small_pages"], 12],
                ["1,000-line statement, portal end to end", f"{statistics.median(big):.3f}",
                 info["big_pages"], info["lines"]],
                ["the same statement, WeasyPrint alone, one document in one process",
                 f"{statistics.median(alone_runs):.3f}", info["pages"], info["lines"]],
                ["the same, with the cyclic collector paused (one collection after, included)",
                 f"{statistics.median(info['paused']):.3f}", info["pages"], info["lines"]],
            ],
        ),
        "",
        f"- 1,000-line statement end to end / WeasyPrint alone: **{ratio:.2f}** "
        f"(budget <= {BUDGET_RATIO:.2f}: {report.verdict(ratio <= BUDGET_RATIO)}; "
        f"goal <= {GOAL_RATIO:.2f}: {report.verdict(ratio <= GOAL_RATIO)})",
        f"- The same against WeasyPrint alone with the collector paused, as the workers run it: "
        f"**{statistics.median(big) / statistics.median(info['paused']):.2f}** (what the "
        "parallel runs of pages gain by themselves)",
        f"- Rounds (s): end to end {', '.join(f'{v:.3f}' for v in big)}; WeasyPrint alone "
        f"{', '.join(f'{v:.3f}' for v in alone_runs)}",
        f"- SQL statements reading the statement's data: {info['queries']['SMALL']} for 12 lines, "
        f"{info['queries']['BIG']} for 1,000 lines (plus the portal's own look-up of the link)",
        f"- The 1,000-line PDF: {info['big_bytes'] / 1024:.0f} KiB, planned "
        f"{info['planned_pages']} pages, laid out in {args.process_workers} parallel runs and "
        "joined",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
