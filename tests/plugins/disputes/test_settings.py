"""The `disputes` settings section: reasons (add, rename, archive; labels unique) and
`notify_emails`, required while the feature is on."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.test_portal import text

from .conftest import Shop

DEFAULT_LABELS = [
    "Unsatisfactory work", "Faulty goods", "Late delivery", "Never agreed", "Unable to pay",
    "Pricing disagreement", "Invoice processing error", "Other",
]


async def reasons(shop: Shop) -> list[dict[str, Any]]:
    return (await shop.api("GET", "/settings"))["disputes"]["reasons"]  # type: ignore[no-any-return]


async def test_defaults(shop):
    settings = await shop.api("GET", "/settings")
    assert settings["features"]["disputes"] is False
    assert [r["label"] for r in settings["disputes"]["reasons"]] == DEFAULT_LABELS
    assert settings["disputes"]["notify_emails"] == []


async def test_switching_on_needs_someone_to_notify(shop):
    refused = await shop.api("PATCH", "/settings", {"features": {"disputes": True}}, status=422)
    assert refused["field"] == "disputes.notify_emails"
    assert "required while the feature 'disputes' is on" in refused["detail"]
    assert (await shop.api("GET", "/settings"))["features"]["disputes"] is False

    await shop.api("PATCH", "/settings", {"disputes": {"notify_emails": ["ar@acme.test"]}})
    await shop.api("PATCH", "/settings", {"features": {"disputes": True}})
    emptied = await shop.api("PATCH", "/settings", {"disputes": {"notify_emails": []}},
                             status=422)
    assert emptied["field"] == "disputes.notify_emails"
    await shop.api("PATCH", "/settings", {"features": {"disputes": False},
                                          "disputes": {"notify_emails": []}})


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"notify_emails": ["not an address"]}, "not an email address"),
        ({"notify_emails": ["a@b.test\r\nBcc: x@y.test"]}, "not an email address"),
        ({"reasons": [{"key": "a", "label": "Same"}, {"key": "b", "label": "same "}]},
         "label 'same' is used twice"),
        ({"reasons": [{"key": "a", "label": "One"}, {"key": "a", "label": "Two"}]},
         "key 'a' is used twice"),
        ({"reasons": [{"key": "Bad Key", "label": "One"}]}, "is not a key"),
        ({"reasons": [{"key": "a", "label": "  "}]}, "label is empty"),
        ({"reasons": [{"key": "a", "label": "One", "archived": True}]},
         "at least one reason must not be archived"),
        ({"reasons": [{"key": "a", "label": "One", "colour": "red"}]}, "unknown field"),
    ],
)
async def test_bad_settings_are_refused_naming_the_field(shop, patch, message):
    refused = await shop.api("PATCH", "/settings", {"disputes": patch}, status=422)
    assert refused["field"].startswith("disputes.")
    assert message in refused["detail"], refused


async def test_reasons_are_added_renamed_and_archived(ready):
    await ready.open_dispute(reason="pricing_disagreement")
    current = await reasons(ready)
    for reason in current:
        if reason["key"] == "pricing_disagreement":
            reason["label"] = "Price not as quoted"
        if reason["key"] == "never_agreed":
            reason["archived"] = True
    current.append({"key": "duplicate_invoice", "label": "Billed twice", "archived": False})
    await ready.api("PATCH", "/settings", {"disputes": {"reasons": current}})

    home = text((await ready.client.get("/portal/")).text)
    assert "Disputed: Price not as quoted" in home, "a renamed reason shows its new label"
    form = await ready.client.get("/portal/disputes/new?invoice=I-2")
    assert ">Billed twice</option>" in form.text
    assert "Never agreed" not in form.text
    refused = await ready.open_dispute("I-2", reason="never_agreed", status=422)
    assert "Choose one of the reasons." in text(refused.text)
    await ready.open_dispute("I-2", reason="duplicate_invoice")
    listed = (await ready.api("GET", "/disputes"))["items"]
    assert [(i["reason"], i["reason_label"]) for i in listed] == [
        ("duplicate_invoice", "Billed twice"), ("pricing_disagreement", "Price not as quoted"),
    ]
