"""Portal links.

A token is `HMAC(secret, "link:" + nonce)`, 256 bits, base64url. Only its SHA-256 is stored, and
looked up by that hash (O(1), indexed). The operator can read a link again (it is re-derived
from the nonce with the secret), but a database dump alone opens no portal.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Any

from arportal.clock import utcnow
from arportal.models import PortalLink

if TYPE_CHECKING:
    from arportal.context import TenantContext

TOKEN_BYTES = 32


def derive_token(secret: bytes, nonce: str) -> str:
    digest = hmac.new(secret, b"link:" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def portal_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/p/{token}"


async def create_link(
    secret: bytes, tenant_id: int, customer_id: int, validity_days: int
) -> dict[str, Any]:
    nonce = secrets.token_hex(16)
    token = derive_token(secret, nonce)
    now = utcnow()
    rows = await PortalLink.insert(
        PortalLink(
            tenant=tenant_id,
            customer=customer_id,
            nonce=nonce,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + dt.timedelta(days=validity_days),
        )
    ).returning(*PortalLink.all_columns())
    return {**rows[0], "token": token}


async def rotate_links(
    secret: bytes, tenant_id: int, customer_id: int, validity_days: int
) -> dict[str, Any]:
    """Revoke every link of the customer (and so their sessions), then make a fresh one."""
    await revoke_links(tenant_id, customer_id)
    return await create_link(secret, tenant_id, customer_id, validity_days)


async def revoke_links(tenant_id: int, customer_id: int) -> None:
    await PortalLink.update({PortalLink.revoked_at: utcnow()}).where(
        (PortalLink.tenant == tenant_id)
        & (PortalLink.customer == customer_id)
        & PortalLink.revoked_at.is_null()
    )


async def current_links(tenant_id: int, customer_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The newest unrevoked link of each customer (one query for many customers)."""
    if not customer_ids:
        return {}
    rows = (
        await PortalLink.select()
        .where(
            (PortalLink.tenant == tenant_id)
            & PortalLink.customer.is_in(customer_ids)
            & PortalLink.revoked_at.is_null()
        )
        .order_by(PortalLink.id)
    )
    return {row["customer"]: row for row in rows}


async def portal_urls(ctx: TenantContext, customer_ids: list[int]) -> dict[int, str]:
    """The current portal URL of each of the tenant's customers that has a live link (for
    mail that sends the customer to the portal: fix a payment method, answer a dispute).
    An expired link still leads to the page where the customer asks for a fresh one."""
    secret = ctx.config.resolved_secret()
    links = await current_links(ctx.tenant_id, customer_ids)
    return {
        customer_id: portal_url(ctx.config.base_url, derive_token(secret, link["nonce"]))
        for customer_id, link in links.items()
    }


async def find_link(token: str) -> dict[str, Any] | None:
    """The link row for a presented token, whatever its state (the caller decides)."""
    if not token or len(token) > 100:
        return None
    return await PortalLink.select().where(PortalLink.token_hash == token_hash(token)).first()


def link_state(link: dict[str, Any] | None) -> str:
    """'ok', 'expired' or 'unknown' (revoked links are 'unknown': same 404 as a bad token)."""
    if link is None or link["revoked_at"] is not None:
        return "unknown"
    expires = link["expires_at"]
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    if expires <= utcnow():
        return "expired"
    return "ok"
