"""The settings section `late_fees_netsuite`: the NetSuite connection and the fee policy.

The connection uses NetSuite's Token-Based Authentication (OAuth 1.0a). The four credentials
are secret fields: the admin API shows them as "********" and never logs them. The feature
exists for a tenant only once `account_id`, the four credentials and `fee_item_id` are set
(`missing_connection`).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal
from urllib.parse import urlsplit

import msgspec

SECTION = "late_fees_netsuite"
SECRET_FIELDS = ("consumer_key", "consumer_secret", "token_id", "token_secret")
CONNECTION_FIELDS = ("account_id", *SECRET_FIELDS, "fee_item_id")
PERIOD_DAYS = {"once": 0, "weekly": 7, "monthly": 31}

_ACCOUNT = re.compile(r"^[A-Za-z0-9]+([_-][A-Za-z0-9]+)?$")
_INTERNAL_ID = re.compile(r"^[0-9]{1,18}$")
_MAX_AMOUNT = Decimal("1e12")


def _amount(name: str, value: Decimal | None) -> None:
    if value is not None and (not value.is_finite() or not 0 <= value < _MAX_AMOUNT):
        raise ValueError(f"{name}: expected a decimal amount of at least 0, got {value}")


class LateFeeSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # --- connection
    account_id: str = ""
    """The NetSuite account id (`1234567`, a sandbox `1234567_SB1`); the OAuth realm."""
    consumer_key: str = ""
    consumer_secret: str = ""
    token_id: str = ""
    token_secret: str = ""
    base_url: str = ""
    """Empty: `https://<account>.suitetalk.api.netsuite.com`."""
    fee_item_id: str = ""
    """Internal id of the NetSuite item used for fee lines."""
    max_concurrent_requests: int = 4
    """NetSuite calls in flight at once for this account (its concurrency limit)."""

    # --- policy
    fee_type: Literal["percentage", "fixed"] = "percentage"
    rate: Decimal | None = None
    """Percent of the invoice's amount due, per period (`fee_type = "percentage"`)."""
    amount: Decimal | None = None
    """A fixed fee per period, in the invoice's currency (`fee_type = "fixed"`)."""
    recurrence: Literal["once", "weekly", "monthly"] = "monthly"
    grace_days: int = 0
    max_total_per_invoice: Decimal | None = None
    """Cap on the fees of one invoice (waived fees excepted), in the invoice's currency."""
    min_invoice_amount: Decimal = Decimal(0)
    """Invoices whose amount due is below this get no fee."""

    def __post_init__(self) -> None:
        if self.account_id and not _ACCOUNT.match(self.account_id):
            raise ValueError(
                "account_id: expected a NetSuite account id such as 1234567 or 1234567_SB1"
            )
        if self.fee_item_id and not _INTERNAL_ID.match(self.fee_item_id):
            raise ValueError("fee_item_id: expected the item's internal id (digits)")
        if self.base_url:
            parts = urlsplit(self.base_url)
            if parts.scheme not in ("https", "http") or not parts.hostname or parts.query:
                raise ValueError("base_url: expected https://host[:port] (no query)")
            self.base_url = self.base_url.rstrip("/")
        for name in SECRET_FIELDS + ("account_id",):
            value = getattr(self, name)
            if value != value.strip() or any(ch in value for ch in "\r\n\"\\"):
                raise ValueError(f"{name}: unexpected spaces, quotes or line breaks")
        if not 1 <= self.max_concurrent_requests <= 15:
            raise ValueError("max_concurrent_requests: expected an integer from 1 to 15")
        if self.rate is not None and (not self.rate.is_finite() or not 0 < self.rate <= 100):
            raise ValueError("rate: expected a percentage above 0 and at most 100")
        _amount("amount", self.amount)
        _amount("max_total_per_invoice", self.max_total_per_invoice)
        _amount("min_invoice_amount", self.min_invoice_amount)
        if self.fee_type == "percentage" and self.rate is None and self.amount is not None:
            raise ValueError('rate: fee_type is "percentage": set rate (a percent), not amount')
        if self.fee_type == "fixed" and self.amount is None and self.rate is not None:
            raise ValueError('amount: fee_type is "fixed": set amount, not rate')
        if not 0 <= self.grace_days <= 365:
            raise ValueError("grace_days: expected an integer from 0 to 365")

    @property
    def period_days(self) -> int:
        return PERIOD_DAYS[self.recurrence]

    @property
    def realm(self) -> str:
        """NetSuite writes the realm in capitals with an underscore (`1234567_SB1`)."""
        return self.account_id.upper().replace("-", "_")

    @property
    def api_base(self) -> str:
        if self.base_url:
            return self.base_url
        host = self.account_id.lower().replace("_", "-")
        return f"https://{host}.suitetalk.api.netsuite.com"

    def missing_connection(self) -> list[str]:
        return [name for name in CONNECTION_FIELDS if not getattr(self, name)]

    def missing_policy(self) -> str | None:
        if self.fee_type == "percentage" and self.rate is None:
            return 'rate is not set (fee_type is "percentage")'
        if self.fee_type == "fixed" and self.amount is None:
            return 'amount is not set (fee_type is "fixed")'
        return None
