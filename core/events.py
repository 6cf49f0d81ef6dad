"""Events: written to the audit log and handed to plugins, after the change is committed."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import TYPE_CHECKING, Any

from arportal.models import AuditEvent

if TYPE_CHECKING:
    from arportal.context import TenantContext


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


async def audit(
    ctx: TenantContext, action: str, subject_type: str = "", subject_id: str = "",
    data: dict[str, Any] | None = None, actor: str | None = None,
) -> None:
    await AuditEvent.insert(
        AuditEvent(
            tenant=ctx.tenant_id,
            actor=actor or ctx.actor,
            action=action,
            subject_type=subject_type,
            subject_id=str(subject_id),
            data=_plain(data or {}),
        )
    )


async def emit_event(
    ctx: TenantContext, name: str, data: dict[str, Any] | None = None, *,
    subject_type: str = "", subject_id: str = "", actor: str | None = None,
) -> None:
    """Record `name` in the audit log and call `arportal_event` on the enabled plugins.

    Plugins use this for their own events (`dispute_opened`, ...). Call it after commit.
    """
    payload = _plain(data or {})
    await audit(ctx, name, subject_type, subject_id, payload, actor)
    await ctx.call("arportal_event", name=name, data=payload)
