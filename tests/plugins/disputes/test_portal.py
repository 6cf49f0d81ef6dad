"""The customer's side of disputes, on SQLite and PostgreSQL: the action, the form and its
refusals, the thread, the badge, attachments, and the feature switched off."""

from __future__ import annotations

import pytest

from arportal.models import StoredFile
from arportal.plugins.disputes.models import Dispute, DisputeMessage
from tests.conftest import make_tenant, running_app
from tests.core.test_portal import text

from .conftest import PDF, PNG, TEAM, Shop, outbox


async def disputes_of(shop: Shop) -> list[dict]:
    return await Dispute.select().where(Dispute.tenant == shop.tenant.id).order_by(Dispute.id)


# --- the action and the form -------------------------------------------------------------------


async def test_feature_off_draws_nothing_and_its_pages_do_not_exist(shop):
    customer = await shop.customer()
    await shop.invoices()
    await shop.enter(customer)
    page = await shop.client.get("/portal/invoices/I-1")
    assert page.status_code == 200
    assert "disputes/new" not in page.text and "Dispute" not in text(page.text)
    assert (await shop.client.get("/portal/disputes/new?invoice=I-1")).status_code == 404
    forged = await shop.client.post(
        "/portal/disputes",
        data={"_csrf_token": await shop.csrf(), "invoice": "I-1", "reason": "other",
              "message": "x"},
    )
    assert forged.status_code == 404
    assert await disputes_of(shop) == []

    await shop.enable()
    page = await shop.client.get("/portal/invoices/I-1")
    assert 'href="/portal/disputes/new?invoice=I-1">Dispute</a>' in page.text
    paid = await shop.client.get("/portal/invoices/I-PAID")
    assert "disputes/new" not in paid.text, "a paid invoice has no Dispute action"


async def test_the_form_offers_the_tenants_reasons_and_carries_csrf(ready):
    page = await ready.client.get("/portal/disputes/new?invoice=I-1")
    assert page.status_code == 200
    assert 'name="_csrf_token" value="' in page.text
    assert 'enctype="multipart/form-data"' in page.text
    shown = text(page.text)
    assert "Dispute invoice NI-1" in shown
    for label in ("Unsatisfactory work", "Faulty goods", "Late delivery", "Never agreed",
                  "Unable to pay", "Pricing disagreement", "Invoice processing error", "Other"):
        assert f">{label}</option>" in page.text
    assert 'maxlength="2000"' in page.text and "PDF, PNG or JPEG, up to 10 MB." in shown


async def test_opening_a_dispute_shows_the_thread_the_badge_and_mails_both_sides(ready):
    response = await ready.open_dispute(attachment=("delivery note.pdf", PDF, "application/pdf"))
    (dispute,) = await disputes_of(ready)
    assert dispute["status"] == "open" and dispute["reason"] == "pricing_disagreement"
    assert response.headers["location"] == f"/portal/disputes/{dispute['id']}?sent=dispute"

    thread = await ready.client.get(response.headers["location"])
    shown = text(thread.text)
    assert "Dispute about invoice NI-1" in shown
    assert "Your dispute was sent. We will answer you here." in shown
    assert "Pricing disagreement" in shown and "Open" in shown
    assert "The unit price is not the one we agreed." in shown
    assert "Attachment: delivery note.pdf" in shown

    home = text((await ready.client.get("/portal/")).text)
    assert "Disputed: Pricing disagreement" in home
    assert "Your open disputes Invoice NI-1 · Pricing disagreement" in home
    invoice = await ready.client.get("/portal/invoices/I-1")
    assert "Disputed: Pricing disagreement" in text(invoice.text)
    assert f'href="/portal/disputes/{dispute["id"]}">View dispute</a>' in invoice.text
    assert "Disputed" not in text((await ready.client.get("/portal/invoices/I-2")).text)

    mails = await outbox(ready.tenant)
    assert [m["to_addrs"] for m in mails] == [[TEAM], ["ap@buyer.test"]]
    team, confirmation = mails
    assert team["subject"] == "New dispute: invoice NI-1 (Buyer C1)"
    assert "The unit price is not the one we agreed." in team["text_body"]
    assert "Attachment: delivery note.pdf" in team["text_body"]
    assert f"/api/v1/disputes/{dispute['id']}" in team["text_body"]
    assert confirmation["subject"] == "We received your dispute about invoice NI-1"
    assert "(reason: Pricing disagreement)" in confirmation["text_body"]
    assert confirmation["html_body"] and "<blockquote" in confirmation["html_body"]


async def test_the_attachment_downloads_as_sent_and_only_for_its_customer(ready):
    await ready.open_dispute(attachment=("scan.png", PNG, "image/png"))
    (dispute,) = await disputes_of(ready)
    (message,) = await DisputeMessage.select().where(DisputeMessage.dispute == dispute["id"])
    url = f"/portal/disputes/{dispute['id']}/attachments/{message['id']}"
    download = await ready.client.get(url)
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith('attachment; filename="scan.png"')
    assert download.headers["x-content-type-options"] == "nosniff"

    other = await ready.customer("C2", email="other@buyer.test")
    await ready.enter(other)
    assert (await ready.client.get(url)).status_code == 404
    assert (await ready.client.get(f"/portal/disputes/{dispute['id']}")).status_code == 404


@pytest.mark.parametrize(
    ("reason", "message", "error"),
    [
        ("no_such_reason", "Wrong price", "Choose one of the reasons."),
        ("", "Wrong price", "Choose one of the reasons."),
        ("other", "   \r\n  ", "Write a message."),
        ("other", "x" * 2001, "The message is longer than 2000 characters."),
    ],
)
async def test_a_refused_form_is_shown_again_with_the_error(ready, reason, message, error):
    response = await ready.open_dispute(reason=reason, message=message, status=422)
    assert error in text(response.text)
    assert 'aria-invalid="true"' in response.text and 'role="alert"' in response.text
    if message.strip():
        assert message in response.text, "what was typed is kept"
    assert await disputes_of(ready) == [] and await outbox(ready.tenant) == []


async def test_2000_characters_with_line_breaks_are_accepted(ready):
    body = ("y" * 99 + "\r\n") * 20  # 2,000 characters once the browser's CRLF is a line break
    await ready.open_dispute(message=body.rstrip() + "z")
    (dispute,) = await disputes_of(ready)
    (message,) = await DisputeMessage.select().where(DisputeMessage.dispute == dispute["id"])
    assert len(message["body"]) == 2000 and "\r" not in message["body"]


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("invoice.pdf", b"<html><script>alert(1)</script></html>",
         "Only PDF, PNG and JPEG files are accepted."),
        ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>',
         "Only PDF, PNG and JPEG files are accepted."),
        ("notes.txt", b"plain words", "Only PDF, PNG and JPEG files are accepted."),
        ("empty.pdf", b"", "The file is empty."),
    ],
)
async def test_a_bad_file_is_refused_and_nothing_is_kept(ready, name, content, error):
    response = await ready.open_dispute(attachment=(name, content, "application/pdf"), status=422)
    assert error in text(response.text)
    assert await disputes_of(ready) == []
    assert await StoredFile.count().where(StoredFile.tenant == ready.tenant.id) == 0


async def test_a_file_over_the_limit_answers_413(make_config, plugins):
    async with running_app(make_config(upload_max_bytes=1024), plugins) as app:
        shop = Shop(app, await make_tenant())
        await shop.enable()
        customer = await shop.customer()
        await shop.invoices()
        await shop.enter(customer)
        big = PDF + b"0" * 2000
        response = await shop.open_dispute(
            attachment=("big.pdf", big, "application/pdf"), status=413
        )
        assert "The file is larger than 1 KB." in text(response.text)
        assert await disputes_of(shop) == []


async def test_another_customers_or_tenants_invoice_is_not_found(ready):
    await ready.customer("C2", email="c2@buyer.test")
    await ready.invoices("C2", ("C2-INV", "open"))
    other = await make_tenant("globex", "Globex")
    await ready.client.put(
        "/api/v1/customers", headers=other.headers,
        json=[{"external_id": "C1", "name": "Globex buyer"}],
    )
    await ready.client.put(
        "/api/v1/invoices", headers=other.headers,
        json=[{"external_id": "G-1", "customer_external_id": "C1", "number": "G-1",
               "issue_date": "2026-02-01", "due_date": "2026-03-01", "currency": "EUR",
               "total": "5.00"}],
    )
    for invoice in ("C2-INV", "G-1", "NOPE", "I-PAID"):
        form = await ready.client.get(f"/portal/disputes/new?invoice={invoice}")
        assert form.status_code == 404
        await ready.open_dispute(invoice=invoice, status=404)
    assert await disputes_of(ready) == []


async def test_a_disabled_customer_cannot_open_one(ready):
    token = await ready.csrf("/portal/disputes/new?invoice=I-1")
    await ready.api("PATCH", "/customers/C1", {"toggles": {"portal": False}})
    assert (await ready.client.get("/portal/disputes/new?invoice=I-1")).status_code == 403
    response = await ready.client.post(
        "/portal/disputes",
        data={"_csrf_token": token, "invoice": "I-1", "reason": "other", "message": "x"},
    )
    assert response.status_code == 403
    assert await disputes_of(ready) == []


async def test_a_post_without_the_csrf_token_is_refused(ready):
    await ready.client.get("/portal/disputes/new?invoice=I-1")
    for token in (None, "forged"):
        data = {"invoice": "I-1", "reason": "other", "message": "x"}
        if token:
            data["_csrf_token"] = token
        response = await ready.client.post("/portal/disputes", data=data)
        assert response.status_code == 403
    assert await disputes_of(ready) == []


# --- one open dispute per invoice, and the thread ------------------------------------------------


async def test_a_second_dispute_is_not_opened_the_open_one_is_shown(ready):
    await ready.open_dispute()
    (dispute,) = await disputes_of(ready)
    again = await ready.client.get("/portal/disputes/new?invoice=I-1")
    assert again.status_code == 303
    assert again.headers["location"] == f"/portal/disputes/{dispute['id']}"

    second = await ready.open_dispute(reason="faulty_goods", message="Also broken.", status=409)
    shown = text(second.text)
    assert "This invoice already has an open dispute: you can add your message to it below." in (
        shown
    )
    assert "The unit price is not the one we agreed." in shown
    assert ">Also broken.</textarea>" in second.text, "the message waits in the reply form"
    assert len(await disputes_of(ready)) == 1


async def test_the_thread_shows_both_sides_until_it_is_resolved(ready):
    await ready.open_dispute()
    (dispute,) = await disputes_of(ready)
    thread_url = f"/portal/disputes/{dispute['id']}"
    token = await ready.csrf(thread_url)
    sent = await ready.client.post(
        f"{thread_url}/messages",
        data={"_csrf_token": token, "message": "Here is the quote we signed."},
        files={"attachment": ("quote.pdf", PDF, "application/pdf")},
    )
    assert sent.status_code == 303
    assert sent.headers["location"].startswith(f"{thread_url}?sent=message#message-")
    team_mail = (await outbox(ready.tenant))[-1]
    assert team_mail["to_addrs"] == [TEAM]
    assert team_mail["subject"] == f"New message on dispute #{dispute['id']}: invoice NI-1"

    await ready.api("POST", f"/disputes/{dispute['id']}/messages",
                    {"body": "We checked: you are right."}, status=201)
    shown = text((await ready.client.get(thread_url)).text)
    order = [shown.index(s) for s in ("The unit price", "Here is the quote we signed.",
                                      "Attachment: quote.pdf", "Acme Corp team",
                                      "We checked: you are right.")]
    assert order == sorted(order), shown
    assert "Add a message" in shown

    await ready.api("POST", f"/disputes/{dispute['id']}/resolve",
                    {"resolution": "accepted", "note": "A credit note follows."})
    page = await ready.client.get(thread_url)
    shown = text(page.text)
    assert "Resolved: accepted" in shown and "A credit note follows." in shown
    assert "This dispute is resolved." in shown and "<textarea" not in page.text
    late = await ready.client.post(
        f"{thread_url}/messages", data={"_csrf_token": token, "message": "One more thing"}
    )
    assert late.status_code == 409
    assert "you can no longer add messages" in text(late.text)
    assert await DisputeMessage.count().where(DisputeMessage.dispute == dispute["id"]) == 3

    home = text((await ready.client.get("/portal/")).text)
    assert "Disputed" not in home and "Your open disputes" not in home
    invoice = await ready.client.get("/portal/invoices/I-1")
    assert 'invoice=I-1">Dispute</a>' in invoice.text, "a new dispute may be opened"
    assert f'href="{thread_url}">Past dispute</a>' in invoice.text


async def test_an_empty_reply_is_refused(ready):
    await ready.open_dispute()
    (dispute,) = await disputes_of(ready)
    thread_url = f"/portal/disputes/{dispute['id']}"
    response = await ready.client.post(
        f"{thread_url}/messages", data={"_csrf_token": await ready.csrf(thread_url),
                                        "message": " "},
    )
    assert response.status_code == 422 and "Write a message." in text(response.text)
    assert await DisputeMessage.count().where(DisputeMessage.dispute == dispute["id"]) == 1


async def test_a_french_customer_reads_it_in_french(shop):
    await shop.enable()
    customer = await shop.customer(locale="fr")
    await shop.invoices()
    await shop.enter(customer)
    form = text((await shop.client.get("/portal/disputes/new?invoice=I-1")).text)
    assert "Contester la facture NI-1" in form and "Désaccord sur le prix" in form
    await shop.open_dispute()
    home = text((await shop.client.get("/portal/")).text)
    assert "Contestée : Désaccord sur le prix" in home
    confirmation = (await outbox(shop.tenant))[-1]
    assert confirmation["subject"] == "Nous avons reçu votre contestation de la facture NI-1"
    assert "(motif : Désaccord sur le prix)" in confirmation["text_body"]


async def test_switching_the_feature_off_hides_everything_but_keeps_the_disputes(ready):
    await ready.open_dispute()
    (dispute,) = await disputes_of(ready)
    await ready.disable()
    home = text((await ready.client.get("/portal/")).text)
    assert "Disputed" not in home and "Your open disputes" not in home
    invoice = await ready.client.get("/portal/invoices/I-1")
    assert "View dispute" not in invoice.text and "disputes/new" not in invoice.text
    assert (await ready.client.get(f"/portal/disputes/{dispute['id']}")).status_code == 404
    listed = await ready.api("GET", "/disputes")
    assert [item["id"] for item in listed["items"]] == [dispute["id"]]
    assert len(await disputes_of(ready)) == 1
