"""The jobs runner: per-tenant and instance-wide jobs, features, schedules, claims, failures
(SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import pytest

import arportal
from arportal.clock import utcnow
from arportal.declarations import Feature, Job
from arportal.jobs import claim, release, run_due_jobs, start_job_loop
from arportal.models import TenantFeature
from tests.conftest import make_tenant, running_app


class JobsPlugin:
    """`count` (per tenant, feature `jobs_test`), `boom` (per tenant, raises), `instance`
    (instance-wide, sync, takes config and host)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    @arportal.hookimpl
    def arportal_features(self) -> list[Feature]:
        return [
            Feature(key="jobs_test", label="Jobs test"),
            Feature(key="jobs_extra", label="Extra jobs test"),
        ]

    @arportal.hookimpl
    def arportal_jobs(self) -> list[Job]:
        return [
            Job(name="count", run=self.count, every_seconds=3600, feature="jobs_test"),
            Job(name="boom", run=self.boom, every_seconds=3600),
            Job(name="instance", run=self.instance, every_seconds=600, per_tenant=False),
        ]

    async def count(self, ctx: Any) -> str:
        self.calls.append(("count", ctx.slug))
        await asyncio.sleep(0.05)  # long enough for a concurrent runner to try the same run
        return f"counted {ctx.slug}"

    async def boom(self, ctx: Any) -> None:
        self.calls.append(("boom", ctx.slug))
        raise RuntimeError("the job broke")

    def instance(self, config: Any, host: Any) -> None:
        assert config.secret_key and host.declarations.jobs
        self.calls.append(("instance", None))

    def count_of(self, name: str) -> list[str | None]:
        return sorted(slug or "" for job, slug in self.calls if job == name)


async def switch(tenant_id: int, key: str, enabled: bool) -> None:
    await TenantFeature.insert(TenantFeature(tenant=tenant_id, key=key, enabled=enabled))


@pytest.fixture
def plugin() -> JobsPlugin:
    return JobsPlugin()


@pytest.fixture
async def running(make_config: Any, plugin: JobsPlugin) -> Any:
    async with running_app(make_config(), plugins=[("jobs_test", plugin)]) as running:
        on = await make_tenant("on", "Feature on")
        extra = await make_tenant("extra", "Other feature on")
        await make_tenant("off", "Features off")
        await switch(on.id, "jobs_test", True)
        await switch(extra.id, "jobs_extra", True)
        yield running


async def test_per_tenant_jobs_run_where_their_feature_is_on(
    running: Any, plugin: JobsPlugin
) -> None:
    runs = await run_due_jobs(running.host, running.config, only=["count", "boom", "instance"])

    # count: only the tenant with its feature; boom (no feature of its own): wherever the
    # plugin is enabled; the tenant with every feature of the plugin off: nothing.
    assert plugin.count_of("count") == ["on"]
    assert plugin.count_of("boom") == ["extra", "on"]
    assert plugin.count_of("instance") == [""]
    counted = [r for r in runs if r.name == "count"]
    assert [(r.tenant_slug, r.ok, r.result) for r in counted] == [("on", True, "counted on")]
    assert {(r.name, r.plugin) for r in runs} == {
        ("count", "jobs_test"), ("boom", "jobs_test"), ("instance", "jobs_test"),
    }


async def test_a_job_is_not_run_again_before_it_is_due(running: Any, plugin: JobsPlugin) -> None:
    host, config = running.host, running.config
    start = utcnow()
    await run_due_jobs(host, config, only=["count"], now=start)

    early = start + dt.timedelta(minutes=59)
    assert await run_due_jobs(host, config, only=["count"], now=early) == []
    assert plugin.count_of("count") == ["on"]

    [run] = await run_due_jobs(host, config, only=["count"], now=start + dt.timedelta(hours=1))
    assert run.tenant_slug == "on" and plugin.count_of("count") == ["on", "on"]


async def test_force_runs_a_job_that_is_not_due(running: Any, plugin: JobsPlugin) -> None:
    await run_due_jobs(running.host, running.config, only=["count"])

    [run] = await run_due_jobs(running.host, running.config, only=["count"], force=True)

    assert run.ok and plugin.count_of("count") == ["on", "on"]


async def test_concurrent_runners_run_each_job_once_per_tenant(
    running: Any, plugin: JobsPlugin
) -> None:
    results = await asyncio.gather(
        *(run_due_jobs(running.host, running.config, only=["count", "instance"]) for _ in range(3))
    )

    assert plugin.count_of("count") == ["on"]
    assert plugin.count_of("instance") == [""]
    assert sum(len(runs) for runs in results) == 2


async def test_a_raising_job_is_logged_and_the_others_still_run(
    running: Any, plugin: JobsPlugin, caplog: pytest.LogCaptureFixture
) -> None:
    start = utcnow()
    with caplog.at_level(logging.ERROR, logger="arportal.jobs"):
        runs = await run_due_jobs(running.host, running.config, now=start)

    failed = [r for r in runs if not r.ok]
    assert {(r.name, r.tenant_slug) for r in failed} == {("boom", "on"), ("boom", "extra")}
    assert all(r.error == "RuntimeError: the job broke" for r in failed)
    assert any("'jobs_test'" in rec.getMessage() and "'boom'" in rec.getMessage()
               for rec in caplog.records)
    assert plugin.count_of("count") == ["on"] and plugin.count_of("instance") == [""]
    assert any(r.name == "deliver_outbox" and r.plugin == "core" and r.ok for r in runs)

    # A failed job is tried again within minutes, not after its whole interval.
    soon = await run_due_jobs(running.host, running.config, only=["boom"],
                              now=start + dt.timedelta(minutes=1))
    assert soon == []
    retried = await run_due_jobs(running.host, running.config, only=["boom"],
                                 now=start + dt.timedelta(minutes=6))
    assert len(retried) == 2


async def test_unknown_job_names_are_refused(running: Any) -> None:
    with pytest.raises(ValueError, match="unknown job"):
        await run_due_jobs(running.host, running.config, only=["nope"])


async def test_the_core_declares_the_outbox_job(running: Any) -> None:
    [(job, plugin)] = [
        (job, plugin) for job, plugin in running.host.declarations.jobs
        if job.name == "deliver_outbox"
    ]
    assert plugin == "core" and job.per_tenant is False and job.every_seconds == 60


async def test_the_job_loop_runs_jobs_until_cancelled(running: Any, plugin: JobsPlugin) -> None:
    task = start_job_loop(running.host, running.config)
    try:
        for _ in range(100):
            if plugin.count_of("count"):
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert plugin.count_of("count") == ["on"]


async def test_claims_decide_who_runs_and_when(running: Any) -> None:
    start = utcnow()
    hour = dt.timedelta(hours=1)

    state_id = await claim("x:job", 7, 3600, start)
    assert state_id is not None
    assert await claim("x:job", 7, 3600, start) is None  # held by the first claim
    assert await claim("x:job", 7, 3600, start, force=True) is None  # even when forced
    assert await claim("x:job", 8, 3600, start) is not None  # another tenant is free

    await release(state_id, last_run_at=start)
    assert await claim("x:job", 7, 3600, start + hour - dt.timedelta(seconds=1)) is None
    assert await claim("x:job", 7, 3600, start, force=True) == state_id
    await release(state_id, last_run_at=start)
    assert await claim("x:job", 7, 3600, start + hour) == state_id

    # A claim left by a process that died expires.
    assert await claim("x:job", 7, 0, start + hour + dt.timedelta(minutes=16)) == state_id
