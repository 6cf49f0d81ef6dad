"""What a payment gateway is to autopay, and what it answers.

A gateway never sees our database rows and we never see a card number: it turns what the
customer typed (or what its own script collected) into a `SavedMethod` (a reference and what
may be shown: brand, last 4, expiry), and charges a reference for an amount with an
idempotency key. Calling `charge` again with the same key must answer the same charge and
never charge again: that is how a charge whose answer was lost (a crash, a timeout) is
reconciled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from markupsafe import Markup

    from arportal import PortalContext, TenantContext


class MethodError(ValueError):
    """What the customer entered cannot be saved; `field` names the form field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class GatewayUnavailable(RuntimeError):
    """The gateway did not answer, or answered something that says nothing about the charge
    (a timeout, a 5xx, a rate limit). The attempt stays pending and is asked again later with
    the same idempotency key. The message must not contain a secret."""


@dataclass(frozen=True)
class SavedMethod:
    reference: str
    """The gateway's token for the method (e.g. a Stripe PaymentMethod id)."""
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    gateway_customer: str = ""
    """The gateway's customer the method is attached to, if it has such a thing."""


@dataclass(frozen=True)
class ChargeRequest:
    idempotency_key: str
    amount_minor: int
    currency: str
    reference: str
    gateway_customer: str
    description: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChargeResult:
    status: Literal["succeeded", "declined"]
    charge_id: str = ""
    decline_code: str = ""
    message: str = ""
    hard: bool = False
    """A decline that a retry cannot cure (stolen or lost card, closed account)."""


HARD_DECLINES = frozenset({
    "stolen_card", "lost_card", "pickup_card", "restricted_card", "fraudulent",
    "do_not_try_again", "revocation_of_authorization", "revocation_of_all_authorizations",
    "stop_payment_order", "invalid_account", "new_account_information_available",
    "expired_card", "incorrect_number", "invalid_number", "card_not_supported",
    "currency_not_supported", "security_violation", "transaction_not_allowed",
})
"""Decline codes (Stripe's names, which other gateways map to) that are never retried."""


class Charger(Protocol):
    async def charge(self, request: ChargeRequest) -> ChargeResult:
        """Charge once per idempotency key. Raises `GatewayUnavailable` when the outcome is
        unknown."""
        ...


class Gateway(Protocol):
    name: str
    label: str
    idempotency_window: dt.timedelta | None
    """How long the gateway remembers an idempotency key (None: for ever). A pending attempt
    older than that is never sent again: the operator checks it (status `review`)."""

    async def setup_fields(
        self, ctx: PortalContext, errors: Mapping[str, str], values: Mapping[str, str]
    ) -> Markup:
        """The fields of the "save a payment method" form (the form, the mandate consent and
        the submit button are autopay's). May widen the page's CSP with
        `ctx.allow_csp_sources` for the gateway's own script."""
        ...

    async def save_method(
        self, ctx: PortalContext, form: Mapping[str, str], previous: dict[str, Any] | None
    ) -> SavedMethod:
        """Turn the submitted fields into a saved method; raise `MethodError` naming the bad
        field. `previous` is the method being replaced (its `gateway_customer` may be reused)."""
        ...

    async def remove_method(self, ctx: TenantContext, method: dict[str, Any]) -> None:
        """Forget the method at the gateway (best effort: autopay forgets it anyway)."""
        ...

    def open_session(self, ctx: TenantContext) -> AbstractAsyncContextManager[Charger]:
        """A session for many charges of one tenant (one HTTP client, one set of keys)."""
        ...


def card_expired(exp_month: int, exp_year: int, today: dt.date) -> bool:
    """A card is good through the last day of its expiry month."""
    return (exp_year, exp_month) < (today.year, today.month)
