"""Where a served page's time goes: py-spy samples the server's workers while wrk loads the
page, and the collapsed stacks are summed by library (`LAYERS`), by function running, and by
arportal function on the stack (inclusive time).

Only active samples count (py-spy leaves out idle threads: an event loop waiting in
`select`, aiosqlite's thread waiting for work), so shares are of CPU time spent in Python
processes of the server, not of wall time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("babel: money and date formatting", ("(babel/",)),
    ("Jinja and markupsafe: template code", ("(jinja2/", ".html:", "(markupsafe/")),
    ("aiosqlite: its thread and queue (SQLite C calls included)", ("(aiosqlite/",)),
    ("asyncpg: protocol and decoding", ("(asyncpg/",)),
    ("Piccolo: query building and results", ("(piccolo/",)),
    ("msgspec", ("(msgspec/",)),
    ("arportal code (C calls it makes, sqlite3 or csv, included)", ("(core/",)),
    ("Litestar: routing, DI, middleware, responses", ("(litestar/",)),
    ("uvicorn: HTTP parsing and transport", ("(uvicorn/", "(httptools", "(h11/")),
    ("asyncio: event loop, tasks, futures", ("(asyncio/",)),
]
"""Self time by library: a sample goes to the innermost frame that belongs to one of these
(C code has no frame: its time goes to the Python function that called it)."""
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


@dataclass
class Summary:
    samples: int
    rate: int
    layers: list[tuple[str, int]] = field(default_factory=list)
    leaves: list[tuple[str, int]] = field(default_factory=list)
    inclusive: list[tuple[str, int]] = field(default_factory=list)

    def share(self, count: int) -> str:
        return f"{100 * count / self.samples:.1f}%" if self.samples else "0%"


def py_spy() -> str | None:
    found = shutil.which("py-spy")
    if found:
        return found
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else None


def record(pid: int, seconds: float, output: Path, rate: int = 200) -> subprocess.Popen[bytes]:
    """Start sampling `pid` and its children (uvicorn's workers) for `seconds`."""
    tool = py_spy()
    if tool is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    output.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [tool, "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
         "--rate", str(rate), "--duration", str(max(1, round(seconds))),
         "--format", "raw", "--output", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['func']} ({path})"


def _layer(frames: list[str]) -> str:
    for frame in reversed(frames):
        for label, needles in LAYERS:
            if any(needle in frame for needle in needles):
                return label
    return "other (interpreter, stdlib)"


def summarize(raw: str, rate: int = 200, top: int = 15) -> Summary:
    """Sum py-spy's raw (collapsed) stacks: `frame;frame;... count` per line."""
    layers: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        layers[_layer(frames)] += count
        leaves[_short(frames[-1])] += count
        for name in {_short(f) for f in frames if "(core/" in f and "__call__" not in f}:
            inclusive[name] += count
    return Summary(
        samples=total,
        rate=rate,
        layers=layers.most_common(),
        leaves=leaves.most_common(top),
        inclusive=inclusive.most_common(top),
    )


def markdown(summary: Summary, requests: int | None = None) -> list[str]:
    lines = [f"{summary.samples:,} active samples at {summary.rate} Hz."]
    if requests:
        cpu_ms = 1000 * summary.samples / summary.rate / requests
        lines[0] += (f" {requests:,} requests were served meanwhile: about {cpu_ms:.1f} ms of "
                     "non-idle worker time per request, all workers together (on a busy "
                     "machine this includes waiting for a CPU).")
    lines += ["", "Self time by library (a sample goes to the innermost frame of a known library; "
              "C code counts for the Python function that called it):",
              "", "| layer | share |", "|---|---|"]
    lines += [f"| {label} | {summary.share(count)} |" for label, count in summary.layers]
    lines += ["", "Functions running when sampled (self time), top:", "",
              "| function | share |", "|---|---|"]
    lines += [f"| `{name}` | {summary.share(count)} |" for name, count in summary.leaves]
    lines += ["", "arportal functions on the stack (inclusive time; ASGI wrappers, which every "
              "request passes through, left out), top:", "",
              "| function | share |", "|---|---|"]
    lines += [f"| `{name}` | {summary.share(count)} |" for name, count in summary.inclusive]
    return lines
