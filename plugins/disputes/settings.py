"""The `disputes` settings section: the reasons a customer picks from, and who hears of it.

Reasons have a stable `key` (stored on each dispute) and a `label` the operator may change:
add one by appending it, rename it by changing its label, archive it with `archived: true`
(it stays on past disputes but is no longer offered). Labels are unique, ignoring case.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
ADDRESS = re.compile(r"^[^@\s<>\"'(),;:\\]+@[^@\s<>\"'(),;:\\]+\.[^@\s<>\"'(),;:\\]+$")


class Reason(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    key: str
    label: Annotated[str, msgspec.Meta(max_length=100)]
    archived: bool = False


DEFAULT_REASONS = [
    ("unsatisfactory_work", "Unsatisfactory work"),
    ("faulty_goods", "Faulty goods"),
    ("late_delivery", "Late delivery"),
    ("never_agreed", "Never agreed"),
    ("unable_to_pay", "Unable to pay"),
    ("pricing_disagreement", "Pricing disagreement"),
    ("invoice_error", "Invoice processing error"),
    ("other", "Other"),
]


def _default_reasons() -> list[Reason]:
    return [Reason(key=key, label=label) for key, label in DEFAULT_REASONS]


class DisputesSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reasons: list[Reason] = msgspec.field(default_factory=_default_reasons)
    notify_emails: list[str] = msgspec.field(default_factory=list)
    """Who is mailed a new dispute or a customer's message (required while the feature is on)."""

    def __post_init__(self) -> None:
        keys: set[str] = set()
        labels: set[str] = set()
        for index, reason in enumerate(self.reasons):
            reason.label = reason.label.strip()
            if not KEY.match(reason.key):
                raise ValueError(
                    f"reasons: [{index}].key {reason.key!r} is not a key (lowercase letters, "
                    "digits and _, starting with a letter, at most 40)"
                )
            if not reason.label:
                raise ValueError(f"reasons: [{index}].label is empty")
            if reason.key in keys:
                raise ValueError(f"reasons: key {reason.key!r} is used twice")
            if reason.label.casefold() in labels:
                raise ValueError(f"reasons: label {reason.label!r} is used twice")
            keys.add(reason.key)
            labels.add(reason.label.casefold())
        if not any(not reason.archived for reason in self.reasons):
            raise ValueError("reasons: at least one reason must not be archived")
        if len(self.notify_emails) > 20:
            raise ValueError("notify_emails: at most 20 addresses")
        for address in self.notify_emails:
            if not ADDRESS.match(address):
                raise ValueError(f"notify_emails: not an email address: {address!r}")

    def active(self) -> list[Reason]:
        return [reason for reason in self.reasons if not reason.archived]

    def label(self, key: str, fallback: str = "") -> str:
        for reason in self.reasons:
            if reason.key == key:
                return reason.label
        return fallback or key
