"""The customer's side: the Autopay panel and pages, saving a card with consent to the mandate,
seeing it and the next charges, changing or removing it, turning autopay off and on. With the
toggle (or the feature) off, the panel is gone and the routes answer 404."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from tests.plugins.autopay.conftest import (
    DECLINED,
    VISA,
    Customer,
    add_customer,
    add_invoice,
    api,
    audit_actions,
    customer_with_card,
    enable,
)

ROUTES = [("GET", "/portal/autopay"), ("GET", "/portal/autopay/method"),
          ("POST", "/portal/autopay/method"), ("POST", "/portal/autopay/method/remove"),
          ("POST", "/portal/autopay/off"), ("POST", "/portal/autopay/on")]


async def test_toggle_off_means_no_panel_and_no_routes(app: Any, tenant: Any, today: Any) -> None:
    await enable(app, tenant, enable_for_new_customers=False)
    row = await add_customer(app, tenant)
    assert row["toggles"]["autopay"] is False
    browser = Customer(app, row["portal_url"])
    home = await browser.open()
    assert home.status_code == 200 and "autopay" not in home.text.lower()
    for method, path in ROUTES:
        csrf = {"x-csrftoken": app.client.cookies.get("arportal_csrf", "")}
        response = await app.client.request(method, path, headers=csrf)
        assert response.status_code == 404, (method, path)

    await api(app, tenant, "PATCH", "/customers/C1", {"toggles": {"autopay": True}})
    home = await browser.get("/portal/")
    assert "Set up autopay" in home.text
    assert (await browser.get("/portal/autopay")).status_code == 200


async def test_feature_off_hides_everything_even_with_the_toggle_on(app: Any, tenant: Any,
                                                                     today: Any) -> None:
    await enable(app, tenant)
    browser = await customer_with_card(app, tenant)
    await api(app, tenant, "PATCH", "/settings", {"features": {"autopay": False}})
    assert "autopay" not in (await browser.get("/portal/")).text.lower()
    assert (await browser.get("/portal/autopay")).status_code == 404
    assert (await app.client.get("/api/v1/autopay/attempts", headers=tenant.headers)
            ).status_code == 404


async def test_new_customers_take_the_default_existing_ones_keep_theirs(app: Any, tenant: Any,
                                                                        today: Any) -> None:
    await api(app, tenant, "PATCH", "/settings", {"features": {"autopay": True}})
    before = await add_customer(app, tenant, "OLD")
    assert before["toggles"]["autopay"] is False
    await enable(app, tenant, enable_for_new_customers=True)
    after = await add_customer(app, tenant, "NEW")
    assert after["toggles"]["autopay"] is True
    old = await api(app, tenant, "GET", "/customers/OLD")
    assert old["toggles"]["autopay"] is False
    await enable(app, tenant, enable_for_new_customers=False)
    assert (await add_customer(app, tenant, "LATER"))["toggles"]["autopay"] is False
    assert (await api(app, tenant, "GET", "/customers/NEW"))["toggles"]["autopay"] is True


async def test_saving_a_card_needs_consent_and_valid_fields(app: Any, tenant: Any,
                                                            today: Any) -> None:
    await enable(app, tenant)
    browser = Customer(app, (await add_customer(app, tenant))["portal_url"])
    await browser.open()
    form = await browser.get("/portal/autopay/method")
    assert form.status_code == 200
    assert "I authorise Acme Corp to charge this payment method" in form.text
    assert 'name="card_number"' in form.text and 'autocomplete="cc-number"' in form.text

    no_consent = await browser.save_card(VISA, consent=False)
    assert no_consent.status_code == 422
    assert "Tick the box to authorise automatic payments." in no_consent.text

    bad = {"card_number": ("1234 5678 9012 3456", "Use a test card"),
           "exp_month": ("13", "Enter the month as a number from 1 to 12."),
           "exp_year": ("2025", "This card has expired."),
           "cvc": ("12", "Enter the 3 or 4 digits of the security code.")}
    for field, (value, message) in bad.items():
        card = {"number": VISA, "month": "12", "year": "2030", "cvc": "123"}
        card[{"card_number": "number", "exp_month": "month", "exp_year": "year",
              "cvc": "cvc"}[field]] = value
        response = await browser.save_card(**card)
        assert response.status_code == 422, field
        assert message in response.text
        assert f'aria-describedby="{field}-error"' in response.text
        assert "4242 4242 4242 4242" not in response.text.replace(
            "such as 4242 4242 4242 4242", ""
        )
    assert "autopay_method_saved" not in await audit_actions()


async def test_a_saved_card_is_shown_without_its_number(app: Any, tenant: Any,
                                                        today: Any) -> None:
    await enable(app, tenant)
    await add_invoice(app, tenant, "I-1", today + dt.timedelta(days=10), "250.00")
    browser = await customer_with_card(app, tenant, month="7", year="31")
    page = await browser.get("/portal/autopay?done=saved")
    assert "Your payment method is saved." in page.text
    assert "Visa ending in 4242" in page.text and "07/2031" in page.text
    assert "4242424242424242" not in page.text and "4242 4242 4242 4242" not in page.text
    assert "N-I-1" in page.text and "Mar 26, 2026" in page.text and "€250.00" in page.text
    home = await browser.get("/portal/")
    assert "Next charge: invoice N-I-1, €250.00 on Mar 26, 2026" in home.text

    customer = await api(app, tenant, "GET", "/customers/C1")
    assert customer["plugins"]["autopay"] == {
        "active": True,
        "method": {"gateway": "sandbox", "brand": "visa", "last4": "4242", "exp_month": 7,
                   "exp_year": 2031, "enabled": True, "status": "active", "status_reason": "",
                   "saved_on": today.isoformat()},
    }
    assert "autopay_method_saved" in await audit_actions()


async def test_change_remove_turn_off_and_on(app: Any, tenant: Any, today: Any) -> None:
    await enable(app, tenant)
    browser = await customer_with_card(app, tenant)
    changed = await browser.save_card(DECLINED, month="1", year="2029")
    assert changed.status_code == 303
    page = await browser.get("/portal/autopay")
    assert "Visa ending in 0002" in page.text and "ending in 4242" not in page.text

    off = await browser.post("/portal/autopay/off", {})
    assert off.status_code == 303 and off.headers["location"].endswith("done=off")
    customer = await api(app, tenant, "GET", "/customers/C1")
    assert customer["plugins"]["autopay"]["active"] is False
    assert customer["plugins"]["autopay"]["method"]["enabled"] is False

    refused = await browser.post("/portal/autopay/on", {})
    assert refused.status_code == 422
    assert (await api(app, tenant, "GET", "/customers/C1"))["plugins"]["autopay"]["active"] is False
    on = await browser.post("/portal/autopay/on", {"consent": "on"})
    assert on.status_code == 303
    assert (await api(app, tenant, "GET", "/customers/C1"))["plugins"]["autopay"]["active"] is True

    removed = await browser.post("/portal/autopay/method/remove", {})
    assert removed.status_code == 303
    page = await browser.get("/portal/autopay?done=removed")
    assert "Your payment method is removed." in page.text and "Set up autopay" in page.text
    assert (await api(app, tenant, "GET", "/customers/C1"))["plugins"]["autopay"] == {
        "active": False, "method": None,
    }
    actions = await audit_actions()
    for action in ("autopay_turned_off", "autopay_turned_on", "autopay_method_removed"):
        assert action in actions


async def test_forms_without_the_csrf_token_are_refused(app: Any, tenant: Any,
                                                        today: Any) -> None:
    await enable(app, tenant)
    await customer_with_card(app, tenant)
    response = await app.client.post("/portal/autopay/method/remove", data={})
    assert response.status_code == 403
    assert (await api(app, tenant, "GET", "/customers/C1"))["plugins"]["autopay"]["method"]


async def test_french_customer_reads_autopay_in_french(app: Any, tenant: Any,
                                                       today: Any) -> None:
    await enable(app, tenant)
    row = await add_customer(app, tenant, locale="fr")
    browser = Customer(app, row["portal_url"])
    home = await browser.open()
    assert "Paiement automatique" in home.text and "Activer le paiement automatique" in home.text
    form = await browser.get("/portal/autopay/method")
    assert "Numéro de carte" in form.text and "J'autorise Acme Corp" in html.unescape(form.text)
    refused = await browser.save_card(VISA, consent=False)
    assert "Cochez la case pour autoriser les paiements automatiques." in refused.text


async def test_sandbox_pages_keep_the_strict_csp(app: Any, tenant: Any, today: Any) -> None:
    await enable(app, tenant)
    browser = Customer(app, (await add_customer(app, tenant))["portal_url"])
    await browser.open()
    form = await browser.get("/portal/autopay/method")
    policy = form.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "stripe" not in policy
    css = await app.client.get("/portal/autopay/static/autopay.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert (await app.client.get("/portal/autopay/static/nope.js")).status_code == 404


async def test_an_unknown_gateway_makes_the_form_unavailable_not_broken(
    app: Any, tenant: Any, today: Any
) -> None:
    await enable(app, tenant, gateway="nope")
    browser = Customer(app, (await add_customer(app, tenant))["portal_url"])
    await browser.open()
    form = await browser.get("/portal/autopay/method")
    assert form.status_code == 503
    assert "Saving a payment method is not available right now." in form.text
