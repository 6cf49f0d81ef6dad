"""Branded notifications (SQLite and PostgreSQL): the tenant's sender address is used only once
its one-time link was followed; Reply-To is the contact email; the instance may limit domains."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from arportal.config import MailConfig
from arportal.models import OutboxMessage
from arportal.outbox import enqueue_mail
from arportal.plugins.branding import plugin as branding
from arportal.tenancy import load_context
from tests.conftest import Running, TenantHandle, make_tenant, running_app
from tests.plugins.branding.helpers import api, patch_branding, png, put_logo

DEFAULT = "Acme Portal <no-reply@portal.example.com>"
LINK = re.compile(r"http://testserver(/portal/branding/sender/confirm/[A-Za-z0-9_-]+)")
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


@pytest.fixture
async def app(make_config: Any) -> Any:
    config = make_config(mail=MailConfig(default_sender=DEFAULT))
    async with running_app(config, [("branding", branding)]) as running:
        yield running


async def mails(tenant: TenantHandle) -> list[dict[str, Any]]:
    return await (  # type: ignore[no-any-return]
        OutboxMessage.select().where(OutboxMessage.tenant == tenant.id)
        .order_by(OutboxMessage.id).output(load_json=True)
    )


async def notify(app: Running, tenant: TenantHandle) -> dict[str, Any]:
    """A mail of the tenant, as any plugin sends one; answers the stored row."""
    ctx = await load_context(app.host, app.config, tenant.row)
    message_id = await enqueue_mail(
        ctx, to=["ap@buyer.test"], subject="Your statement",
        template="branding:mail/confirm_sender",
        context={"url": "http://testserver/x", "email": "x@y.test", "days": 1},
    )
    return next(row for row in await mails(tenant) if row["id"] == message_id)


async def confirmation_link(tenant: TenantHandle) -> str:
    [mail] = [m for m in await mails(tenant) if m["subject"].startswith("Confirm")]
    match = LINK.search(mail["text_body"])
    assert match, mail["text_body"]
    return match.group(1)


async def test_mail_comes_from_the_alias_only_once_it_is_confirmed(app: Running) -> None:
    tenant = await make_tenant()
    await patch_branding(app, tenant, sender_name="Acme Billing", sender_email="billing@acme.test",
                         contact_email="ar@acme.test")

    [confirmation] = await mails(tenant)
    assert confirmation["to_addrs"] == ["billing@acme.test"]
    assert confirmation["from_addr"] == DEFAULT, "an unconfirmed alias is not used, even here"
    assert confirmation["subject"] == "Confirm billing@acme.test as the sender of Acme Corp's " \
        "customer mail"
    link = await confirmation_link(tenant)
    assert link in confirmation["html_body"]
    status = await api(app, tenant, "GET", "/branding/sender")
    assert status["status"] == "pending" and status["mail_from"] == DEFAULT

    before = await notify(app, tenant)
    assert before["from_addr"] == DEFAULT and before["reply_to"] == "ar@acme.test"

    # A mail scanner opens the link: nothing changes.
    page = await app.client.get(link)
    assert page.status_code == 200 and "Confirm billing@acme.test" in page.text
    assert (await notify(app, tenant))["from_addr"] == DEFAULT

    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    done = await app.client.post(link, data={"_csrf_token": token})
    assert done.status_code == 200 and "Sender address confirmed" in done.text

    after = await notify(app, tenant)
    assert after["from_addr"] == "Acme Billing <billing@acme.test>"
    assert after["reply_to"] == "ar@acme.test"
    status = await api(app, tenant, "GET", "/branding/sender")
    assert status["status"] == "verified" and status["mail_from"] == "billing@acme.test"

    again = await app.client.post(link, data={"_csrf_token": token})
    assert again.status_code == 404, "the link works once"
    audit = await api(app, tenant, "GET", "/audit")
    assert "branding_sender_confirmed" in [item["action"] for item in audit["items"]]


async def test_a_new_address_needs_its_own_confirmation(app: Running) -> None:
    tenant = await make_tenant()
    await patch_branding(app, tenant, sender_email="billing@acme.test")
    link = await confirmation_link(tenant)
    page = await app.client.get(link)
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    await app.client.post(link, data={"_csrf_token": token})

    await patch_branding(app, tenant, sender_email="ar@acme.test")
    assert (await notify(app, tenant))["from_addr"] == DEFAULT
    assert [m["to_addrs"] for m in await mails(tenant)][:2] == [
        ["billing@acme.test"], ["ar@acme.test"]
    ]

    await patch_branding(app, tenant, sender_email="billing@acme.test")
    assert (await notify(app, tenant))["from_addr"] == "Acme Corp <billing@acme.test>"
    confirmations = [m for m in await mails(tenant) if m["subject"].startswith("Confirm")]
    assert len(confirmations) == 2, "an address confirmed before needs no new link"


async def test_setting_other_fields_sends_no_confirmation(app: Running) -> None:
    tenant = await make_tenant()
    await patch_branding(app, tenant, sender_email="billing@acme.test")
    await patch_branding(app, tenant, primary_color="#112233")
    assert len(await mails(tenant)) == 1
    resent = await api(app, tenant, "POST", "/branding/sender/confirmation", status=202)
    assert resent["status"] == "pending" and resent["outbox_id"] is not None
    assert len(await mails(tenant)) == 2


async def test_an_unknown_or_expired_link_is_not_found(app: Running) -> None:
    from arportal.plugins.branding.models import BrandingSender

    tenant = await make_tenant()
    await patch_branding(app, tenant, sender_email="billing@acme.test")
    link = await confirmation_link(tenant)
    assert (await app.client.get(link + "x")).status_code == 404
    await BrandingSender.update(
        {BrandingSender.token_expires_at: dt.datetime(2000, 1, 1, tzinfo=dt.UTC)}
    ).where(BrandingSender.tenant == tenant.id)
    assert (await app.client.get(link)).status_code == 404


async def test_the_contact_email_alone_sets_the_reply_to(app: Running) -> None:
    tenant = await make_tenant()
    assert (await notify(app, tenant))["reply_to"] is None
    await patch_branding(app, tenant, contact_email="ar@acme.test")
    mail = await notify(app, tenant)
    assert mail["from_addr"] == DEFAULT and mail["reply_to"] == "ar@acme.test"


async def test_the_logo_and_colours_are_in_the_mail(app: Running) -> None:
    tenant = await make_tenant()
    logo = png()
    await put_logo(app, tenant, logo)
    await patch_branding(app, tenant, display_name="Acme Billing", banner_color="#0b3d2e")
    html = (await notify(app, tenant))["html_body"]
    assert "background:#0b3d2e;color:#ffffff" in html
    url = re.search(r'<img src="http://testserver(/files/images/[^"]+)" alt="Acme Billing"', html)
    assert url, html
    image = await app.client.get(url.group(1))
    assert image.status_code == 200 and image.content == logo
    assert image.headers["content-type"] == "image/png"
    assert image.headers["x-content-type-options"] == "nosniff"
    forged = url.group(1)[:-4] + "AAAA"
    assert (await app.client.get(forged)).status_code == 404


async def test_the_instance_limits_sender_domains(make_config: Any) -> None:
    config = make_config(mail=MailConfig(default_sender=DEFAULT,
                                         allowed_sender_domains=["Acme.test", "acme.example"]))
    async with running_app(config, [("branding", branding)]) as running:
        tenant = await make_tenant()
        error = await patch_branding(running, tenant, status=422, sender_email="ar@gmail.test")
        assert error["field"] == "branding.sender_email"
        assert "does not send mail for gmail.test" in error["detail"]
        assert await mails(tenant) == []
        await patch_branding(running, tenant, sender_email="billing@ACME.test")
        assert len(await mails(tenant)) == 1
