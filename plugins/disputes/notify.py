"""Mail about disputes, through the core's outbox (text and HTML).

The finance team (`notify_emails`) hears of a new dispute and of every customer message, in
English; the customer gets a confirmation, the operator's replies and the resolution, in their
own language. Each mail has a dedupe key, so a retried request never mails twice.
"""

from __future__ import annotations

import re
from typing import Any

from arportal import TenantContext, Theme, enqueue_mail
from arportal.plugins.disputes.i18n import language, translator
from arportal.plugins.disputes.settings import ADDRESS

TEAM_TEMPLATE = "disputes:mail/team"
CUSTOMER_TEMPLATE = "disputes:mail/customer"


def customer_addresses(customer: dict[str, Any]) -> list[str]:
    """The address(es) on file; the field may hold several, split by `,` or `;`."""
    parts = re.split(r"[,;]", customer.get("email") or "")
    return [part.strip() for part in parts if ADDRESS.match(part.strip())]


def _team(ctx: TenantContext) -> list[str]:
    return list(ctx.settings("disputes").notify_emails)


async def _display_name(ctx: TenantContext) -> str:
    theme = await ctx.first("arportal_theme")
    name = theme.display_name if isinstance(theme, Theme) else None
    return name or ctx.name


def _api_url(ctx: TenantContext, dispute: dict[str, Any]) -> str:
    return f"{ctx.config.base_url.rstrip('/')}/api/v1/disputes/{dispute['id']}"


async def _to_team(
    ctx: TenantContext, key: str, subject: str, intro: str, dispute: dict[str, Any],
    customer: dict[str, Any], label: str, body: str, attachment_name: str | None,
) -> None:
    team = _team(ctx)
    if not team:
        return
    await enqueue_mail(
        ctx,
        to=team,
        subject=subject,
        template=TEAM_TEMPLATE,
        context={
            "intro": intro,
            "facts": [
                ("Customer", f"{customer['name']} ({customer['external_id']})"),
                ("Invoice", dispute["invoice_number"]),
                ("Reason", label),
                ("Dispute", f"#{dispute['id']}"),
            ],
            "body": body,
            "attachment_name": attachment_name,
            "api_url": _api_url(ctx, dispute),
        },
        dedupe_key=key,
    )


async def _to_customer(
    ctx: TenantContext, key: str, customer: dict[str, Any], subject: str,
    paragraphs: list[str], quote_label: str = "", quote: str = "",
) -> None:
    addresses = customer_addresses(customer)
    if not addresses:
        return
    tr = translator(customer.get("locale"))
    await enqueue_mail(
        ctx,
        to=addresses,
        subject=subject,
        template=CUSTOMER_TEMPLATE,
        context={
            "locale": language(customer.get("locale")),
            "subject": subject,
            "greeting": tr("Hello {name},", name=customer["name"]),
            "paragraphs": paragraphs,
            "quote_label": quote_label,
            "quote": quote,
            "closing": tr("You can follow the conversation on your customer portal."),
        },
        dedupe_key=key,
    )


async def dispute_opened(
    ctx: TenantContext, dispute: dict[str, Any], customer: dict[str, Any], label: str,
    body: str, *, attachment_name: str | None,
) -> None:
    number = dispute["invoice_number"]
    by_operator = dispute["opened_by"] == "operator"
    await _to_team(
        ctx, f"disputes:{dispute['id']}:opened:team",
        f"New dispute: invoice {number} ({customer['name']})",
        "A dispute was opened for the customer by an operator." if by_operator
        else "A customer disputes an invoice.",
        dispute, customer, label, body, attachment_name,
    )
    tr = translator(customer.get("locale"))
    shown_label = tr(label)
    if by_operator:
        subject = tr("We opened a dispute about invoice {number} for you", number=number)
        first = tr(
            "At your request, we opened a dispute about invoice {number} (reason: {reason}). "
            "We will keep you informed.", number=number, reason=shown_label,
        )
    else:
        subject = tr("We received your dispute about invoice {number}", number=number)
        first = tr(
            "We received your dispute about invoice {number} (reason: {reason}). Our team "
            "will look into it and answer you.", number=number, reason=shown_label,
        )
    await _to_customer(
        ctx, f"disputes:{dispute['id']}:opened:customer", customer, subject,
        [first, tr("The invoice is on hold while the dispute is open.")],
        tr("Your message:"), body,
    )


async def customer_wrote(
    ctx: TenantContext, dispute: dict[str, Any], customer: dict[str, Any], label: str,
    message_id: int, body: str, *, attachment_name: str | None,
) -> None:
    await _to_team(
        ctx, f"disputes:message:{message_id}:team",
        f"New message on dispute #{dispute['id']}: invoice {dispute['invoice_number']}",
        "The customer added a message to an open dispute.",
        dispute, customer, label, body, attachment_name,
    )


async def operator_replied(
    ctx: TenantContext, dispute: dict[str, Any], customer: dict[str, Any], message_id: int,
    body: str,
) -> None:
    tr = translator(customer.get("locale"))
    number = dispute["invoice_number"]
    name = await _display_name(ctx)
    await _to_customer(
        ctx, f"disputes:message:{message_id}:customer", customer,
        tr("New reply about invoice {number}", number=number),
        [tr("{name} answered your dispute about invoice {number}:", name=name, number=number)],
        "", body,
    )


async def dispute_resolved(
    ctx: TenantContext, dispute: dict[str, Any], customer: dict[str, Any], label: str
) -> None:
    tr = translator(customer.get("locale"))
    number = dispute["invoice_number"]
    if dispute["resolution"] == "accepted":
        first = tr("We accepted your dispute about invoice {number}.", number=number)
    else:
        first = tr("After review, we rejected your dispute about invoice {number}.",
                   number=number)
    note = dispute["resolution_note"]
    await _to_customer(
        ctx, f"disputes:{dispute['id']}:resolved:customer", customer,
        tr("Your dispute about invoice {number} is resolved", number=number),
        [first],
        tr("Note from {name}:", name=await _display_name(ctx)) if note else "", note,
    )
