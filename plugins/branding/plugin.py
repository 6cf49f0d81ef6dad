"""Branding: the hook implementations.

The tenant's colours, display name and logo reach every portal page, mail and PDF through the
core's theme hook; its contact details reach every portal page through the contact hook, its
shared documents through the aside slot; its mail is sent from its own address (once that
address is confirmed) through the mail-sender hook. The core never asks this plugin by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arportal import (
    Feature,
    MailSender,
    SettingsSection,
    TenantContext,
    Theme,
    hookimpl,
    read_upload,
    render_fragment,
    type_label,
)
from arportal.plugins.branding import sender
from arportal.plugins.branding.i18n import file_size, translator
from arportal.plugins.branding.routes import (
    ADMIN_ROUTES,
    FEATURE,
    PORTAL_ROUTES,
    documents_of,
)
from arportal.plugins.branding.settings import SECTION, BrandingSettings, check, settings_of

ARPORTAL_REQUIRES = ">=0.1,<1"


# --- Declarations ----------------------------------------------------------------------------


@hookimpl
def arportal_features() -> list[Feature]:
    return [Feature(key=FEATURE, label="Branding, contact details and documents", default=True)]


@hookimpl
def arportal_settings() -> list[SettingsSection]:
    return [SettingsSection(key=SECTION, schema=BrandingSettings, check=check)]


@hookimpl
def arportal_piccolo_app() -> str:
    return "arportal.plugins.branding.piccolo_app"


@hookimpl
def arportal_portal_routes() -> list[Any]:
    return PORTAL_ROUTES


@hookimpl
def arportal_admin_routes() -> list[Any]:
    return ADMIN_ROUTES


@hookimpl
def arportal_template_dirs() -> list[str]:
    return [str(Path(__file__).parent / "templates")]


# --- Render slots ----------------------------------------------------------------------------


@hookimpl
async def arportal_theme(ctx: TenantContext) -> Theme | None:
    """The logo travels as bytes (read once per process: a stored file never changes)."""
    settings = settings_of(ctx)
    logo = await read_upload(ctx, settings.logo, cached=True) if settings.logo else None
    colours = {
        name: value
        for name, value in (("primary_color", settings.primary_color),
                            ("banner_color", settings.banner_color))
        if value
    }
    if not (settings.display_name or colours or logo):
        return None
    return Theme(
        display_name=settings.display_name,
        logo_bytes=logo[1] if logo else None,
        logo_content_type=logo[0].content_type if logo else None,
        **colours,
    )


@hookimpl
def arportal_contact_info(ctx: TenantContext) -> dict[str, str] | None:
    settings = settings_of(ctx)
    contact = {"email": settings.contact_email, "phone": settings.contact_phone}
    return {key: value for key, value in contact.items() if value} or None


@hookimpl
async def arportal_portal_aside(ctx: TenantContext) -> Any:
    """The shared documents, on every portal page (one query)."""
    documents = await documents_of(ctx.tenant_id)
    if not documents:
        return None
    for document in documents:
        document["kind"] = type_label(document["content_type"])
        document["size_text"] = file_size(ctx, document["size"])
    return render_fragment(ctx, "branding:documents.html", documents=documents,
                           t=translator(ctx))


@hookimpl
async def arportal_mail_sender(ctx: TenantContext) -> MailSender | None:
    """From the tenant's address once confirmed, else the instance's default; Reply-To the
    contact email when there is one."""
    settings = settings_of(ctx)
    reply_to = settings.contact_email
    if settings.sender_email and await sender.verified(ctx, settings.sender_email):
        return MailSender(
            email=settings.sender_email,
            name=settings.sender_name or settings.display_name or ctx.name,
            reply_to=reply_to,
        )
    return MailSender(email=None, reply_to=reply_to) if reply_to else None


# --- Events ----------------------------------------------------------------------------------


@hookimpl
async def arportal_event(ctx: TenantContext, name: str, data: dict[str, Any]) -> None:
    """A new sender address gets its confirmation link."""
    if name == "settings_changed" and "sender_email" in data.get("fields", {}).get(SECTION, ()):
        await sender.request_confirmation(ctx)


@hookimpl
def arportal_demo_settings() -> dict[str, Any]:
    """The demo tenant's colours and contact details (no sender alias: it would mail a
    confirmation link)."""
    return {
        "branding": {
            "display_name": "Demo Supplies",
            "primary_color": "#1d4ed8",
            "banner_color": "#0f172a",
            "contact_email": "ar@demo.example",
            "contact_phone": "+15550100100",
        }
    }
