"""The payment gateways the plugins of this instance provide (`arportal_payment_gateways`)."""

from __future__ import annotations

import logging
from typing import Any

from arportal import TenantContext

log = logging.getLogger("arportal.plugins.autopay")


class NoGateway(LookupError):
    """The tenant's `autopay.gateway` names no installed gateway."""


async def gateways(ctx: TenantContext) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for answer in await ctx.call("arportal_payment_gateways"):
        for gateway in answer if isinstance(answer, list | tuple) else [answer]:
            name = getattr(gateway, "name", None)
            if not isinstance(name, str) or name in found:
                log.error("payment gateway %r is unnamed or named twice; ignored", gateway)
                continue
            found[name] = gateway
    return found


async def gateway_named(ctx: TenantContext, name: str) -> Any:
    found = await gateways(ctx)
    if name not in found:
        raise NoGateway(
            f"autopay.gateway: no payment gateway {name!r} is installed "
            f"(installed: {', '.join(sorted(found)) or 'none'})"
        )
    return found[name]


async def tenant_gateway(ctx: TenantContext) -> Any:
    return await gateway_named(ctx, ctx.settings("autopay").gateway)
