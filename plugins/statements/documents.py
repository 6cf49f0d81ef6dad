"""A statement from request to bytes: its period, its data, its brand, its pages, and the
PDF laid out in the app's worker processes (never on the event loop).

A long statement is cut into as many runs of pages as there are worker processes; each run
is laid out in its own process, numbered from its first page, and the parts are joined.
Every part must come out with the pages planned (see `layout.py`); if one does not, the
statement is laid out again as one document, whose page numbers the layout engine counts.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import logging
import re
from typing import Any

from babel import Locale, UnknownLocaleError

from arportal import TenantContext, Theme
from arportal.plugins.statements import data, layout
from arportal.plugins.statements.csv_export import csv_bytes
from arportal.plugins.statements.i18n import language
from arportal.plugins.statements.pdf import (
    ACCOUNT,
    OUTSTANDING,
    Document,
    PdfTheme,
    join,
    render_pages,
    row_count,
)
from arportal.plugins.statements.settings import StatementSettings

log = logging.getLogger("arportal.plugins.statements")

SECTION = "statements"
MAX_YEARS = 10
LOGO_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
LOGO_MAX_BYTES = 2 * 1024 * 1024
_DATA_LOGO = re.compile(r"^data:(image/(?:png|jpeg|gif|webp));base64,([A-Za-z0-9+/=]+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RangeError(ValueError):
    """A bad period. `message` is English text with `{}` fields, translated for the portal."""

    def __init__(self, parameter: str, message: str, **values: Any):
        super().__init__(message.format(**values))
        self.field = parameter
        self.message = message
        self.values = values


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _parse_day(field: str, value: str) -> dt.date:
    value = value.strip()
    if not _DATE.match(value):
        raise RangeError(field, "{field}: expected a date as YYYY-MM-DD", field=field)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise RangeError(field, "{field}: expected a date as YYYY-MM-DD", field=field) from None


def period(start: str | None, end: str | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """The statement's period: `to` defaults to today, `from` to 12 months before `to`."""
    last = _parse_day("to", end) if end else today
    first = _parse_day("from", start) if start else _years_before(last, 1)
    if first > last:
        raise RangeError("from", "The start date is after the end date.")
    if first < _years_before(last, MAX_YEARS):
        raise RangeError("from", "A statement covers at most {years} years.", years=MAX_YEARS)
    return first, last


def customer_locale(value: str | None) -> str:
    try:
        return str(Locale.parse((value or "en").replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        return "en"


async def pdf_theme(ctx: TenantContext) -> PdfTheme:
    """The tenant's theme, if a plugin answers one, checked: the accent colour must be
    `#RRGGBB`, the logo an image of a known type (bytes, or a base64 `data:` URL) under
    2 MiB. Anything else is left out and the statement is plain."""
    theme = await ctx.first("arportal_theme")
    if not isinstance(theme, Theme):
        return PdfTheme(name=ctx.name)
    name = theme.display_name.strip() if isinstance(theme.display_name, str) else ""
    logo: bytes | None = None
    logo_type: str | None = None
    if isinstance(theme.logo_bytes, bytes) and theme.logo_content_type in LOGO_TYPES:
        logo, logo_type = theme.logo_bytes, theme.logo_content_type
    elif isinstance(theme.logo_url, str) and (match := _DATA_LOGO.match(theme.logo_url)):
        try:
            logo, logo_type = base64.b64decode(match.group(2), validate=True), match.group(1)
        except (binascii.Error, ValueError):
            logo = None
    if logo is not None and len(logo) > LOGO_MAX_BYTES:
        logo, logo_type = None, None
    accent = theme.primary_color if isinstance(theme.primary_color, str) else ""
    return PdfTheme(name=name or ctx.name, accent=accent, logo=logo, logo_type=logo_type)


def _party(ctx: TenantContext, customer: dict[str, Any], today: dt.date) -> data.Party:
    return data.Party(
        tenant_name=ctx.name,
        customer_name=customer["name"],
        customer_external_id=customer["external_id"],
        locale=customer_locale(customer.get("locale")),
        statement_date=today,
    )


async def account_document(
    ctx: TenantContext, customer: dict[str, Any], start: str | None, end: str | None
) -> Document:
    settings: StatementSettings = ctx.settings(SECTION)
    today = ctx.today()
    first, last = period(start, end, today)
    sections = await data.account_sections(
        ctx.tenant_id,
        customer["id"],
        first,
        last,
        today=today,
        hide_future=ctx.portal_settings.hide_future_invoices,
        max_lines=settings.max_lines,
        default_currency=customer.get("currency") or "USD",
    )
    pages = layout.paginate(
        [row_count(ACCOUNT, section) for section in sections], layout.Geometry(settings.paper_size)
    )
    return Document(
        kind=ACCOUNT,
        party=_party(ctx, customer, today),
        sections=sections,
        pages=pages,
        theme=await pdf_theme(ctx),
        paper=settings.paper_size,
        start=first,
        end=last,
    )


async def outstanding_document(ctx: TenantContext, customer: dict[str, Any]) -> Document:
    settings: StatementSettings = ctx.settings(SECTION)
    today = ctx.today()
    sections = await data.outstanding_sections(
        ctx.tenant_id,
        customer["id"],
        today=today,
        hide_future=ctx.portal_settings.hide_future_invoices,
        max_lines=settings.max_lines,
    )
    if not sections:
        sections = [data.OutstandingSection(customer.get("currency") or "USD")]
    pages = layout.paginate(
        [row_count(OUTSTANDING, section) for section in sections],
        layout.Geometry(settings.paper_size),
        summaries=True,
        remittance=bool(settings.remittance_text),
    )
    return Document(
        kind=OUTSTANDING,
        party=_party(ctx, customer, today),
        sections=sections,
        pages=pages,
        theme=await pdf_theme(ctx),
        paper=settings.paper_size,
        remittance_text=settings.remittance_text,
    )


async def pdf(ctx: TenantContext, document: Document) -> bytes:
    """The statement's PDF, laid out in the worker processes (in parallel runs of pages
    when it is long enough to gain from it)."""
    total = len(document.pages)
    runs = layout.groups(document.pages, ctx.process_workers)
    if len(runs) == 1:
        content, count = await ctx.run_in_process(render_pages, document, 1, total, total)
        if count == total:
            return content
    else:
        parts = await asyncio.gather(
            *(
                ctx.run_in_process(render_pages, document, run[0].number, run[-1].number, total)
                for run in runs
            )
        )
        if all(count == len(run) for (_, count), run in zip(parts, runs, strict=True)):
            lang = language(document.party.locale)
            return await ctx.run_in_process(join, [part for part, _ in parts], document.title, lang)
    log.warning(
        "statement of %s pages did not come out as planned; laid out again as one document",
        total,
    )
    content, _ = await ctx.run_in_process(render_pages, document, 1, total, None)
    return content


async def csv(ctx: TenantContext, document: Document) -> bytes:
    return await ctx.run_in_process(csv_bytes, document)
