"""The load generator: wrk (Debian's `wrk` package) on loopback, and its output parsed.

A run is a warm-up (discarded) then the measured run, both at the same concurrency. A run
with socket errors or non-2xx/3xx answers is reported as such, never silently counted.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_DURATION = re.compile(r"^([\d.]+)(us|ms|s|m)$")


class WrkMissing(RuntimeError):
    pass


@dataclass
class LoadResult:
    url: str
    requests_per_s: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    errors: dict[str, int] = field(default_factory=dict)
    raw: str = ""

    @property
    def ok(self) -> bool:
        return not any(self.errors.values())


def duration_ms(text: str) -> float:
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * UNITS_MS[match.group(2)]


def parse_wrk(output: str, url: str = "") -> LoadResult:
    """Requests/s, the latency percentiles of `--latency`, and any errors."""
    percentiles: dict[str, float] = {}
    for pct, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", output, re.MULTILINE):
        percentiles[pct] = duration_ms(value)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in", output, re.MULTILINE)
    if not rps or not total or len(percentiles) < 4:
        raise ValueError(f"unexpected wrk output:\n{output}")
    errors: dict[str, int] = {}
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        for name, value in zip(("connect", "read", "write", "timeout"), socket_errors.groups(),
                               strict=True):
            errors[name] = int(value)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors["non_2xx"] = int(non_2xx.group(1))
    return LoadResult(
        url=url,
        requests_per_s=float(rps.group(1)),
        p50_ms=percentiles["50"],
        p75_ms=percentiles["75"],
        p90_ms=percentiles["90"],
        p99_ms=percentiles["99"],
        requests=int(total.group(1)),
        errors=errors,
        raw=output,
    )


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing("wrk is not installed: apt-get install -y wrk")
    return path


def wrk_version() -> str:
    result = subprocess.run([wrk_path(), "-v"], capture_output=True, text=True, check=False)
    first = (result.stdout or result.stderr).strip().splitlines()
    words = first[0].split() if first else []
    return words[1] if len(words) > 1 else "unknown"


def wrk(
    url: str,
    *,
    seconds: float,
    connections: int = 50,
    threads: int = 2,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    command = [
        wrk_path(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        "--latency", "--timeout", "10s",
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk(result.stdout, url)


def measure(url: str, *, seconds: float, warmup: float, connections: int = 50,
            headers: dict[str, str] | None = None) -> LoadResult:
    """A warm-up run (discarded), then the measured one."""
    if warmup > 0:
        wrk(url, seconds=warmup, connections=connections, headers=headers)
    return wrk(url, seconds=seconds, connections=connections, headers=headers)
