"""The `arportal` command line.

Every command that reports data accepts `--json`; bad input exits non-zero with a one-line
reason on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import tomllib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any

import click
import msgspec

from arportal.config import Config, ConfigError, load_config

DEFAULT_BASE_URL = Config().base_url


class CliError(click.ClickException):
    """A one-line reason; exits with status 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


@dataclass
class Runtime:
    config: Config
    host: Any


def _config(ctx: click.Context) -> Config:
    try:
        return load_config(ctx.obj.get("config_path"))
    except ConfigError as exc:
        raise CliError(str(exc)) from None


@contextlib.asynccontextmanager
async def runtime(config: Config, migrate: bool = True) -> AsyncIterator[Runtime]:
    from arportal import db
    from arportal.migrate import run_migrations
    from arportal.plugin_host import PluginError, PluginHost, discover

    try:
        plugins, infos = discover(config)
        host = PluginHost(plugins, infos)
    except PluginError as exc:
        raise CliError(str(exc)) from None
    db.use_database(db.engine_from_url(config.database), host.declarations.piccolo_apps)
    try:
        await db.start_engine()
    except Exception as exc:
        raise CliError(f"database: cannot connect to {config.database}: {exc}") from None
    try:
        if migrate:
            await run_migrations()
        yield Runtime(config, host)
    finally:
        await db.stop_engine()


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def emit(ctx: click.Context, data: Any, human: Callable[[Any], None]) -> None:
    if ctx.obj.get("json"):
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        human(data)


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    @click.option("--json", "as_json", is_flag=True, help="Answer in JSON.")
    @wraps(func)
    def wrapper(*args: Any, as_json: bool = False, **kwargs: Any) -> Any:
        click.get_current_context().obj["json"] = as_json
        return func(*args, **kwargs)

    return wrapper


async def _tenant_ctx(rt: Runtime, slug: str, actor: str = "operator:cli") -> Any:
    from arportal.tenancy import TenantError, load_context_by_slug

    try:
        return await load_context_by_slug(rt.host, rt.config, slug, actor=actor)
    except TenantError as exc:
        raise CliError(str(exc)) from None


@click.group()
@click.option(
    "--config", "config_path", envvar="ARPORTAL_CONFIG", type=click.Path(dir_okay=False),
    help="Instance config (default ./arportal.toml).",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """arportal: a self-hosted customer portal for accounts receivable."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# --- serve, migrate ------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="Worker processes (config `workers`).")
@click.option("--demo", is_flag=True, help="Seed the `demo` tenant first (once).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int | None, demo: bool) -> None:
    """Migrate, then serve the portal and the admin API."""
    from arportal import serving

    config = _config(ctx)
    if config.base_url == DEFAULT_BASE_URL and (host, port) != ("127.0.0.1", 8000):
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        config = msgspec.structs.replace(config, base_url=f"http://{shown_host}:{port}")
        os.environ["ARPORTAL_BASE_URL"] = config.base_url

    async def prepare() -> None:
        async with runtime(config) as rt:
            if demo:
                from arportal.demo import seed_demo

                report = await seed_demo(rt.host, rt.config)
                click.echo(report.describe(config.base_url))

    run_async(prepare())
    _check_app(config)
    logging.getLogger("arportal").setLevel(logging.INFO)
    logging.getLogger("arportal.access").setLevel(logging.INFO)
    if ctx.obj.get("config_path"):
        os.environ["ARPORTAL_CONFIG"] = str(Path(ctx.obj["config_path"]).resolve())
    click.echo(f"arportal serving on http://{host}:{port} (Ctrl+C to stop)")
    serving.run(
        "arportal.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers or config.workers,
        access_log=False,
        log_level="warning",
        proxy_headers=False,
    )


def _check_app(config: Config) -> None:
    """Build (not start) the app once before serving, so every start-up check (routes
    included) stops the command with its one-line reason instead of failing in a worker."""
    from arportal.app import build_app
    from arportal.plugin_host import PluginError

    try:
        build_app(config, migrate=False)
    except PluginError as exc:
        raise CliError(str(exc)) from None


@main.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Apply the pending migrations of the core and of every enabled plugin."""
    config = _config(ctx)

    async def go() -> None:
        async with runtime(config):
            pass

    run_async(go())
    click.echo("migrations applied")


# --- tenants, api keys -----------------------------------------------------------------------


@main.group()
def tenants() -> None:
    """Create and list tenants."""


@tenants.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@json_option
@click.pass_context
def tenants_create(ctx: click.Context, slug: str, name: str) -> None:
    from arportal.api_keys import create_api_key
    from arportal.tenancy import TenantError, create_tenant

    async def go() -> dict[str, Any]:
        async with runtime(_config(ctx)):
            try:
                row = await create_tenant(slug, name)
            except TenantError as exc:
                raise CliError(str(exc)) from None
            key, _ = await create_api_key(row["id"])
            return {"slug": row["slug"], "name": row["name"], "api_key": key}

    data = run_async(go())
    emit(ctx, data, lambda d: click.echo(
        f"tenant {d['slug']} created\nAPI key (shown once): {d['api_key']}"
    ))


@tenants.command("list")
@json_option
@click.pass_context
def tenants_list(ctx: click.Context) -> None:
    from arportal.models import Customer, Tenant

    async def go() -> list[dict[str, Any]]:
        async with runtime(_config(ctx)):
            rows = await Tenant.select(Tenant.id, Tenant.slug, Tenant.name).order_by(Tenant.slug)
            counts = await Customer.raw(
                "SELECT tenant, COUNT(*) AS n FROM customer GROUP BY tenant"
            )
            by_tenant = {row["tenant"]: row["n"] for row in counts}
            return [
                {"slug": r["slug"], "name": r["name"], "customers": by_tenant.get(r["id"], 0)}
                for r in rows
            ]

    emit(ctx, run_async(go()), lambda rows: [
        click.echo(f"{r['slug']:<24} {r['name']:<40} {r['customers']} customers") for r in rows
    ] or click.echo("no tenants"))


@main.group("api-keys")
def api_keys() -> None:
    """Create and revoke a tenant's API keys."""


@api_keys.command("create")
@click.argument("slug")
@click.option("--name", default="default")
@json_option
@click.pass_context
def api_keys_create(ctx: click.Context, slug: str, name: str) -> None:
    from arportal.api_keys import create_api_key

    async def go() -> dict[str, Any]:
        async with runtime(_config(ctx)) as rt:
            tctx = await _tenant_ctx(rt, slug)
            key, row = await create_api_key(tctx.tenant_id, name)
            return {"slug": slug, "name": name, "prefix": row["prefix"], "api_key": key}

    emit(ctx, run_async(go()), lambda d: click.echo(
        f"API key {d['prefix']} (shown once): {d['api_key']}"
    ))


@api_keys.command("revoke")
@click.argument("slug")
@click.argument("prefix")
@json_option
@click.pass_context
def api_keys_revoke(ctx: click.Context, slug: str, prefix: str) -> None:
    from arportal.api_keys import revoke_api_key

    async def go() -> dict[str, Any]:
        async with runtime(_config(ctx)) as rt:
            tctx = await _tenant_ctx(rt, slug)
            if not await revoke_api_key(tctx.tenant_id, prefix):
                raise CliError(f"no active API key {prefix!r} for tenant {slug!r}")
            return {"slug": slug, "prefix": prefix, "revoked": True}

    emit(ctx, run_async(go()), lambda d: click.echo(f"API key {d['prefix']} revoked"))


# --- imports ---------------------------------------------------------------------------------


def _import_command(kind: str) -> Callable[..., None]:
    @click.argument("slug")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @json_option
    @click.pass_context
    def command(ctx: click.Context, slug: str, file: str) -> None:
        from arportal.imports import ImportFailure, import_file

        async def go() -> dict[str, Any]:
            async with runtime(_config(ctx)) as rt:
                tctx = await _tenant_ctx(rt, slug)
                with _progress(f"Importing {kind}") as progress:
                    try:
                        count = await import_file(tctx, kind, file, progress=progress)
                    except (ImportFailure, ValueError) as exc:
                        raise CliError(f"{file}: {exc} (nothing was imported)") from None
                return {"slug": slug, "kind": kind, "imported": count}

        emit(ctx, run_async(go()), lambda d: click.echo(f"imported {d['imported']} {kind}"))

    command.__doc__ = f"Import {kind} from a CSV file: all rows, or none."
    return command


@contextlib.contextmanager
def _progress(label: str) -> Any:
    """A progress bar on a terminal; silent otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


for _kind in ("customers", "invoices", "payments", "credit-notes"):
    _group = click.Group(name=_kind, help=f"Work with {_kind}.")
    _group.command("import")(_import_command(_kind))
    main.add_command(_group)


# --- links -----------------------------------------------------------------------------------


@main.group()
def links() -> None:
    """Show and rotate customers' portal links."""


async def _customer(tctx: Any, external_id: str) -> dict[str, Any]:
    from arportal.models import Customer

    row = await Customer.select().where(
        (Customer.tenant == tctx.tenant_id) & (Customer.external_id == external_id)
    ).first()
    if row is None:
        raise CliError(f"no customer {external_id!r} in tenant {tctx.slug!r}")
    return row


@links.command("show")
@click.argument("slug")
@click.argument("external_id")
@json_option
@click.pass_context
def links_show(ctx: click.Context, slug: str, external_id: str) -> None:
    from arportal.links import current_links, derive_token, link_state, portal_url

    async def go() -> dict[str, Any]:
        async with runtime(_config(ctx)) as rt:
            tctx = await _tenant_ctx(rt, slug)
            customer = await _customer(tctx, external_id)
            link = (await current_links(tctx.tenant_id, [customer["id"]])).get(customer["id"])
            if link is None:
                raise CliError(f"customer {external_id!r} has no active link: rotate to make one")
            token = derive_token(rt.config.resolved_secret(), link["nonce"])
            return {
                "customer": external_id,
                "portal_url": portal_url(rt.config.base_url, token),
                "expires_at": link["expires_at"].isoformat(),
                "state": link_state(link),
            }

    emit(ctx, run_async(go()), lambda d: click.echo(
        f"{d['portal_url']}  ({d['state']}, expires {d['expires_at']})"
    ))


@links.command("rotate")
@click.argument("slug")
@click.argument("external_id")
@json_option
@click.pass_context
def links_rotate(ctx: click.Context, slug: str, external_id: str) -> None:
    from arportal.events import audit
    from arportal.links import portal_url, rotate_links

    async def go() -> dict[str, Any]:
        async with runtime(_config(ctx)) as rt:
            tctx = await _tenant_ctx(rt, slug)
            customer = await _customer(tctx, external_id)
            link = await rotate_links(
                rt.config.resolved_secret(), tctx.tenant_id, customer["id"],
                tctx.portal_settings.link_validity_days,
            )
            await audit(tctx, "portal_link_rotated", "customer", external_id)
            return {
                "customer": external_id,
                "portal_url": portal_url(rt.config.base_url, link["token"]),
                "expires_at": link["expires_at"].isoformat(),
            }

    emit(ctx, run_async(go()), lambda d: click.echo(
        f"{d['portal_url']}  (every earlier link is dead; expires {d['expires_at']})"
    ))


# --- plugins, settings -----------------------------------------------------------------------


@main.group()
def plugins() -> None:
    """Installed plugins."""


@plugins.command("list")
@json_option
@click.pass_context
def plugins_list(ctx: click.Context) -> None:
    from arportal.plugin_host import PluginError, discover

    config = _config(ctx)
    try:
        _, infos = discover(config, strict=False)
    except PluginError as exc:
        raise CliError(str(exc)) from None
    rows = [
        {
            "name": i.name,
            "version": i.version,
            "kind": "built-in" if i.builtin else "third-party",
            "enabled": i.enabled,
            "error": i.error,
        }
        for i in infos
    ]

    def human(rows: list[dict[str, Any]]) -> None:
        if not rows:
            click.echo("no plugins installed")
        for r in rows:
            state = "enabled" if r["enabled"] else "disabled"
            extra = f"  ({r['error']})" if r["error"] else ""
            click.echo(f"{r['name']:<24} {r['version']:<10} {r['kind']:<12} {state}{extra}")

    emit(ctx, rows, human)


@plugins.command("new")
@click.argument("name")
@click.option(
    "--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Where to write it (default ./arportal-NAME); must not exist or be empty.",
)
@json_option
@click.pass_context
def plugins_new(ctx: click.Context, name: str, directory: Path | None) -> None:
    """Write a ready plugin package: hooks, settings, a portal page, a table, tests."""
    from arportal.scaffold import ScaffoldError, new_plugin

    try:
        target = new_plugin(name, directory)
    except ScaffoldError as exc:
        raise CliError(str(exc)) from None
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    data = {"name": name, "path": str(target), "files": files}
    emit(ctx, data, lambda d: click.echo(
        f"plugin {name!r} written to {d['path']}\n"
        f"next: cd {d['path']} && pip install -e '.[test]' && pytest\n"
        f"then `arportal plugins list` shows it; switch it on per tenant with "
        f"[features] {name} = true"
    ))


@main.group()
def settings() -> None:
    """A tenant's settings and feature switches (config as code)."""


@settings.command("show")
@click.argument("slug")
@json_option
@click.pass_context
def settings_show(ctx: click.Context, slug: str) -> None:
    from arportal.settings_store import read_settings

    async def go() -> dict[str, Any]:
        async with runtime(_config(ctx)) as rt:
            return await read_settings(await _tenant_ctx(rt, slug))  # type: ignore[no-any-return]

    def human(data: dict[str, Any]) -> None:
        for section, values in data.items():
            click.echo(f"[{section}]")
            for key, value in values.items():
                click.echo(f"{key} = {json.dumps(value, default=str)}")
            click.echo("")

    emit(ctx, run_async(go()), human)


@settings.command("apply")
@click.argument("slug")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@json_option
@click.pass_context
def settings_apply(ctx: click.Context, slug: str, file: str) -> None:
    """Apply a TOML file: `[features]` switches and one table per settings section."""
    from arportal.settings import SettingsError
    from arportal.settings_store import apply_settings

    try:
        patch = tomllib.loads(Path(file).read_text())
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"{file}: not valid TOML: {exc}") from None

    async def go() -> dict[str, Any]:
        async with runtime(_config(ctx)) as rt:
            try:
                return await apply_settings(await _tenant_ctx(rt, slug), patch)  # type: ignore[no-any-return]
            except SettingsError as exc:
                raise CliError(f"{file}: {exc}") from None

    emit(ctx, run_async(go()), lambda d: click.echo(f"settings of {slug} applied"))


@main.command()
@click.argument("slug")
@click.option(
    "--draft", type=click.Path(exists=True, dir_okay=False),
    help="A TOML draft of the settings (as for `settings apply`); nothing is saved.",
)
@click.option("--locale", default="en", show_default=True, help="The sample customer's language.")
@json_option
@click.pass_context
def preview(ctx: click.Context, slug: str, draft: str | None, locale: str) -> None:
    """Save & View: print a 15-minute URL of a sample portal with the draft applied."""
    from arportal.preview import create_preview
    from arportal.settings import SettingsError

    patch: dict[str, Any] = {}
    if draft:
        try:
            patch = tomllib.loads(Path(draft).read_text())
        except tomllib.TOMLDecodeError as exc:
            raise CliError(f"{draft}: not valid TOML: {exc}") from None

    async def go() -> dict[str, Any]:
        async with runtime(_config(ctx)) as rt:
            try:
                return await create_preview(await _tenant_ctx(rt, slug), patch, locale)
            except SettingsError as exc:
                raise CliError(f"{draft or 'draft'}: {exc}") from None

    emit(ctx, run_async(go()), lambda d: click.echo(f"{d['url']}  (expires {d['expires_at']})"))


# --- jobs, outbox ----------------------------------------------------------------------------


@main.group()
def jobs() -> None:
    """Scheduled jobs (for cron, systemd timers, Kubernetes CronJobs)."""


@jobs.command("run")
@click.option("--force", is_flag=True, help="Run every job now, due or not.")
@click.option("--only", multiple=True, help="Run only this job (repeatable).")
@json_option
@click.pass_context
def jobs_run(ctx: click.Context, force: bool, only: tuple[str, ...]) -> None:
    """Run each due job once."""
    from arportal.jobs import run_due_jobs

    async def go() -> list[dict[str, Any]]:
        async with runtime(_config(ctx)) as rt:
            runs = await run_due_jobs(rt.host, rt.config, force=force, only=list(only) or None)
            return [_as_dict(run) for run in runs]

    emit(ctx, run_async(go()), lambda rows: [
        click.echo(" ".join(f"{k}={v}" for k, v in row.items())) for row in rows
    ] or click.echo("no job was due"))


@main.group()
def outbox() -> None:
    """The notification outbox."""


@outbox.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "failed"]), default=None)
@click.option("--limit", default=100, show_default=True)
@json_option
@click.pass_context
def outbox_list(ctx: click.Context, status: str | None, limit: int) -> None:
    from arportal.outbox import list_outbox

    async def go() -> list[dict[str, Any]]:
        async with runtime(_config(ctx)):
            return await list_outbox(status=status, limit=limit)  # type: ignore[no-any-return]

    emit(ctx, run_async(go()), lambda rows: [
        click.echo(
            f"#{r['id']:<6} {r['status']:<8} {r.get('attempts', 0)} tries  "
            f"to {', '.join(r['to_addrs'])}: {r['subject']}"
        ) for r in rows
    ] or click.echo("the outbox is empty"))


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--tenant", "slug", default=None, help="Only this tenant's failed mails.")
@json_option
@click.pass_context
def outbox_retry(ctx: click.Context, ids: tuple[int, ...], slug: str | None) -> None:
    """Send failed mails again (the ids given, else every failed one): they go back to
    pending with a new run of attempts, sent by the next outbox delivery."""
    from arportal.outbox import retry_failed
    from arportal.tenancy import get_tenant_by_slug

    async def go() -> dict[str, Any]:
        async with runtime(_config(ctx)):
            tenant_id = None
            if slug is not None:
                tenant = await get_tenant_by_slug(slug)
                if tenant is None:
                    raise CliError(f"tenant: no tenant {slug!r}")
                tenant_id = tenant["id"]
            requeued = await retry_failed(list(ids) or None, tenant_id=tenant_id)
            return {"requeued": requeued}

    def human(data: dict[str, Any]) -> None:
        requeued = data["requeued"]
        if not requeued:
            click.echo("no failed mail to send again")
        else:
            click.echo(f"{len(requeued)} mail(s) back in the outbox: "
                       + ", ".join(f"#{i}" for i in requeued))

    emit(ctx, run_async(go()), human)


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    return {"result": str(value)}


if __name__ == "__main__":  # pragma: no cover
    main()
