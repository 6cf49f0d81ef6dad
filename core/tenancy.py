"""Tenants: creating them, and loading the context (settings, features) a request needs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from arportal.context import TenantContext
from arportal.models import CustomerToggleValue, Tenant, TenantFeature, TenantSetting

if TYPE_CHECKING:
    from arportal.config import Config
    from arportal.plugin_host import PluginHost

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class TenantError(ValueError):
    pass


async def create_tenant(slug: str, name: str) -> dict[str, Any]:
    if not SLUG_RE.match(slug):
        raise TenantError(f"slug: expected lowercase letters, digits and '-', got {slug!r}")
    if await Tenant.exists().where(Tenant.slug == slug):
        raise TenantError(f"slug: tenant {slug!r} already exists")
    rows = await Tenant.insert(Tenant(slug=slug, name=name)).returning(*Tenant.all_columns())
    return rows[0]


async def get_tenant_by_slug(slug: str) -> dict[str, Any] | None:
    return await Tenant.select().where(Tenant.slug == slug).first()


async def load_context(
    host: PluginHost, config: Config, tenant: dict[str, Any], actor: str = "system"
) -> TenantContext:
    settings_rows = await TenantSetting.select(TenantSetting.section, TenantSetting.data).where(
        TenantSetting.tenant == tenant["id"]
    )
    feature_rows = await TenantFeature.select(TenantFeature.key, TenantFeature.enabled).where(
        TenantFeature.tenant == tenant["id"]
    )
    return TenantContext(
        tenant_id=tenant["id"],
        slug=tenant["slug"],
        name=tenant["name"],
        host=host,
        config=config,
        settings_data={row["section"]: _json(row["data"]) for row in settings_rows},
        feature_values={row["key"]: bool(row["enabled"]) for row in feature_rows},
        actor=actor,
    )


async def load_context_by_slug(host: PluginHost, config: Config, slug: str, actor: str = "system") -> TenantContext:
    tenant = await get_tenant_by_slug(slug)
    if tenant is None:
        raise TenantError(f"no tenant {slug!r}")
    return await load_context(host, config, tenant, actor)


async def customer_toggles(customer_id: int) -> dict[str, bool]:
    rows = await CustomerToggleValue.select(
        CustomerToggleValue.key, CustomerToggleValue.enabled
    ).where(CustomerToggleValue.customer == customer_id)
    return {row["key"]: bool(row["enabled"]) for row in rows}


def _json(value: Any) -> Any:
    if isinstance(value, str):
        import msgspec

        return msgspec.json.decode(value)
    return value
