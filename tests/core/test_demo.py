"""`arportal serve --demo` seeds the demo tenant once, with what a demo needs to show."""

from __future__ import annotations

from arportal.demo import seed_demo
from arportal.models import Customer, Invoice, PortalLink, Tenant


async def test_demo_seed_has_the_promised_data_and_runs_once(app, frozen_today) -> None:
    report = await seed_demo(app.host, app.config)
    assert report.created and report.api_key.startswith("arp_")
    assert len(report.links) == 5
    assert all(url.startswith("http://testserver/p/") for _, url in report.links)

    customers = await Customer.select()
    assert len(customers) == 5
    assert {c["currency"] for c in customers} == {"USD", "EUR"}
    assert any(c["locale"] == "fr" for c in customers)
    invoices = await Invoice.select()
    assert len(invoices) == 40
    assert any(i["status"] == "paid" for i in invoices)
    assert any(i["status"] == "void" for i in invoices)
    open_invoices = [i for i in invoices if i["status"] == "open"]
    assert any(i["due_date"] < frozen_today for i in open_invoices), "some are overdue"
    assert any(i["due_date"] >= frozen_today for i in open_invoices), "some are not yet due"
    assert any(i["issue_date"] > frozen_today for i in invoices), "one is issued in the future"
    partly_paid = [i for i in open_invoices if 0 < i["amount_due_minor"] < i["total_minor"]]
    assert partly_paid

    again = await seed_demo(app.host, app.config)
    assert not again.created
    assert again.api_key != report.api_key
    assert len(await Tenant.select()) == 1
    assert await Invoice.count() == 40
    assert await PortalLink.count() == 5
    assert [url for _, url in again.links] == [url for _, url in report.links]


async def test_demo_portal_link_opens_the_portal(app, client, frozen_today) -> None:
    report = await seed_demo(app.host, app.config, today=frozen_today)
    name, url = report.links[0]
    response = await client.get(url.replace("http://testserver", ""), follow_redirects=True)
    assert response.status_code == 200
    assert name in response.text or "Demo Supplies" in response.text
