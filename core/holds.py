"""Invoice holds: plugins say which invoices are on hold and why; others ask the core.

Autopay, late fees and reminders call `holds_for` before acting on an invoice, so a plugin
never needs to import (or even know about) the plugin that holds it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from arportal.declarations import Hold

if TYPE_CHECKING:
    from arportal.context import TenantContext

log = logging.getLogger("arportal.holds")


class HoldsUnavailable(RuntimeError):
    """A plugin failed to say which invoices it holds, so none may be treated as free."""


def _invoice_id(invoice: Any) -> int:
    return int(invoice["id"] if isinstance(invoice, Mapping) else invoice.id)


async def holds_for(
    ctx: TenantContext, invoices: list[Any], *, strict: bool = True
) -> dict[int, list[Hold]]:
    """The holds on `invoices` (rows with an `id`), merged from every enabled plugin:
    `{invoice_id: [Hold, ...]}`; an invoice without a hold is absent.

    Plugins are asked once for the whole list. Holds protect invoices from being charged or
    fined, so this fails closed: when a plugin raises, `HoldsUnavailable` is raised (act on
    nothing this time). With `strict=False` (display only) the plugin is logged and skipped.
    Holds a plugin names for invoices that were not asked about are ignored.
    """
    if not invoices:
        return {}
    wanted = {_invoice_id(invoice) for invoice in invoices}
    try:
        answers = await ctx.call("arportal_invoice_holds", invoices=invoices, isolate=not strict)
    except Exception as exc:
        raise HoldsUnavailable(
            f"a plugin failed to answer arportal_invoice_holds for tenant {ctx.slug!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    merged: dict[int, list[Hold]] = {}
    for answer in answers:
        for hold in answer if isinstance(answer, list | tuple) else [answer]:
            if not isinstance(hold, Hold):
                log.error("arportal_invoice_holds answered %r, not a Hold; ignored", hold)
                continue
            if hold.invoice_id in wanted:
                merged.setdefault(hold.invoice_id, []).append(hold)
    return merged
