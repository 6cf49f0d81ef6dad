"""The mail autopay sends: the pre-debit notice, the receipt, a declined charge and an
expired card (to the customer, in their language, with the portal link), and a paused method
or a charge to check (to the operator's `autopay.operator_email`). Each has a dedupe key, so a
run that is repeated after a crash never mails twice."""

from __future__ import annotations

from typing import Any

from arportal import TenantContext, enqueue_mail, portal_urls
from arportal.plugins.autopay.i18n import translator


def one_line(text: str) -> str:
    """A subject made of the operator's data (names, invoice numbers) on one line."""
    return " ".join(text.split())


def method_label(tr: Any, brand: str, last4: str) -> str:
    return tr("{brand} ending in {last4}", brand=(brand or "card").title(), last4=last4)


async def _to_customer(
    ctx: TenantContext, customer: dict[str, Any], subject: str, template: str,
    dedupe_key: str, **context: Any,
) -> None:
    if not customer.get("email"):
        return
    urls = await portal_urls(ctx, [customer["id"]])
    await enqueue_mail(
        ctx,
        to=[customer["email"]],
        subject=one_line(subject),
        template=f"autopay:mail/{template}",
        context={
            "tr": translator(customer["locale"]),
            "locale": customer["locale"] or "en",
            "customer_name": customer["name"],
            "portal_url": urls.get(customer["id"]),
            **context,
        },
        dedupe_key=dedupe_key,
    )


def customer_of(row: dict[str, Any]) -> dict[str, Any]:
    """The customer fields of a candidate or attempt row."""
    return {
        "id": row["customer"],
        "external_id": row["customer_external_id"],
        "name": row["customer_name"],
        "email": row["customer_email"],
        "locale": row["customer_locale"],
    }


async def notice(
    ctx: TenantContext, customer: dict[str, Any], items: list[dict[str, Any]], method: str,
    dedupe_key: str,
) -> None:
    """`items`: `{"number", "amount_minor", "currency", "charge_on"}` per invoice."""
    tr = translator(customer["locale"])
    await _to_customer(
        ctx, customer, tr("Upcoming automatic payment to {tenant}", tenant=ctx.name),
        "notice", dedupe_key, items=items, method=method,
    )


async def receipt(ctx: TenantContext, attempt: dict[str, Any], method: str) -> None:
    tr = translator(attempt["customer_locale"])
    await _to_customer(
        ctx, customer_of(attempt),
        tr("Receipt: invoice {number} paid", number=attempt["invoice_number"]),
        "receipt", f"autopay-receipt-{attempt['idempotency_key']}", attempt=attempt,
        method=method,
    )


async def declined(ctx: TenantContext, attempt: dict[str, Any], method: str) -> None:
    tr = translator(attempt["customer_locale"])
    await _to_customer(
        ctx, customer_of(attempt),
        tr("Automatic payment of invoice {number} declined", number=attempt["invoice_number"]),
        "declined", f"autopay-declined-{attempt['idempotency_key']}", attempt=attempt,
        method=method,
    )


async def expired(ctx: TenantContext, customer: dict[str, Any], method: str, key: str) -> None:
    tr = translator(customer["locale"])
    await _to_customer(
        ctx, customer, tr("Your card for automatic payments has expired"), "expired",
        f"autopay-expired-{key}", method=method,
    )


async def to_operator(
    ctx: TenantContext, subject: str, template: str, dedupe_key: str, **context: Any
) -> None:
    address = ctx.settings("autopay").operator_email
    if not address:
        return
    await enqueue_mail(
        ctx, to=[address], subject=one_line(subject), template=f"autopay:mail/{template}",
        context={"tr": translator("en"), "locale": "en", **context}, dedupe_key=dedupe_key,
    )
