"""What every figure in docs/benchmarks.md carries (machine, date, command, versions), and
the rewriting of one script's section of that file between its markers."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import shlex
import sqlite3
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
PACKAGES = ("litestar", "piccolo", "uvicorn", "jinja2", "aiosqlite", "asyncpg", "msgspec")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def load_average() -> str:
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def versions(extra: dict[str, str] | None = None) -> dict[str, str]:
    found = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    found.update(extra or {})
    return found


async def postgres_version(url: str) -> str:
    """The server's version, asked of its `postgres` database: the bench databases (named
    after their size) need not exist yet when this runs."""
    import asyncpg

    server_url = url.rsplit("/", 1)[0] + "/postgres"
    try:
        conn = await asyncpg.connect(server_url, timeout=5)
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    try:
        return str(await conn.fetchval("SHOW server_version")).split()[0]
    finally:
        await conn.close()


def command_line() -> str:
    script = Path(sys.argv[0])
    with contextlib.suppress(ValueError):
        script = script.resolve().relative_to(DOC.parent.parent)
    return ".venv/bin/python " + shlex.join([str(script), *sys.argv[1:]])


def code_version() -> str:
    """The commit measured, and whether the core had uncommitted changes."""
    import subprocess

    repo = DOC.parent.parent

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                                check=False)
        return result.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "core", "plugins", "pyproject.toml")
    return commit + (" with uncommitted changes to the core" if dirty else "")


def machine_lines(load_at_start: str, extra_versions: dict[str, str] | None = None) -> list[str]:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    listed = ", ".join(f"{k} {v}" for k, v in versions(extra_versions).items())
    return [
        f"- Date: {now}",
        f"- Command: `{command_line()}` at commit {code_version()}",
        f"- Machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}, {ram_gib():.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}",
        f"- Load average (1, 5, 15 min) at start: {load_at_start}; at end: {load_average()} "
        "(other work on the machine makes absolute figures noisy; ratios are taken side by "
        "side in one run)",
        f"- Versions: {listed}",
    ]


def table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def verdict(passed: bool | None) -> str:
    if passed is None:
        return "n/a"
    return "PASS" if passed else "**FAIL**"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"


def replace_section(name: str, body: str, doc: Path = DOC) -> None:
    """Replace what is between the section's markers (appending the section if the file
    has none), leaving the rest of the file as it is."""
    begin, end = markers(name)
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


def fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"
