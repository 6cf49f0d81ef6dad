"""Enqueueing mail: rendering, senders, header safety, dedupe, listing (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import TemplateNotFound

import arportal
from arportal.config import MailConfig
from arportal.declarations import MailSender, Theme
from arportal.models import OutboxMessage
from arportal.outbox import enqueue_mail, list_outbox
from arportal.tenancy import load_context
from tests.conftest import make_tenant, running_app
from tests.core.mail_helpers import MailPlugin


async def context_for(running: Any, slug: str = "acme", name: str = "Acme Corp") -> Any:
    handle = await make_tenant(slug, name)
    return await load_context(running.host, running.config, handle.row)


async def rows() -> list[dict[str, Any]]:
    return await OutboxMessage.select().order_by(OutboxMessage.id).output(load_json=True)


def mail_app(config: Any, tmp_path: Any, **plugin_options: Any) -> Any:
    return running_app(config, plugins=[("mailtest", MailPlugin(tmp_path / "t", **plugin_options))])


def mail(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "to": ["ann@example.com"],
        "subject": "Hello",
        "template": "mailtest:greeting",
        "context": {"name": "Ann"},
    }
    values.update(overrides)
    return values


async def test_enqueue_renders_text_and_html_and_waits(make_config: Any, tmp_path: Any) -> None:
    config = make_config(mail=MailConfig(default_sender="AR <ar@portal.example>"))
    async with running_app(config, plugins=[("mailtest", MailPlugin(tmp_path / "t"))]) as running:
        ctx = await context_for(running, name="Bell & Sons")

        message_id = await arportal.enqueue_mail(ctx, **mail(context={"name": "<Ann>"}))

        [row] = await rows()
        assert row["id"] == message_id and row["tenant"] == ctx.tenant_id
        assert row["status"] == "pending" and row["attempts"] == 0
        assert row["from_addr"] == "AR <ar@portal.example>"
        assert row["to_addrs"] == ["ann@example.com"]
        assert row["text_body"] == "Hello <Ann>, this is Bell & Sons."
        assert "Hello <b>&lt;Ann&gt;</b>, this is Bell &amp; Sons." in row["html_body"]
        assert "Bell &amp; Sons" in row["html_body"]  # the layout's banner


async def test_text_only_template_and_theme_in_context(make_config: Any, tmp_path: Any) -> None:
    plugin = MailPlugin(tmp_path / "t", theme=Theme(primary_color="#aa0000"))
    async with running_app(make_config(), plugins=[("mailtest", plugin)]) as running:
        ctx = await context_for(running)

        await enqueue_mail(ctx, **mail(template="mailtest:plain"))

        [row] = await rows()
        assert row["text_body"] == "Theme colour #aa0000." and row["html_body"] is None
        with pytest.raises(TemplateNotFound):
            await enqueue_mail(ctx, **mail(template="mailtest:missing"))


async def test_plugin_sender_and_explicit_reply_to(make_config: Any, tmp_path: Any) -> None:
    sender = MailSender(
        email="billing@acme.example", name="Acme, Billing", reply_to="ar@acme.example"
    )
    async with mail_app(make_config(), tmp_path, sender=sender) as running:
        ctx = await context_for(running)

        await enqueue_mail(ctx, **mail())
        await enqueue_mail(ctx, **mail(reply_to="Desk <desk@acme.example>"))

        first, second = await rows()
        assert first["from_addr"] == '"Acme, Billing" <billing@acme.example>'
        assert first["reply_to"] == "ar@acme.example"
        assert second["reply_to"] == "Desk <desk@acme.example>"


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("subject", {"subject": "Hi\r\nBcc: victim@example.com"}),
        ("subject", {"subject": "Hi\nthere"}),
        ("subject", {"subject": "x" * 501}),
        ("to", {"to": ["ann@example.com\r\nBcc: victim@example.com"]}),
        ("to", {"to": ["not an address"]}),
        ("to", {"to": []}),
        ("to", {"to": "ann@example.com"}),
        ("reply_to", {"reply_to": "x@example.com\nBcc: victim@example.com"}),
    ],
)
async def test_header_injection_and_bad_addresses_are_refused(
    make_config: Any, tmp_path: Any, field: str, overrides: dict[str, Any]
) -> None:
    async with mail_app(make_config(), tmp_path) as running:
        ctx = await context_for(running)

        with pytest.raises(ValueError, match=f"^{field}:"):
            await enqueue_mail(ctx, **mail(**overrides))

        assert await rows() == []


async def test_a_plugin_sender_with_a_line_break_is_refused(
    make_config: Any, tmp_path: Any
) -> None:
    sender = MailSender(email="billing@acme.example", name="Acme\r\nBcc: victim@example.com")
    async with mail_app(make_config(), tmp_path, sender=sender) as running:
        ctx = await context_for(running)
        with pytest.raises(ValueError, match="^sender name:"):
            await enqueue_mail(ctx, **mail())
        assert await rows() == []


async def test_a_dedupe_key_stores_one_mail_per_tenant(make_config: Any, tmp_path: Any) -> None:
    async with mail_app(make_config(), tmp_path) as running:
        acme = await context_for(running)
        globex = await context_for(running, "globex", "Globex")

        first = await enqueue_mail(acme, **mail(dedupe_key="reminder:INV-1:2026-03-01"))
        again = await enqueue_mail(
            acme, **mail(subject="Changed", dedupe_key="reminder:INV-1:2026-03-01")
        )
        other = await enqueue_mail(globex, **mail(dedupe_key="reminder:INV-1:2026-03-01"))
        free = await enqueue_mail(acme, **mail())

        assert again == first and len({first, other, free}) == 3
        stored = await rows()
        assert [(r["tenant"], r["subject"]) for r in stored] == [
            (acme.tenant_id, "Hello"), (globex.tenant_id, "Hello"), (acme.tenant_id, "Hello"),
        ]


async def test_list_outbox_filters_by_status_and_tenant(make_config: Any, tmp_path: Any) -> None:
    async with mail_app(make_config(), tmp_path) as running:
        acme = await context_for(running)
        globex = await context_for(running, "globex", "Globex")
        a1 = await enqueue_mail(acme, **mail(subject="A1"))
        g1 = await enqueue_mail(globex, **mail(subject="G1"))
        a2 = await enqueue_mail(acme, **mail(subject="A2"))
        await OutboxMessage.update({OutboxMessage.status: "sent"}).where(OutboxMessage.id == a1)

        everything = await list_outbox()
        assert [m["id"] for m in everything] == [a2, g1, a1]
        assert everything[0]["to_addrs"] == ["ann@example.com"]
        assert everything[0]["tenant_slug"] == "acme" and "text_body" not in everything[0]
        assert [m["id"] for m in await list_outbox(status="pending")] == [a2, g1]
        assert [m["id"] for m in await list_outbox(tenant_id=acme.tenant_id)] == [a2, a1]
        assert [m["id"] for m in await list_outbox(limit=1)] == [a2]
        with pytest.raises(ValueError, match="^status:"):
            await list_outbox(status="bogus")
