"""Save & View: a read-only preview of a sample portal with a draft of the settings applied.

`POST /api/v1/preview` (or `arportal preview SLUG`) checks a draft (the body of
`PATCH /api/v1/settings`: features and any sections) exactly as saving it would, then answers
a URL that shows a sample customer's portal (open, overdue and paid invoices, every enabled
feature's panels, badges and actions) rendered with the draft on top of the stored settings.
Nothing is saved: the draft travels in the URL itself, signed with the server secret and
valid for `PREVIEW_MINUTES`, so any worker can render it and there is nothing to clean up.
Secret fields are never put in a URL: the preview uses the stored ones. Preview pages forbid
form submission (CSP `form-action 'none'`) and the preview answers no POST.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from arportal.clock import utcnow
from arportal.context import PortalContext
from arportal.models import Tenant
from arportal.portal.i18n import normalize_locale
from arportal.settings import SettingsError
from arportal.settings_store import check_patch
from arportal.tenancy import context_rows

if TYPE_CHECKING:
    from arportal.config import Config
    from arportal.context import TenantContext
    from arportal.plugin_host import PluginHost

PREVIEW_MINUTES = 15
MAX_DRAFT_BYTES = 8192
"""The compressed draft rides in the URL; far more than any settings section needs."""
SAMPLE_CURRENCY = "USD"


class PreviewUnknown(ValueError):
    """Not a preview this server signed."""


class PreviewExpired(ValueError):
    """A preview older than `PREVIEW_MINUTES`."""


class _Payload(msgspec.Struct, array_like=True):
    tenant_id: int
    expires: int
    locale: str
    draft: dict[str, Any]


@dataclass(frozen=True)
class Preview:
    tenant_id: int
    expires_at: dt.datetime
    locale: str
    draft: dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, b"preview:" + body.encode(), hashlib.sha256).digest()[:24])


def encode_token(secret: bytes, preview: Preview) -> str:
    payload = _Payload(
        preview.tenant_id, int(preview.expires_at.timestamp()), preview.locale, preview.draft
    )
    body = _b64(zlib.compress(msgspec.json.encode(payload), 9))
    return f"{body}.{_signature(secret, body)}"


def decode_token(secret: bytes, token: str, now: dt.datetime | None = None) -> Preview:
    body, dot, signature = token.partition(".")
    if not dot or len(token) > 4 * MAX_DRAFT_BYTES or not hmac.compare_digest(
        _signature(secret, body), signature
    ):
        raise PreviewUnknown()
    try:
        payload = msgspec.json.decode(
            zlib.decompress(_unb64(body)), type=_Payload
        )
    except (ValueError, zlib.error, msgspec.DecodeError):
        raise PreviewUnknown() from None
    expires_at = dt.datetime.fromtimestamp(payload.expires, dt.UTC)
    if expires_at <= (now or utcnow()):
        raise PreviewExpired()
    return Preview(payload.tenant_id, expires_at, payload.locale, payload.draft)


def _without_secrets(ctx: TenantContext, draft: dict[str, Any]) -> dict[str, Any]:
    sections = ctx.host.declarations.sections
    clean: dict[str, Any] = {}
    for key, value in draft.items():
        secret = sections[key][0].secret_fields if key in sections else ()
        clean[key] = (
            {name: item for name, item in value.items() if name not in secret}
            if isinstance(value, dict) else value
        )
    return clean


async def create_preview(
    ctx: TenantContext, draft: dict[str, Any] | None = None, locale: str = "en"
) -> dict[str, str]:
    """Check `draft` as saving it would (a `SettingsError` names the bad field) and answer
    `{"url", "expires_at"}`. Nothing is written."""
    draft = draft or {}
    await check_patch(ctx, draft)
    draft = _without_secrets(ctx, draft)
    expires_at = (utcnow() + dt.timedelta(minutes=PREVIEW_MINUTES)).replace(microsecond=0)
    preview = Preview(ctx.tenant_id, expires_at, normalize_locale(locale), draft)
    token = encode_token(ctx.config.resolved_secret(), preview)
    if len(token) > 4 * MAX_DRAFT_BYTES // 3:
        raise SettingsError("settings", f"the draft is too large to preview (at most "
                            f"{MAX_DRAFT_BYTES} bytes compressed)")
    return {
        "url": f"{ctx.config.base_url.rstrip('/')}/preview/{token}/",
        "expires_at": expires_at.isoformat(),
    }


def sample_customer(locale: str) -> dict[str, Any]:
    """A customer no query can find (negative id): plugins asked about it find nothing."""
    return {
        "id": -1,
        "external_id": "SAMPLE",
        "name": "Sample Customer Ltd",
        "email": "",
        "currency": SAMPLE_CURRENCY,
        "locale": locale,
        "contacts": [],
        "extra": {},
    }


async def preview_context(
    host: PluginHost, config: Config, token: str, base: str
) -> tuple[PortalContext, Preview]:
    """The portal context of a preview: the tenant's stored settings with the draft applied
    (checked again: a draft that no longer fits, e.g. after a plugin update, is unknown)."""
    preview = decode_token(config.resolved_secret(), token)
    tenant = await Tenant.select().where(Tenant.id == preview.tenant_id).first()
    if tenant is None:
        raise PreviewUnknown()
    settings, features, _toggles = await context_rows(tenant["id"])
    portal = PortalContext(
        tenant_id=tenant["id"],
        slug=tenant["slug"],
        name=tenant["name"],
        host=host,
        config=config,
        settings_data=settings,
        feature_values=features,
        customer=sample_customer(preview.locale),
        toggle_values={},
        actor="preview",
        link_id=0,
        base=base,
        locale=preview.locale,
    )
    try:
        draft_features, sections = await check_patch(portal, preview.draft)
    except SettingsError:
        raise PreviewUnknown() from None
    portal.feature_values = {**features, **draft_features}
    portal.settings_data = {**settings, **sections}
    portal._decoded.clear()
    return portal, preview


def sample_invoices(today: dt.date) -> list[dict[str, Any]]:
    """Open, overdue and paid invoices, shaped like the portal's queries answer them.
    Negative ids: a plugin asked about them finds none of the tenant's real rows."""

    def invoice(index: int, issued: int, due: int, total: int, due_minor: int) -> dict[str, Any]:
        status = "paid" if due_minor == 0 else "open"
        due_date = today + dt.timedelta(days=due)
        return {
            "id": -index,
            "external_id": f"SAMPLE-{index}",
            "number": f"INV-{1000 + index}",
            "issue_date": today - dt.timedelta(days=issued),
            "due_date": due_date,
            "currency": SAMPLE_CURRENCY,
            "total_minor": total,
            "amount_due_minor": due_minor,
            "status": status,
            "pdf_url": None,
            "overdue": status == "open" and due_date < today,
        }

    return [
        invoice(1, 45, -15, 83040, 83040),
        invoice(2, 62, -2, 129900, 49900),
        invoice(3, 10, 20, 125000, 125000),
        invoice(4, 3, 27, 41575, 41575),
        invoice(5, 70, -40, 210000, 0),
        invoice(6, 100, -70, 56025, 0),
    ]


def sample_allocations(invoice: dict[str, Any]) -> list[dict[str, Any]]:
    paid = invoice["total_minor"] - invoice["amount_due_minor"]
    if paid <= 0:
        return []
    return [{
        "id": invoice["id"],
        "kind": "payment",
        "reference": f"PAY-{invoice['number']}",
        "date": invoice["due_date"] - dt.timedelta(days=3),
        "amount_minor": paid,
    }]
