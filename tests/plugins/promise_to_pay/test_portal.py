"""The customer's side: promising one invoice or a selection, all or nothing, seeing the
promise on the invoices, changing its date and withdrawing it; and the feature switched off."""

from __future__ import annotations

import datetime as dt
import re

from arportal.clock import freeze_today
from tests.plugins.promise_to_pay.conftest import TEAM, Shop, make_shop


def checked(page: str, external_id: str) -> bool:
    return re.search(rf'value="{external_id}" id="invoice-\d+" checked', page) is not None


async def test_promise_one_invoice_from_its_page(shop: Shop) -> None:
    await shop.enter()
    invoice = await shop.client.get("/portal/invoices/INV-1")
    assert 'href="/portal/promises/new?invoice=INV-1"' in invoice.text
    assert ">Promise to pay<" in invoice.text

    form, token = await shop.form("promises/new?invoice=INV-1")
    assert checked(form.text, "INV-1") and not checked(form.text, "INV-2")
    assert 'min="2026-03-15" max="2026-04-14"' in form.text
    assert "PAID-4" not in form.text and "VOID-5" not in form.text and "OTHER-1" not in form.text

    sent = await shop.post(
        "promises", {"invoice": "INV-1", "date": "2026-03-20", "note": "Paid by transfer"}, token
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == "/portal/promises?done=made"
    listing = await shop.client.get("/portal/promises?done=made")
    assert "Thank you: your promise to pay was sent." in listing.text
    assert "INV-1" in listing.text and "pending" in listing.text

    (promise,) = await shop.promises()
    assert (promise["status"], promise["source"], promise["note"]) == (
        "pending", "customer", "Paid by transfer"
    )
    assert str(promise["promised_date"]) == "2026-03-20"
    assert promise["amount_minor"] == promise["due_at_promise_minor"] == 10000

    home = await shop.client.get("/portal/")
    assert home.text.count("Payment promised for March 20, 2026") == 1
    page = await shop.client.get("/portal/invoices/INV-1")
    assert "Payment promised for March 20, 2026" in page.text
    assert f'href="/portal/promises/{promise["id"]}"' in page.text
    assert await shop.history() == [("made", "customer")]
    assert await shop.audit() == ["promise_made"]


async def test_promise_a_selection_with_partial_amounts(shop: Shop) -> None:
    await shop.settings(allow_partial=True)
    await shop.enter()
    form, token = await shop.form("promises/new")
    assert 'name="amount_INV-2"' in form.text
    sent = await shop.post(
        "promises",
        {"invoice": ["INV-2", "INV-3"], "date": "2026-04-14", "amount_INV-2": "1,000.00"},
        token,
    )
    assert sent.status_code == 422
    assert "Enter at most €250.00, the amount due." in sent.text
    assert await shop.promises() == []

    sent = await shop.post(
        "promises",
        {"invoice": ["INV-2", "INV-3"], "date": "2026-04-14", "amount_INV-2": "120.50",
         "amount_INV-3": ""},
        token,
    )
    assert sent.status_code == 303
    rows = {row["invoice"]: row for row in await shop.promises()}
    assert sorted(row["amount_minor"] for row in rows.values()) == [8000, 12050]
    assert len({row["batch"] for row in rows.values()}) == 1, "one promise, several invoices"

    mails = await shop.outbox()
    team = next(m for m in mails if m["to_addrs"] == [TEAM])
    assert team["subject"] == "Promise to pay from Northwind: 2 invoices by April 14, 2026"
    assert "Invoice INV-2: €120.50 of €250.00 due" in team["text_body"]
    assert "Invoice INV-3: €80.00" in team["text_body"]
    customer = next(m for m in mails if m["to_addrs"] == ["ap@northwind.test"])
    assert customer["subject"] == "Your promise to pay Acme Supplies"
    assert "Invoice INV-2: €120.50" in customer["text_body"]
    assert customer["html_body"] and "<li>Invoice INV-3: €80.00</li>" in customer["html_body"]


async def test_a_bad_invoice_saves_nothing_and_each_field_says_why(shop: Shop) -> None:
    other = await make_shop(shop.app, "rival")
    await shop.enter("C1")
    _form, token = await shop.form("promises/new")
    await shop.promise(["INV-1"], "2026-03-20")

    cases = [
        ({"invoice": ["INV-2", "PAID-4"], "date": "2026-03-20"},
         "Invoice PAID-4 is already paid."),
        ({"invoice": ["INV-2", "VOID-5"], "date": "2026-03-20"}, "Invoice VOID-5 is void."),
        ({"invoice": ["INV-2", "OTHER-1"], "date": "2026-03-20"},
         "There is no invoice OTHER-1 on your account."),
        ({"invoice": ["INV-2", "INV-1"], "date": "2026-03-20"},
         "Invoice INV-1 already has a promise to pay for March 20, 2026."),
        ({"invoice": ["INV-2"], "date": "2026-03-14"},
         "The date cannot be before today (March 15, 2026)."),
        ({"invoice": ["INV-2"], "date": "2026-04-15"},
         "Choose a date no later than April 14, 2026."),
        ({"invoice": ["INV-2"], "date": "14/04/2026"}, "Enter the date as YYYY-MM-DD."),
        ({"invoice": ["INV-2"], "date": ""}, "Choose a payment date."),
        ({"date": "2026-03-20"}, "Select at least one invoice."),
        ({"invoice": ["INV-2"], "date": "2026-03-20", "amount_INV-2": "10"},
         "Partial amounts are not accepted: leave the amount empty."),
        ({"invoice": ["INV-2"], "date": "2026-03-20", "note": "x" * 1001},
         "The note can have at most 1000 characters."),
    ]
    for data, message in cases:
        sent = await shop.post("promises", data, token)
        assert sent.status_code == 422, data
        assert message in sent.text, (data, sent.text)
        assert 'role="alert"' in sent.text
    assert len(await shop.promises()) == 1, "only the first promise was ever saved"
    assert await other.promises() == []

    # Several problems at once, each next to its field; what was typed is kept.
    sent = await shop.post(
        "promises", {"invoice": ["INV-2", "PAID-4"], "date": "2026-05-01", "note": "soon"}, token
    )
    text = sent.text
    assert 'id="date-error">Choose a date no later than April 14, 2026.' in text
    assert "Invoice PAID-4 is already paid." in text
    assert 'value="2026-05-01"' in text and ">soon</textarea>" in text
    assert checked(text, "INV-2") and checked(text, "PAID-4") is False


async def test_forms_need_the_csrf_token(shop: Shop) -> None:
    await shop.enter()
    refused = await shop.client.post(
        "/portal/promises", data={"invoice": "INV-1", "date": "2026-03-20"}
    )
    assert refused.status_code == 403
    assert await shop.promises() == []


async def test_change_the_date_then_withdraw(shop: Shop) -> None:
    await shop.enter()
    await shop.promise(["INV-2"], "2026-03-20")
    (promise,) = await shop.promises()
    path = f"promises/{promise['id']}"

    freeze_today(dt.date(2026, 3, 18))
    page, token = await shop.form(path)
    assert 'min="2026-03-18" max="2026-04-14"' in page.text, "counted from the day it was made"
    refused = await shop.post(f"{path}/change", {"date": "2026-04-15"}, token)
    assert refused.status_code == 422
    assert "Choose a date no later than April 14, 2026." in refused.text
    refused = await shop.post(f"{path}/change", {"date": "2026-03-20"}, token)
    assert "That is already the promised date." in refused.text

    changed = await shop.post(f"{path}/change", {"date": "2026-04-10", "note": "Cash flow"}, token)
    assert changed.status_code == 303
    page = await shop.client.get(changed.headers["location"])
    assert "Your promise now says April 10, 2026." in page.text
    assert "Mar 20, 2026 → Apr 10, 2026 · Cash flow" in page.text
    home = await shop.client.get("/portal/")
    assert "Payment promised for April 10, 2026" in home.text

    withdrawn = await shop.post(f"{path}/withdraw", {}, token)
    assert withdrawn.status_code == 303
    page = await shop.client.get(withdrawn.headers["location"])
    assert "Your promise was withdrawn." in page.text
    assert "Change the date" not in page.text
    assert "Payment promised" not in (await shop.client.get("/portal/")).text
    again = await shop.post(f"{path}/change", {"date": "2026-04-11"}, token)
    assert again.status_code == 422
    assert "This promise is no longer pending." in again.text

    assert await shop.history() == [
        ("made", "customer"), ("changed", "customer"), ("withdrawn", "customer")
    ]
    assert await shop.audit() == ["promise_made", "promise_changed", "promise_withdrawn"]
    subjects = [m["subject"] for m in await shop.outbox() if m["to_addrs"] == [TEAM]]
    assert subjects == [
        "Promise to pay from Northwind: invoice INV-2 by March 20, 2026",
        "Promise to pay changed by Northwind: invoice INV-2 now by April 10, 2026",
        "Promise to pay withdrawn by Northwind: invoice INV-2",
    ]
    # The invoice can be promised again.
    assert (await shop.promise(["INV-2"], "2026-03-25")).status_code == 303


async def test_a_past_date_cannot_be_changed_or_withdrawn(shop: Shop) -> None:
    await shop.enter()
    await shop.promise(["INV-2"], "2026-03-16")
    (promise,) = await shop.promises()
    path = f"promises/{promise['id']}"
    _page, token = await shop.form(path)
    freeze_today(dt.date(2026, 3, 17))
    page = await shop.client.get(f"/portal/{path}")
    assert "This promise can no longer be changed." in page.text
    refused = await shop.post(f"{path}/withdraw", {}, token)
    assert refused.status_code == 422
    assert "The promised date has passed" in refused.text
    assert (await shop.promises())[0]["status"] == "pending"


async def test_another_customers_promise_is_not_found(shop: Shop) -> None:
    await shop.enter("C1")
    await shop.promise(["INV-1"], "2026-03-20")
    (promise,) = await shop.promises()
    await shop.enter("C2")
    _page, token = await shop.form("promises/new")
    assert (await shop.client.get(f"/portal/promises/{promise['id']}")).status_code == 404
    refused = await shop.post(f"promises/{promise['id']}/withdraw", {}, token)
    assert refused.status_code == 404
    assert (await shop.promises())[0]["status"] == "pending"


async def test_french_customer(shop: Shop) -> None:
    await shop.settings(allow_partial=True)
    await shop.enter("C2")
    form, token = await shop.form("promises/new")
    assert "Promesse de paiement" in form.text and "Date de paiement" in form.text
    assert "Aller au contenu" in form.text, "the core's words stay translated"
    refused = await shop.post("promises", {"invoice": "OTHER-1", "date": "2026-06-01"}, token)
    assert "Choisissez une date au plus tard le 14 avril 2026." in refused.text
    sent = await shop.post(
        "promises", {"invoice": "OTHER-1", "date": "2026-03-31", "amount_OTHER-1": "40,50"}, token
    )
    assert sent.status_code == 303
    (promise,) = await shop.promises()
    assert promise["amount_minor"] == 4050
    home = await shop.client.get("/portal/")
    assert "Paiement promis pour le 31 mars 2026" in home.text
    mail = next(m for m in await shop.outbox() if m["to_addrs"] == ["compta@bistro.test"])
    assert mail["subject"] == "Votre promesse de paiement à Acme Supplies"
    assert "Facture OTHER-1 : 40,50\u00a0€" in mail["text_body"]


async def test_feature_off_hides_everything_and_keeps_promises(shop: Shop) -> None:
    await shop.enter()
    await shop.promise(["INV-1"], "2026-03-20")
    (promise,) = await shop.promises()
    await shop.feature(False)

    for path in ("promises", "promises/new", f"promises/{promise['id']}"):
        assert (await shop.client.get(f"/portal/{path}")).status_code == 404, path
    home = await shop.client.get("/portal/")
    assert "Payment promised" not in home.text and "Promises to pay" not in home.text
    page = await shop.client.get("/portal/invoices/INV-2")
    assert "Promise to pay" not in page.text
    for method, path in (("GET", "/promises"), ("GET", f"/promises/{promise['id']}"),
                         ("POST", f"/promises/{promise['id']}/cancel")):
        assert (await shop.client.request(
            method, f"/api/v1{path}", headers=shop.tenant.headers
        )).status_code == 404

    assert (await shop.promises())[0]["status"] == "pending", "stored promises stay"
    await shop.feature(True)
    assert "Payment promised for March 20, 2026" in (await shop.client.get("/portal/")).text
