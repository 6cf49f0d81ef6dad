"""Portal page benchmark (issue 3, items 1 and 2).

    .venv/bin/python bench/portal.py                      # 1,000,000 invoices, both engines
    .venv/bin/python bench/portal.py --invoices 20000     # a quick check of the harness

For each engine, in the same run and served the same way (uvicorn, 2 workers, access log off,
app from a factory), loaded by wrk on loopback (50 connections, a warm-up then the
measured run, targets interleaved over `--rounds` rounds, the median reported):

- `portal`: the real app (`arportal.app:app_from_environment`), `GET /portal/` for the
  customer with 50 open invoices, with the session and CSRF cookies a browser sends back.
  That is what a returning user hits: the e-mailed `/p/<token>` link answers 303 to
  `/portal/` and sets the session, and every later page is under `/portal/`.
- `memory`: the same template rendered from the context the real page built once
  (`bench/inmemory_app.py`), through the same app and middleware, without SQL.
- `naive`: the same page with its data read the way a first version would (nine Piccolo
  queries on Piccolo's engine, `bench/inmemory_app.py: naive_home`), same template, same
  app: the reference the issue's budget quotes ("a naive Litestar + Piccolo page reaches
  about 27% on SQLite and about 51% on PostgreSQL"), measured in the same run.
- `one query`: DESIGN's "naive Piccolo page": the same page whose invoice rows come from one
  Piccolo select and the rest from memory (no link look-up, no balances).
- `hello (app)`: a plain-text route of that app; `hello (bare)`: a bare Litestar app.
- `portal, 10k DB`: the portal page of the same customer in a database of 10,000 invoices
  (item 2: p50 must change by less than 30% between 10,000 and 1,000,000 invoices).

SQL statements per page are counted in-process (the engine's query method wrapped) for
customers with 5, 100 (50 open) and 5,000 invoices. A py-spy profile of the portal page
under load follows (`--no-profile` skips it). Writes the `portal` and `profile` sections of
docs/benchmarks.md (`--no-doc` leaves the file alone).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench import data, load, profile, report, serve
from bench.inmemory_app import HELLO_PATH, MEMORY_PATH, NAIVE_PATH, ONE_QUERY_PATH, TOKEN_ENV

COMPARE_INVOICES = 10_000
BUDGET_RATIO = 0.5
BUDGET_P99_MS = 100.0
BUDGET_P50_GROWTH = 0.30
ENGINES = ("sqlite", "postgres")
POOL_RESET = "SELECT pg_advisory_unlock_all()"
"""What asyncpg's pool runs on a connection each time it is released."""


@dataclass
class Target:
    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    results: list[load.LoadResult] = field(default_factory=list)

    def median(self) -> load.LoadResult:
        ordered = sorted(self.results, key=lambda r: r.requests_per_s)
        return ordered[len(ordered) // 2]


@dataclass
class EngineRun:
    engine: str
    meta: dict[str, Any]
    compare_meta: dict[str, Any]
    queries: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, Target] = field(default_factory=dict)
    same_html: bool | None = None
    naive_same_html: bool | None = None
    one_query_same_html: bool | None = None
    render: dict[str, float] = field(default_factory=dict)
    worker_rss_mib: list[float] = field(default_factory=list)
    profile: profile.Summary | None = None
    profile_requests: int = 0


# --- steps -------------------------------------------------------------------------------


def run_dir(cache_dir: Path) -> Path:
    return cache_dir / "run-portal"


def config_for(meta: dict[str, Any], cache_dir: Path, plugins: bool) -> Path:
    name = Path(meta["database"].rsplit("/", 1)[-1]).stem
    path = serve.write_config(run_dir(cache_dir) / f"{meta['engine']}-{name}.toml",
                              meta["database"], meta["secret_key"], plugins=plugins)
    subprocess.run([str(Path(sys.executable).with_name("arportal")), "--config", str(path),
                    "migrate"], check=True, capture_output=True, cwd=serve.REPO)
    return path


async def in_process(
    config_path: Path, meta: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, float]]:
    """Statements per page for the three designated customers, and the template's render
    cost, measured in this process."""
    from arportal.config import load_config
    from bench import inprocess

    counts: dict[str, Any] = {}
    async with inprocess.running(load_config(config_path)) as (app, client):
        for key in ("small", "bench", "big"):
            customer = meta["customers"][key]
            page = await inprocess.page_queries(client, customer["token"])
            if page.status != 200:
                raise RuntimeError(f"{key}: /portal/ answered {page.status}")
            resets = sum(1 for sql in page.statements if sql.startswith(POOL_RESET))
            counts[key] = {"invoices": customer["invoices"], "count": page.count,
                           "resets": resets, "app_count": page.app_count,
                           "statements": page.statements}
        context, _ = await inprocess.capture_home(app, meta["customers"]["bench"]["token"])
        render = inprocess.render_cost(app.state.jinja, context)
    return counts, render


def browser_cookies(base: str, token: str) -> dict[str, str]:
    """Follow the link on a running server; the cookies a browser would send back."""
    with httpx.Client(base_url=base) as client:
        response = client.get(f"/p/{token}")
        if response.status_code != 303:
            raise RuntimeError(f"{base}/p/<token> answered {response.status_code}")
        return dict(client.cookies)


def fetch(url: str, cookies: dict[str, str]) -> str:
    response = httpx.get(url, headers={"Cookie": _cookie(cookies)})
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}; not measuring it")
    return response.text


def _cookie(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in sorted(cookies.items()))


def run_engine(engine: str, args: argparse.Namespace, log: Any) -> EngineRun:
    spec = data.Spec(invoices=args.invoices, customers=args.customers)
    compare = data.Spec(invoices=args.compare_invoices, customers=args.customers)
    meta = asyncio.run(data.ensure(engine, spec, cache_dir=args.cache_dir, postgres=args.postgres,
                                   log=log))
    compare_meta = asyncio.run(data.ensure(engine, compare, cache_dir=args.cache_dir,
                                           postgres=args.postgres, log=log))
    return measure_engine(engine, meta, compare_meta, args, log)


def measure_engine(engine: str, meta: dict[str, Any], compare_meta: dict[str, Any],
                   args: argparse.Namespace, log: Any) -> EngineRun:
    """Everything measured on one engine, given its two databases (see `bench.data`)."""
    run = EngineRun(engine, meta, compare_meta)
    config = config_for(meta, args.cache_dir, args.plugins)
    compare_config = config_for(compare_meta, args.cache_dir, args.plugins)
    log(f"[{engine}] counting SQL statements per page ...")
    run.queries, run.render = asyncio.run(in_process(config, meta))
    logs = run_dir(args.cache_dir) / "logs"
    token = meta["customers"]["bench"]["token"]
    with contextlib.ExitStack() as stack:
        log(f"[{engine}] starting servers ...")
        real = stack.enter_context(serve.uvicorn_server(
            serve.REAL_APP, config, log_dir=logs, name=f"{engine}-real"))
        small = stack.enter_context(serve.uvicorn_server(
            serve.REAL_APP, compare_config, log_dir=logs, name=f"{engine}-real-compare"))
        memory = stack.enter_context(serve.uvicorn_server(
            serve.MEMORY_APP, config, log_dir=logs, name=f"{engine}-memory",
            env={TOKEN_ENV: token}))
        bare = stack.enter_context(serve.uvicorn_server(
            serve.BARE_APP, config, log_dir=logs, name=f"{engine}-bare",
            ready_path=HELLO_PATH))
        cookies = browser_cookies(real.base, token)
        compare_cookies = browser_cookies(
            small.base, compare_meta["customers"]["bench"]["token"])
        real_html = fetch(real.base + "/portal/", cookies)
        run.same_html = real_html == fetch(memory.base + MEMORY_PATH, cookies)
        run.naive_same_html = real_html == fetch(memory.base + NAIVE_PATH, cookies)
        run.one_query_same_html = real_html == fetch(memory.base + ONE_QUERY_PATH, cookies)
        fetch(small.base + "/portal/", compare_cookies)
        header = {"Cookie": _cookie(cookies)}
        run.targets = {t.name: t for t in [
            Target("portal", real.base + "/portal/", header),
            Target("memory", memory.base + MEMORY_PATH, header),
            Target("naive", memory.base + NAIVE_PATH, header),
            Target("one query", memory.base + ONE_QUERY_PATH, header),
            Target("hello (app)", memory.base + HELLO_PATH, header),
            Target("hello (bare)", bare.base + HELLO_PATH, header),
            Target(f"portal, {compare_meta['spec']['invoices']:,}-invoice DB",
                   small.base + "/portal/",
                   {"Cookie": _cookie(compare_cookies)}),
        ]}
        for round_index in range(args.rounds):
            for target in run.targets.values():
                log(f"[{engine}] round {round_index + 1}/{args.rounds}: {target.name} ...")
                result = load.measure(target.url, seconds=args.seconds, warmup=args.warmup,
                                      connections=args.connections, headers=target.headers)
                target.results.append(result)
                log(f"    {result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
                    f"p99 {result.p99_ms:.1f} ms" + ("" if result.ok else f" {result.errors}"))
        run.worker_rss_mib = [serve.rss_mib(pid) for pid in serve.worker_pids(real.pid)]
        if args.profile:
            log(f"[{engine}] profiling the portal page with py-spy ...")
            run.profile, run.profile_requests = profile_page(
                real.pid, run.targets["portal"], args, engine)
    return run


def profile_page(pid: int, target: Target, args: argparse.Namespace,
                 engine: str) -> tuple[profile.Summary, int]:
    output = run_dir(args.cache_dir) / f"profile-{engine}.txt"
    spy = profile.record(pid, args.profile_seconds + 1, output)
    time.sleep(0.5)
    result = load.wrk(target.url, seconds=args.profile_seconds, connections=args.connections,
                      headers=target.headers)
    _, err = spy.communicate(timeout=args.profile_seconds + 60)
    if spy.returncode != 0 or not output.exists():
        raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')[-500:]}")
    return profile.summarize(output.read_text()), result.requests


# --- report ------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.1f}"


def portal_section(runs: list[EngineRun], args: argparse.Namespace, load_at_start: str,
                   pg_version: str) -> str:
    lines = report.machine_lines(load_at_start, {"postgresql": pg_version,
                                                 "wrk": load.wrk_version()})
    lines += [
        f"- Database: {args.invoices:,} invoices, {args.customers:,} customers, 2 tenants "
        f"(built by `bench/data.py`); item 2 compares with {args.compare_invoices:,} invoices.",
        f"- Load: wrk, 2 threads, {args.connections} connections, {args.warmup:g} s warm-up "
        f"then {args.seconds:g} s per target, {args.rounds} round(s) (median shown); uvicorn "
        "through `arportal.serving` as `arportal serve` runs it (2 workers, each with its own "
        "SO_REUSEPORT listening socket with TCP_NODELAY, asyncio's loop and httptools, access "
        "log off, log level warning); plugins: "
        + ("every installed one" if args.plugins else "none (the core page alone)") + ".",
        "- Page: `GET /portal/` with the session cookie of the customer with 50 open "
        "invoices (100 in all): what a returning user hits.",
        "",
    ]
    rows = []
    for run in runs:
        for target in run.targets.values():
            result = target.median()
            note = "" if result.ok else f"errors: {result.errors}"
            rows.append([run.engine, target.name, report.fmt(result.requests_per_s),
                         _ms(result.p50_ms), _ms(result.p99_ms), note])
    lines += report.table(["engine", "target", "req/s", "p50 ms", "p99 ms", "note"], rows)
    lines += ["", "Budgets (issue 3):", ""]
    budget_rows = []
    for run in runs:
        portal = run.targets["portal"].median()
        compare = next(t for n, t in run.targets.items() if "DB" in n).median()
        ratio, naive_ratio, one_ratio = (
            _ratio(run, name) for name in ("portal", "naive", "one query"))
        growth = (portal.p50_ms - compare.p50_ms) / compare.p50_ms if compare.p50_ms else 0
        counts = {key: q["count"] for key, q in run.queries.items()}
        same = len({tuple(_shape(sql) for sql in q["statements"])
                    for q in run.queries.values()}) == 1
        budget_rows += [
            [run.engine, "portal / in-memory throughput", f">= {BUDGET_RATIO:.0%}",
             f"{ratio:.0%} (rounds {_round_ratios(run, 'portal')})",
             report.verdict(ratio >= BUDGET_RATIO)],
            [run.engine, "reference: naive Piccolo page / in-memory", "none",
             f"{naive_ratio:.0%} (rounds {_round_ratios(run, 'naive')})", "-"],
            [run.engine, "reference: one Piccolo query / in-memory", "none",
             f"{one_ratio:.0%} (rounds {_round_ratios(run, 'one query')})", "-"],
            [run.engine, "portal p99", f"< {BUDGET_P99_MS:.0f} ms", f"{portal.p99_ms:.1f} ms",
             report.verdict(portal.p99_ms < BUDGET_P99_MS)],
            [run.engine, "SQL statements per page, 5 / 100 / 5,000 invoices", "the same",
             " / ".join(str(counts[k]) for k in ("small", "bench", "big")), report.verdict(same)],
            [run.engine, f"p50 growth, {args.compare_invoices:,} -> {args.invoices:,} invoices",
             f"< {BUDGET_P50_GROWTH:.0%}",
             f"{compare.p50_ms:.1f} -> {portal.p50_ms:.1f} ms ({growth:+.0%})",
             report.verdict(abs(growth) < BUDGET_P50_GROWTH)],
            [run.engine, "in-memory page HTML identical to the real page", "yes",
             "yes" if run.same_html else "no", report.verdict(run.same_html)],
            [run.engine, "naive page HTML identical to the real page", "yes",
             "yes" if run.naive_same_html else "no", report.verdict(run.naive_same_html)],
            [run.engine, "one-query page HTML identical to the real page", "yes",
             "yes" if run.one_query_same_html else "no",
             report.verdict(run.one_query_same_html)],
        ]
    lines += report.table(["engine", "what", "budget", "measured", "verdict"], budget_rows)
    lines += ["", _littles_law(runs, args.connections)]
    lines += ["", "Resident memory of the real app's workers after the run: " + "; ".join(
        f"{run.engine}: " + ", ".join(f"{rss:.0f} MiB" for rss in run.worker_rss_mib)
        for run in runs) + "."]
    lines += [
        "",
        "SQL statements of one returning visit to `/portal/`, counted in-process at the "
        "drivers (a trace callback on every sqlite3 connection, asyncpg's query methods "
        "wrapped), so a statement run outside Piccolo counts too. On PostgreSQL, asyncpg's "
        "pool runs a reset statement each time a connection goes back to the pool; those are "
        "counted apart. `app count` is what `arportal.db.count_queries` says.",
        "",
    ]
    rows = []
    for run in runs:
        for key, q in run.queries.items():
            rows.append([run.engine, f"{key} ({q['invoices']:,} invoices)",
                         q["count"] - q["resets"], q["resets"],
                         "n/a" if q["app_count"] is None else q["app_count"]])
    lines += report.table(["engine", "customer", "statements", "pool resets", "app count"], rows)
    lines += ["", "The statements for the customer with 50 open invoices:", ""]
    for run in runs:
        statements = [sql for sql in run.queries["bench"]["statements"]
                      if not sql.startswith(POOL_RESET)]
        lines.append(f"- {run.engine}:")
        lines += [f"  {index}. `{_clip(sql)}`" for index, sql in enumerate(statements, 1)]
    return "\n".join(lines)


def _ratio(run: EngineRun, name: str) -> float:
    """The median throughput of `name` over the in-memory page's."""
    memory = run.targets["memory"].median().requests_per_s
    return run.targets[name].median().requests_per_s / memory if memory else 0.0


def _round_ratios(run: EngineRun, name: str) -> str:
    """Each round's throughput of `name` over the in-memory page's in the same round."""
    pairs = zip(run.targets[name].results, run.targets["memory"].results, strict=True)
    return ", ".join(f"{page.requests_per_s / memory.requests_per_s:.0%}"
                     for page, memory in pairs if memory.requests_per_s)


def _littles_law(runs: list[EngineRun], connections: int) -> str:
    floors = []
    for run in runs:
        rps = run.targets["portal"].median().requests_per_s
        floors.append(f"{run.engine}: {rps:,.0f} req/s, so {1000 * connections / rps:,.0f} ms "
                      "on average" if rps else f"{run.engine}: no throughput")
    return (f"With {connections} connections always busy, the mean latency is {connections} / "
            f"throughput (Little's law), so a p99 under {BUDGET_P99_MS:.0f} ms needs well over "
            f"{1000 * connections / BUDGET_P99_MS:,.0f} req/s; the portal page here: "
            + "; ".join(floors) + ".")


def _shape(sql: str) -> str:
    """A statement without its literal values (SQLite's trace shows them inlined)."""
    return re.sub(r"'[^']*'|\b\d+\b", "?", sql)


def _clip(sql: str, limit: int = 160) -> str:
    sql = sql.replace("`", "'")
    return sql if len(sql) <= limit else sql[: limit - 3] + "..."


def profile_section(runs: list[EngineRun], args: argparse.Namespace, load_at_start: str) -> str:
    lines = report.machine_lines(load_at_start)
    lines += [
        f"- How: `py-spy record --subprocesses --nonblocking --rate 200 --format raw` on the "
        f"real app's uvicorn (2 workers) while wrk loads `/portal/` for {args.profile_seconds:g} s "
        "(customer with 50 open invoices); summarised by `bench/profile.py`. The raw stacks "
        "are kept in `bench/.data/run-portal/profile-<engine>.txt` (flamegraph.pl reads them).",
        "",
    ]
    for run in runs:
        if run.profile is None:
            continue
        lines += [f"#### {run.engine}", ""]
        lines += profile.markdown(run.profile, run.profile_requests)
        lines.append("")
    return "\n".join(lines)


def print_summary(runs: list[EngineRun]) -> None:
    for run in runs:
        print(f"\n{run.engine}:")
        for target in run.targets.values():
            r = target.median()
            print(f"  {target.name:<28} {r.requests_per_s:>9,.0f} req/s  p50 {r.p50_ms:6.1f} ms  "
                  f"p99 {r.p99_ms:6.1f} ms" + ("" if r.ok else f"  {r.errors}"))
        print(f"  portal / memory: {_ratio(run, 'portal'):.0%} "
              f"(rounds {_round_ratios(run, 'portal')}); naive / memory: "
              f"{_ratio(run, 'naive'):.0%} "
              f"(rounds {_round_ratios(run, 'naive')}, same HTML: {run.naive_same_html}); "
              f"one query / memory: {_ratio(run, 'one query'):.0%} "
              f"(rounds {_round_ratios(run, 'one query')}, "
              f"same HTML: {run.one_query_same_html}); "
              f"statements per page (5/100/5000 invoices): "
              f"{[run.queries[k]['count'] for k in ('small', 'bench', 'big')]}; "
              f"same HTML: {run.same_html}; render {run.render.get('render_ms', 0):.2f} ms "
              f"({run.render.get('without_formatting_ms', 0):.2f} ms without formatting)")
        if run.profile:
            print("  profile by layer:")
            for label, count in run.profile.layers[:8]:
                print(f"    {run.profile.share(count):>6}  {label}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Portal page benchmark (issue 3).")
    parser.add_argument("--invoices", type=int, default=data.DEFAULT_INVOICES)
    parser.add_argument("--compare-invoices", type=int, default=COMPARE_INVOICES,
                        help="size of the database the p50 is compared with (item 2)")
    parser.add_argument("--customers", type=int, default=data.DEFAULT_CUSTOMERS)
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated: sqlite,postgres")
    parser.add_argument("--postgres", default=data.DEFAULT_POSTGRES)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds over every target; the median round is reported")
    parser.add_argument("--plugins", action="store_true",
                        help="load every installed plugin (default: the core page alone)")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--profile-seconds", type=float, default=10.0)
    parser.add_argument("--no-doc", dest="doc", action="store_false")
    parser.add_argument("--cache-dir", type=Path, default=data.CACHE_DIR)
    args = parser.parse_args(argv)
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(args.engines) - set(ENGINES)
    if unknown:
        parser.error(f"--engines: unknown {sorted(unknown)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    load.wrk_path()
    load_at_start = report.load_average()
    pg_version = asyncio.run(report.postgres_version(args.postgres))

    def log(message: str) -> None:
        print(message, flush=True)

    runs = [run_engine(engine, args, log) for engine in args.engines]
    print_summary(runs)
    if args.doc:
        report.replace_section("portal", portal_section(runs, args, load_at_start, pg_version))
        if args.profile:
            report.replace_section("profile", profile_section(runs, args, load_at_start))
        print(f"\nwrote {report.DOC}")
    (run_dir(args.cache_dir) / "last-portal.json").write_text(json.dumps(
        {run.engine: {name: vars(t.median()) | {"raw": ""} for name, t in run.targets.items()}
         for run in runs}, indent=2, default=str))


if __name__ == "__main__":
    main()
