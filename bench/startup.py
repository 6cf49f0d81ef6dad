"""Start-up benchmark (issue 3, item 4).

    .venv/bin/python bench/startup.py                     # 1,000,000 invoices, both engines
    .venv/bin/python bench/startup.py --invoices 20000

Launches `arportal serve --workers 1` (the real command, in a subprocess, job loop on as a
default instance has it) on the cached N-invoice database and times it from launch to
`/readyz` answering 200 (polled every 10 ms), `--repeat` times. Then reads the worker's
resident memory (VmRSS) when ready and again after `--requests` portal page loads. Also
lists, in-process, the SQL statements the app runs while starting (migration check and
start-up hooks), to show no big table is scanned. Writes the `startup` section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench import data, report, serve

BUDGET_SECONDS = 3.0
BIG_TABLES = ("invoice", "payment", "credit_note", "allocation", "customer", "audit_event")


@dataclass
class StartupResult:
    engine: str
    seconds: list[float] = field(default_factory=list)
    rss_ready_mib: float = 0.0
    rss_loaded_mib: float = 0.0
    requests: int = 0
    statements: list[str] = field(default_factory=list)

    @property
    def big_table_statements(self) -> list[str]:
        pattern = re.compile(r'\b(FROM|JOIN)\s+"?(' + "|".join(BIG_TABLES) + r')"?\b', re.I)
        return [sql for sql in self.statements if pattern.search(sql)]


async def startup_statements(config_path: Path, settle: float = 1.0) -> list[str]:
    """What the app runs against the database while it starts (migrations checked too),
    and in the job loop's first `settle` seconds."""
    from arportal.app import build_app
    from arportal.config import load_config
    from bench import inprocess

    with inprocess.tracing_drivers(), inprocess.counting_queries() as seen:
        app = build_app(load_config(config_path), migrate=True, run_jobs=True)
        for hook in app.on_startup:
            await hook(app)
        await asyncio.sleep(settle)
    for hook in app.on_shutdown:
        await hook(app)
    return list(seen)


def serve_once(
    config: Path, log_dir: Path, name: str
) -> tuple[float, subprocess.Popen[bytes], int]:
    port = serve.free_port()
    command = [str(Path(sys.executable).with_name("arportal")), "--config", str(config),
               "serve", "--workers", "1", "--port", str(port)]
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=serve.REPO, env=serve.bench_env(config),
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        seconds = serve.wait_ready(f"http://127.0.0.1:{port}/readyz", process, log=log)
    except Exception:
        serve.stop(process)
        raise
    return seconds, process, port


def load_pages(port: int, token: str, requests: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        if client.get(f"/p/{token}").status_code != 303:
            raise RuntimeError("the portal link did not open")
        for _ in range(requests):
            if client.get("/portal/").status_code != 200:
                raise RuntimeError("the portal page did not answer 200")


def run_engine(engine: str, args: argparse.Namespace, log: Any) -> StartupResult:
    spec = data.Spec(invoices=args.invoices, customers=args.customers)
    meta = asyncio.run(data.ensure(engine, spec, cache_dir=args.cache_dir,
                                   postgres=args.postgres, log=log))
    return measure(engine, meta, args, log)


def measure(engine: str, meta: dict[str, Any], args: argparse.Namespace, log: Any) -> StartupResult:
    """Start-up times and memory on one engine, given its database (see `bench.data`)."""
    work = args.cache_dir / "run-startup"
    name = f"{engine}-{meta['spec']['invoices']}.toml"
    config = serve.write_config(work / name, meta["database"], meta["secret_key"],
                                plugins=args.plugins, run_jobs=True)
    result = StartupResult(engine)
    result.statements = asyncio.run(startup_statements(config))
    for attempt in range(args.repeat):
        seconds, process, port = serve_once(config, work / "logs", f"{engine}-{attempt}")
        try:
            result.seconds.append(seconds)
            log(f"[{engine}] ready in {seconds:.2f} s")
            if attempt == args.repeat - 1:
                pid = serve.worker_pids(process.pid)[0]
                result.rss_ready_mib = serve.rss_mib(pid)
                load_pages(port, meta["customers"]["bench"]["token"], args.requests)
                result.requests = args.requests
                result.rss_loaded_mib = serve.rss_mib(pid)
        finally:
            serve.stop(process)
    return result


def section(results: list[StartupResult], args: argparse.Namespace, load_at_start: str,
            pg_version: str) -> str:
    lines = report.machine_lines(load_at_start, {"postgresql": pg_version})
    lines += [
        f"- Database: {args.invoices:,} invoices, {args.customers:,} customers "
        "(`bench/data.py`); `arportal serve --workers 1`, job loop on, plugins: "
        + ("every installed one" if args.plugins else "none") + ".",
        f"- Time from launching the command to `/readyz` answering 200, {args.repeat} "
        "launches (the command checks migrations first, then uvicorn starts the app).",
        "",
    ]
    rows = []
    for r in results:
        median = statistics.median(r.seconds)
        rows.append([r.engine, f"{median:.2f}", f"{max(r.seconds):.2f}",
                     f"< {BUDGET_SECONDS:.0f} s", report.verdict(max(r.seconds) < BUDGET_SECONDS),
                     f"{r.rss_ready_mib:.0f}", f"{r.rss_loaded_mib:.0f}"])
    lines += report.table(["engine", "ready (median) s", "ready (max) s", "budget", "verdict",
                           "RSS when ready, MiB",
                           f"RSS after {args.requests} portal pages, MiB"], rows)
    lines += ["", "SQL statements the app runs while starting and in the job loop's first "
              "second (in-process, counted at the drivers), and those reading a table that "
              "grows with the data:", ""]
    for r in results:
        big = r.big_table_statements
        lines.append(f"- {r.engine}: {len(r.statements)} statements; on big tables: "
                     + ("none" if not big else ", ".join(f"`{_clip(s)}`" for s in big)))
        for sql, count in Counter(r.statements).items():
            lines.append(f"  - {count} x `{_clip(sql)}`")
    return "\n".join(lines)


def _clip(sql: str, limit: int = 140) -> str:
    sql = sql.replace("`", "'")
    return sql if len(sql) <= limit else sql[: limit - 3] + "..."


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Start-up benchmark (issue 3, item 4).")
    parser.add_argument("--invoices", type=int, default=data.DEFAULT_INVOICES)
    parser.add_argument("--customers", type=int, default=data.DEFAULT_CUSTOMERS)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--postgres", default=data.DEFAULT_POSTGRES)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--plugins", action="store_true")
    parser.add_argument("--cache-dir", type=Path, default=data.CACHE_DIR)
    parser.add_argument("--no-doc", dest="doc", action="store_false")
    args = parser.parse_args(argv)
    load_at_start = report.load_average()
    pg_version = asyncio.run(report.postgres_version(args.postgres))

    def log(message: str) -> None:
        print(message, flush=True)

    results = [run_engine(e.strip(), args, log) for e in args.engines.split(",") if e.strip()]
    for r in results:
        print(f"{r.engine}: ready in {statistics.median(r.seconds):.2f} s (max "
              f"{max(r.seconds):.2f}); RSS {r.rss_ready_mib:.0f} MiB ready, "
              f"{r.rss_loaded_mib:.0f} MiB after {r.requests} pages; start-up statements "
              f"{len(r.statements)}, on big tables {len(r.big_table_statements)}")
    if args.doc:
        report.replace_section("startup", section(results, args, load_at_start, pg_version))
        print(f"wrote {report.DOC}")


if __name__ == "__main__":
    main()
