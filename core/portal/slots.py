"""What plugins add to portal pages, gathered through the context and made safe to draw.

Every call goes through `PortalContext.call`/`first`, so only the plugins enabled for the
tenant answer and a plugin that raises is logged and left out. Answers of the wrong shape are
ignored rather than trusted. HTML from panels and actions is the plugin's own markup (a
plugin is trusted code, like a template); badges and contact details are text, escaped.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from arportal.context import PortalContext
from arportal.declarations import Charge, Theme

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_EMAIL = re.compile(r"^[^@\s<>\"'(),;:\\]+@[^@\s<>\"'(),;:\\]+\.[^@\s<>\"'(),;:\\]+$")
LOGO_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_DATA_LOGO = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]+$")
CONTACT_KEYS = ("name", "email", "phone", "hours", "address", "note")


@dataclass(frozen=True)
class Brand:
    """The theme as the pages use it: checked colours, a name, a same-origin logo."""

    name: str
    primary: str
    primary_text: str
    banner: str
    banner_text: str
    link: str
    logo_src: str | None
    theme: Theme

    def css(self) -> str:
        return (
            ":root{"
            f"--primary:{self.primary};--primary-text:{self.primary_text};"
            f"--banner:{self.banner};--banner-text:{self.banner_text};--link:{self.link}"
            "}\n"
        )


def _colour(value: Any, default: str) -> str:
    return value if isinstance(value, str) and HEX_COLOUR.match(value) else default


def _luminance(colour: str) -> float:
    channels = []
    for index in (1, 3, 5):
        value = int(colour[index : index + 2], 16) / 255
        channels.append(value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


@functools.lru_cache(maxsize=1024)
def contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two `#RRGGBB` colours (1 to 21)."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def readable(text: str, background: str, minimum: float = 4.5) -> str:
    """`text` if it reads on `background` (WCAG AA), else black or white, whichever reads
    better: a brand colour pair chosen by eye must not make a button unreadable."""
    if contrast(text, background) >= minimum:
        return text
    return max(("#000000", "#ffffff"), key=lambda candidate: contrast(candidate, background))


async def theme_of(portal: PortalContext) -> Theme:
    theme = await portal.first("arportal_theme")
    return theme if isinstance(theme, Theme) else Theme()


def brand(portal: PortalContext, theme: Theme) -> Brand:
    """The theme as portal pages draw it; the logo is served at `<portal>/logo`."""
    logo_src = None
    if theme.logo_bytes and theme.logo_content_type in LOGO_TYPES:
        logo_src = portal.url("logo")
    elif isinstance(theme.logo_url, str) and (
        (theme.logo_url.startswith("/") and not theme.logo_url.startswith("//"))
        or _DATA_LOGO.match(theme.logo_url)
    ):
        logo_src = theme.logo_url
    return checked_brand(theme, portal.name, logo_src)


def checked_brand(theme: Theme, fallback_name: str, logo_src: str | None) -> Brand:
    """Colours are re-checked as `#RRGGBB` (a colour reaching CSS unchecked is an injection);
    a bad one falls back to the default. Text colours are kept only where they read on their
    background (WCAG AA), else black or white, whichever reads better (always at least
    4.5:1); links use the primary colour only where it reads on white."""
    default = Theme()
    name = theme.display_name if isinstance(theme.display_name, str) and theme.display_name else ""
    primary = _colour(theme.primary_color, default.primary_color)
    primary_text = _colour(theme.primary_text_color, default.primary_text_color)
    banner = _colour(theme.banner_color, default.banner_color)
    banner_text = _colour(theme.banner_text_color, default.banner_text_color)
    return Brand(
        name=name.strip() or fallback_name,
        primary=primary,
        primary_text=readable(primary_text, primary),
        banner=banner,
        banner_text=readable(banner_text, banner),
        link=primary if contrast(primary, "#ffffff") >= 4.5 else default.primary_color,
        logo_src=logo_src,
        theme=theme,
    )


def _markups(answers: Iterable[Any]) -> list[Markup]:
    blocks: list[Markup] = []
    for answer in answers:
        for item in answer if isinstance(answer, list | tuple) else [answer]:
            if isinstance(item, str) and item.strip():
                blocks.append(Markup(item))  # noqa: S704 - plugin markup, trusted like a template
    return blocks


async def panels(portal: PortalContext) -> list[Markup]:
    return _markups(await portal.call("arportal_portal_panels"))


async def asides(portal: PortalContext) -> list[Markup]:
    return _markups(await portal.call("arportal_portal_aside"))


async def invoice_actions(portal: PortalContext, invoice: dict[str, Any]) -> list[Markup]:
    return _markups(await portal.call("arportal_invoice_actions", invoice=invoice))


async def badges(portal: PortalContext, invoices: list[dict[str, Any]]) -> dict[int, list[str]]:
    """One call for a whole page of invoices; answers merged per invoice id."""
    if not invoices:
        return {}
    merged: dict[int, list[str]] = {}
    for answer in await portal.call("arportal_invoice_badges", invoices=invoices):
        if not isinstance(answer, dict):
            continue
        for key, texts in answer.items():
            try:
                invoice_id = int(key)
            except (TypeError, ValueError):
                continue
            items = [texts] if isinstance(texts, str) else texts
            if not isinstance(items, list | tuple):
                continue
            merged.setdefault(invoice_id, []).extend(str(t) for t in items if t)
    return merged


async def charges(portal: PortalContext) -> list[Charge]:
    """Every enabled plugin's charges for the customer (one call per page); only well-formed
    ones (a whole amount above zero, a currency code) are drawn."""
    found: list[Charge] = []
    for answer in await portal.call("arportal_customer_charges"):
        for item in answer if isinstance(answer, list | tuple) else [answer]:
            if (
                isinstance(item, Charge)
                and type(item.amount_minor) is int
                and item.amount_minor > 0
                and isinstance(item.currency, str)
                and len(item.currency) == 3
            ):
                found.append(item)
    return found


def charges_by_invoice(found: list[Charge]) -> dict[int, list[Charge]]:
    by_invoice: dict[int, list[Charge]] = {}
    for charge in found:
        by_invoice.setdefault(charge.invoice_id, []).append(charge)
    return by_invoice


def charge_lines(found: list[Charge]) -> dict[int, list[dict[str, Any]]]:
    """Per invoice, one line per label and currency with the summed amount and the number of
    charges summed (the home list)."""
    lines: dict[int, dict[tuple[str, str], dict[str, Any]]] = {}
    for charge in found:
        key = (str(charge.label), charge.currency)
        line = lines.setdefault(charge.invoice_id, {}).setdefault(
            key, {"label": key[0], "currency": key[1], "amount_minor": 0, "count": 0}
        )
        line["amount_minor"] += charge.amount_minor
        line["count"] += 1
    return {invoice_id: list(items.values()) for invoice_id, items in lines.items()}


def add_charges(totals: list[dict[str, Any]], found: list[Charge]) -> list[dict[str, Any]]:
    """The balance per currency with the charges counted in (`charges_minor`, and in
    `due_minor`); a currency with charges only gets a line of its own."""
    rows = {row["currency"]: {**row, "charges_minor": 0} for row in totals}
    for charge in found:
        row = rows.setdefault(
            charge.currency,
            {"currency": charge.currency, "open_count": 0, "due_minor": 0, "overdue_minor": 0,
             "overdue_count": 0, "charges_minor": 0},
        )
        row["charges_minor"] += charge.amount_minor
        row["due_minor"] += charge.amount_minor
    return [rows[currency] for currency in sorted(rows)]


async def contact_info(portal: PortalContext) -> dict[str, str]:
    """Contact details merged from every plugin (a later answer wins a key), with only the
    fields the page knows how to show; an email or phone that is not one is dropped."""
    merged: dict[str, str] = {}
    for answer in await portal.call("arportal_contact_info"):
        if isinstance(answer, dict):
            merged.update(
                {k: v.strip() for k, v in answer.items()
                 if k in CONTACT_KEYS and isinstance(v, str)}
            )
    contact = {k: v for k, v in merged.items() if v}
    if "email" in contact and not _EMAIL.match(contact["email"]):
        del contact["email"]
    if "phone" in contact:
        dial = re.sub(r"[^\d+]", "", contact["phone"])
        if len(dial.lstrip("+")) < 3:
            del contact["phone"]
        else:
            contact["tel"] = dial
    return contact
