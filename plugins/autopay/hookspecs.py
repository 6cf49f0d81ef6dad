"""Hooks autopay offers in turn: payment gateways, and what other plugins hear about charges.

A gateway is an object with the shape of `arportal.plugins.autopay.gateways.base.Gateway`
(a name, a setup form, `save_method`, `remove_method` and `open_session` for charges), answered
by any arportal plugin from `arportal_payment_gateways`; the tenant picks one by name in the
setting `autopay.gateway`.
"""

from __future__ import annotations

from typing import Any

from arportal import TenantContext, hookspec


@hookspec
def arportal_payment_gateways() -> list[Any]:
    """Payment gateways this plugin provides (objects with a unique `name`)."""


@hookspec
def arportal_autopay_succeeded(ctx: TenantContext, attempt: dict[str, Any]) -> None:
    """An automatic charge succeeded and its payment is in the ledger (after commit)."""


@hookspec
def arportal_autopay_failed(ctx: TenantContext, attempt: dict[str, Any]) -> None:
    """An automatic charge was declined. `attempt["final"]` is true when no retry will follow
    (a hard decline, or the last retry): the payment method is then paused."""
