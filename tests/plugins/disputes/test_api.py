"""The operator's side, on SQLite and PostgreSQL: listing, replying, resolving, opening for a
customer; the holds, events, audit entries and mail that follow; tenants kept apart."""

from __future__ import annotations

from typing import Any

import pytest

import arportal
from arportal import holds_for
from arportal.models import Invoice
from arportal.plugins.disputes import plugin as disputes_plugin
from arportal.plugins.disputes.models import Dispute
from tests.conftest import make_tenant, running_app

from .conftest import PDF, TEAM, Shop, outbox


async def opened(shop: Shop, **kwargs: Any) -> dict[str, Any]:
    await shop.open_dispute(**kwargs)
    listed = await shop.api("GET", "/disputes?status=open")
    return listed["items"][0]  # type: ignore[no-any-return]


async def holds(shop: Shop) -> dict[str, list[str]]:
    ctx = await shop.context()
    invoices = await Invoice.select(Invoice.id, Invoice.external_id).where(
        Invoice.tenant == shop.tenant.id
    )
    names = {row["id"]: row["external_id"] for row in invoices}
    found = await holds_for(ctx, invoices)
    return {names[key]: [h.reason + ":" + h.detail for h in value] for key, value in found.items()}


async def test_a_dispute_as_the_api_shows_it(ready):
    await ready.open_dispute(attachment=("note.pdf", PDF, "application/pdf"))
    (item,) = (await ready.api("GET", "/disputes"))["items"]
    assert item["invoice_external_id"] == "I-1" and item["invoice_number"] == "NI-1"
    assert item["customer_external_id"] == "C1"
    assert item["reason"] == "pricing_disagreement"
    assert item["reason_label"] == "Pricing disagreement"
    assert item["message"] == "The unit price is not the one we agreed."
    assert item["status"] == "open" and item["resolution"] is None
    assert item["opened_by"] == "customer" and item["created_at"]
    (message,) = item["messages"]
    assert message["author"] == "customer"
    attachment = message["attachment"]
    assert attachment["name"] == "note.pdf" and attachment["content_type"] == "application/pdf"
    assert attachment["size"] == len(PDF)
    download = await ready.client.get(attachment["url"], headers=ready.tenant.headers)
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-disposition"].startswith("attachment;")
    assert await ready.api("GET", f"/disputes/{item['id']}") == item


async def test_lists_filter_by_status_and_customer_and_page(ready):
    await ready.open_dispute("I-1")
    await ready.open_dispute("I-2", reason="late_delivery", message="Came a month late.")
    c2 = await ready.customer("C2", email="c2@buyer.test")
    await ready.invoices("C2", ("C2-1", "open"))
    await ready.enter(c2)
    await ready.open_dispute("C2-1", reason="other", message="Who are you?")
    first = (await ready.api("GET", "/disputes?status=open&customer=C1"))["items"]
    assert [item["invoice_external_id"] for item in first] == ["I-2", "I-1"], "newest first"
    await ready.api("POST", f"/disputes/{first[0]['id']}/resolve", {"resolution": "rejected"})

    def ids(page: dict[str, Any]) -> list[str]:
        return [item["invoice_external_id"] for item in page["items"]]

    assert ids(await ready.api("GET", "/disputes?status=open")) == ["C2-1", "I-1"]
    assert ids(await ready.api("GET", "/disputes?status=resolved")) == ["I-2"]
    assert ids(await ready.api("GET", "/disputes?status=all")) == ["C2-1", "I-2", "I-1"]
    assert ids(await ready.api("GET", "/disputes?customer=C2")) == ["C2-1"]
    page = await ready.api("GET", "/disputes?limit=2")
    assert ids(page) == ["C2-1", "I-2"] and page["next_cursor"]
    rest = await ready.api("GET", f"/disputes?limit=2&cursor={page['next_cursor']}")
    assert ids(rest) == ["I-1"] and rest["next_cursor"] is None
    bad = await ready.api("GET", "/disputes?status=closed", status=422)
    assert bad["field"] == "status"
    assert (await ready.api("GET", "/disputes?limit=0", status=422))["field"] == "limit"


async def test_holds_follow_open_disputes(ready):
    assert await holds(ready) == {}
    item = await opened(ready)
    assert await holds(ready) == {"I-1": ["dispute:Pricing disagreement"]}
    await ready.api("POST", f"/disputes/{item['id']}/resolve", {"resolution": "accepted"})
    assert await holds(ready) == {}


async def test_an_operator_reply_is_mailed_to_the_customer(ready):
    item = await opened(ready)
    answer = await ready.api(
        "POST", f"/disputes/{item['id']}/messages", {"body": "Could you send the PO?"},
        status=201,
    )
    assert [(m["author"], m["body"]) for m in answer["messages"]] == [
        ("customer", "The unit price is not the one we agreed."),
        ("operator", "Could you send the PO?"),
    ]
    mail = (await outbox(ready.tenant))[-1]
    assert mail["to_addrs"] == ["ap@buyer.test"]
    assert mail["subject"] == "New reply about invoice NI-1"
    assert "Acme Corp answered your dispute about invoice NI-1:" in mail["text_body"]
    assert "Could you send the PO?" in mail["text_body"]

    for body, field in (({"body": "  "}, "body"), ({"body": "x" * 2001}, "body"),
                        ({"text": "hi"}, "text"), ({}, "body")):
        refused = await ready.api("POST", f"/disputes/{item['id']}/messages", body, status=422)
        assert refused["field"] == field, refused


async def test_resolving_tells_the_customer_and_cannot_happen_twice(ready):
    item = await opened(ready)
    bad = await ready.api("POST", f"/disputes/{item['id']}/resolve", {"resolution": "maybe"},
                          status=422)
    assert bad["field"] == "resolution"
    done = await ready.api(
        "POST", f"/disputes/{item['id']}/resolve",
        {"resolution": "rejected", "note": "The price is the one on the signed quote."},
    )
    assert done["status"] == "resolved" and done["resolution"] == "rejected"
    assert done["resolution_note"] == "The price is the one on the signed quote."
    assert done["resolved_at"]
    mail = (await outbox(ready.tenant))[-1]
    assert mail["subject"] == "Your dispute about invoice NI-1 is resolved"
    assert "After review, we rejected your dispute about invoice NI-1." in mail["text_body"]
    assert "The price is the one on the signed quote." in mail["text_body"]
    again = await ready.api("POST", f"/disputes/{item['id']}/resolve",
                            {"resolution": "accepted"}, status=409)
    assert "already resolved" in again["detail"]
    late = await ready.api("POST", f"/disputes/{item['id']}/messages", {"body": "Hello?"},
                           status=409)
    assert "resolved" in late["detail"]


async def test_an_operator_opens_one_for_the_customer(ready):
    body = {"invoice_external_id": "I-2", "reason": "faulty_goods",
            "message": "Customer phoned: two units arrived broken."}
    item = await ready.api("POST", "/disputes", body, status=201)
    assert item["opened_by"] == "operator" and item["status"] == "open"
    assert item["messages"][0]["author"] == "operator"
    assert await holds(ready) == {"I-2": ["dispute:Faulty goods"]}
    team, customer = (await outbox(ready.tenant))[-2:]
    assert team["to_addrs"] == [TEAM]
    assert customer["subject"] == "We opened a dispute about invoice NI-2 for you"

    conflict = await ready.api("POST", "/disputes", body, status=409)
    assert conflict["dispute_id"] == item["id"]
    refusals = [
        ({**body, "invoice_external_id": "I-PAID"}, "invoice_external_id"),
        ({**body, "invoice_external_id": "I-1", "reason": "weather"}, "reason"),
        ({**body, "invoice_external_id": "I-1", "message": ""}, "message"),
        ({**body, "extra": 1}, "extra"),
    ]
    for refused, field in refusals:
        answer = await ready.api("POST", "/disputes", refused, status=422)
        assert answer["field"] == field, answer
    await ready.api("POST", "/disputes", {**body, "invoice_external_id": "NOPE"}, status=404)
    page = await ready.client.get("/portal/")
    assert "Disputed: Faulty goods" in page.text


async def test_with_the_feature_off_disputes_stay_readable_and_can_be_resolved(ready):
    item = await opened(ready)
    await ready.disable()
    assert (await ready.api("GET", "/disputes"))["items"][0]["id"] == item["id"]
    assert (await ready.api("GET", f"/disputes/{item['id']}"))["status"] == "open"
    await ready.api("POST", f"/disputes/{item['id']}/messages", {"body": "x"}, status=404)
    await ready.api("POST", "/disputes", {"invoice_external_id": "I-2", "reason": "other",
                                          "message": "x"}, status=404)
    done = await ready.api("POST", f"/disputes/{item['id']}/resolve", {"resolution": "accepted"})
    assert done["status"] == "resolved"


async def test_another_tenants_disputes_are_not_found(ready):
    item = await opened(ready)
    other = await make_tenant("globex", "Globex")
    await ready.client.patch(
        "/api/v1/settings", headers=other.headers,
        json={"features": {"disputes": True}, "disputes": {"notify_emails": ["x@globex.test"]}},
    )
    for method, path, body in (
        ("GET", f"/disputes/{item['id']}", None),
        ("POST", f"/disputes/{item['id']}/messages", {"body": "hi"}),
        ("POST", f"/disputes/{item['id']}/resolve", {"resolution": "accepted"}),
        ("GET", f"/disputes/{item['id']}/messages/{item['messages'][0]['id']}/attachment", None),
    ):
        response = await ready.client.request(
            method, f"/api/v1{path}", json=body, headers=other.headers
        )
        assert response.status_code == 404, (path, response.text)
    listed = await ready.client.get("/api/v1/disputes", headers=other.headers)
    assert listed.json()["items"] == []
    assert (await ready.api("GET", f"/disputes/{item['id']}"))["status"] == "open"


class EventLog:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    @arportal.hookimpl
    def arportal_event(self, name: str, data: dict[str, Any]) -> None:
        if name.startswith("dispute"):
            self.seen.append((name, data))


async def test_every_step_is_an_event_and_an_audit_entry(make_config):
    log = EventLog()
    async with running_app(make_config(), [("disputes", disputes_plugin), ("log", log)]) as app:
        shop = Shop(app, await make_tenant())
        await shop.enable()
        customer = await shop.customer()
        await shop.invoices()
        await shop.enter(customer)
        item = await opened(shop)
        thread = f"/portal/disputes/{item['id']}"
        await shop.client.post(f"{thread}/messages", data={
            "_csrf_token": await shop.csrf(thread), "message": "More details."})
        await shop.api("POST", f"/disputes/{item['id']}/messages", {"body": "Noted."},
                       status=201)
        await shop.api("POST", f"/disputes/{item['id']}/resolve",
                       {"resolution": "accepted", "note": "Credited."})

        assert [name for name, _ in log.seen] == [
            "dispute_opened", "dispute_message_added", "dispute_message_added",
            "dispute_resolved",
        ]
        opened_event = log.seen[0][1]
        assert opened_event["dispute_id"] == item["id"]
        assert opened_event["invoice_external_id"] == "I-1"
        assert opened_event["customer_external_id"] == "C1"
        assert opened_event["reason"] == "pricing_disagreement"
        assert log.seen[3][1]["resolution"] == "accepted"
        assert log.seen[3][1]["note"] == "Credited."

        audit = (await shop.api("GET", "/audit"))["items"]
        steps = [(row["action"], row["actor"], row["subject_id"]) for row in reversed(audit)
                 if row["action"].startswith("dispute")]
        assert steps == [
            ("dispute_opened", "customer:C1", str(item["id"])),
            ("dispute_message_added", "customer:C1", str(item["id"])),
            ("dispute_message_added", "operator", str(item["id"])),
            ("dispute_resolved", "operator", str(item["id"])),
        ]


async def test_the_database_refuses_a_second_open_dispute(ready):
    item = await opened(ready)
    row = await Dispute.select().where(Dispute.id == item["id"]).first()
    copy = {key: value for key, value in row.items() if key != "id"}
    with pytest.raises(Exception, match="(?i)unique"):
        await Dispute.insert(Dispute(**copy))
    copy["status"] = "resolved"
    await Dispute.insert(Dispute(**copy))
    assert await Dispute.count().where(Dispute.invoice == row["invoice"]) == 2


async def test_dispute_mail_reaches_a_real_smtp_server_as_text_and_html(ready):
    from arportal.config import SmtpConfig
    from arportal.mailer import deliver_pending
    from tests.core.mail_helpers import SmtpServer, parts

    item = await opened(ready)
    await ready.api("POST", f"/disputes/{item['id']}/resolve",
                    {"resolution": "accepted", "note": "Credit note CN-9 follows."})
    server = SmtpServer()
    server.start()
    try:
        config = msgspec_replace(ready.app.config, smtp=SmtpConfig(host="127.0.0.1",
                                                                     port=server.port))
        report = await deliver_pending(config)
    finally:
        server.stop()
    assert report.sent == 3, report
    by_subject = {message["Subject"]: message for message in server.messages}
    resolution = by_subject["Your dispute about invoice NI-1 is resolved"]
    assert resolution["To"] == "ap@buyer.test"
    text, html = parts(resolution)
    assert "We accepted your dispute about invoice NI-1." in text
    assert "Credit note CN-9 follows." in text
    assert html is not None and "Credit note CN-9 follows." in html
    team = by_subject["New dispute: invoice NI-1 (Buyer C1)"]
    assert team["To"] == TEAM


def msgspec_replace(config: Any, **changes: Any) -> Any:
    import msgspec

    return msgspec.structs.replace(config, **changes)
