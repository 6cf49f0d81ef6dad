"""Serving for the benchmarks: an instance config per database, and uvicorn in a subprocess.

Every server is started the same way `arportal serve` starts uvicorn (`arportal.serving`:
a listening socket per worker with TCP_NODELAY, asyncio's loop, 2 workers, access log off,
log level warning), with the app from a factory: the real one
(`arportal.app:app_from_environment`, what `arportal serve` runs) or the bench's comparison
app (`bench.inmemory_app`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
REAL_APP = "arportal.app:app_from_environment"
MEMORY_APP = "bench.inmemory_app:create_app"
BARE_APP = "bench.inmemory_app:create_bare_app"


def write_config(path: Path, database: str, secret_key: str, plugins: bool = False,
                 run_jobs: bool = False) -> Path:
    """An instance config, the job loop off unless asked. `plugins=False` loads no plugin
    (the core alone); True loads every installed plugin, as a default instance does."""
    lines = [
        f'database = "{database}"',
        f'secret_key = "{secret_key}"',
        'base_url = "http://127.0.0.1:8000"',
        f'files_dir = "{path.parent / "files"}"',
        f"run_jobs = {'true' if run_jobs else 'false'}",
        "failed_lookup_limit = 1000000",
    ]
    if not plugins:
        lines += ["", "[plugins]", "enabled = []"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_env(config: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARPORTAL_")}
    env["ARPORTAL_CONFIG"] = str(config)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120.0,
               log: Path | None = None) -> float:
    """Seconds until `url` answers 200 (polled every 10 ms)."""
    started = time.perf_counter()
    with httpx.Client(timeout=2.0) as client:
        while time.perf_counter() - started < timeout:
            if process.poll() is not None:
                detail = log.read_text()[-2000:] if log and log.exists() else ""
                raise RuntimeError(f"server exited with {process.returncode}: {detail}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return time.perf_counter() - started
            time.sleep(0.01)
    raise TimeoutError(f"{url} not ready after {timeout} s")


def stop(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM to the server (uvicorn stops its workers), SIGKILL to its group if it hangs."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@contextlib.contextmanager
def uvicorn_server(
    app: str, config: Path, *, workers: int = 2, ready_path: str = "/readyz",
    log_dir: Path, name: str, env: dict[str, str] | None = None,
) -> Iterator[Server]:
    port = free_port()
    log = log_dir / f"{name}.log"
    log_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "arportal.serving", app, "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=REPO, env=bench_env(config, **(env or {})), stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}{ready_path}", process, log=log)
        yield Server(process, port, log)
    finally:
        stop(process)


def worker_pids(parent: int) -> list[int]:
    """The uvicorn worker processes of a server: its children spawned by multiprocessing
    (read from /proc). With one worker uvicorn serves in the process itself."""
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == parent and "spawn_main" in cmdline:
            workers.append(int(entry.name))
    return sorted(workers) or [parent]


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB (VmRSS from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
