"""Outbox delivery against a real local SMTP server (aiosmtpd), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from arportal import mailer
from arportal.clock import utcnow
from arportal.config import MailConfig, SmtpConfig
from arportal.declarations import MailSender
from arportal.jobs import run_due_jobs
from arportal.mailer import MAX_ATTEMPTS, deliver_pending
from arportal.models import OutboxMessage
from arportal.outbox import enqueue_mail, list_outbox, retry_failed
from arportal.tenancy import load_context
from tests.conftest import make_tenant, running_app
from tests.core.mail_helpers import MailPlugin, SmtpServer, parts


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def mail_app(config: Any, tmp_path: Any, **plugin_options: Any) -> Any:
    plugin = MailPlugin(tmp_path / "mail", **plugin_options)
    return running_app(config, plugins=[("mailtest", plugin)])


def smtp_config(port: int) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=port, timeout=5)


async def tenant_ctx(running: Any, slug: str = "acme", name: str = "Acme Corp") -> Any:
    handle = await make_tenant(slug, name)
    return await load_context(running.host, running.config, handle.row)


async def greet(ctx: Any, name: str = "Ann", **kwargs: Any) -> int:
    return await enqueue_mail(
        ctx,
        to=[f"{name} <{name.lower()}@example.com>"],
        subject=f"Hello {name}",
        template="mailtest:greeting",
        context={"name": name},
        **kwargs,
    )


async def outbox_row(message_id: int) -> dict[str, Any]:
    return await OutboxMessage.select().where(OutboxMessage.id == message_id).first()


async def test_mail_is_delivered_from_the_instance_default(
    make_config: Any, tmp_path: Any, smtp_server: SmtpServer
) -> None:
    config = make_config(
        smtp=smtp_config(smtp_server.port),
        mail=MailConfig(default_sender="AR Portal <ar@portal.example>"),
    )
    async with mail_app(config, tmp_path) as running:
        ctx = await tenant_ctx(running, name="O'Brien & Sons")
        message_id = await greet(ctx, "Ann")

        report = await deliver_pending(config)

        assert (report.sent, report.failed, report.retried) == (1, 0, 0)
        [message] = smtp_server.messages
        assert message["From"] == "AR Portal <ar@portal.example>"
        assert message["To"] == "Ann <ann@example.com>"
        assert message["Subject"] == "Hello Ann"
        assert message["Message-ID"].startswith(f"<outbox.{message_id}.")
        text, html = parts(message)
        assert text.strip() == "Hello Ann, this is O'Brien & Sons."
        assert html is not None
        assert "Hello <b>Ann</b>, this is O&#39;Brien &amp; Sons." in html
        assert smtp_server.collector.envelopes[0].rcpt_tos == ["ann@example.com"]
        row = await outbox_row(message_id)
        assert row["status"] == "sent" and row["sent_at"] is not None

        assert await deliver_pending(config) == type(report)()
        assert len(smtp_server.messages) == 1


async def test_mail_comes_from_the_plugins_sender(
    make_config: Any, tmp_path: Any, smtp_server: SmtpServer
) -> None:
    config = make_config(smtp=smtp_config(smtp_server.port))
    sender = MailSender(
        email="billing@acme.example", name="Acme Billing", reply_to="ar@acme.example"
    )
    async with mail_app(config, tmp_path, sender=sender) as running:
        ctx = await tenant_ctx(running)
        await enqueue_mail(
            ctx, to=["bob@example.com"], subject="Your statement", template="mailtest:plain",
            context={},
        )

        await deliver_pending(config)

        [message] = smtp_server.messages
        assert message["From"] == "Acme Billing <billing@acme.example>"
        assert message["Reply-To"] == "ar@acme.example"
        assert smtp_server.collector.envelopes[0].mail_from == "billing@acme.example"
        text, html = parts(message)
        assert text.strip() == "Theme colour #1f5fbf."
        assert html is None and not message.is_multipart()


async def test_nothing_is_lost_while_the_smtp_server_is_down(
    make_config: Any, tmp_path: Any
) -> None:
    server = SmtpServer()  # its port has nothing listening yet
    config = make_config(smtp=smtp_config(server.port))
    async with mail_app(config, tmp_path) as running:
        ctx = await tenant_ctx(running)
        message_id = await greet(ctx)
        before = utcnow()

        report = await deliver_pending(config)

        assert (report.sent, report.retried, report.failed) == (0, 1, 0)
        row = await outbox_row(message_id)
        assert row["status"] == "pending" and row["attempts"] == 1
        assert row["next_attempt_at"] > before + dt.timedelta(seconds=50)
        assert row["last_error"] and row["claimed_until"] is None
        [listed] = await list_outbox(status="pending")
        assert listed["id"] == message_id and listed["attempts"] == 1

        # Not due yet: another run right away does not try again.
        server.start()
        try:
            assert (await deliver_pending(config)).sent == 0
            assert server.messages == []

            later = utcnow() + dt.timedelta(minutes=2)
            assert (await deliver_pending(config, now=later)).sent == 1
            assert (await deliver_pending(config, now=later + dt.timedelta(hours=1))).sent == 0
        finally:
            server.stop()
        [message] = server.messages
        assert message["Subject"] == "Hello Ann"
        row = await outbox_row(message_id)
        assert row["status"] == "sent" and row["attempts"] == 2 and row["last_error"] is None


async def test_a_mail_is_given_up_after_the_last_attempt(make_config: Any, tmp_path: Any) -> None:
    server = SmtpServer()
    config = make_config(smtp=smtp_config(server.port))
    async with mail_app(config, tmp_path) as running:
        ctx = await tenant_ctx(running)
        message_id = await greet(ctx)
        await OutboxMessage.update({OutboxMessage.attempts: MAX_ATTEMPTS - 1}).where(
            OutboxMessage.id == message_id
        )

        report = await deliver_pending(config)

        assert (report.sent, report.retried, report.failed) == (0, 0, 1)
        row = await outbox_row(message_id)
        assert row["status"] == "failed" and row["attempts"] == MAX_ATTEMPTS
        assert [m["id"] for m in await list_outbox(status="failed")] == [message_id]


async def test_a_failed_mail_is_sent_again_once_retried(make_config: Any, tmp_path: Any) -> None:
    server = SmtpServer()  # down while the attempts run out
    config = make_config(smtp=smtp_config(server.port))
    async with mail_app(config, tmp_path) as running:
        ctx = await tenant_ctx(running)
        other = await tenant_ctx(running, "globex", "Globex")
        failed_id, other_id = await greet(ctx), await greet(other, "Bob")
        await OutboxMessage.update({OutboxMessage.attempts: MAX_ATTEMPTS - 1}).where(
            OutboxMessage.id.is_in([failed_id, other_id])
        )
        assert (await deliver_pending(config)).failed == 2

        assert await retry_failed(tenant_id=ctx.tenant_id) == [failed_id]
        assert await retry_failed([failed_id]) == []  # pending now: nothing to retry
        row = await outbox_row(failed_id)
        assert row["status"] == "pending" and row["attempts"] == 0
        assert (await outbox_row(other_id))["status"] == "failed"  # another tenant's mail

        server.start()
        try:
            report = await deliver_pending(config)
        finally:
            server.stop()
        assert (report.sent, report.failed) == (1, 0)
        [message] = server.messages
        assert message["Subject"] == "Hello Ann"
        row = await outbox_row(failed_id)
        assert row["status"] == "sent" and row["attempts"] == 1 and row["last_error"] is None


async def test_two_concurrent_deliveries_send_each_mail_once(
    make_config: Any, tmp_path: Any, smtp_server: SmtpServer
) -> None:
    config = make_config(smtp=smtp_config(smtp_server.port))
    async with mail_app(config, tmp_path) as running:
        ctx = await tenant_ctx(running)
        names = [f"Person{i}" for i in range(8)]
        for name in names:
            await greet(ctx, name)

        reports = await asyncio.gather(
            deliver_pending(config, limit=3),
            deliver_pending(config, limit=3),
            deliver_pending(config, limit=3),
            deliver_pending(config, limit=3),
        )

        assert sum(r.sent for r in reports) == 8
        assert sorted(m["Subject"] for m in smtp_server.messages) == sorted(
            f"Hello {name}" for name in names
        )
        assert await list_outbox(status="pending") == []


async def test_without_smtp_mail_waits_in_the_outbox(make_config: Any, tmp_path: Any) -> None:
    config = make_config()
    assert config.smtp is None
    async with mail_app(config, tmp_path) as running:
        ctx = await tenant_ctx(running)
        message_id = await greet(ctx)

        report = await deliver_pending(config)

        assert (report.sent, report.retried, report.failed) == (0, 0, 0)
        [listed] = await list_outbox()
        assert listed["id"] == message_id and listed["status"] == "pending"
        assert listed["attempts"] == 0 and listed["tenant_slug"] == "acme"


async def test_the_core_job_delivers_the_outbox(
    make_config: Any, tmp_path: Any, smtp_server: SmtpServer
) -> None:
    config = make_config(smtp=smtp_config(smtp_server.port))
    async with mail_app(config, tmp_path) as running:
        ctx = await tenant_ctx(running)
        await greet(ctx)

        runs = await run_due_jobs(running.host, config, only=["deliver_outbox"])

        [run] = runs
        assert (run.name, run.plugin, run.tenant_id, run.ok) == (
            "deliver_outbox", "core", None, True,
        )
        assert run.result == {"sent": 1, "failed": 0, "retried": 0}
        assert [m["Subject"] for m in smtp_server.messages] == ["Hello Ann"]


async def test_an_interrupted_run_releases_the_mail_it_did_not_start(
    make_config: Any, tmp_path: Any, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(smtp=smtp_config(smtp_server.port))
    async with mail_app(config, tmp_path) as running:
        ctx = await tenant_ctx(running)
        first, second, third = [await greet(ctx, name) for name in ("Ann", "Bob", "Cy")]

        async def shut_down(client: Any, row: dict[str, Any]) -> None:
            raise asyncio.CancelledError

        with monkeypatch.context() as patch:
            patch.setattr(mailer, "_send", shut_down)
            with pytest.raises(asyncio.CancelledError):
                await deliver_pending(config)

        # The mail in flight keeps its claim (it may have reached the server); the others
        # are free at once and go out with the next run.
        assert (await outbox_row(first))["claimed_until"] is not None
        assert (await deliver_pending(config)).sent == 2
        assert sorted(m["Subject"] for m in smtp_server.messages) == ["Hello Bob", "Hello Cy"]
        assert {(await outbox_row(i))["status"] for i in (second, third)} == {"sent"}

        later = utcnow() + dt.timedelta(minutes=11)
        assert (await deliver_pending(config, now=later)).sent == 1
        assert (await outbox_row(first))["status"] == "sent"
