"""Mail about promises, through the core's outbox (text + HTML, sent by the mailer job).

The finance team (setting `notify_emails`, in English) hears of new, changed, withdrawn and
broken promises; the customer gets a confirmation of what they promised, changed or withdrew,
and a reminder the day before the promised date (setting `remind_customer`). Every mail has a
dedupe key naming what it is about, so a retried request or a re-run job never mails twice.
Callers enqueue inside the transaction that makes the change: the mail exists if and only if
the change does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from arportal import TenantContext, enqueue_mail
from arportal.plugins.promise_to_pay.i18n import MAIL_LOCALE, day, money, translator
from arportal.plugins.promise_to_pay.settings import SECTION, PromiseToPaySettings

TEAM_TEMPLATE = "promise_to_pay:mail/team"
CUSTOMER_TEMPLATE = "promise_to_pay:mail/customer"


def _settings(ctx: TenantContext) -> PromiseToPaySettings:
    return ctx.settings(SECTION)  # type: ignore[no-any-return]


def lines(promises: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    """What each promise covers: `number`, `amount` (formatted), `partial`."""
    return [
        {
            "number": p["invoice_number"],
            "amount": money(p["amount_minor"], p["currency"], locale),
            "partial": p["amount_minor"] < p["due_at_promise_minor"],
            "due": money(p["due_at_promise_minor"], p["currency"], locale),
        }
        for p in promises
    ]


def _team_subject(kind: str, customer: dict[str, Any], promises: list[dict[str, Any]]) -> str:
    name = customer["name"]
    when = day(promises[0]["promised_date"], MAIL_LOCALE)
    if kind == "made":
        count = len(promises)
        what = f"{count} invoices" if count > 1 else f"invoice {promises[0]['invoice_number']}"
        return f"Promise to pay from {name}: {what} by {when}"
    number = promises[0]["invoice_number"]
    if kind == "changed":
        return f"Promise to pay changed by {name}: invoice {number} now by {when}"
    if kind == "withdrawn":
        return f"Promise to pay withdrawn by {name}: invoice {number}"
    return f"Promise to pay broken: {name}, invoice {number}, promised for {when}"


async def notify_team(
    ctx: TenantContext,
    kind: str,
    customer: dict[str, Any],
    promises: list[dict[str, Any]],
    *,
    dedupe_key: str,
    note: str = "",
    previous_date: dt.date | None = None,
) -> None:
    """`kind`: made, changed, withdrawn or broken. Nothing when `notify_emails` is empty."""
    recipients = _settings(ctx).notify_emails
    if not recipients or not promises:
        return
    await enqueue_mail(
        ctx,
        to=list(recipients),
        subject=_team_subject(kind, customer, promises),
        template=TEAM_TEMPLATE,
        context={
            "kind": kind,
            "customer_name": customer["name"],
            "customer_external_id": customer["external_id"],
            "source": promises[0]["source"],
            "date": day(promises[0]["promised_date"], MAIL_LOCALE),
            "previous_date": day(previous_date, MAIL_LOCALE) if previous_date else "",
            "note": note,
            "lines": lines(promises, MAIL_LOCALE),
            "locale": MAIL_LOCALE,
        },
        dedupe_key=dedupe_key,
    )


_CUSTOMER_TEXT = {
    "made": ("Your promise to pay {tenant}",
             "Thank you: {tenant} received your promise to pay by {date}:"),
    "changed": ("Your promise to pay {tenant} was changed",
                "Your promise to pay {tenant} now says {date}:"),
    "withdrawn": ("Your promise to pay {tenant} was withdrawn",
                  "Your promise to pay {tenant} by {date} was withdrawn:"),
    "reminder": ("Reminder: payment promised to {tenant} for {date}",
                 "As promised, please pay {tenant} by tomorrow, {date}:"),
}


async def mail_customer(
    ctx: TenantContext,
    kind: str,
    customer: dict[str, Any],
    promises: list[dict[str, Any]],
    *,
    dedupe_key: str,
) -> None:
    """`kind`: made, changed, withdrawn or reminder; in the customer's language. Nothing when
    the customer has no email address."""
    if not customer.get("email") or not promises:
        return
    locale = customer.get("locale") or "en"
    t = translator(locale)
    subject, intro = _CUSTOMER_TEXT[kind]
    when = day(promises[0]["promised_date"], locale)
    await enqueue_mail(
        ctx,
        to=[customer["email"]],
        subject=t(subject, tenant=ctx.name, date=when),
        template=CUSTOMER_TEMPLATE,
        context={
            "locale": locale,
            "text": {
                "greeting": t("Hello {name},", name=customer["name"]),
                "intro": t(intro, tenant=ctx.name, date=when),
                "portal": t(
                    "Open your customer portal from the link you received to see or change "
                    "your promises."
                ),
            },
            "items": [
                t("Invoice {number}: {amount}", number=line["number"], amount=line["amount"])
                for line in lines(promises, locale)
            ],
        },
        dedupe_key=dedupe_key,
    )
