"""The app's worker processes for CPU-bound work: started on first use, off the event loop,
sized by the config, stopped with the app, and replaced when a worker dies."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from concurrent.futures.process import BrokenProcessPool

import pytest

from arportal.config import ConfigError, config_from_mapping
from arportal.processes import ProcessPool
from arportal.tenancy import load_context
from tests.conftest import make_tenant, running_app


def pid() -> int:
    return os.getpid()


def spin(seconds: float) -> int:
    """Busy for `seconds` of CPU (holding the GIL of its own process), then its pid."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass  # the work is the spinning itself
    return os.getpid()


def alive(process_id: int) -> bool:
    try:
        os.kill(process_id, 0)
    except ProcessLookupError:
        return False
    return True


async def test_work_runs_in_another_process_started_on_first_use():
    pool = ProcessPool(2)
    assert not pool.started
    try:
        worker = await pool.run(pid)
        assert worker != os.getpid()
        assert pool.started
        assert pool.size == 2
    finally:
        await pool.aclose()
    assert not pool.started
    for _ in range(200):
        if not alive(worker):
            break
        await asyncio.sleep(0.01)
    assert not alive(worker)


async def test_the_event_loop_runs_while_a_worker_is_busy():
    pool = ProcessPool(1)
    try:
        await pool.run(pid)  # started
        busy = asyncio.ensure_future(pool.run(spin, 0.5))
        ticks = 0
        while not busy.done():
            await asyncio.sleep(0.005)
            ticks += 1
        assert await busy != os.getpid()
        assert ticks >= 10
    finally:
        await pool.aclose()


async def test_a_dead_worker_breaks_one_call_and_the_next_gets_a_fresh_pool():
    pool = ProcessPool(1)
    try:
        worker = await pool.run(pid)
        killer = asyncio.ensure_future(pool.run(spin, 30))
        await asyncio.sleep(0.3)
        os.kill(worker, signal.SIGKILL)
        with pytest.raises(BrokenProcessPool):
            await killer
        assert await pool.run(pid) not in (worker, os.getpid())
    finally:
        await pool.aclose()


def test_process_workers_is_checked():
    assert config_from_mapping({"process_workers": 3}).process_workers == 3
    assert config_from_mapping({}).process_workers is None
    with pytest.raises(ConfigError, match="process_workers"):
        config_from_mapping({"process_workers": 0})


async def test_the_app_sizes_its_pool_from_the_config_and_stops_it(make_config):
    async with running_app(make_config(process_workers=3)) as app:
        tenant = await make_tenant()
        ctx = await load_context(app.host, app.config, tenant.row)
        assert ctx.process_workers == 3
        worker = await ctx.run_in_process(pid)
        assert worker != os.getpid()
        pool = app.host.processes
    assert not pool.started
    assert await _gone(worker)


async def _gone(process_id: int) -> bool:
    for _ in range(200):
        if not alive(process_id):
            return True
        await asyncio.sleep(0.01)
    return False
