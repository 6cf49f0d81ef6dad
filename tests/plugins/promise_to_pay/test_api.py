"""The finance team's API: promises on a customer's behalf, lists, one promise with its
history, cancelling; events other plugins hear; the plugin found through its entry point."""

from __future__ import annotations

import datetime as dt
from typing import Any

from arportal import hookimpl
from arportal.config import PluginsConfig
from arportal.plugins.promise_to_pay import plugin as promise_plugin
from tests.conftest import running_app
from tests.plugins.promise_to_pay.conftest import TEAM, Shop, make_shop


def body(**extra: Any) -> dict[str, Any]:
    return {
        "customer_external_id": "C1",
        "invoices": [{"external_id": "INV-1"}, {"external_id": "INV-2"}],
        "date": "2026-03-25",
        "note": "Promised on the phone",
        **extra,
    }


async def test_the_team_promises_on_the_customers_behalf(shop: Shop) -> None:
    made = await shop.api("POST", "/promises", body(), status=201)
    items = made["items"]
    assert [(p["invoice_external_id"], p["source"], p["status"], p["amount"]) for p in items] == [
        ("INV-1", "team", "pending", "100.00"), ("INV-2", "team", "pending", "250.00")
    ]
    assert items[0]["promised_date"] == "2026-03-25" and items[0]["made_on"] == "2026-03-15"
    assert items[0]["batch"] == items[1]["batch"]

    one = await shop.api("GET", f"/promises/{items[0]['id']}")
    assert one["customer_external_id"] == "C1"
    assert [(h["action"], h["actor"], h["note"]) for h in one["history"]] == [
        ("made", "team", "Promised on the phone")
    ]
    mails = await shop.outbox()
    assert [m["to_addrs"] for m in mails] == [[TEAM], ["ap@northwind.test"]]
    assert "(entered by your team)" in mails[0]["text_body"]

    await shop.enter()
    page = await shop.client.get(f"/portal/promises/{items[0]['id']}")
    assert "<dt>Made by</dt><dd>Acme Supplies</dd>" in page.text


async def test_the_same_checks_as_the_portal_with_the_field_of_the_body(shop: Shop) -> None:
    await shop.api("POST", "/promises", body(invoices=[{"external_id": "INV-1"}]), status=201)
    cases = [
        (body(invoices=[{"external_id": "INV-2"}, {"external_id": "PAID-4"}]),
         "invoices[1].external_id", "Invoice PAID-4 is already paid."),
        (body(invoices=[{"external_id": "INV-2"}, {"external_id": "INV-1"}]),
         "invoices[1].external_id", "already has a promise to pay for March 25, 2026"),
        (body(invoices=[{"external_id": "OTHER-1"}]), "invoices[0].external_id",
         "There is no invoice OTHER-1 on your account."),
        (body(date="2026-05-01"), "date", "Choose a date no later than April 14, 2026."),
        (body(date="soon"), "date", "Invalid RFC3339 encoded date"),
        (body(invoices=[]), "invoices", "Select at least one invoice."),
        (body(invoices=[{"external_id": "INV-2", "amount": "10.00"}]), "invoices[0].amount",
         "Partial amounts are not accepted"),
        (body(customer_external_id="C9"), "customer_external_id", "no customer 'C9'"),
        (body(extra=1), "extra", "unknown field"),
        ({"invoices": []}, "customer_external_id", "missing required field"),
    ]
    for sent, field, message in cases:
        refused = await shop.api("POST", "/promises", sent, status=422)
        assert refused["field"] == field, (sent, refused)
        assert message in refused["detail"], (sent, refused)
    await shop.settings(allow_partial=True)
    refused = await shop.api(
        "POST", "/promises", body(invoices=[{"external_id": "INV-2", "amount": "250.001"}]),
        status=422,
    )
    assert refused["errors"] == {"invoices[0].amount": "Enter at most 2 decimals."}
    assert len(await shop.promises()) == 1


async def test_list_filter_page_and_cancel(shop: Shop) -> None:
    await shop.api("POST", "/promises", body(), status=201)
    await shop.api("POST", "/promises", {
        "customer_external_id": "C2", "invoices": [{"external_id": "OTHER-1"}],
        "date": "2026-03-30",
    }, status=201)
    everything = await shop.api("GET", "/promises")
    assert [p["invoice_external_id"] for p in everything["items"]] == ["INV-1", "INV-2", "OTHER-1"]
    by_customer = await shop.api("GET", "/promises?customer=C2")
    assert [p["invoice_external_id"] for p in by_customer["items"]] == ["OTHER-1"]
    assert (await shop.api("GET", "/promises?customer=nobody"))["items"] == []
    first = await shop.api("GET", "/promises?limit=2")
    rest = await shop.api("GET", f"/promises?limit=2&cursor={first['next_cursor']}")
    assert [p["invoice_external_id"] for p in first["items"] + rest["items"]] == [
        "INV-1", "INV-2", "OTHER-1"
    ]
    assert rest["next_cursor"] is None
    for bad, field in (("status=lost", "status"), ("limit=0", "limit"), ("cursor=x", "cursor"),
                       ("limit=many", "limit")):
        assert (await shop.api("GET", f"/promises?{bad}", status=422))["field"] == field

    target = everything["items"][1]["id"]
    cancelled = await shop.api("POST", f"/promises/{target}/cancel", {"note": "Agreed instalments"})
    assert cancelled["status"] == "cancelled"
    assert [(h["action"], h["actor"]) for h in cancelled["history"]] == [
        ("made", "team"), ("cancelled", "team")
    ]
    assert (await shop.api("POST", f"/promises/{target}/cancel", status=409))["field"] == "status"
    listed = await shop.api("GET", "/promises?status=cancelled")
    assert [p["id"] for p in listed["items"]] == [target]
    assert len((await shop.api("GET", "/promises?status=pending"))["items"]) == 2
    assert await shop.audit() == ["promise_made"] * 3 + ["promise_cancelled"]


async def test_another_tenants_promise_is_not_found(shop: Shop) -> None:
    made = await shop.api("POST", "/promises", body(), status=201)
    rival = await make_shop(shop.app, "rival")
    promise_id = made["items"][0]["id"]
    await rival.api("GET", f"/promises/{promise_id}", status=404)
    await rival.api("POST", f"/promises/{promise_id}/cancel", status=404)
    assert (await rival.api("GET", "/promises"))["items"] == []
    assert (await shop.api("GET", f"/promises/{promise_id}"))["status"] == "pending"


class Listener:
    """Another plugin hearing the promise events through `arportal_event`."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def arportal_event(self, name: str, data: dict[str, Any]) -> None:
        if name.startswith("promise_"):
            self.events.append((name, data))


async def test_other_plugins_hear_made_kept_and_broken(make_config: Any, frozen_today: Any) -> None:
    from arportal.clock import freeze_today
    from tests.plugins.promise_to_pay.test_settle import job

    listener = Listener()
    plugins = [("promise_to_pay", promise_plugin), ("listener", listener)]
    async with running_app(make_config(), plugins=plugins) as app:
        shop = await make_shop(app)
        await shop.api("POST", "/promises", body(date="2026-03-20"), status=201)
        await shop.pay("INV-1", "100.00")
        freeze_today(dt.date(2026, 3, 21))
        await job(shop)
    assert [(name, data["invoice_external_id"]) for name, data in listener.events] == [
        ("promise_made", "INV-1"), ("promise_made", "INV-2"),
        ("promise_kept", "INV-1"), ("promise_broken", "INV-2"),
    ]
    name, data = listener.events[-1]
    assert data == {
        "promise_id": data["promise_id"], "status": "broken", "source": "team",
        "customer_external_id": "C1", "invoice_external_id": "INV-2", "invoice_number": "INV-2",
        "promised_date": "2026-03-20", "amount": "250.00", "currency": "EUR",
        "batch": data["batch"],
    }


async def test_found_through_its_entry_point(make_config: Any) -> None:
    config = make_config(plugins=PluginsConfig(enabled=["promise_to_pay"]))
    async with running_app(config, plugins=None) as app:
        decl = app.host.declarations
        assert app.host.plugin_names == ["promise_to_pay"]
        assert decl.features["promise_to_pay"][0].default is False
        assert "promise_to_pay" in decl.sections
        assert [job.name for job, plugin in decl.jobs if plugin == "promise_to_pay"] == [
            "promise_to_pay.settle"
        ]
        shop = await make_shop(app, feature=False)
        settings = await shop.api("GET", "/settings")
        assert settings["features"]["promise_to_pay"] is False
        assert settings["promise_to_pay"] == {
            "max_days": 30, "allow_partial": False, "hold_invoices": True,
            "notify_emails": [TEAM], "remind_customer": True,
        }
        for bad, field in (({"max_days": 0}, "promise_to_pay.max_days"),
                           ({"notify_emails": ["not an address"]},
                            "promise_to_pay.notify_emails")):
            refused = await shop.api("PATCH", "/settings", {"promise_to_pay": bad}, status=422)
            assert refused["field"] == field


def test_the_plugin_uses_only_the_public_api() -> None:
    """Like a third party's: `arportal`'s exports, its own package, the stack, the standard
    library; never the core's modules."""
    import ast
    import sys
    from pathlib import Path

    import arportal

    own = "arportal.plugins.promise_to_pay"
    allowed_roots = {"litestar", "piccolo", "msgspec", "babel", "__future__"}
    offences = []
    for path in sorted(Path(promise_plugin.__file__).parent.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [(alias.name, []) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [(node.module, [alias.name for alias in node.names])]
            else:
                continue
            for module, names in modules:
                if module == "arportal":
                    offences += [f"{path.name}: {n}" for n in names if n not in arportal.__all__]
                elif module == own or module.startswith(own + "."):
                    continue
                elif module.split(".")[0] not in allowed_roots | set(sys.stdlib_module_names):
                    offences.append(f"{path.name}: imports {module}")
    assert offences == []
