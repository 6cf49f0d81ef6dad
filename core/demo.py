"""The `demo` tenant for `arportal serve --demo`: 5 customers, 40 invoices (paid, open, overdue,
issued in the future, void), in USD and EUR, one customer reading French. Seeded once."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from arportal.api_keys import create_api_key
from arportal.links import create_link, current_links, derive_token, link_state, portal_url
from arportal.models import Customer
from arportal.tenancy import create_tenant, get_tenant_by_slug, load_context

if TYPE_CHECKING:
    from arportal.config import Config
    from arportal.plugin_host import PluginHost

log = logging.getLogger("arportal.demo")

DEMO_SLUG = "demo"

CUSTOMERS = [
    ("C-1001", "Northwind Traders", "ap@northwind.example", "USD", "en"),
    ("C-1002", "Contoso Ltd", "payables@contoso.example", "USD", "en"),
    ("C-1003", "Fabrikam SARL", "comptabilite@fabrikam.example", "EUR", "fr"),
    ("C-1004", "Globex GmbH", "kreditoren@globex.example", "EUR", "en"),
    ("C-1005", "Initech Inc", "ap@initech.example", "USD", "en"),
]

# (days before today the invoice was issued, state): 8 invoices per customer.
SCHEDULE = [
    (-6, "future"),
    (5, "open"),
    (28, "open"),
    (45, "overdue"),
    (75, "overdue"),
    (110, "paid"),
    (150, "paid"),
    (200, "paid"),
]


@dataclass
class DemoReport:
    created: bool
    api_key: str
    links: list[tuple[str, str]] = field(default_factory=list)

    def describe(self, base_url: str) -> str:
        lines = [
            "Demo tenant 'demo' " + ("seeded." if self.created else "already seeded; reusing it."),
            f"Admin API key (new, shown once): {self.api_key}",
            f"  try: curl -H 'Authorization: Bearer {self.api_key}' {base_url}/api/v1/invoices",
            "Portal links:",
        ]
        lines += [f"  {name:<20} {url}" for name, url in self.links]
        return "\n".join(lines)


async def _apply_demo_settings(ctx: Any) -> None:
    """Every installed plugin's demo settings (`arportal_demo_settings`), each on its own, so
    one plugin's invalid patch does not keep the others' features off."""
    from arportal.settings import SettingsError
    from arportal.settings_store import apply_settings

    patches = await ctx.host.call_by_plugin("arportal_demo_settings", None, isolate=True)
    for plugin_name, patch in patches:
        try:
            await apply_settings(ctx, patch)
        except (SettingsError, ValueError) as exc:
            log.warning("demo settings of plugin %r left out: %s", plugin_name, exc)


def _amount(customer_index: int, invoice_index: int) -> Decimal:
    cents = 1_250_00 + customer_index * 731_45 + invoice_index * 389_10
    return Decimal(cents) / 100


async def seed_demo(host: PluginHost, config: Config, today: dt.date | None = None) -> DemoReport:
    from arportal.ledger import (
        AllocationIn,
        CustomerIn,
        InvoiceIn,
        PaymentIn,
        upsert_customers,
        upsert_invoices,
        upsert_payments,
    )

    tenant = await get_tenant_by_slug(DEMO_SLUG)
    created = tenant is None
    if tenant is None:
        tenant = await create_tenant(DEMO_SLUG, "Demo Supplies Ltd")
    ctx = await load_context(host, config, tenant, actor="system:demo")
    if created:
        await _apply_demo_settings(ctx)
    today = today or ctx.today()
    if created:
        await upsert_customers(ctx, [
            CustomerIn(external_id=ext, name=name, email=email, currency=cur, locale=loc)
            for ext, name, email, cur, loc in CUSTOMERS
        ])
        invoices, payments = [], []
        for c_index, (ext, _name, _email, currency, _loc) in enumerate(CUSTOMERS):
            for i_index, (days_ago, state) in enumerate(SCHEDULE):
                issue = today - dt.timedelta(days=days_ago)
                number = f"INV-{2026}{c_index + 1:02d}{i_index + 1:02d}"
                total = _amount(c_index, i_index)
                void = c_index == 4 and i_index == 2
                invoices.append(InvoiceIn(
                    external_id=number, customer_external_id=ext, number=number,
                    issue_date=issue, due_date=issue + dt.timedelta(days=30),
                    currency=currency, total=total, status="void" if void else "open",
                ))
                if state == "paid":
                    payments.append(PaymentIn(
                        external_id=f"PAY-{number}", customer_external_id=ext,
                        date=issue + dt.timedelta(days=25), currency=currency, amount=total,
                        allocations=[AllocationIn(invoice_external_id=number, amount=total)],
                    ))
                elif state == "overdue" and i_index == 3:
                    part = (total / 4).quantize(Decimal("0.01"))
                    payments.append(PaymentIn(
                        external_id=f"PAY-{number}-1", customer_external_id=ext,
                        date=today - dt.timedelta(days=3), currency=currency, amount=part,
                        allocations=[AllocationIn(invoice_external_id=number, amount=part)],
                    ))
        await upsert_invoices(ctx, invoices)
        await upsert_payments(ctx, payments)
    key, _ = await create_api_key(tenant["id"], name="demo")
    customers = await Customer.select(Customer.id, Customer.name).where(
        Customer.tenant == tenant["id"]
    ).order_by(Customer.external_id)
    links = await current_links(tenant["id"], [c["id"] for c in customers])
    secret = config.resolved_secret()
    report = DemoReport(created=created, api_key=key)
    for customer in customers:
        link: dict[str, Any] | None = links.get(customer["id"])
        if link is None or link_state(link) != "ok":
            link = await create_link(
                secret, tenant["id"], customer["id"], ctx.portal_settings.link_validity_days
            )
        url = portal_url(config.base_url, derive_token(secret, link["nonce"]))
        report.links.append((customer["name"], url))
    return report
