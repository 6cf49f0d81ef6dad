"""`sandbox`: a deterministic test gateway for demos and tests.

It takes the usual test card numbers (4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is
declined, 4000 0000 0000 9995 has insufficient funds, 4000 0000 0000 9979 is a stolen card)
and refuses any other number, so a real card is never typed into it. What it charged is kept
in `autopay_sandbox_charge` by idempotency key: the same key answers the same charge, in any
process, and counts the repeat. `latency` (seconds) makes it answer like a remote service.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import secrets
from collections.abc import AsyncIterator, Mapping
from typing import Any

from markupsafe import Markup

from arportal import PortalContext, TenantContext, render_fragment
from arportal.plugins.autopay.gateways.base import (
    HARD_DECLINES,
    ChargeRequest,
    ChargeResult,
    GatewayUnavailable,
    MethodError,
    SavedMethod,
    card_expired,
)
from arportal.plugins.autopay.i18n import translator
from arportal.plugins.autopay.models import AutopaySandboxCharge

TEST_CARDS: dict[str, tuple[str, str]] = {
    "4242424242424242": ("visa", "ok"),
    "5555555555554444": ("mastercard", "ok"),
    "4000000000000002": ("visa", "generic_decline"),
    "4000000000009995": ("visa", "insufficient_funds"),
    "4000000000009979": ("visa", "stolen_card"),
}
_REFERENCE = re.compile(r"^sandbox_(?P<outcome>[a-z_]+)_[0-9a-f]{12}$")
MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "stolen_card": "Your card was declined.",
}
_UPSERT = (
    "INSERT INTO autopay_sandbox_charge (tenant, idempotency_key, charge_id, reference,"
    " amount_minor, currency, outcome, decline_code, requests, created_at)"
    " VALUES ({}, {}, {}, {}, {}, {}, {}, {}, 1, {})"
    " ON CONFLICT (tenant, idempotency_key) DO UPDATE"
    " SET requests = autopay_sandbox_charge.requests + 1"
    " RETURNING charge_id, reference, amount_minor, currency, outcome, decline_code"
)


def _month(value: str, field: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 12:
        raise MethodError(field, "Enter the month as a number from 1 to 12.")
    return int(value)


def _year(value: str, field: str) -> int:
    if not value.isdigit() or len(value) not in (2, 4):
        raise MethodError(field, "Enter the year, such as 2030.")
    year = int(value)
    return 2000 + year if year < 100 else year


class SandboxCharger:
    def __init__(self, ctx: TenantContext, latency: float):
        self.ctx = ctx
        self.latency = latency

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        if self.latency:
            await asyncio.sleep(self.latency)
        found = _REFERENCE.match(request.reference)
        if found is None:
            raise GatewayUnavailable("sandbox: unknown payment method reference")
        outcome = found["outcome"]
        decline_code = "" if outcome == "ok" else outcome
        rows = await AutopaySandboxCharge.raw(
            _UPSERT, self.ctx.tenant_id, request.idempotency_key, "sbx_ch_" + secrets.token_hex(8),
            request.reference, request.amount_minor, request.currency,
            "succeeded" if outcome == "ok" else "declined", decline_code,
            dt.datetime.now(dt.UTC),
        )
        row = rows[0]
        if (row["reference"], row["amount_minor"], row["currency"]) != (
            request.reference, request.amount_minor, request.currency
        ):
            raise GatewayUnavailable(
                "sandbox: idempotency key reused with other parameters (as Stripe refuses it)"
            )
        if row["outcome"] == "succeeded":
            return ChargeResult(status="succeeded", charge_id=row["charge_id"])
        code = row["decline_code"]
        return ChargeResult(
            status="declined", charge_id=row["charge_id"], decline_code=code,
            message=MESSAGES.get(code, "Your card was declined."), hard=code in HARD_DECLINES,
        )


class SandboxGateway:
    label = "Sandbox (test cards)"
    idempotency_window: dt.timedelta | None = None

    def __init__(self, name: str = "sandbox", latency: float = 0.0):
        self.name = name
        self.latency = latency

    async def setup_fields(
        self, ctx: PortalContext, errors: Mapping[str, str], values: Mapping[str, str]
    ) -> Markup:
        return render_fragment(
            ctx, "autopay:gateways/sandbox.html", errors=errors, values=values,
            tr=translator(ctx.locale), year=ctx.today().year,
        )

    async def save_method(
        self, ctx: PortalContext, form: Mapping[str, str], previous: dict[str, Any] | None
    ) -> SavedMethod:
        number = re.sub(r"[\s-]", "", form.get("card_number", ""))
        if not number:
            raise MethodError("card_number", "Enter the card number.")
        card = TEST_CARDS.get(number)
        if card is None:
            raise MethodError(
                "card_number", "Use a test card, such as 4242 4242 4242 4242."
            )
        exp_month = _month(form.get("exp_month", "").strip(), "exp_month")
        exp_year = _year(form.get("exp_year", "").strip(), "exp_year")
        if card_expired(exp_month, exp_year, ctx.today()):
            raise MethodError("exp_year", "This card has expired.")
        cvc = form.get("cvc", "").strip()
        if not cvc.isdigit() or len(cvc) not in (3, 4):
            raise MethodError("cvc", "Enter the 3 or 4 digits of the security code.")
        brand, outcome = card
        return SavedMethod(
            reference=f"sandbox_{outcome}_{secrets.token_hex(6)}",
            brand=brand,
            last4=number[-4:],
            exp_month=exp_month,
            exp_year=exp_year,
        )

    async def remove_method(self, ctx: TenantContext, method: dict[str, Any]) -> None:
        return None

    @contextlib.asynccontextmanager
    async def open_session(self, ctx: TenantContext) -> AsyncIterator[SandboxCharger]:
        yield SandboxCharger(ctx, self.latency)
