"""What every portal template is rendered with: strings in the customer's language, the
stylesheet URL, and (on pages of a known customer) the tenant's brand and contact details."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from litestar import MediaType
from litestar.response import Template

from arportal.context import PortalContext
from arportal.portal import slots
from arportal.portal.i18n import language, translator

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STYLESHEET = "portal.css"


@cache
def stylesheet() -> tuple[bytes, str]:
    content = (STATIC_DIR / STYLESHEET).read_bytes()
    return content, hashlib.sha256(content).hexdigest()[:12]


def stylesheet_url() -> str:
    return f"/portal/static/{STYLESHEET}?v={stylesheet()[1]}"


def base_context(locale: str, **extra: Any) -> dict[str, Any]:
    """What every portal template needs, error pages included."""
    return {
        "t": translator(locale),
        "locale": locale,
        "lang": language(locale),
        "stylesheet": stylesheet_url(),
        "brand": None,
        "theme_css": None,
        "contact": {},
        "asides": [],
        "preview": None,
        **extra,
    }


async def page_context(portal: PortalContext, **extra: Any) -> dict[str, Any]:
    """The base context plus the tenant's brand, contact details and the blocks drawn on
    every page (three plugin calls)."""
    brand = slots.brand(portal, await slots.theme_of(portal))
    return base_context(
        portal.locale,
        portal=portal,
        brand=brand,
        theme_css=portal.url("theme.css"),
        contact=await slots.contact_info(portal),
        asides=await slots.asides(portal),
        **extra,
    )


async def portal_page(
    portal: PortalContext, template_name: str, /, *, status_code: int = 200, **context: Any
) -> Template:
    """A page in the portal's layout, for core and plugin routes alike.

    A template that `{% extends "core:base.html" %}` and fills `{% block title %}` and
    `{% block content %}` gets the banner with the tenant's brand, the stylesheets, the
    blocks of `arportal_portal_aside`, the contact block and `t(...)` (the customer's
    language; text without a translation shows as written). `portal` and `csrf_input` are
    in the context too.
    """
    return Template(
        template_name=template_name,
        context=await page_context(portal, **context),
        status_code=status_code,
        media_type=MediaType.HTML,
    )
