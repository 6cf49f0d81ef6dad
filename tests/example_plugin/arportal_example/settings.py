"""The plugin's settings section, `example`: validated on write, defaults apply."""

from __future__ import annotations

import msgspec


class ExampleSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    remind_days_before: int = 3
    """Customers who opted in are reminded this many days before an invoice is due."""
    hold_prefix: str = ""
    """Invoices whose number starts with this prefix are on hold (empty: none)."""
    panel_title: str = "Payment reminders"
    brand_theme: bool = False
    """Answer the tenant's theme (a green portal) when true."""
    sender_email: str | None = None
    contact_phone: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.remind_days_before <= 60:
            raise ValueError("remind_days_before: expected an integer from 0 to 60")
        if len(self.hold_prefix) > 20:
            raise ValueError("hold_prefix: expected at most 20 characters")
        if any(ch in (self.sender_email or "") for ch in "\r\n"):
            raise ValueError("sender_email: line breaks are not allowed")
