"""Running the jobs the core and the plugins declare (`arportal_jobs`).

`arportal jobs run` (cron, systemd timers, Kubernetes CronJobs) and the in-process loop of
`arportal serve` both call `run_due_jobs`. A run of one job for one tenant is claimed in
`job_state` first (a lease in `claimed_until`), so processes running at the same time never
run it twice concurrently; `last_run_at` decides when it is due again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import inspect
import logging
import time
from typing import TYPE_CHECKING, Any

import msgspec

from arportal.clock import utcnow
from arportal.models import JobState, Tenant
from arportal.tenancy import load_context

if TYPE_CHECKING:
    from arportal.config import Config
    from arportal.context import TenantContext
    from arportal.declarations import Job
    from arportal.plugin_host import PluginHost

log = logging.getLogger("arportal.jobs")

CLAIM_SECONDS = 15 * 60
"""How long a claim holds. A job still running after it may be started again elsewhere
(jobs are idempotent); a process that died releases its jobs when its claims expire."""
RETRY_AFTER_FAILURE_SECONDS = 300
"""A job that raised is due again after this long (or its own interval, if shorter)."""
INSTANCE_KEY = 0
"""`job_state.tenant_key` of an instance-wide job."""


@dataclasses.dataclass(kw_only=True)
class JobRun:
    """One run of one job, for one tenant (`tenant_id` None for an instance-wide job)."""

    name: str
    plugin: str
    tenant_id: int | None
    tenant_slug: str | None
    ok: bool
    error: str | None = None
    seconds: float = 0.0
    result: Any = None
    """What the job answered, as plain data (dicts, lists, str, numbers) so it prints as JSON."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def plain_result(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    try:
        return msgspec.to_builtins(value)
    except TypeError:
        return repr(value)


def state_name(job: Job, plugin: str) -> str:
    """The `job_state` key, `plugin:name`, so the table says whose job a row is."""
    return f"{plugin}:{job.name}"


_INSERT_STATE = (
    "INSERT INTO job_state (name, tenant_key, last_run_at, claimed_until) "
    "VALUES ({}, {}, NULL, NULL) ON CONFLICT (name, tenant_key) DO NOTHING"
)
_CLAIM = (
    "UPDATE job_state SET claimed_until = {} "
    "WHERE name = {} AND tenant_key = {} "
    "AND (claimed_until IS NULL OR claimed_until < {}) "
    "AND (last_run_at IS NULL OR last_run_at <= {}) "
    "RETURNING id"
)
_CLAIM_FORCED = (
    "UPDATE job_state SET claimed_until = {} "
    "WHERE name = {} AND tenant_key = {} "
    "AND (claimed_until IS NULL OR claimed_until < {}) "
    "RETURNING id"
)


async def claim(name: str, tenant_key: int, every_seconds: int, now: dt.datetime,
                *, force: bool = False) -> int | None:
    """Claim a due run; answer the `job_state` id, or None when it is not due or busy.

    The conditional UPDATE is atomic on both engines, so of several processes claiming at
    once exactly one gets the row back.
    """
    await JobState.raw(_INSERT_STATE, name, tenant_key)
    until = now + dt.timedelta(seconds=CLAIM_SECONDS)
    if force:
        rows = await JobState.raw(_CLAIM_FORCED, until, name, tenant_key, now)
    else:
        due_before = now - dt.timedelta(seconds=every_seconds)
        rows = await JobState.raw(_CLAIM, until, name, tenant_key, now, due_before)
    return int(rows[0]["id"]) if rows else None


async def release(state_id: int, last_run_at: dt.datetime | None) -> None:
    values: dict[Any, Any] = {JobState.claimed_until: None}
    if last_run_at is not None:
        values[JobState.last_run_at] = last_run_at
    await JobState.update(values).where(JobState.id == state_id)


def _call_arguments(func: Any, available: dict[str, Any]) -> dict[str, Any]:
    """The arguments among `available` that `func` accepts (all of them for `**kwargs`)."""
    parameters = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(available)
    return {name: value for name, value in available.items() if name in parameters}


async def _run_one(job: Job, plugin: str, ctx: TenantContext | None, host: PluginHost,
                   config: Config, now: dt.datetime, force: bool) -> JobRun | None:
    tenant_key = ctx.tenant_id if ctx is not None else INSTANCE_KEY
    state_id = await claim(state_name(job, plugin), tenant_key, job.every_seconds, now,
                           force=force)
    if state_id is None:
        return None
    run = JobRun(
        name=job.name, plugin=plugin, tenant_id=ctx.tenant_id if ctx else None,
        tenant_slug=ctx.slug if ctx else None, ok=False,
    )
    started = time.monotonic()
    last_run_at: dt.datetime | None = None
    try:
        result = job.run(**_call_arguments(job.run, {"ctx": ctx, "config": config, "host": host}))
        if inspect.isawaitable(result):
            result = await result
        run.ok, run.result = True, plain_result(result)
        last_run_at = now
    except Exception as exc:
        run.error = f"{type(exc).__name__}: {exc}"
        log.exception("plugin %r: job %r failed%s", plugin, job.name,
                      f" for tenant {ctx.slug!r}" if ctx else "")
        retry_in = min(job.every_seconds, RETRY_AFTER_FAILURE_SECONDS)
        last_run_at = now - dt.timedelta(seconds=job.every_seconds - retry_in)
    finally:
        run.seconds = round(time.monotonic() - started, 3)
        # Also on cancellation (shut-down): release the claim so the job runs again soon.
        await asyncio.shield(release(state_id, last_run_at))
    return run


def _selected(host: PluginHost, only: list[str] | None) -> list[tuple[Job, str]]:
    jobs = list(host.declarations.jobs)
    if only is None:
        return jobs
    wanted = set(only)
    known = {job.name for job, _ in jobs} | {state_name(job, plugin) for job, plugin in jobs}
    unknown = sorted(wanted - known)
    if unknown:
        raise ValueError(f"unknown job(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return [(job, plugin) for job, plugin in jobs
            if job.name in wanted or state_name(job, plugin) in wanted]


async def run_due_jobs(
    host: PluginHost,
    config: Config,
    *,
    force: bool = False,
    only: list[str] | None = None,
    now: dt.datetime | None = None,
) -> list[JobRun]:
    """Run every declared job that is due, once; answer what ran.

    Instance-wide jobs (`per_tenant=False`) run once with `ctx` None. Per-tenant jobs run for
    each tenant whose plugin is enabled and, when the job names a `feature`, has it on.
    `force` runs jobs that are not yet due (never one running elsewhere); `only` limits the
    run to the named jobs (`name` or `plugin:name`). A job that raises is logged with its
    plugin's name and reported; the others still run. `now` is for tests.
    """
    selected = _selected(host, only)
    now = now or utcnow()
    last_runs = await _last_runs([state_name(job, plugin) for job, plugin in selected])

    def maybe_due(job: Job, plugin: str, tenant_key: int) -> bool:
        """A cheap first look, so an idle tick costs no claim per tenant; `claim` decides."""
        last = last_runs.get((state_name(job, plugin), tenant_key))
        return force or last is None or last <= now - dt.timedelta(seconds=job.every_seconds)

    runs: list[JobRun] = []
    tenants: _Tenants | None = None
    for job, plugin in selected:
        if not job.per_tenant:
            if maybe_due(job, plugin, INSTANCE_KEY):
                runs.extend(await _run_all(job, plugin, [None], host, config, now, force))
            continue
        tenants = tenants or await _Tenants.load(host, config)
        contexts = []
        for tenant in tenants.rows:
            if not maybe_due(job, plugin, tenant["id"]):
                continue
            ctx = await tenants.context(tenant)
            if not host.plugin_enabled(plugin, ctx):
                continue
            if job.feature and not ctx.feature_enabled(job.feature):
                continue
            contexts.append(dataclasses.replace(ctx, actor=f"job:{job.name}"))
        runs.extend(await _run_all(job, plugin, contexts, host, config, now, force))
    return runs


async def _run_all(job: Job, plugin: str, contexts: list[TenantContext | None],
                   host: PluginHost, config: Config, now: dt.datetime,
                   force: bool) -> list[JobRun]:
    runs = []
    for ctx in contexts:
        run = await _run_one(job, plugin, ctx, host, config, now, force)
        if run is not None:
            runs.append(run)
    return runs


async def _last_runs(names: list[str]) -> dict[tuple[str, int], dt.datetime | None]:
    if not names:
        return {}
    rows = await JobState.select(
        JobState.name, JobState.tenant_key, JobState.last_run_at
    ).where(JobState.name.is_in(names))
    return {(row["name"], int(row["tenant_key"])): row["last_run_at"] for row in rows}


class _Tenants:
    """Every tenant, and its context loaded the first time a job needs it."""

    def __init__(self, host: PluginHost, config: Config, rows: list[dict[str, Any]]):
        self.host, self.config, self.rows = host, config, rows
        self._contexts: dict[int, TenantContext] = {}

    @classmethod
    async def load(cls, host: PluginHost, config: Config) -> _Tenants:
        rows = await Tenant.select(Tenant.id, Tenant.slug, Tenant.name).order_by(Tenant.id)
        return cls(host, config, rows)

    async def context(self, tenant: dict[str, Any]) -> TenantContext:
        if tenant["id"] not in self._contexts:
            self._contexts[tenant["id"]] = await load_context(self.host, self.config, tenant)
        return self._contexts[tenant["id"]]


def start_job_loop(host: PluginHost, config: Config) -> asyncio.Task[None]:
    """Run `run_due_jobs` every `config.jobs_interval_seconds` until the task is cancelled."""

    async def loop() -> None:
        while True:
            try:
                await run_due_jobs(host, config)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job loop: a run failed; trying again in %ss",
                              config.jobs_interval_seconds)
            await asyncio.sleep(config.jobs_interval_seconds)

    return asyncio.get_running_loop().create_task(loop(), name="arportal-jobs")
