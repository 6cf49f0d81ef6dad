"""The stripe gateway against a local server speaking Stripe's API: the card is collected by
Stripe (SetupIntent; our server never sees a number), charges are off-session PaymentIntents
with the attempt's idempotency key, declines map to retries or not, the webhook checks
Stripe's signature, and the keys are never shown by the API nor logged."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from arportal import record_payments
from arportal.config import PluginsConfig
from arportal.plugins.autopay import plugin as autopay_plugin
from tests.conftest import make_tenant, running_app
from tests.plugins.autopay.conftest import (
    Customer,
    add_customer,
    add_invoice,
    api,
    attempts,
    enable,
    invoice,
    payments,
    run_job,
)
from tests.plugins.autopay.fake_stripe import FakeStripe

SECRET_KEY = "sk_test_" + "a1" * 12
PUBLISHABLE_KEY = "pk_test_" + "b2" * 12
WEBHOOK_SECRET = "whsec_" + "c3" * 16
CLIENT_SECRET = re.compile(r'data-client-secret="(seti_[0-9a-f]+)_secret_[0-9a-f]+"')


@pytest.fixture
def stripe_server() -> Iterator[FakeStripe]:
    with FakeStripe(SECRET_KEY) as server:
        yield server


@pytest.fixture
async def app(make_config: Any, stripe_server: FakeStripe) -> Any:
    options = {"autopay": {"stripe_api_base": stripe_server.url}}
    config = make_config(plugins=PluginsConfig(options=options))
    async with running_app(config, [("autopay", autopay_plugin)]) as running:
        yield running


async def stripe_tenant(app: Any, **settings: Any) -> Any:
    tenant = await make_tenant()
    await enable(app, tenant, gateway="stripe", notice_days=0, **settings)
    await api(app, tenant, "PATCH", "/settings", {"autopay_stripe": {
        "secret_key": SECRET_KEY, "publishable_key": PUBLISHABLE_KEY,
        "webhook_secret": WEBHOOK_SECRET,
    }})
    return tenant


async def save_stripe_card(app: Any, tenant: Any, server: FakeStripe,
                           payment_method: str = "pm_card_visa") -> Customer:
    browser = Customer(app, (await add_customer(app, tenant))["portal_url"])
    await browser.open()
    page = await browser.get("/portal/autopay/method")
    assert page.status_code == 200, page.text
    setup_intent = CLIENT_SECRET.search(page.text)
    assert setup_intent, "the page carries the SetupIntent's client secret for Stripe.js"
    server.confirm_setup(setup_intent[1], payment_method)
    response = await browser.post("/portal/autopay/method",
                                  {"setup_intent": setup_intent[1], "consent": "on"},
                                  page="/portal/autopay/method")
    assert response.status_code == 303, response.text
    return browser


def signed(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """Stripe's scheme: `t=<unix time>,v1=<HMAC-SHA256 of "t.payload">`."""
    stamp = at if at is not None else int(time.time())
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


async def test_the_setup_page_loads_stripe_js_under_a_widened_csp(
    app: Any, stripe_server: FakeStripe, today: Any
) -> None:
    tenant = await stripe_tenant(app)
    browser = Customer(app, (await add_customer(app, tenant))["portal_url"])
    await browser.open()
    page = await browser.get("/portal/autopay/method")
    assert f'data-publishable-key="{PUBLISHABLE_KEY}"' in page.text
    assert '<script src="https://js.stripe.com/v3/"></script>' in page.text
    assert 'src="/portal/autopay/static/stripe-setup.js' in page.text
    assert 'name="card_number"' not in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self' https://js.stripe.com;" in policy
    assert "frame-src 'self' https://js.stripe.com https://hooks.stripe.com" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    home = await browser.get("/portal/")
    assert "stripe" not in home.headers["content-security-policy"]
    (create,) = [r for r in stripe_server.requests if r[1] == "/v1/setup_intents"]
    assert create[2]["metadata[arportal_owner]"].startswith(f"{tenant.id}:")
    script = await app.client.get("/portal/autopay/static/stripe-setup.js")
    assert "confirmCardSetup" in script.text


async def test_save_and_charge_off_session_with_the_idempotency_key(
    app: Any, stripe_server: FakeStripe, today: Any
) -> None:
    tenant = await stripe_tenant(app)
    await add_invoice(app, tenant, "I-1", today, "75.25")
    browser = await save_stripe_card(app, tenant, stripe_server)
    page = await browser.get("/portal/autopay")
    assert "Visa ending in 4242" in page.text and "12/2034" in page.text
    (customer_id,) = stripe_server.customers
    assert stripe_server.attached == {"pm_card_visa": customer_id}

    report = await run_job(app)
    assert report["succeeded"] == 1
    (charge,) = [r for r in stripe_server.requests if r[1] == "/v1/payment_intents"]
    _method, _path, form, headers = charge
    (attempt,) = await attempts("I-1")
    assert headers["idempotency-key"] == attempt["idempotency_key"]
    assert form["amount"] == "7525" and form["currency"] == "eur"
    assert (form["customer"], form["payment_method"]) == (customer_id, "pm_card_visa")
    assert (form["off_session"], form["confirm"]) == ("true", "true")
    assert form["metadata[arportal_attempt]"] == attempt["idempotency_key"]
    assert form["metadata[invoice]"] == "I-1"
    assert attempt["charge_id"] == stripe_server.intents[0]["id"]
    assert (await invoice(app, tenant, "I-1"))["status"] == "paid"
    (payment,) = await payments(app, tenant)
    assert payment["external_id"] == f"autopay-{attempt['charge_id']}"


async def test_a_setup_intent_of_someone_else_is_refused(
    app: Any, stripe_server: FakeStripe, today: Any
) -> None:
    tenant = await stripe_tenant(app)
    first = Customer(app, (await add_customer(app, tenant, "C1"))["portal_url"])
    await first.open()
    setup_intent = CLIENT_SECRET.search((await first.get("/portal/autopay/method")).text)
    assert setup_intent
    stripe_server.confirm_setup(setup_intent[1])
    other = Customer(app, (await add_customer(app, tenant, "C2"))["portal_url"])
    await other.open()
    stolen = await other.post("/portal/autopay/method",
                              {"setup_intent": setup_intent[1], "consent": "on"},
                              page="/portal/autopay/method")
    assert stolen.status_code == 422
    assert "Your card could not be confirmed." in stolen.text
    assert (await api(app, tenant, "GET", "/customers/C2"))["plugins"]["autopay"]["method"] is None


@pytest.mark.parametrize(
    ("payment_method", "code", "hard"),
    [("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds", False),
     ("pm_card_chargeDeclinedStolenCard", "stolen_card", True)],
)
async def test_declines_map_to_retries_or_not(
    app: Any, stripe_server: FakeStripe, today: Any, payment_method: str, code: str, hard: bool
) -> None:
    tenant = await stripe_tenant(app)
    await add_invoice(app, tenant, "I-1", today)
    await save_stripe_card(app, tenant, stripe_server, payment_method)
    assert (await run_job(app))["failed"] == 1
    (attempt,) = await attempts("I-1")
    assert (attempt["decline_code"], bool(attempt["hard"])) == (code, hard)
    assert attempt["charge_id"].startswith("pi_")
    assert (attempt["retry_on"] is None) is hard


async def test_a_lost_answer_is_settled_by_the_signed_webhook(
    app: Any, stripe_server: FakeStripe, today: Any, clock: Any, monkeypatch: Any
) -> None:
    tenant = await stripe_tenant(app)
    await add_invoice(app, tenant, "I-1", today, "40.00")
    await save_stripe_card(app, tenant, stripe_server)
    from arportal.plugins.autopay import charging

    async def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the process died before recording the payment")

    monkeypatch.setattr(charging, "record_payments", crash)
    assert (await run_job(app))["errors"] == 1
    monkeypatch.setattr(charging, "record_payments", record_payments)
    (attempt,) = await attempts("I-1")
    assert attempt["status"] == "pending"
    intent = stripe_server.intents[0]
    event = json.dumps({"id": "evt_1", "type": "payment_intent.succeeded",
                        "data": {"object": intent}}).encode()
    path = f"/api/v1/autopay/stripe/webhook/{tenant.id}"

    forged = await app.client.post(path, content=event,
                                   headers={"Stripe-Signature": signed(event, "whsec_wrong")})
    assert forged.status_code == 400
    stale = await app.client.post(path, content=event, headers={
        "Stripe-Signature": signed(event, at=int(time.time()) - 3600)})
    assert stale.status_code == 400
    held = await app.client.post(path, content=event,
                                 headers={"Stripe-Signature": signed(event)})
    assert held.json() == {"received": True, "settled": False}  # its process still holds it

    clock.advance(minutes=11)
    settled = await app.client.post(path, content=event,
                                    headers={"Stripe-Signature": signed(event)})
    assert settled.status_code == 200 and settled.json()["settled"] is True
    assert (await attempts("I-1"))[0]["status"] == "succeeded"
    assert (await invoice(app, tenant, "I-1"))["status"] == "paid"
    again = await app.client.post(path, content=event,
                                  headers={"Stripe-Signature": signed(event)})
    assert again.json()["settled"] is False
    assert len(await payments(app, tenant)) == 1
    assert len(stripe_server.intents) == 1
    other = await make_tenant("other", "Other")
    assert (await app.client.post(f"/api/v1/autopay/stripe/webhook/{other.id}", content=event,
                                  headers={"Stripe-Signature": signed(event)})).status_code == 404


async def test_the_next_run_reconciles_with_the_same_key(
    app: Any, stripe_server: FakeStripe, today: Any, clock: Any, monkeypatch: Any
) -> None:
    tenant = await stripe_tenant(app)
    await add_invoice(app, tenant, "I-1", today)
    await save_stripe_card(app, tenant, stripe_server)
    from arportal.plugins.autopay import charging

    async def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("killed")

    monkeypatch.setattr(charging, "record_payments", crash)
    await run_job(app)
    monkeypatch.setattr(charging, "record_payments", record_payments)
    clock.advance(minutes=11)
    report = await run_job(app)
    assert (report["reconciled"], report["succeeded"]) == (1, 1)
    keys = [r[3]["idempotency-key"] for r in stripe_server.requests
            if r[1] == "/v1/payment_intents"]
    assert len(keys) == 2 and len(set(keys)) == 1
    assert len(stripe_server.intents) == 1
    assert len(await payments(app, tenant)) == 1


async def test_an_answer_lost_longer_than_stripe_remembers_goes_to_review(
    app: Any, stripe_server: FakeStripe, today: Any, clock: Any, monkeypatch: Any
) -> None:
    tenant = await stripe_tenant(app, operator_email="ar@acme.test")
    await add_invoice(app, tenant, "I-1", today)
    await save_stripe_card(app, tenant, stripe_server)
    from arportal.plugins.autopay import charging

    async def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("killed")

    monkeypatch.setattr(charging, "record_payments", crash)
    await run_job(app)
    monkeypatch.setattr(charging, "record_payments", record_payments)
    clock.advance(hours=30)
    report = await run_job(app)
    assert (report["review"], report["succeeded"]) == (1, 0)
    assert (await attempts("I-1"))[0]["status"] == "review"
    assert len(stripe_server.intents) == 1
    review = await api(app, tenant, "GET", "/autopay/attempts?status=review")
    assert review["items"][0]["invoice_external_id"] == "I-1"


async def test_keys_are_never_returned_nor_logged(
    app: Any, stripe_server: FakeStripe, today: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant = await stripe_tenant(app)
    shown = await api(app, tenant, "GET", "/settings")
    assert shown["autopay_stripe"] == {"secret_key": "********",
                                       "publishable_key": PUBLISHABLE_KEY,
                                       "webhook_secret": "********"}
    await api(app, tenant, "PATCH", "/settings", {"autopay_stripe": shown["autopay_stripe"]})
    await add_invoice(app, tenant, "I-1", today)
    await save_stripe_card(app, tenant, stripe_server)
    assert (await run_job(app))["succeeded"] == 1  # the masked values kept the real keys
    audit = await api(app, tenant, "GET", "/audit?limit=200")
    dumped = json.dumps(audit) + caplog.text
    assert SECRET_KEY not in dumped and WEBHOOK_SECRET not in dumped
    bad = await app.client.patch("/api/v1/settings", headers=tenant.headers,
                                 json={"autopay_stripe": {"secret_key": "pk_oops"}})
    assert bad.status_code == 422 and "autopay_stripe.secret_key" in bad.text
    assert "pk_oops" not in bad.text
