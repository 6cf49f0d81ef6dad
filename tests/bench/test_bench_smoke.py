"""The benchmark harness (bench/) at a tiny size: its pieces run and report what they
measured. Nothing here asserts a timing: the figures live in docs/benchmarks.md."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bench import data, imports, inprocess, load, portal, profile, report, serve, startup

TINY = data.Spec(invoices=400, customers=30, big=200)

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8000/portal/
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    15.07ms    2.14ms  40.11ms   80.00%
    Req/Sec     1.66k   123.45     1.90k    70.00%
  Latency Distribution
     50%  850.00us
     75%   15.99ms
     90%    1.25s
     99%    2.01m
  33040 requests in 10.01s, 120.52MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:   3300.12
Transfer/sec:     12.04MB
"""


async def built(db_url: str, tmp_path: Path, spec: data.Spec = TINY) -> dict[str, Any]:
    return await data.build(db_url, spec, tmp_path / "bench.json")


def config_of(meta: dict[str, Any], tmp_path: Path) -> Path:
    return serve.write_config(tmp_path / "bench.toml", meta["database"], meta["secret_key"])


async def fetch_all(db_url: str, sql: str) -> list[tuple[Any, ...]]:
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(data.sqlite_path(db_url))
        try:
            return [tuple(row) for row in conn.execute(sql).fetchall()]
        finally:
            conn.close()
    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        return [tuple(row) for row in await conn.fetch(sql)]
    finally:
        await conn.close()


# --- data -----------------------------------------------------------------------------------


async def test_data_builds_invoices_customers_and_the_designated_customers(db_url, tmp_path):
    meta = await built(db_url, tmp_path)

    assert (await fetch_all(db_url, "SELECT COUNT(*) FROM invoice"))[0][0] == 400
    assert (await fetch_all(db_url, "SELECT COUNT(*) FROM customer"))[0][0] == 30
    assert (await fetch_all(db_url, "SELECT COUNT(*) FROM tenant"))[0][0] == 2
    counts = dict(
        ((ext, status), n)
        for ext, status, n in await fetch_all(
            db_url,
            "SELECT c.external_id, i.status, COUNT(*) FROM invoice i "
            "JOIN customer c ON c.id = i.customer WHERE c.external_id LIKE 'BENCH-%' "
            "GROUP BY c.external_id, i.status",
        )
    )
    assert counts[("BENCH-50", "open")] == 50
    assert counts[("BENCH-50", "paid")] == 50
    assert counts[("BENCH-SMALL", "open")] + counts[("BENCH-SMALL", "paid")] == 5
    assert sum(n for (ext, _), n in counts.items() if ext == "BENCH-BIG") == 200
    statuses = {row[0] for row in await fetch_all(db_url, "SELECT DISTINCT status FROM invoice")}
    assert {"open", "paid"} <= statuses
    money = await fetch_all(db_url, "SELECT MIN(total_minor), MAX(amount_due_minor) FROM invoice")
    assert isinstance(money[0][0], int) and money[0][0] > 0

    written = json.loads((tmp_path / "bench.json").read_text())
    assert written["customers"]["bench"]["url"].startswith("http://127.0.0.1:8000/p/")
    assert written["fingerprint"] == TINY.fingerprint() == await data.stored_fingerprint(db_url)
    assert set(meta["customers"]) == {"small", "bench", "big"}


async def test_data_refuses_a_size_too_small_for_the_designated_customers(tmp_path):
    with pytest.raises(ValueError, match="invoices: at least"):
        await data.build(f"sqlite:///{tmp_path / 'x.db'}", data.Spec(invoices=100))


async def test_a_cached_database_is_reused_and_a_changed_spec_rebuilds(tmp_path):
    cache = tmp_path / "cache"
    first = await data.ensure("sqlite", TINY, cache_dir=cache, log=lambda _: None)
    again = await data.ensure("sqlite", TINY, cache_dir=cache, log=lambda _: None)
    assert (first["cached"], again["cached"]) == (False, True)
    assert again["customers"]["bench"]["token"] == first["customers"]["bench"]["token"]
    other = data.Spec(invoices=400, customers=31, big=200)
    rebuilt = await data.ensure("sqlite", other, cache_dir=cache, log=lambda _: None)
    assert rebuilt["cached"] is False


def test_postgres_databases_are_named_by_size():
    assert data.postgres_url_for("postgresql://u@h:5432/bench", 10_000) == (
        "postgresql://u@h:5432/bench_10000"
    )


# --- in-process: links, statements, the in-memory page ------------------------------------


async def test_designated_links_open_the_portal_and_statements_are_counted_alike(
    db_url, tmp_path
):
    from arportal.config import load_config

    meta = await built(db_url, tmp_path)
    async with inprocess.running(load_config(config_of(meta, tmp_path))) as (_, client):
        pages = {
            key: await inprocess.page_queries(client, meta["customers"][key]["token"])
            for key in ("small", "bench", "big")
        }
        home = await client.get("/portal/")
    assert {page.status for page in pages.values()} == {200}
    assert pages["bench"].count > 0
    assert len({tuple(portal._shape(s) for s in page.statements) for page in pages.values()}) == 1
    assert "Big Buyer Ltd" in home.text
    app_counts = {page.app_count for page in pages.values()}
    if app_counts != {None}:
        resets = sum(s.startswith(portal.POOL_RESET) for s in pages["bench"].statements)
        assert app_counts == {pages["bench"].count - resets}


async def test_in_memory_and_reference_pages_render_the_same_html_as_the_real_page(
    db_url, tmp_path, monkeypatch
):
    from bench.inmemory_app import (
        HELLO_PATH,
        MEMORY_PATH,
        NAIVE_PATH,
        ONE_QUERY_PATH,
        TOKEN_ENV,
        create_app,
    )

    meta = await built(db_url, tmp_path)
    monkeypatch.setenv("ARPORTAL_CONFIG", str(config_of(meta, tmp_path)))
    monkeypatch.setenv(TOKEN_ENV, meta["customers"]["bench"]["token"])
    with inprocess.tracing_drivers():
        app = create_app()
        for hook in app.on_startup:
            await hook(app)
        try:
            async with inprocess.client_for(app) as client:
                await inprocess.enter(client, meta["customers"]["bench"]["token"])
                with inprocess.counting_queries() as real_statements:
                    real = await client.get("/portal/")
                with inprocess.counting_queries() as seen:
                    memory = await client.get(MEMORY_PATH)
                with inprocess.counting_queries() as naive_statements:
                    naive = await client.get(NAIVE_PATH)
                with inprocess.counting_queries() as one_query_statements:
                    one_query = await client.get(ONE_QUERY_PATH)
                hello = await client.get(HELLO_PATH)
                client.cookies.clear()
                stranger = await client.get(NAIVE_PATH)
        finally:
            for hook in app.on_shutdown:
                await hook(app)
    assert real.status_code == memory.status_code == 200
    assert memory.text == real.text == naive.text == one_query.text
    assert real.text.count('class="invoice-number"') == 50
    assert real_statements and seen == []
    def selects(statements: list[str]) -> list[str]:
        """Without asyncpg's pool resets and the PRAGMA Piccolo runs on each SQLite connection."""
        return [s for s in statements if s.startswith("SELECT ALL")]

    assert len(selects(naive_statements)) == 9
    assert len(selects(one_query_statements)) == 1
    assert stranger.status_code == 404
    assert hello.text == "Hello, world!"


# --- parsing and reporting ------------------------------------------------------------------


def test_wrk_output_is_parsed_with_units_and_errors():
    result = load.parse_wrk(WRK_OUTPUT, "http://x/")
    assert result.requests_per_s == 3300.12
    assert result.requests == 33040
    assert (result.p50_ms, result.p75_ms, result.p90_ms, result.p99_ms) == pytest.approx(
        (0.85, 15.99, 1250.0, 120_600.0)
    )
    assert result.errors == {"connect": 0, "read": 2, "write": 0, "timeout": 1, "non_2xx": 5}
    assert not result.ok


def test_profile_summary_sums_libraries_and_functions():
    raw = "\n".join([
        "process 1:\"x\";run (uvicorn/server.py:1);home (core/portal/routes.py:9);"
        "format_money (core/money.py:5);format_currency (babel/numbers.py:3) 6",
        "process 1:\"x\";run (uvicorn/server.py:1);home (core/portal/routes.py:9);"
        "fetch (core/db.py:180) 3",
        "process 1:\"x\";run (uvicorn/server.py:1) 1",
    ])
    summary = profile.summarize(raw, rate=100)
    assert summary.samples == 10
    assert dict(summary.layers) == {
        "babel: money and date formatting": 6,
        "arportal code (C calls it makes, sqlite3 or csv, included)": 3,
        "uvicorn: HTTP parsing and transport": 1,
    }
    assert dict(summary.inclusive)["home (core/portal/routes.py)"] == 9
    text = "\n".join(profile.markdown(summary, requests=20))
    assert "| babel: money and date formatting | 60.0% |" in text


def test_a_section_is_rewritten_between_its_markers_and_the_rest_is_kept(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# B\n\nhand-written\n\n<!-- bench:portal:begin -->\nold\n"
                   "<!-- bench:portal:end -->\n\ntail\n")
    report.replace_section("portal", "new figures", doc)
    report.replace_section("imports", "import figures", doc)
    text = doc.read_text()
    assert "old" not in text
    assert "hand-written" in text and "tail" in text
    assert "<!-- bench:portal:begin -->\nnew figures\n<!-- bench:portal:end -->" in text
    assert text.rstrip().endswith("<!-- bench:imports:end -->")
    assert any("Machine: " in line for line in report.machine_lines("0.00"))


# --- the scripts end to end, tiny -----------------------------------------------------------


def _args(tmp_path: Path, **values: Any) -> argparse.Namespace:
    defaults = {"cache_dir": tmp_path / "cache", "plugins": False, "seconds": 1.0,
                "warmup": 0.0, "connections": 4, "rounds": 1, "profile": False,
                "profile_seconds": 1.0, "invoices": 400, "customers": 30,
                "compare_invoices": 400, "repeat": 1, "requests": 5}
    defaults.update(values)
    return argparse.Namespace(**defaults)


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_portal_benchmark_serves_every_target_and_reports(db_url, tmp_path):
    meta = asyncio.run(built(db_url, tmp_path))
    args = _args(tmp_path)
    run = portal.measure_engine("sqlite" if db_url.startswith("sqlite") else "postgres",
                                meta, meta, args, log=lambda _: None)
    assert run.same_html is True
    assert run.render["render_ms"] > 0
    assert run.worker_rss_mib and min(run.worker_rss_mib) > 0
    assert set(run.targets) >= {"portal", "memory", "naive", "one query", "hello (app)",
                                "hello (bare)"}
    assert run.naive_same_html is True and run.one_query_same_html is True
    for target in run.targets.values():
        assert target.median().ok, target.median().raw
        assert target.median().requests > 0
    text = portal.portal_section([run], args, "0.00", "15")
    assert "portal / in-memory throughput" in text
    assert "reference: naive Piccolo page / in-memory" in text
    assert "small (5 invoices)" in text


def test_import_benchmark_stores_the_same_rows_both_ways(db_url, tmp_path):
    args = _args(tmp_path, invoices=60, customers=10, postgres=db_url)
    work = args.cache_dir / "run-imports"
    work.mkdir(parents=True)
    files = (work / "customers.csv", work / "invoices.csv")
    imports.write_customers(files[0], args.customers)
    imports.write_invoices(files[1], args.invoices, args.customers, dt.date(2026, 3, 1))
    engine = "sqlite" if db_url.startswith("sqlite") else "postgres"
    imported, baseline, floor = imports.run_engine(engine, args, files, log=lambda _: None)
    assert imported.check == baseline.check
    assert imported.check[0] == 60
    assert floor > 0
    assert "import / baseline" in imports.section([(imported, baseline, floor)], args, "0", "15")


def test_startup_benchmark_reports_readiness_memory_and_start_up_statements(db_url, tmp_path):
    meta = asyncio.run(built(db_url, tmp_path))
    args = _args(tmp_path)
    engine = "sqlite" if db_url.startswith("sqlite") else "postgres"
    result = startup.measure(engine, meta, args, log=lambda _: None)
    assert len(result.seconds) == 1
    assert result.rss_ready_mib > 0 and result.rss_loaded_mib > 0
    assert result.statements
    assert result.big_table_statements == []


async def test_instruction_counts_run_every_target_in_process(db_url, tmp_path):
    """`bench/instructions.py`'s child: the requests it counts all answer 200 (outside
    valgrind the collection switch does nothing)."""
    from bench import instructions

    meta = await built(db_url, tmp_path)
    config = config_of(meta, tmp_path)
    token = meta["customers"]["bench"]["token"]
    for path in instructions.TARGETS.values():
        assert await instructions.run_requests(config, token, path, 3) == [200, 200, 200]
