"""Where every row of a statement falls, page by page, computed before any PDF is laid out.

Every block of a statement has a fixed height (the stylesheet gives rows, headings, the
header and the summary exactly the heights below, and cells never wrap), so the pages can be
cut here with plain arithmetic. Knowing the pages beforehand is what lets groups of pages be
laid out in parallel processes, each numbered from its first page, and joined: the renderer
checks that every group came out with the pages planned here, and otherwise lays the whole
statement out as one document (slower, never wrong).
"""

from __future__ import annotations

from dataclasses import dataclass, field

PAPER_MM = {"A4": (210.0, 297.0), "Letter": (215.9, 279.4)}
MARGIN_TOP_MM = 18.0
MARGIN_BOTTOM_MM = 18.0
MARGIN_SIDE_MM = 15.0

HEADER_MM = 46.0
"""The first page's heading: who from, who for, statement date, period."""
TITLE_MM = 10.0
"""A currency's heading (also repeated, marked as continued, on a page a table spills to)."""
THEAD_MM = 7.0
ROW_MM = 5.0
GAP_MM = 4.0
"""Space after each table."""
SUMMARY_MM = 24.0
"""The outstanding statement's ageing and total due, after a currency's table."""
REMITTANCE_MM = 46.0
"""How to pay: a heading and up to 8 lines."""
SLACK_MM = 3.0
"""Room left unused on every page, against rounding in the layout engine."""


@dataclass(frozen=True)
class Geometry:
    paper: str = "A4"

    @property
    def width_mm(self) -> float:
        return PAPER_MM[self.paper][0]

    @property
    def height_mm(self) -> float:
        return PAPER_MM[self.paper][1]

    @property
    def content_mm(self) -> float:
        return self.height_mm - MARGIN_TOP_MM - MARGIN_BOTTOM_MM - SLACK_MM


@dataclass(frozen=True)
class Chunk:
    """Rows `start:stop` of section `section`'s table on one page; `summary` adds the
    section's summary block after them."""

    section: int
    start: int
    stop: int
    continued: bool = False
    summary: bool = False


@dataclass
class Page:
    number: int
    header: bool = False
    chunks: list[Chunk] = field(default_factory=list)
    remittance: bool = False


def paginate(
    row_counts: list[int],
    geometry: Geometry,
    *,
    summaries: bool = False,
    remittance: bool = False,
) -> list[Page]:
    """Cut sections of `row_counts[i]` rows into pages.

    A section starts with its heading, the table header and at least one row on the same
    page; a table that goes on to the next page repeats its heading and header there."""
    capacity = geometry.content_mm
    pages = [Page(number=1, header=True)]
    free = capacity - HEADER_MM

    def new_page() -> None:
        nonlocal free
        pages.append(Page(number=len(pages) + 1))
        free = capacity

    for index, count in enumerate(row_counts):
        start = 0
        continued = False
        while True:
            if free < TITLE_MM + THEAD_MM + GAP_MM + ROW_MM:
                new_page()
            fits = int((free - TITLE_MM - THEAD_MM - GAP_MM) // ROW_MM)
            stop = min(count, start + fits)
            pages[-1].chunks.append(Chunk(index, start, stop, continued))
            free -= TITLE_MM + THEAD_MM + GAP_MM + (stop - start) * ROW_MM
            if stop >= count:
                break
            start, continued = stop, True
            new_page()
        if summaries:
            if free < SUMMARY_MM:
                new_page()
                pages[-1].chunks.append(Chunk(index, count, count, continued=True, summary=True))
                free -= TITLE_MM
            else:
                last = pages[-1].chunks[-1]
                pages[-1].chunks[-1] = Chunk(index, last.start, last.stop, last.continued, True)
            free -= SUMMARY_MM
    if remittance:
        if free < REMITTANCE_MM:
            new_page()
        pages[-1].remittance = True
    return pages


MAX_RUN_PAGES = 40
"""The most pages one process lays out at once: WeasyPrint holds every box of a document
until it is written (about 15 MB a page of statement lines), so a long statement is cut
into more runs than there are processes, and they queue."""


def groups(
    pages: list[Page], parts: int, minimum: int = 2, maximum: int = MAX_RUN_PAGES
) -> list[list[Page]]:
    """Consecutive runs of pages, as even as can be: `parts` of them (more when a run would
    be longer than `maximum` pages, fewer when one would be shorter than `minimum`, since a
    short run costs more in set-up than it saves)."""
    parts = max(parts, -(-len(pages) // maximum))
    parts = max(1, min(parts, len(pages) // max(1, minimum)))
    size, extra = divmod(len(pages), parts)
    runs = []
    start = 0
    for index in range(parts):
        stop = start + size + (1 if index < extra else 0)
        runs.append(pages[start:stop])
        start = stop
    return runs
