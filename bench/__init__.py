"""The benchmark harness of issue 3 (see docs/benchmarks.md).

Scripts, each runnable as `.venv/bin/python bench/<name>.py --help`:

- `data.py`: builds (and caches by size) databases of N invoices on SQLite and PostgreSQL.
- `portal.py`: the portal home against the same template from memory and a bare hello,
  served by uvicorn with 2 workers and loaded with wrk; SQL queries per page; a profile.
- `imports.py`: `arportal invoices import` against plain `sqlite3.executemany` / COPY.
- `startup.py`: time from launching `arportal serve` to `/readyz` answering, and memory.

Every script rewrites its own section of docs/benchmarks.md. Timings are never asserted by
tests (tests/bench/test_bench_smoke.py runs the pieces at a tiny size).
"""
