"""The customer portal as a customer's clerk sees it, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from typing import Any

import pytest
from litestar import get, post
from litestar.response import Redirect, Template

from arportal import PortalDep, db, portal_page
from arportal.declarations import Theme
from arportal.hookspecs import hookimpl
from arportal.links import create_link, revoke_links
from arportal.models import (
    Allocation,
    CreditNote,
    Customer,
    CustomerToggleValue,
    Invoice,
    OutboxMessage,
    Payment,
    PortalLink,
    TenantSetting,
)
from arportal.portal.i18n import FR
from tests.conftest import SECRET, make_tenant, running_app

TODAY = dt.date(2026, 3, 15)

# --- helpers ---------------------------------------------------------------------------------


async def add_customer(
    tenant_id: int,
    external_id: str = "C-1",
    *,
    name: str = "Northwind Traders",
    email: str = "ap@northwind.test",
    locale: str = "en",
    currency: str = "EUR",
) -> int:
    rows = await Customer.insert(
        Customer(
            tenant=tenant_id, external_id=external_id, name=name, email=email,
            locale=locale, currency=currency,
        )
    ).returning(Customer.id)
    return int(rows[0]["id"])


async def add_invoice(
    tenant_id: int,
    customer_id: int,
    external_id: str,
    *,
    number: str | None = None,
    issue: dt.date = dt.date(2026, 2, 1),
    due: dt.date = dt.date(2026, 3, 1),
    total: int = 10000,
    due_amount: int | None = None,
    status: str = "open",
    currency: str = "EUR",
    pdf_url: str | None = None,
) -> int:
    rows = await Invoice.insert(
        Invoice(
            tenant=tenant_id, customer=customer_id, external_id=external_id,
            number=number or external_id, issue_date=issue, due_date=due, currency=currency,
            total_minor=total, amount_due_minor=total if due_amount is None else due_amount,
            status=status, pdf_url=pdf_url,
        )
    ).returning(Invoice.id)
    return int(rows[0]["id"])


async def add_many_invoices(
    tenant_id: int, customer_id: int, count: int, prefix: str = "N"
) -> None:
    await Invoice.insert(
        *[
            Invoice(
                tenant=tenant_id, customer=customer_id, external_id=f"{prefix}-{i:04d}",
                number=f"{prefix}{i:04d}", currency="EUR",
                issue_date=dt.date(2026, 1, 1) + dt.timedelta(days=i % 60),
                due_date=dt.date(2026, 2, 1) + dt.timedelta(days=i % 90),
                total_minor=1000 + i, amount_due_minor=1000 + i, status="open",
            )
            for i in range(count)
        ]
    )


async def new_link(tenant_id: int, customer_id: int, days: int = 25) -> str:
    return str((await create_link(SECRET.encode(), tenant_id, customer_id, days))["token"])


async def enter(client: Any, token: str) -> None:
    response = await client.get(f"/p/{token}")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/portal/"


async def set_portal_settings(tenant_id: int, **values: Any) -> None:
    await TenantSetting.insert(TenantSetting(tenant=tenant_id, section="portal", data=values))


def text(markup: str) -> str:
    """The visible text of some HTML, whitespace collapsed (babel's narrow spaces too)."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S)
    plain = html.unescape(re.sub(r"<[^>]+>", " ", markup))
    return re.sub(r"\s+", " ", plain.replace("\u202f", " ").replace("\xa0", " ")).strip()


def part(markup: str, start: str, end: str = "</section>") -> str:
    """The HTML from the first `start` to the next `end`."""
    index = markup.index(start)
    return markup[index : markup.index(end, index)]


def row_numbers(markup: str) -> list[str]:
    pattern = r'<th scope="row" class="invoice-number">\s*<a href="[^"]*">([^<]*)</a>'
    return re.findall(pattern, markup)




# --- entering the portal --------------------------------------------------------------------


async def test_link_becomes_a_session_and_home_shows_the_customer(client, tenant, frozen_today):
    customer = await add_customer(tenant.id)
    await add_invoice(tenant.id, customer, "I-1", number="INV-001")
    token = await new_link(tenant.id, customer)

    response = await client.get(f"/p/{token}")
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/"
    cookie = response.headers["set-cookie"]
    assert "arportal_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert token not in cookie

    home = await client.get("/portal/")
    assert home.status_code == 200
    assert token not in home.text, "pages reached through the session never carry the token"
    page = text(home.text)
    assert "Acme Corp" in page
    assert "Invoices for Northwind Traders" in page
    assert "INV-001" in page


async def test_every_page_also_answers_under_the_token_path(client, tenant, frozen_today):
    customer = await add_customer(tenant.id)
    await add_invoice(tenant.id, customer, "I-1", number="INV-001")
    token = await new_link(tenant.id, customer)
    home = await client.get(f"/p/{token}/")
    assert home.status_code == 200 and "INV-001" in home.text
    assert f'href="/p/{token}/invoices/I-1"' in home.text
    invoice = await client.get(f"/p/{token}/invoices/I-1")
    assert invoice.status_code == 200 and "Invoice INV-001" in text(invoice.text)


# --- home: balances, tabs, pagination --------------------------------------------------------


async def test_home_shows_what_is_owed_and_overdue_per_currency(client, tenant, frozen_today):
    customer = await add_customer(tenant.id)
    march, april, january = dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 1, 10)
    await add_invoice(tenant.id, customer, "E-1", due=march, total=123450)
    await add_invoice(tenant.id, customer, "E-2", due=april, total=50000, due_amount=20000)
    await add_invoice(tenant.id, customer, "U-1", due=january, total=30000, currency="USD")
    await add_invoice(
        tenant.id, customer, "U-2", total=99900, currency="USD", status="paid", due_amount=0
    )
    await add_invoice(tenant.id, customer, "V-1", total=777700, status="void", due=january)
    await enter(client, await new_link(tenant.id, customer))

    balances = text(part((await client.get("/portal/")).text, '<section class="balances"'))
    assert "Total due EUR €1,434.50 of which overdue €1,234.50" in balances
    assert "Total due USD $300.00 of which overdue $300.00" in balances
    assert "7,777" not in balances, "void invoices never count"


async def test_nothing_owed_says_so(client, tenant, frozen_today):
    customer = await add_customer(tenant.id)
    await add_invoice(tenant.id, customer, "P-1", status="paid", due_amount=0)
    await enter(client, await new_link(tenant.id, customer))
    assert "Nothing to pay: you are all set." in text((await client.get("/portal/")).text)


async def test_tabs_open_paid_all_and_void_never_shows(client, tenant, frozen_today):
    customer = await add_customer(tenant.id)
    await add_invoice(tenant.id, customer, "O-1", number="OPEN-LATE", due=dt.date(2026, 2, 1))
    await add_invoice(tenant.id, customer, "O-2", number="OPEN-SOON", due=dt.date(2026, 4, 1))
    await add_invoice(tenant.id, customer, "P-1", number="PAID-1", status="paid", due_amount=0)
    await add_invoice(tenant.id, customer, "V-1", number="VOID-1", status="void")
    await enter(client, await new_link(tenant.id, customer))

    open_tab = (await client.get("/portal/")).text
    assert row_numbers(open_tab) == ["OPEN-LATE", "OPEN-SOON"], "open: the oldest due first"
    assert '<a href="/portal/?status=open" aria-current="page">' in open_tab
    late_row = part(open_tab, "OPEN-LATE", "</tr>")
    assert "Overdue" in late_row
    assert "Overdue" not in part(open_tab, "OPEN-SOON", "</tr>")
    row = text(late_row)
    assert "Feb 1, 2026" in row and "€100.00" in row

    paid_tab = (await client.get("/portal/?status=paid")).text
    assert row_numbers(paid_tab) == ["PAID-1"]
    assert '<a href="/portal/?status=paid" aria-current="page">' in paid_tab

    all_tab = (await client.get("/portal/?status=all")).text
    assert sorted(row_numbers(all_tab)) == ["OPEN-LATE", "OPEN-SOON", "PAID-1"]
    for page in (open_tab, paid_tab, all_tab):
        assert "VOID-1" not in page
    assert (await client.get("/portal/invoices/V-1")).status_code == 404

    assert row_numbers((await client.get("/portal/?status=bogus")).text) == row_numbers(open_tab)


async def test_invoices_are_paged_fifty_at_a_time_forward_and_back(client, tenant, frozen_today):
    customer = await add_customer(tenant.id)
    await add_many_invoices(tenant.id, customer, 120)
    await enter(client, await new_link(tenant.id, customer))

    seen: list[str] = []
    pages: list[list[str]] = []
    url = "/portal/?status=open"
    while url:
        markup = (await client.get(url)).text
        numbers = row_numbers(markup)
        pages.append(numbers)
        seen.extend(numbers)
        found = re.search(r'<a href="([^"]+)" rel="next">', markup)
        url = html.unescape(found.group(1)) if found else ""
    assert [len(p) for p in pages] == [50, 50, 20]
    assert len(set(seen)) == 120, "no invoice twice, none missed"

    last = (await client.get(
        html.unescape(re.search(r'href="([^"]+)" rel="next"',
                                (await client.get("/portal/")).text).group(1))
    )).text
    back = re.search(r'<a href="([^"]+)" rel="prev">', last)
    assert back, "a page after the first links back"
    assert row_numbers((await client.get(html.unescape(back.group(1)))).text) == pages[0]
    assert "First page" in text(last)
    assert "Previous page" not in text((await client.get("/portal/")).text)

    garbage = await client.get("/portal/?after=1;DROP TABLE invoice&before=x")
    assert garbage.status_code == 200 and row_numbers(garbage.text) == pages[0]


async def test_page_size_setting(client, tenant, frozen_today):
    customer = await add_customer(tenant.id)
    await add_many_invoices(tenant.id, customer, 25)
    await set_portal_settings(tenant.id, page_size=10)
    await enter(client, await new_link(tenant.id, customer))
    assert len(row_numbers((await client.get("/portal/?status=all")).text)) == 10


async def test_home_makes_the_same_number_of_queries_for_5_and_120_invoices(
    client, tenant, frozen_today
):
    small = await add_customer(tenant.id, "SMALL")
    big = await add_customer(tenant.id, "BIG")
    await add_many_invoices(tenant.id, small, 5, prefix="S")
    await add_many_invoices(tenant.id, big, 120, prefix="B")
    counts = {}
    for name, customer in (("small", small), ("big", big)):
        await enter(client, await new_link(tenant.id, customer))
        for url in ("/portal/", "/portal/?status=all"):
            with db.count_queries() as queries:
                response = await client.get(url)
            assert response.status_code == 200
            counts[(name, url)] = queries[0]
        first = "S-0000" if name == "small" else "B-0000"
        with db.count_queries() as queries:
            assert (await client.get(f"/portal/invoices/{first}")).status_code == 200
        counts[(name, "invoice")] = queries[0]
    assert counts[("small", "/portal/")] == counts[("big", "/portal/")]
    assert counts[("small", "/portal/?status=all")] == counts[("big", "/portal/?status=all")]
    assert counts[("small", "invoice")] == counts[("big", "invoice")]
    assert counts[("big", "/portal/")] <= 3, counts


async def test_a_returning_visit_reads_home_with_the_link_look_up_and_stays_current(
    client, tenant, frozen_today
):
    """Once this process has served the session, the home page's data comes in the same
    statement as the link look-up; it is still today's data, under today's settings, and a
    revoked link still shows nothing."""
    customer = await add_customer(tenant.id)
    await add_many_invoices(tenant.id, customer, 12)
    await enter(client, await new_link(tenant.id, customer))
    assert (await client.get("/portal/")).status_code == 200
    with db.count_queries() as queries:
        again = await client.get("/portal/")
    assert queries[0] == 1, "one statement: the link, its context and the page"
    assert len(row_numbers(again.text)) == 12

    await add_invoice(tenant.id, customer, "NEW", number="INV-NEW", due=dt.date(2026, 1, 2))
    assert row_numbers((await client.get("/portal/")).text)[0] == "INV-NEW"

    await set_portal_settings(tenant.id, page_size=10)
    assert len(row_numbers((await client.get("/portal/")).text)) == 10
    with db.count_queries() as queries:
        paid = await client.get("/portal/?status=paid")
    assert paid.status_code == 200 and row_numbers(paid.text) == []
    assert queries[0] == 1, "another tab is prefetched too"

    await revoke_links(tenant.id, customer)
    gone = await client.get("/portal/")
    assert gone.status_code == 404
    assert "INV-NEW" not in gone.text and "Acme" not in gone.text


async def test_hide_future_invoices_uses_the_tenants_today(client, tenant, frozen_today):
    customer = await add_customer(tenant.id)
    await add_invoice(tenant.id, customer, "NOW", issue=TODAY, total=1000)
    await add_invoice(tenant.id, customer, "LATER", issue=TODAY + dt.timedelta(days=1), total=5000)
    await enter(client, await new_link(tenant.id, customer))

    shown = (await client.get("/portal/?status=all")).text
    assert sorted(row_numbers(shown)) == ["LATER", "NOW"]

    await set_portal_settings(tenant.id, hide_future_invoices=True, timezone="Pacific/Auckland")
    hidden = (await client.get("/portal/?status=all")).text
    assert row_numbers(hidden) == ["NOW"]
    assert "€10.00" in text(part(hidden, '<section class="balances"'))
    assert "€60.00" not in hidden, "a hidden invoice does not count in the balance either"
    assert (await client.get("/portal/invoices/LATER")).status_code == 404
    assert (await client.get("/portal/invoices/NOW")).status_code == 200


# --- the invoice page ------------------------------------------------------------------------


async def test_invoice_page_shows_details_payments_and_credits(client, tenant, frozen_today):
    customer = await add_customer(tenant.id)
    invoice = await add_invoice(
        tenant.id, customer, "I-9", number="INV-009", issue=dt.date(2026, 1, 5),
        due=dt.date(2026, 2, 4), total=100000, due_amount=25000,
    )
    payment = (await Payment.insert(
        Payment(tenant=tenant.id, customer=customer, external_id="PAY-77",
                date=dt.date(2026, 2, 10), currency="EUR", amount_minor=60000)
    ).returning(Payment.id))[0]["id"]
    credit = (await CreditNote.insert(
        CreditNote(tenant=tenant.id, customer=customer, external_id="CN-X", number="CN-0003",
                   date=dt.date(2026, 1, 20), currency="EUR", amount_minor=15000)
    ).returning(CreditNote.id))[0]["id"]
    await Allocation.insert(
        Allocation(tenant=tenant.id, invoice=invoice, payment=payment, amount_minor=60000),
        Allocation(tenant=tenant.id, invoice=invoice, credit_note=credit, amount_minor=15000),
    )
    await enter(client, await new_link(tenant.id, customer))

    home = (await client.get("/portal/")).text
    assert 'href="/portal/invoices/I-9"' in home
    page = await client.get("/portal/invoices/I-9")
    assert page.status_code == 200
    shown = text(page.text)
    assert "Invoice INV-009" in shown
    assert "Overdue" in shown
    assert "Issue date Jan 5, 2026" in shown and "Due date Feb 4, 2026" in shown
    assert "Total €1,000.00" in shown and "Amount due €250.00" in shown
    allocations = text(part(page.text, '<section class="allocations"'))
    assert allocations.index("Credit note CN-0003") < allocations.index("Payment PAY-77")
    assert "Jan 20, 2026 Credit note CN-0003 €150.00" in allocations
    assert "Feb 10, 2026 Payment PAY-77 €600.00" in allocations
    assert "Download PDF" not in shown
    assert (await client.get("/portal/invoices/I-9/pdf")).status_code == 404
    assert (await client.get("/portal/invoices/NOPE")).status_code == 404


@pytest.mark.parametrize(
    ("pdf_url", "served"),
    [
        ("https://erp.example/pdf/INV-1.pdf", True),
        ("/files/ab12cd.pdf", True),
        ("javascript:alert(1)", False),
        ("//evil.example/x.pdf", False),
    ],
)
async def test_invoice_pdf_link(client, tenant, frozen_today, pdf_url, served):
    customer = await add_customer(tenant.id)
    await add_invoice(tenant.id, customer, "I-1", pdf_url=pdf_url)
    await enter(client, await new_link(tenant.id, customer))
    page = (await client.get("/portal/invoices/I-1")).text
    response = await client.get("/portal/invoices/I-1/pdf")
    if served:
        assert '<a class="button" href="/portal/invoices/I-1/pdf">Download PDF</a>' in page
        assert response.status_code == 303 and response.headers["location"] == pdf_url
    else:
        assert "Download PDF" not in page and pdf_url not in page
        assert response.status_code == 404


async def test_external_ids_with_a_slash_are_reachable(client, tenant, frozen_today):
    customer = await add_customer(tenant.id)
    await add_invoice(tenant.id, customer, "FA/2026/0001", number="FA-1", pdf_url="https://x.example/a.pdf")
    await enter(client, await new_link(tenant.id, customer))
    home = (await client.get("/portal/")).text
    assert 'href="/portal/invoice?id=FA%2F2026%2F0001"' in home
    page = await client.get("/portal/invoice", params={"id": "FA/2026/0001"})
    assert page.status_code == 200 and "Invoice FA-1" in text(page.text)
    pdf = await client.get("/portal/invoice/pdf", params={"id": "FA/2026/0001"})
    assert pdf.status_code == 303


async def test_a_customer_sees_only_their_own_invoices(client, tenant, frozen_today):
    mine = await add_customer(tenant.id, "MINE")
    theirs = await add_customer(tenant.id, "THEIRS", name="Other Co")
    await add_invoice(tenant.id, theirs, "SECRET-1", number="SECRET-1")
    other_tenant = await make_tenant("other", "Other Tenant")
    other_customer = await add_customer(other_tenant.id, "MINE")
    await add_invoice(other_tenant.id, other_customer, "X-1", number="FOREIGN-1")
    await enter(client, await new_link(tenant.id, mine))
    assert row_numbers((await client.get("/portal/?status=all")).text) == []
    assert (await client.get("/portal/invoices/SECRET-1")).status_code == 404
    assert (await client.get("/portal/invoices/X-1")).status_code == 404


# --- locale ----------------------------------------------------------------------------------


async def test_french_customer_sees_french_amounts_dates_and_words(client, tenant, frozen_today):
    customer = await add_customer(tenant.id, locale="fr_FR")
    await add_invoice(
        tenant.id, customer, "I-1", number="F-1", total=123450, due=dt.date(2026, 2, 1)
    )
    await enter(client, await new_link(tenant.id, customer))
    home = await client.get("/portal/")
    assert '<html lang="fr">' in home.text
    shown = text(home.text)
    assert "Factures de Northwind Traders" in shown
    assert "1 234,50 €" in shown
    assert "1 févr. 2026" in shown
    assert "En retard" in shown
    invoice = text((await client.get("/portal/invoices/I-1")).text)
    assert "Facture F-1" in invoice and "Montant dû 1 234,50 €" in invoice


async def test_every_fixed_string_of_the_templates_has_a_french_translation():
    root = Path(__file__).resolve().parents[2] / "core" / "templates" / "core" / "portal"
    used: set[str] = set()
    for template in [*root.glob("*.html"), root.parent / "base.html"]:
        source = template.read_text()
        used.update(re.findall(r'\bt\("([^"]+)"', source))
        used.update(re.findall(r"\bt\('([^']+)'", source))
    used.update({"Open", "Paid", "All", "open", "paid"})
    missing = sorted(key for key in used if key not in FR)
    assert not missing, missing


# --- plugin slots ----------------------------------------------------------------------------


class BrandPlugin:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    @hookimpl
    def arportal_theme(self, ctx):
        return Theme(display_name="Acme Billing", primary_color="#123456", banner_color="#abcdef",
                     banner_text_color="red;}body{background:url(//evil)}")

    @hookimpl
    def arportal_portal_panels(self, ctx):
        self._count("panels")
        return ['<p class="promo">Pay by bank transfer</p>']

    @hookimpl
    async def arportal_invoice_badges(self, ctx, invoices):
        self._count("badges")
        return {invoices[0]["id"]: ["Disputed: pricing <b>"]}

    @hookimpl
    def arportal_invoice_actions(self, ctx, invoice):
        self._count("actions")
        return f'<a class="button" href="dispute/{invoice["external_id"]}">Dispute</a>'

    @hookimpl
    def arportal_contact_info(self, ctx):
        return {"email": "billing@acme.test", "phone": "+33 1 23 45 67 89", "junk": "x"}


class SecondContact:
    @hookimpl
    def arportal_contact_info(self, ctx):
        return {"name": "Accounts receivable team", "email": "not an address"}


class Boom:
    """A plugin whose every render slot raises."""

    @hookimpl
    def arportal_theme(self, ctx):
        raise RuntimeError("boom")

    @hookimpl
    def arportal_portal_panels(self, ctx):
        raise RuntimeError("boom")

    @hookimpl
    def arportal_invoice_badges(self, ctx, invoices):
        raise RuntimeError("boom")

    @hookimpl
    def arportal_invoice_actions(self, ctx, invoice):
        raise RuntimeError("boom")

    @hookimpl
    def arportal_contact_info(self, ctx):
        raise RuntimeError("boom")


async def test_plugin_slots_fill_the_pages(make_config, frozen_today):
    brand = BrandPlugin()
    plugins = [("brand", brand), ("contact2", SecondContact())]
    async with running_app(make_config(), plugins) as running:
        client = running.client
        tenant = await make_tenant()
        customer = await add_customer(tenant.id)
        for i in range(3):
            await add_invoice(
                tenant.id, customer, f"I-{i}", number=f"INV-{i}", due=dt.date(2026, 4, i + 1)
            )
        await enter(client, await new_link(tenant.id, customer))

        home = await client.get("/portal/")
        assert home.status_code == 200
        assert '<p class="brand-name">Acme Billing</p>' in home.text
        promo = '<section class="panel"><p class="promo">Pay by bank transfer</p></section>'
        assert promo in home.text
        assert "Disputed: pricing &lt;b&gt;" in part(home.text, "INV-0", "</tr>")
        assert brand.calls == {"panels": 1, "badges": 1}, "one badge call per page, no action calls"
        contact = part(home.text, '<aside class="contact"', "</aside>")
        assert "Questions about your invoices?" in contact
        assert '<a href="mailto:billing@acme.test">billing@acme.test</a>' in contact
        assert '<a href="tel:+33123456789">+33 1 23 45 67 89</a>' in contact
        assert "Accounts receivable team" in contact
        assert "not an address" not in contact and "junk" not in contact

        invoice = await client.get("/portal/invoices/I-1")
        assert '<a class="button" href="dispute/I-1">Dispute</a>' in invoice.text
        assert "Disputed: pricing" in invoice.text
        assert brand.calls["actions"] == 1

        css = await client.get("/portal/theme.css")
        assert css.headers["content-type"].startswith("text/css")
        assert "--primary:#123456" in css.text and "--banner:#abcdef" in css.text
        assert "evil" not in css.text, "a colour that is not #RRGGBB never reaches the CSS"
        assert "--banner-text:#000000" in css.text, "white on #abcdef would not read: black"
        assert "--link:#123456" in css.text


async def test_a_plugin_that_raises_never_takes_the_page_down(make_config, frozen_today):
    async with running_app(make_config(), [("boom", Boom())]) as running:
        client = running.client
        tenant = await make_tenant()
        customer = await add_customer(tenant.id)
        await add_invoice(tenant.id, customer, "I-1", number="INV-1")
        await enter(client, await new_link(tenant.id, customer))
        home = await client.get("/portal/")
        assert home.status_code == 200 and "INV-1" in home.text and "Acme Corp" in home.text
        assert (await client.get("/portal/invoices/I-1")).status_code == 200
        css = await client.get("/portal/theme.css")
        assert css.status_code == 200 and "--primary:#1f5fbf" in css.text


# --- disabled, expired, unknown --------------------------------------------------------------


async def test_disabled_portal_says_not_available(client, tenant):
    customer = await add_customer(tenant.id, locale="fr")
    await CustomerToggleValue.insert(
        CustomerToggleValue(tenant=tenant.id, customer=customer, key="portal", enabled=False)
    )
    response = await client.get(f"/p/{await new_link(tenant.id, customer)}")
    assert response.status_code == 403
    assert "Espace client indisponible" in text(response.text)
    assert "arportal_session" not in response.headers.get("set-cookie", "")


async def test_unknown_revoked_and_rotated_links_give_the_same_404(client, tenant):
    customer = await add_customer(tenant.id)
    revoked = await new_link(tenant.id, customer)
    await PortalLink.update({PortalLink.revoked_at: dt.datetime.now(dt.UTC)}).where(
        PortalLink.customer == customer
    )
    answers = [
        await client.get(f"/p/{token}")
        for token in ("x" * 43, revoked, "", "%00", "a/b")
    ]
    assert {a.status_code for a in answers} == {404}
    bodies = {a.text for a in answers[:2]}
    assert len(bodies) == 1, "nothing tells a revoked link from one that never existed"
    assert "Page not found" in text(answers[0].text)
    assert "Acme" not in answers[1].text


async def expire(token_customer: int) -> None:
    await PortalLink.update(
        {PortalLink.expires_at: dt.datetime.now(dt.UTC) - dt.timedelta(days=1)}
    ).where(PortalLink.customer == token_customer)


def csrf_field(markup: str) -> str:
    return re.search(r'name="_csrf_token" value="([^"]+)"', markup).group(1)


async def test_expired_link_offers_a_fresh_one_by_mail(client, tenant):
    customer = await add_customer(tenant.id, email="ap@northwind.test", locale="fr")
    token = await new_link(tenant.id, customer)
    await expire(customer)

    page = await client.get(f"/p/{token}")
    assert page.status_code == 410
    shown = text(page.text)
    assert "Ce lien a expiré" in shown and "M'envoyer un nouveau lien" in shown
    assert "ap@northwind.test" not in page.text
    assert f'<form method="post" action="/p/{token}/renew"' in page.text
    assert await OutboxMessage.count() == 0, "showing the page sends nothing"

    sent = await client.post(f"/p/{token}/renew", data={"_csrf_token": csrf_field(page.text)})
    assert sent.status_code == 303
    assert sent.headers["location"] == "/portal/link-sent?lang=fr"
    assert token not in sent.headers["location"]
    confirmation = await client.get(sent.headers["location"])
    assert confirmation.status_code == 200
    assert "Si nous avons une adresse enregistrée" in text(confirmation.text)
    assert "northwind" not in confirmation.text

    mails = await OutboxMessage.select().output(load_json=True)
    assert len(mails) == 1
    mail = mails[0]
    assert mail["to_addrs"] == ["ap@northwind.test"]
    assert mail["subject"] == "Votre nouveau lien vers l'espace client Acme Corp"
    fresh = re.search(r"http://testserver/p/([A-Za-z0-9_-]+)", mail["text_body"]).group(1)
    assert fresh != token
    assert "Bonjour Northwind Traders," in mail["text_body"]
    assert "&#39;" not in mail["text_body"], "the text part is not HTML-escaped"
    assert f'href="http://testserver/p/{fresh}"' in mail["html_body"]
    assert (await client.get(f"/p/{fresh}")).status_code == 303, "the new link works"
    assert (await client.get(f"/p/{token}")).status_code == 410, "the old one stays expired"


async def test_expired_session_also_offers_renewal(client, tenant):
    customer = await add_customer(tenant.id)
    await enter(client, await new_link(tenant.id, customer))
    await expire(customer)
    page = await client.get("/portal/")
    assert page.status_code == 410
    assert '<form method="post" action="/portal/renew"' in page.text
    sent = await client.post("/portal/renew", data={"_csrf_token": csrf_field(page.text)})
    assert sent.status_code == 303 and sent.headers["location"] == "/portal/link-sent?lang=en"
    assert await OutboxMessage.count() == 1


async def test_renewal_without_an_address_sends_nothing_and_says_the_same(client, tenant):
    customer = await add_customer(tenant.id, email="")
    token = await new_link(tenant.id, customer)
    await expire(customer)
    page = await client.get(f"/p/{token}")
    sent = await client.post(f"/p/{token}/renew", data={"_csrf_token": csrf_field(page.text)})
    assert sent.status_code == 303 and sent.headers["location"] == "/portal/link-sent?lang=en"
    assert await OutboxMessage.count() == 0
    assert await PortalLink.count() == 1


async def test_renewal_is_rate_limited_per_link(client, tenant):
    customer = await add_customer(tenant.id)
    token = await new_link(tenant.id, customer)
    await expire(customer)
    field = csrf_field((await client.get(f"/p/{token}")).text)
    answers = [
        (await client.post(f"/p/{token}/renew", data={"_csrf_token": field})).status_code
        for _ in range(4)
    ]
    assert answers == [303, 303, 303, 429]
    assert await OutboxMessage.count() == 3


async def test_renewing_a_live_link_just_goes_to_the_portal(client, tenant):
    customer = await add_customer(tenant.id)
    token = await new_link(tenant.id, customer)
    assert (await client.get(f"/p/{token}")).status_code == 303
    field = client.cookies.get("arportal_csrf")
    assert field
    response = await client.post(f"/p/{token}/renew", headers={"x-csrftoken": field})
    assert response.status_code == 303 and response.headers["location"] == f"/p/{token}/"
    assert await OutboxMessage.count() == 0


class LogoPlugin:
    def __init__(self, theme: Theme):
        self.theme = theme

    @hookimpl
    def arportal_theme(self, ctx):
        return self.theme


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")


@pytest.mark.parametrize(
    ("theme", "src"),
    [
        (Theme(logo_bytes=PNG, logo_content_type="image/png"), "/portal/logo"),
        (Theme(logo_bytes=b"<svg onload=alert(1)>", logo_content_type="image/svg+xml"), None),
        (Theme(logo_url="/files/logo.png"), "/files/logo.png"),
        (Theme(logo_url="https://cdn.example/logo.png"), None),
    ],
)
async def test_logo_is_served_from_the_portal_or_not_at_all(make_config, theme, src):
    async with running_app(make_config(), [("logo", LogoPlugin(theme))]) as running:
        client = running.client
        tenant = await make_tenant()
        await enter(client, await new_link(tenant.id, await add_customer(tenant.id)))
        home = (await client.get("/portal/")).text
        logo = await client.get("/portal/logo")
        if src is None:
            assert 'class="logo"' not in home
        else:
            assert f'<img class="logo" src="{src}" alt="">' in home
        if src == "/portal/logo":
            assert logo.status_code == 200 and logo.content == PNG
            assert logo.headers["content-type"] == "image/png"
        else:
            assert logo.status_code == 404


@pytest.mark.parametrize(
    ("primary", "text_colour", "link", "on_primary"),
    [
        ("#1f5fbf", "#ffffff", "#1f5fbf", "#ffffff"),
        ("#ffd500", "#ffffff", "#1f5fbf", "#000000"),
        ("#0b3d2e", "#0b3d2e", "#0b3d2e", "#ffffff"),
    ],
)
def test_brand_colours_keep_text_readable(primary, text_colour, link, on_primary):
    from arportal.portal.slots import brand, contrast

    portal = type("P", (), {"name": "Acme", "url": lambda self, path: "/portal/" + path})()
    result = brand(portal, Theme(primary_color=primary, primary_text_color=text_colour))
    assert result.link == link and result.primary_text == on_primary
    assert contrast(result.primary_text, result.primary) >= 4.5
    assert contrast(result.link, "#ffffff") >= 4.5


async def test_pages_before_the_customer_is_known_follow_accept_language(client):
    french = await client.get("/p/nope", headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"})
    assert french.status_code == 404 and "Page introuvable" in french.text
    english = await client.get("/p/nope", headers={"Accept-Language": "de-DE"})
    assert "Page not found" in english.text


def page_plugin(folder: Path) -> Any:
    (folder / "hello.html").write_text(
        '{% extends "core:base.html" %}{% block title %}Hello{% endblock %}'
        '{% block content %}<h1>{{ greeting }}, {{ portal.customer.name }}</h1>{% endblock %}'
    )

    @get("/hello")
    async def hello(portal: PortalDep) -> Template:
        return await portal_page(portal, "pageplug:hello.html", greeting="Bonjour")

    @post("/hello")
    async def hello_post(portal: PortalDep) -> Redirect:
        return Redirect(portal.url("hello"), status_code=303)

    class PagePlugin:
        @hookimpl
        def arportal_template_dirs(self):
            return [str(folder)]

        @hookimpl
        def arportal_portal_routes(self):
            return [hello, hello_post]

        @hookimpl
        def arportal_invoice_actions(self, ctx, invoice):
            return (
                f'<form method="post" action="{ctx.url("hello")}">'
                f'<input type="hidden" name="_csrf_token" value="{ctx.csrf_token}">'
                "<button>Go</button></form>"
            )

    return PagePlugin()


async def test_plugin_pages_use_the_portal_layout_and_slot_forms_carry_csrf(
    make_config, tmp_path, frozen_today
):
    async with running_app(make_config(), [("pageplug", page_plugin(tmp_path))]) as running:
        client = running.client
        tenant = await make_tenant()
        customer = await add_customer(tenant.id, locale="fr")
        await add_invoice(tenant.id, customer, "I-1")
        await enter(client, await new_link(tenant.id, customer))

        page = await client.get("/portal/hello")
        assert page.status_code == 200
        assert "<h1>Bonjour, Northwind Traders</h1>" in page.text
        assert '<p class="brand-name">Acme Corp</p>' in page.text
        assert '<html lang="fr">' in page.text and 'href="/portal/theme.css"' in page.text

        invoice = (await client.get("/portal/invoices/I-1")).text
        field = csrf_field(invoice)
        assert field
        posted = await client.post("/portal/hello", data={"_csrf_token": field})
        assert posted.status_code == 303 and posted.headers["location"] == "/portal/hello"


async def test_a_portal_path_no_route_matches_gets_the_html_404_page(client, tenant):
    customer = await add_customer(tenant.id)
    await enter(client, await new_link(tenant.id, customer))
    missing = await client.get("/portal/no/such/page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert missing.headers["referrer-policy"] == "no-referrer"
    api = await client.get("/api/v1/no-such-thing", headers=tenant.headers)
    assert api.status_code == 404 and api.json()["status_code"] == 404
