"""What every browser test needs: a real arportal server in a subprocess (uvicorn, as in
production) on its own SQLite database, and headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
NEEDS_CHROMIUM = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"{CHROMIUM} is absent (apt-get install -y chromium); the browser test needs it",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Instance:
    """An instance config written to `config_file`, and the same as a `Config` for seeding
    the database in-process before the server starts."""

    base_url: str
    config_file: Path
    config: Any


def instance(folder: Path, secret: str, plugins: list[str]) -> Instance:
    from arportal.config import Config, PluginsConfig

    database = f"sqlite:///{folder / 'portal.db'}"
    base_url = f"http://127.0.0.1:{free_port()}"
    files = folder / "files"
    config_file = folder / "arportal.toml"
    enabled = ", ".join(f'"{name}"' for name in plugins)
    config_file.write_text(
        f'database = "{database}"\nsecret_key = "{secret}"\nbase_url = "{base_url}"\n'
        f'files_dir = "{files}"\nrun_jobs = false\n\n[plugins]\nenabled = [{enabled}]\n'
    )
    config = Config(database=database, secret_key=secret, base_url=base_url,
                    files_dir=str(files), plugins=PluginsConfig(enabled=list(plugins)))
    return Instance(base_url, config_file, config)


@contextlib.contextmanager
def serving(server: Instance) -> Iterator[None]:
    """The app served by uvicorn until the block ends; fails the test if it does not answer
    /healthz within 30 s."""
    port = server.base_url.rsplit(":", 1)[1]
    env = {**os.environ, "ARPORTAL_CONFIG": str(server.config_file)}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "arportal.app:build_app", "--factory",
         "--host", "127.0.0.1", "--port", port, "--no-access-log", "--log-level", "warning"],
        env=env, cwd=server.config_file.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"the server exited: {output}")
            try:
                if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass  # not listening yet: poll again until the deadline
            if time.monotonic() > deadline:
                pytest.fail("the server did not answer /healthz within 30 s")
            time.sleep(0.2)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Watch:
    """Console messages and failed requests of a page: a CSP violation shows in both."""

    def __init__(self, page: Any):
        self.console: list[str] = []
        self.failed: list[str] = []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("requestfailed", lambda request: self.failed.append(request.url))

    def csp_violations(self) -> list[str]:
        return [line for line in self.console
                if "Content Security Policy" in line or "Refused to" in line]


def no_horizontal_scroll(page: Any) -> int:
    return int(page.evaluate("document.scrollingElement.scrollWidth"))
