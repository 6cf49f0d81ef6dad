"""Laying statements out as PDF: what runs in the worker processes.

`render_pages` turns some pages of a statement (as planned by `layout.paginate`) into a PDF
numbered from the first of them; `join` puts such parts back together. Both are module-level
functions of plain, picklable data so the app's process pool can run them. Nothing here
touches the database or the event loop.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from arportal import format_date, format_money
from arportal.plugins.statements import collector
from arportal.plugins.statements.data import (
    AGEING_BUCKETS,
    CREDIT_NOTE,
    INVOICE,
    PAYMENT,
    AccountSection,
    OutstandingSection,
    Party,
)
from arportal.plugins.statements.fetcher import AssetFetcher, asset_url
from arportal.plugins.statements.i18n import language, translator
from arportal.plugins.statements.layout import (
    MARGIN_BOTTOM_MM,
    MARGIN_SIDE_MM,
    MARGIN_TOP_MM,
    Chunk,
    Page,
)

log = logging.getLogger("arportal.plugins.statements")

TEMPLATES = Path(__file__).parent / "templates" / "pdf"
ACCOUNT, OUTSTANDING = "account", "outstanding"
TITLES = {ACCOUNT: "Account statement", OUTSTANDING: "Outstanding balance statement"}
KIND_LABELS = {INVOICE: "Invoice", PAYMENT: "Payment", CREDIT_NOTE: "Credit note"}
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_PLAIN = re.compile(r"[A-Za-z0-9 ]")
_PAGE_FIELDS = re.compile(r"(\{page\}|\{pages\})")
LOGO_NAME = "logo"


@dataclass(frozen=True)
class PdfTheme:
    """The tenant's brand as a statement uses it: a name, an accent colour, a logo."""

    name: str
    accent: str = "#1f5fbf"
    logo: bytes | None = None
    logo_type: str | None = None

    def __post_init__(self) -> None:
        if not _HEX.match(self.accent):
            object.__setattr__(self, "accent", "#1f5fbf")


@dataclass
class Document:
    """Everything a statement's PDF shows; `pages` is the plan of `layout.paginate`."""

    kind: str
    party: Party
    sections: list[AccountSection] | list[OutstandingSection]
    pages: list[Page]
    theme: PdfTheme
    paper: str = "A4"
    start: dt.date | None = None
    end: dt.date | None = None
    remittance_text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return translator(self.party.locale)(TITLES[self.kind])


def css_string(text: str) -> str:
    """`text` as a CSS string literal in which only letters, digits and spaces are literal:
    every other character is a hex escape, so no quote, backslash, `<` or line break in a
    customer's name can end the string (or the `<style>` element)."""
    out = []
    for char in text:
        out.append(char if _PLAIN.match(char) else f"\\{ord(char):x} ")
    return '"' + "".join(out) + '"'


def page_number_content(template: str, total: int | None) -> str:
    """CSS `content` for "Page {page} of {pages}": the page counter, and the total given
    (a group of pages knows the whole statement's count) or `counter(pages)`."""
    parts = []
    for piece in _PAGE_FIELDS.split(template):
        if piece == "{page}":
            parts.append("counter(page)")
        elif piece == "{pages}":
            parts.append(css_string(str(total)) if total is not None else "counter(pages)")
        elif piece:
            parts.append(css_string(piece))
    return " ".join(parts)


def _shorten(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    return env


class _Rows:
    """The table rows of a statement's sections, formatted in the customer's locale."""

    def __init__(self, document: Document):
        self.document = document
        self.locale = document.party.locale
        self.t = translator(self.locale)

    def money(self, minor: int, currency: str) -> str:
        return format_money(minor, currency, self.locale)

    def day(self, value: dt.date | None) -> str:
        return format_date(value, self.locale)

    def account(
        self, section: AccountSection, start: int, stop: int
    ) -> list[tuple[str, list[str]]]:
        t, cur = self.t, section.currency
        rows: list[tuple[str, list[str]]] = []
        lines = section.lines
        count = len(lines) + 2 if lines else 3
        for index in range(start, stop):
            if index == 0:
                rows.append(("opening", [
                    self.day(self.document.start), t("Opening balance"), "", "", "",
                    self.money(section.opening, cur),
                ]))
            elif index == count - 1:
                rows.append(("closing", [
                    self.day(self.document.end), t("Closing balance"), "",
                    self.money(section.invoiced, cur),
                    self.money(section.paid + section.credited, cur),
                    self.money(section.closing, cur),
                ]))
            elif not lines:
                rows.append(("empty", [t("No activity in this period."), "", "", "", "", ""]))
            else:
                line = lines[index - 1]
                rows.append(("line", [
                    self.day(line.day),
                    t(KIND_LABELS[line.kind]),
                    line.reference,
                    self.money(line.debit, cur) if line.debit else "",
                    self.money(line.credit, cur) if line.credit else "",
                    self.money(line.balance, cur),
                ]))
        return rows

    def outstanding(
        self, section: OutstandingSection, start: int, stop: int
    ) -> list[tuple[str, list[str]]]:
        t, cur = self.t, section.currency
        rows: list[tuple[str, list[str]]] = []
        invoices = section.invoices
        for index in range(start, stop):
            if index >= len(invoices):
                rows.append(("empty", [t("No open invoices."), "", "", "", "", ""]))
                continue
            invoice = invoices[index]
            rows.append(("line" if invoice.days_overdue <= 0 else "line overdue", [
                invoice.number,
                self.day(invoice.issue_date),
                self.day(invoice.due_date),
                self.money(invoice.total, cur),
                self.money(invoice.amount_due, cur),
                str(invoice.days_overdue) if invoice.days_overdue > 0 else "",
            ]))
        return rows

    def chunk(self, chunk: Chunk) -> dict[str, Any]:
        section = self.document.sections[chunk.section]
        if self.document.kind == ACCOUNT:
            rows = self.account(section, chunk.start, chunk.stop)  # type: ignore[arg-type]
        else:
            rows = self.outstanding(section, chunk.start, chunk.stop)  # type: ignore[arg-type]
        summary = None
        if chunk.summary and isinstance(section, OutstandingSection):
            summary = {
                "labels": [self.t(label) for label in AGEING_BUCKETS],
                "amounts": [self.money(amount, section.currency) for amount in section.ageing],
                "total_due": self.money(section.total_due, section.currency),
            }
        return {"currency": section.currency, "chunk": chunk, "rows": rows, "summary": summary}


def row_count(document_kind: str, section: AccountSection | OutstandingSection) -> int:
    """Rows of a section's table: opening, lines (or a "no activity" row) and closing for
    an account statement; one per open invoice (or a "none" row) for an outstanding one."""
    if isinstance(section, AccountSection):
        return len(section.lines) + 2 if section.lines else 3
    return max(1, len(section.invoices))


def html_for(document: Document, first: int, last: int, total: int | None) -> str:
    """The HTML of pages `first` to `last` (1-based, inclusive); `total` pages in the
    whole statement, or None to let the layout count them."""
    party = document.party
    t = translator(party.locale)
    rows = _Rows(document)
    pages = [
        {"page": page, "chunks": [rows.chunk(chunk) for chunk in page.chunks]}
        for page in document.pages[first - 1 : last]
    ]
    running_left = _shorten(f"{document.theme.name} · {party.customer_name}", 90)
    css = _environment().get_template("statement.css").render(
        paper="letter" if document.paper == "Letter" else "A4",
        margin_top=MARGIN_TOP_MM,
        margin_bottom=MARGIN_BOTTOM_MM,
        margin_side=MARGIN_SIDE_MM,
        accent=document.theme.accent,
        first_number=first,
        running_left=Markup(css_string(running_left)),  # noqa: S704 - escaped by css_string
        running_right=Markup(css_string(document.title)),  # noqa: S704
        footer_left=Markup(  # noqa: S704
            css_string(f"{t('Statement date:')} {rows.day(party.statement_date)}")
        ),
        page_numbers=Markup(  # noqa: S704 - built from css_string pieces and counters
            page_number_content(t("Page {page} of {pages}"), total)
        ),
    )
    return _environment().get_template("statement.html").render(
        document=document,
        kind=document.kind,
        party=party,
        t=t,
        lang=language(party.locale),
        title=document.title,
        css=Markup(css),  # noqa: S704 - our stylesheet; its strings pass through css_string
        pages=pages,
        logo=asset_url(LOGO_NAME) if document.theme.logo else None,
        statement_date=rows.day(party.statement_date),
        period=t("{start} to {end}", start=rows.day(document.start), end=rows.day(document.end))
        if document.start and document.end else "",
        remittance_lines=document.remittance_text.splitlines(),
    )


def fetcher_for(document: Document) -> AssetFetcher:
    assets = {}
    theme = document.theme
    if theme.logo and theme.logo_type:
        assets[asset_url(LOGO_NAME)] = (theme.logo, theme.logo_type)
    return AssetFetcher(assets)


def render_pages(document: Document, first: int, last: int, total: int | None) -> tuple[bytes, int]:
    """PDF of pages `first`..`last` of the statement, numbered from `first`; answers the PDF
    and how many pages it came out as (the caller compares with the plan)."""
    from weasyprint import HTML

    with collector.paused():
        html = HTML(
            string=html_for(document, first, last, total),
            base_url=asset_url(""),
            url_fetcher=fetcher_for(document),
        )
        rendered = html.render()
        return rendered.write_pdf(), len(rendered.pages)


def join(parts: list[bytes], title: str, lang: str) -> bytes:
    """One PDF of the parts' pages, in order."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    with collector.paused():
        writer = PdfWriter()
        for part in parts:
            writer.append(PdfReader(io.BytesIO(part)))
        writer.add_metadata({"/Title": title, "/Producer": "arportal"})
        writer._root_object[NameObject("/Lang")] = TextStringObject(lang)
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()
