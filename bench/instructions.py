"""Instructions per request of the portal page, the in-memory page and the reference pages,
counted by valgrind's callgrind: a figure that does not move with the machine's load.

    .venv/bin/python bench/instructions.py                         # both engines, 1M invoices
    .venv/bin/python bench/instructions.py --engines sqlite --requests 100

Wall-clock ratios on a shared VM swing by up to 2x within minutes (docs/benchmarks.md), which
hides any change worth less than that. This counts what the worker process executes: the app
(`bench/inmemory_app.py`, the real app plus the comparison routes) is called in-process as an
ASGI app with the session cookie, warmed up, then callgrind's collection is switched on
(`callgrind_control -i on`) for `--requests` requests of one target and off again. A
PostgreSQL backend's work is not in it (another process); SQLite's statement is. Prints the
figures; writes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data, serve
from bench.inmemory_app import HELLO_PATH, MEMORY_PATH, NAIVE_PATH, ONE_QUERY_PATH, TOKEN_ENV

TARGETS = {"portal": "/portal/", "memory": MEMORY_PATH, "naive": NAIVE_PATH,
           "one query": ONE_QUERY_PATH, "hello (app)": HELLO_PATH}
WARMUP = 50


async def asgi_get(app: Any, path: str, cookie: bytes = b"") -> tuple[int, list[Any]]:
    """One GET straight into the ASGI app (no HTTP client in the count): status, headers."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"127.0.0.1:8000"), (b"cookie", cookie)],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], sent[0].get("headers", [])


def _collect(on: bool) -> None:
    """Switch callgrind's collection for this process; nothing outside valgrind."""
    if os.environ.get("BENCH_UNDER_CALLGRIND"):
        subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                       check=True, capture_output=True)


async def run_requests(config: Path, token: str, path: str, requests: int) -> list[int]:
    """Enter the portal link, warm `path` up, then `requests` GETs of it with collection on.
    Answers the statuses of the counted requests."""
    from bench.inmemory_app import create_app

    saved = {name: os.environ.get(name) for name in ("ARPORTAL_CONFIG", TOKEN_ENV)}
    os.environ.update({"ARPORTAL_CONFIG": str(config), TOKEN_ENV: token})
    try:
        app = create_app()
        for hook in app.on_startup:
            await hook(app)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        status, headers = await asgi_get(app, f"/p/{token}")
        if status != 303:
            raise RuntimeError(f"entering the portal link answered {status}")
        cookie = b"; ".join(value.split(b";")[0] for name, value in headers
                            if name == b"set-cookie")
        for _ in range(WARMUP):
            await asgi_get(app, path, cookie)
        _collect(True)
        statuses = [(await asgi_get(app, path, cookie))[0] for _ in range(requests)]
        _collect(False)
        return statuses
    finally:
        for hook in app.on_shutdown:
            await hook(app)


def count(config: Path, token: str, target: str, requests: int) -> int:
    """Instructions per request of `target`, from a child process run under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        child = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={out}", sys.executable, __file__, "--child", str(config),
             token, TARGETS[target], str(requests)],
            cwd=serve.REPO, env={**os.environ, "BENCH_UNDER_CALLGRIND": "1"},
            capture_output=True, text=True,
        )
        if child.returncode != 0:
            raise RuntimeError(f"{target}: {child.stderr[-1500:]}")
        totals = [line for line in out.read_text().splitlines() if line.startswith("totals:")]
        return int(totals[0].split()[1]) // requests


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--postgres", default=data.DEFAULT_POSTGRES)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--targets", default="portal,memory,one query,hello (app)")
    parser.add_argument("--cache-dir", type=Path, default=data.CACHE_DIR)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        config, token, path, requests = argv[1:5]
        statuses = asyncio.run(run_requests(Path(config), token, path, int(requests)))
        if set(statuses) != {200}:
            raise SystemExit(f"{path} answered {sorted(set(statuses))}")
        return
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    from bench.portal import config_for

    args = parse_args(argv)
    spec = data.Spec(invoices=args.invoices, customers=args.customers)
    for engine in args.engines.split(","):
        meta = asyncio.run(data.ensure(engine, spec, cache_dir=args.cache_dir,
                                       postgres=args.postgres, log=print))
        config = config_for(meta, args.cache_dir, plugins=False)
        token = meta["customers"]["bench"]["token"]
        figures = {target: count(config, token, target, args.requests)
                   for target in args.targets.split(",")}
        print(f"\n{engine} ({args.invoices:,} invoices, {args.requests} requests each):")
        for target, instructions in figures.items():
            print(f"  {target:<12} {instructions:>12,} instructions per request")
        if "memory" in figures and "portal" in figures:
            print(f"  portal / memory: {figures['portal'] / figures['memory']:.2f}x")
        print(json.dumps({"engine": engine, "instructions": figures}))


if __name__ == "__main__":
    main()
