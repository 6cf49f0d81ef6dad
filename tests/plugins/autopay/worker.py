"""A separate process running the autopay charge routine for tenant `acme`, for the tests
that run two at once or kill one mid-charge (`python worker.py CONFIG MODE [READY GO]`).

Modes: `slow` charges with a sandbox gateway named "slow" that answers in 50 ms; `kill`
charges with a sandbox gateway named "killer" that SIGKILLs this process right after the
gateway charged, before the payment is recorded. With READY and GO paths, the process writes
READY once started and waits for GO to exist, so two workers start charging together.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from arportal import hookimpl
from arportal.config import load_config
from arportal.plugins.autopay import plugin as autopay_plugin
from arportal.plugins.autopay.charging import run_autopay
from arportal.plugins.autopay.gateways.sandbox import SandboxCharger, SandboxGateway


class KillingGateway(SandboxGateway):
    @contextlib.asynccontextmanager
    async def open_session(self, ctx: Any) -> AsyncIterator[Any]:
        class Killing(SandboxCharger):
            async def charge(self, request: Any) -> Any:
                result = await super().charge(request)
                os.kill(os.getpid(), signal.SIGKILL)
                return result  # pragma: no cover - never reached

        yield Killing(ctx, 0.0)


class TestGateways:
    def __init__(self, mode: str):
        self.gateway = (
            KillingGateway(name="killer") if mode == "kill"
            else SandboxGateway(name="slow", latency=0.05)
        )

    @hookimpl
    def arportal_payment_gateways(self) -> list[Any]:
        return [self.gateway]


async def main(config_path: str, mode: str, ready: str | None, go: str | None) -> None:
    from arportal import db
    from arportal.plugin_host import PluginHost
    from arportal.tenancy import get_tenant_by_slug, load_context

    config = load_config(config_path)
    host = PluginHost([("autopay", autopay_plugin), ("testgw", TestGateways(mode))])
    db.use_database(db.engine_from_url(config.database), host.declarations.piccolo_apps)
    await db.start_engine()
    try:
        tenant = await get_tenant_by_slug("acme")
        assert tenant is not None
        ctx = await load_context(host, config, tenant, actor="worker")
        if ready and go:
            Path(ready).write_text("ready")
            deadline = time.monotonic() + 30
            while not Path(go).exists() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        print(json.dumps(await run_autopay(ctx)))
    finally:
        await db.stop_engine()


if __name__ == "__main__":
    args = sys.argv[1:] + [None, None]
    asyncio.run(main(args[0], args[1], args[2], args[3]))
