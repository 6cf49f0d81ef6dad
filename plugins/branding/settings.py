"""The settings section `branding`: validated on write (and on Save & View), defaults apply.

Colours are exactly `#RRGGBB` (anything else is a 422 naming the field: nothing reaches CSS
unchecked). `logo` is the stored file of the logo, set by `PUT /api/v1/branding/logo`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from arportal import IMAGE_TYPES, get_upload

if TYPE_CHECKING:
    from arportal import TenantContext

SECTION = "branding"
Colour = Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Address = Annotated[str, msgspec.Meta(max_length=254)]

EMAIL = re.compile(r"^[^@\s<>\"'(),;:\\\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
PHONE = re.compile(r"^\+?[0-9][0-9 ().\-/]*[0-9]$")
"""E.164 (`+15550109999`) or a readable form of it (`+1 (555) 010-9999`, `01 23 45 67 89`)."""


def _no_controls(field: str, value: str | None) -> None:
    if value is not None and any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError(f"{field}: line breaks and control characters are not allowed")


def _email(field: str, value: str | None) -> None:
    if value is not None and not EMAIL.match(value):
        raise ValueError(f"{field}: expected an email address such as billing@example.com")


class BrandingSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    display_name: Name | None = None
    """Shown in the banner, page titles and mail instead of the tenant's name."""
    primary_color: Colour | None = None
    """Buttons and links."""
    banner_color: Colour | None = None
    contact_email: Address | None = None
    """Shown on every portal page, and the Reply-To of the tenant's mail."""
    contact_phone: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    sender_name: Name | None = None
    sender_email: Address | None = None
    """Mail is sent from it once the address is confirmed (a link is mailed to it)."""
    logo: int | None = None
    """Set by `PUT /api/v1/branding/logo`; `null` hides the logo."""

    def __post_init__(self) -> None:
        for name in ("display_name", "sender_name", "contact_email", "sender_email",
                     "contact_phone"):
            _no_controls(name, getattr(self, name))
        _email("contact_email", self.contact_email)
        _email("sender_email", self.sender_email)
        phone = self.contact_phone
        if phone is not None:
            digits = re.sub(r"\D", "", phone)
            if not PHONE.match(phone) or not 5 <= len(digits) <= 15:
                raise ValueError(
                    "contact_phone: expected a phone number in E.164 (+15550109999) or a "
                    "readable local form ((555) 010-9999), 5 to 15 digits"
                )


async def check(ctx: TenantContext, value: BrandingSettings) -> None:
    """What the Struct alone cannot judge: the instance's allowed sender domains, and that the
    logo is one of this tenant's images."""
    mail = ctx.config.mail
    if value.sender_email and not mail.allows_sender(value.sender_email):
        allowed = ", ".join(mail.allowed_sender_domains or ())
        domain = value.sender_email.rpartition("@")[2]
        raise ValueError(
            f"sender_email: this server does not send mail for {domain} (allowed: {allowed})"
        )
    if value.logo is not None:
        logo = await get_upload(ctx, value.logo)
        if logo is None or logo.content_type not in IMAGE_TYPES:
            raise ValueError("logo: no PNG or JPEG image with this id (upload it with "
                             "PUT /api/v1/branding/logo)")


def settings_of(ctx: TenantContext) -> BrandingSettings:
    return ctx.settings(SECTION)  # type: ignore[no-any-return]


def as_patch(**values: Any) -> dict[str, Any]:
    return {SECTION: values}
