"""The tenant's own sender address: confirmed by a one-time link mailed to it.

Setting `branding.sender_email` mails a link to that address through the outbox (from the
instance's default sender, since the address is not confirmed yet). `GET` on the link only
shows a button (mail scanners open links); the `POST` confirms the address and uses the token
up. Until then the tenant's mail keeps coming from `mail.default_sender`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from arportal import TenantContext, enqueue_mail
from arportal.plugins.branding.models import BrandingSender
from arportal.plugins.branding.settings import settings_of

TOKEN_DAYS = 7
CONFIRM_PATH = "/portal/branding/sender/confirm/"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def sender_row(tenant_id: int, email: str) -> dict[str, Any] | None:
    return await (  # type: ignore[no-any-return]
        BrandingSender.select()
        .where((BrandingSender.tenant == tenant_id) & (BrandingSender.email == email.lower()))
        .first()
    )


async def verified(ctx: TenantContext, email: str) -> bool:
    row = await sender_row(ctx.tenant_id, email)
    return bool(row and row["verified_at"] is not None)


async def status(ctx: TenantContext) -> dict[str, Any]:
    """What `GET /api/v1/branding/sender` answers."""
    settings = settings_of(ctx)
    email = settings.sender_email
    row = await sender_row(ctx.tenant_id, email) if email else None
    if email is None:
        state = "none"
    elif row and row["verified_at"] is not None:
        state = "verified"
    else:
        state = "pending"
    return {
        "sender_email": email,
        "sender_name": settings.sender_name,
        "status": state,
        "verified_at": row["verified_at"].isoformat() if row and row["verified_at"] else None,
        "mail_from": email if state == "verified" else ctx.config.mail.default_sender,
    }


async def request_confirmation(ctx: TenantContext) -> int | None:
    """Mail a fresh one-time link to the tenant's sender address (none when it is unset or
    already confirmed); answer the outbox id."""
    email = settings_of(ctx).sender_email
    if not email:
        return None
    email = email.lower()
    row = await sender_row(ctx.tenant_id, email)
    if row is not None and row["verified_at"] is not None:
        return None
    token = secrets.token_urlsafe(32)
    expires = _now() + dt.timedelta(days=TOKEN_DAYS)
    values = {BrandingSender.token_hash: _hash(token), BrandingSender.token_expires_at: expires}
    if row is None:
        rows = await BrandingSender.insert(
            BrandingSender(tenant=ctx.tenant_id, email=email, token_hash=_hash(token),
                           token_expires_at=expires)
        ).returning(BrandingSender.id)
        row_id = rows[0]["id"]
    else:
        row_id = row["id"]
        await BrandingSender.update(values).where(BrandingSender.id == row_id)
    url = ctx.config.base_url.rstrip("/") + CONFIRM_PATH + token
    return await enqueue_mail(
        ctx,
        to=[email],
        subject=f"Confirm {email} as the sender of {ctx.name}'s customer mail",
        template="branding:mail/confirm_sender",
        context={"url": url, "email": email, "days": TOKEN_DAYS},
        dedupe_key=f"branding-sender:{row_id}:{_hash(token)[:16]}",
    )


async def pending(token: str) -> dict[str, Any] | None:
    """The sender row a live token confirms, or None."""
    if not token or len(token) > 100:
        return None
    row = await BrandingSender.select().where(BrandingSender.token_hash == _hash(token)).first()
    if row is None or row["verified_at"] is not None:
        return None
    expires = row["token_expires_at"]
    if expires is None or expires.replace(tzinfo=expires.tzinfo or dt.UTC) <= _now():
        return None
    return row  # type: ignore[no-any-return]


async def confirm(token: str) -> dict[str, Any] | None:
    """Confirm the address of a live token and use the token up (a second use finds nothing)."""
    row = await pending(token)
    if row is None:
        return None
    done = await BrandingSender.update(
        {BrandingSender.verified_at: _now(), BrandingSender.token_hash: None,
         BrandingSender.token_expires_at: None}
    ).where(
        (BrandingSender.id == row["id"]) & (BrandingSender.token_hash == _hash(token))
    ).returning(BrandingSender.id)
    return row if done else None
