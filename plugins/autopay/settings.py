"""The settings sections: `autopay` (scheduling, retries, the gateway) and `autopay_stripe`
(the Stripe account's keys, answered as "********" by the API and never logged)."""

from __future__ import annotations

import re

import msgspec

GATEWAY_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


class AutopaySettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    gateway: str = "sandbox"
    """The payment gateway of the tenant (`sandbox`, `stripe`, or one a plugin adds)."""
    enable_for_new_customers: bool = False
    """The `autopay` toggle of customers created after this is set (existing ones keep theirs)."""
    days_before_due: int = 0
    """Charge this many days before the due date (0: on the due date)."""
    notice_days: int = 2
    """The pre-debit notice goes out this many days before a charge; a charge never happens
    sooner than that after its notice."""
    skip_held: bool = True
    """Invoices on hold (an open dispute, a pending promise) are not charged while held."""
    retry_days: list[int] = msgspec.field(default_factory=lambda: [1, 3, 7])
    """After a soft decline, try again this many days after the first failure."""
    max_in_flight: int = 8
    """Gateway calls at once for this tenant."""
    mandate_text: str = ""
    """What the customer consents to when saving a method (empty: the built-in text)."""
    operator_email: str = ""
    """Told when a method is paused after its last retry or a hard decline (empty: nobody;
    the `autopay_failed` event and the audit log say it anyway)."""

    def __post_init__(self) -> None:
        if not GATEWAY_NAME.match(self.gateway):
            raise ValueError("gateway: expected a gateway name such as 'sandbox' or 'stripe'")
        if not 0 <= self.days_before_due <= 60:
            raise ValueError("days_before_due: expected an integer from 0 to 60")
        if not 0 <= self.notice_days <= 30:
            raise ValueError("notice_days: expected an integer from 0 to 30")
        if len(self.retry_days) > 10 or any(not 1 <= day <= 90 for day in self.retry_days):
            raise ValueError("retry_days: expected at most 10 days, each from 1 to 90")
        if self.retry_days != sorted(set(self.retry_days)):
            raise ValueError("retry_days: expected increasing days, e.g. [1, 3, 7]")
        if not 1 <= self.max_in_flight <= 64:
            raise ValueError("max_in_flight: expected an integer from 1 to 64")
        if len(self.mandate_text) > 2000:
            raise ValueError("mandate_text: at most 2000 characters")
        if self.operator_email and not _EMAIL.match(self.operator_email):
            raise ValueError("operator_email: not a valid email address")


class StripeSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    secret_key: str = ""
    publishable_key: str = ""
    webhook_secret: str = ""
    """The signing secret of the webhook endpoint (`whsec_...`)."""

    def __post_init__(self) -> None:
        for name, prefixes in (
            ("secret_key", ("sk_", "rk_")),
            ("publishable_key", ("pk_",)),
            ("webhook_secret", ("whsec_",)),
        ):
            value = getattr(self, name)
            if value and (not value.startswith(prefixes) or not re.fullmatch(r"[\w]+", value)):
                raise ValueError(f"{name}: expected a key starting with {' or '.join(prefixes)}")
