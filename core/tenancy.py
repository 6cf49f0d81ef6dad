"""Tenants: creating them, and loading the context (settings, features) a request needs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from arportal import db
from arportal.context import TenantContext
from arportal.models import CustomerToggleValue, Tenant

if TYPE_CHECKING:
    from arportal.config import Config
    from arportal.plugin_host import PluginHost

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class TenantError(ValueError):
    """A tenant that cannot be created or found (the message names the slug)."""


async def create_tenant(slug: str, name: str) -> dict[str, Any]:
    if not SLUG_RE.match(slug):
        raise TenantError(f"slug: expected lowercase letters, digits and '-', got {slug!r}")
    if await Tenant.exists().where(Tenant.slug == slug):
        raise TenantError(f"slug: tenant {slug!r} already exists")
    rows = await Tenant.insert(Tenant(slug=slug, name=name)).returning(*Tenant.all_columns())
    return rows[0]


async def get_tenant_by_slug(slug: str) -> dict[str, Any] | None:
    return await Tenant.select().where(Tenant.slug == slug).first()


_CONTEXT_SQL = (
    "SELECT 's' AS kind, section AS name, CAST(data AS TEXT) AS value "
    "FROM tenant_setting WHERE tenant = {} "
    "UNION ALL SELECT 'f', key, CASE WHEN enabled THEN '1' ELSE '0' END "
    "FROM tenant_feature WHERE tenant = {} "
    "UNION ALL SELECT 't', key, CASE WHEN enabled THEN '1' ELSE '0' END "
    "FROM customer_toggle WHERE tenant = {} AND customer = {}"
)


async def context_rows(
    tenant_id: int, customer_id: int | None = None
) -> tuple[dict[str, Any], dict[str, bool], dict[str, bool]]:
    """A tenant's settings sections and feature switches, and a customer's toggles: one query."""
    rows = await db.fetch(_CONTEXT_SQL, tenant_id, tenant_id, tenant_id, customer_id or 0)
    return split_context_rows((row["kind"], row["name"], row["value"]) for row in rows)


def context_subquery(tenant: str, customer: str) -> str:
    """The same rows as one JSON text column, for a query that joins it to others (the
    portal's link look-up): `[[kind, name, value], ...]`."""
    union = _CONTEXT_SQL.replace("{}", tenant, 3).replace("{}", customer, 1)
    if db.is_postgres():
        return (
            "(SELECT COALESCE(json_agg(json_build_array(kind, name, value)), '[]'::json) "
            f"FROM ({union}) context_rows)"
        )
    return f"(SELECT json_group_array(json_array(kind, name, value)) FROM ({union}))"


def split_context_rows(
    rows: Any,
) -> tuple[dict[str, Any], dict[str, bool], dict[str, bool]]:
    settings: dict[str, Any] = {}
    features: dict[str, bool] = {}
    toggles: dict[str, bool] = {}
    for kind, name, value in rows:
        if kind == "s":
            settings[name] = _json(value)
        elif kind == "f":
            features[name] = value == "1"
        else:
            toggles[name] = value == "1"
    return settings, features, toggles


async def load_context(
    host: PluginHost,
    config: Config,
    tenant: dict[str, Any],
    actor: str = "system",
    customer: dict[str, Any] | None = None,
) -> TenantContext:
    """The tenant's context; with `customer`, scoped to that customer with their toggles."""
    settings, features, toggles = await context_rows(
        tenant["id"], customer["id"] if customer else None
    )
    return TenantContext(
        tenant_id=tenant["id"],
        slug=tenant["slug"],
        name=tenant["name"],
        host=host,
        config=config,
        settings_data=settings,
        feature_values=features,
        customer=customer,
        toggle_values=toggles,
        actor=actor,
    )


async def tenant_context_by_id(
    host: PluginHost, config: Config, tenant_id: int, actor: str = "system"
) -> TenantContext | None:
    """A tenant's context from its id (for a public route that found the id in a token)."""
    tenant = await Tenant.select().where(Tenant.id == tenant_id).first()
    return None if tenant is None else await load_context(host, config, tenant, actor)


async def load_context_by_slug(
    host: PluginHost, config: Config, slug: str, actor: str = "system"
) -> TenantContext:
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
