"""An expired link asks for a fresh one: `POST /p/<token>/renew` (or `/portal/renew` with the
session of an expired link).

The expired link itself says who is asking, so the form needs no input and the page never
shows or confirms an address: it always answers "if we have an address on file, we sent a new
link". The fresh link goes only to the customer's address on file, through the outbox. Renewals
are limited per link and per client address; a presented link that is unknown counts as a
failed look-up like any other.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from arportal import db
from arportal.events import emit_event
from arportal.formatting import format_date
from arportal.links import create_link, link_state, portal_url
from arportal.portal.access import PortalLinkUnknown, PortalRateLimited, presented_link
from arportal.portal.i18n import SUPPORTED, language, normalize_locale, translate
from arportal.portal.rendering import base_context
from arportal.ratelimit import app_limiter, client_address
from arportal.tenancy import customer_toggles, load_context

RENEWALS_PER_LINK = 3
RENEWALS_PER_ADDRESS = 10
RENEWAL_WINDOW = 3600
MAIL_TEMPLATE = "core:mail/fresh_link"
_ADDRESS = re.compile(r"^[^@\s<>\"'(),;:\\]+@[^@\s<>\"'(),;:\\]+\.[^@\s<>\"'(),;:\\]+$")


def addresses_on_file(customer: dict[str, Any]) -> list[str]:
    """The customer's address(es) on file; a field may hold several, split by `,` or `;`."""
    parts = re.split(r"[,;]", customer.get("email") or "")
    return [part.strip() for part in parts if _ADDRESS.match(part.strip())]


@post("/renew", opt={"public": True})
async def renew(request: Request[Any, Any, Any]) -> Redirect:
    link, base = await presented_link(request)
    if link is None:
        raise PortalLinkUnknown()
    customer, tenant = link["_customer"], link["_tenant"]
    locale = normalize_locale(customer["locale"])
    if link_state(link) != "expired":
        return Redirect(base + "/", status_code=303)
    app = request.app
    per_address = app_limiter(app, "renew-address", RENEWALS_PER_ADDRESS, RENEWAL_WINDOW)
    per_link = app_limiter(app, "renew-link", RENEWALS_PER_LINK, RENEWAL_WINDOW)
    if not await per_address.hit(client_address(request.scope)) or not await per_link.hit(
        str(link["id"])
    ):
        raise PortalRateLimited(per_link.retry_after(), locale)
    await send_fresh_link(app, tenant, customer, locale)
    return Redirect(f"/portal/link-sent?lang={language(locale)}", status_code=303)


async def send_fresh_link(
    app: Any, tenant: dict[str, Any], customer: dict[str, Any], locale: str
) -> int | None:
    """Make a new link for the customer and queue it to the address on file. Nothing is sent
    when the portal is off for the customer or no address is on file. Returns the outbox id."""
    config = app.state.config
    ctx = await load_context(
        app.state.host, config, tenant, actor=f"customer:{customer['external_id']}"
    )
    ctx = ctx.for_customer(customer, await customer_toggles(customer["id"]))
    addresses = addresses_on_file(customer)
    if not ctx.toggle_enabled("portal") or not addresses:
        return None
    from arportal.outbox import enqueue_mail

    theme = await ctx.first("arportal_theme")
    tenant_name = getattr(theme, "display_name", None) or ctx.name
    async with db.state.engine.transaction():  # type: ignore[union-attr]
        link = await create_link(
            app.state.secret, ctx.tenant_id, customer["id"], ctx.portal_settings.link_validity_days
        )
        context = mail_context(
            locale,
            tenant_name=tenant_name,
            customer_name=customer["name"],
            url=portal_url(config.base_url, link["token"]),
            expires_on=format_date(link["expires_at"].date(), locale, "long"),
        )
        outbox_id = await enqueue_mail(
            ctx,
            to=addresses,
            subject=translate(locale, "Your new link to the {tenant} customer portal",
                              tenant=tenant_name),
            template=MAIL_TEMPLATE,
            context=context,
        )
    await emit_event(
        ctx, "portal_link_renewed", {"link_id": link["id"]},
        subject_type="customer", subject_id=customer["external_id"],
    )
    return outbox_id  # type: ignore[no-any-return]


def mail_context(
    locale: str, *, tenant_name: str, customer_name: str, url: str, expires_on: str
) -> dict[str, Any]:
    """Plain strings only, already in the customer's language."""

    def t(text: str, **values: Any) -> str:
        return translate(locale, text, **values)

    return {
        "lang": language(locale),
        "url": url,
        "tenant_name": tenant_name,
        "customer_name": customer_name,
        "text": {
            "greeting": t("Hello {name},", name=customer_name),
            "intro": t("Here is your new link to see your invoices with {tenant}:",
                       tenant=tenant_name),
            "button": t("Open the portal"),
            "personal": t(
                "This link is personal: please do not forward it. It is valid until {date}.",
                date=expires_on,
            ),
            "why": t(
                "You received this message because someone asked for a new link on the "
                "portal. If it was not you, you can ignore it."
            ),
        },
    }


@get("/link-sent", opt={"public": True})
async def link_sent(lang: FromQuery[str | None] = None) -> Template:
    locale = lang if lang in SUPPORTED else "en"
    return Template(template_name="core:portal/link_sent.html", context=base_context(locale))
