"""Hooks this plugin offers in turn: other plugins may word the reminders."""

from __future__ import annotations

from typing import Any

from arportal import TenantContext, hookspec


@hookspec(firstresult=True)
def example_reminder_text(ctx: TenantContext, invoice: Any) -> str | None:
    """The text of a payment reminder for `invoice`; the first answer wins."""
