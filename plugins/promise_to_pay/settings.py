"""The plugin's settings section, `promise_to_pay`: validated on write, defaults apply."""

from __future__ import annotations

import msgspec

SECTION = "promise_to_pay"
MAX_WINDOW_DAYS = 365


class PromiseToPaySettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    max_days: int = 30
    """A promised date is at most this many days after the day the promise is made."""
    allow_partial: bool = False
    """Customers may promise part of an invoice's amount due (an amount per invoice)."""
    hold_invoices: bool = True
    """A pending promise holds its invoice (reason `promise_to_pay`) until the promised date."""
    notify_emails: list[str] = msgspec.field(default_factory=list)
    """The finance team's addresses: new, changed, withdrawn and broken promises."""
    remind_customer: bool = True
    """Mail the customer a reminder the day before the promised date."""

    def __post_init__(self) -> None:
        if not 1 <= self.max_days <= MAX_WINDOW_DAYS:
            raise ValueError(f"max_days: expected an integer from 1 to {MAX_WINDOW_DAYS}")
        if len(self.notify_emails) > 20:
            raise ValueError("notify_emails: at most 20 addresses")
        for address in self.notify_emails:
            local, at, domain = address.rpartition("@")
            if (
                not at or not local or "." not in domain or len(address) > 320
                or any(ch.isspace() or ch in "<>,;\"'" for ch in address)
            ):
                raise ValueError(f"notify_emails: not an email address: {address!r}")
