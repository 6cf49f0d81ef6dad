"""API keys: `arp_<prefix>_<secret>`. Only a SHA-256 of the key is stored; the prefix finds
the row in O(1)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from arportal.clock import utcnow
from arportal.models import ApiKey, Tenant


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_api_key(tenant_id: int, name: str = "default") -> tuple[str, dict[str, Any]]:
    """Returns the key (shown once) and its row."""
    prefix = secrets.token_hex(6)
    key = f"arp_{prefix}_{secrets.token_urlsafe(32)}"
    rows = await ApiKey.insert(
        ApiKey(tenant=tenant_id, prefix=prefix, key_hash=_hash(key), name=name)
    ).returning(ApiKey.id, ApiKey.prefix, ApiKey.name, ApiKey.created_at)
    return key, rows[0]


async def revoke_api_key(tenant_id: int, prefix: str) -> bool:
    rows = await ApiKey.update({ApiKey.revoked_at: utcnow()}).where(
        (ApiKey.tenant == tenant_id) & (ApiKey.prefix == prefix) & ApiKey.revoked_at.is_null()
    ).returning(ApiKey.id)
    return bool(rows)


async def tenant_for_key(key: str) -> dict[str, Any] | None:
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != "arp":
        return None
    row = await ApiKey.select(ApiKey.key_hash, ApiKey.revoked_at, ApiKey.tenant).where(
        ApiKey.prefix == parts[1]
    ).first()
    if row is None or row["revoked_at"] is not None:
        return None
    if not hmac.compare_digest(row["key_hash"], _hash(key)):
        return None
    return await Tenant.select().where(Tenant.id == row["tenant"]).first()
