"""Planning a statement's pages: every block has a fixed height, so pages are cut with
arithmetic, and runs of pages for parallel layout are even."""

from __future__ import annotations

from arportal.plugins.statements import layout
from arportal.plugins.statements.layout import Chunk, Geometry, groups, paginate

A4 = Geometry("A4")


def rows_per_page(pages: list[layout.Page], section: int = 0) -> list[int]:
    return [
        sum(c.stop - c.start for c in page.chunks if c.section == section) for page in pages
    ]


def test_a_short_statement_is_one_page():
    (page,) = paginate([12], A4)
    assert page.header and page.number == 1
    assert page.chunks == [Chunk(0, 0, 12)]


def test_a_long_table_goes_on_with_its_heading_and_header_repeated():
    pages = paginate([1002], A4)
    assert [p.number for p in pages] == list(range(1, len(pages) + 1))
    assert sum(rows_per_page(pages)) == 1002
    assert [c.continued for p in pages for c in p.chunks] == [False] + [True] * (len(pages) - 1)
    first, full = rows_per_page(pages)[:2]
    usable = A4.content_mm - layout.TITLE_MM - layout.THEAD_MM - layout.GAP_MM
    assert full == int(usable // layout.ROW_MM)
    assert first == int((usable - layout.HEADER_MM) // layout.ROW_MM)
    assert len(paginate([1002], Geometry("Letter"))) > len(pages)  # a shorter sheet


def test_sections_follow_each_other_and_never_start_without_a_row():
    pages = paginate([40, 30], A4)
    for page in pages:
        for chunk in page.chunks:
            assert chunk.stop > chunk.start
    assert sum(rows_per_page(pages, 0)) == 40 and sum(rows_per_page(pages, 1)) == 30


def test_summary_and_remittance_fit_or_move_to_a_new_page():
    (page,) = paginate([5], A4, summaries=True, remittance=True)
    assert page.chunks == [Chunk(0, 0, 5, summary=True)] and page.remittance
    fits = int((A4.content_mm - layout.HEADER_MM - layout.TITLE_MM - layout.THEAD_MM
                - layout.GAP_MM) // layout.ROW_MM)
    pages = paginate([fits], A4, summaries=True, remittance=True)
    assert pages[0].chunks == [Chunk(0, 0, fits)]
    assert pages[1].chunks == [Chunk(0, fits, fits, continued=True, summary=True)]
    assert pages[-1].remittance


def test_runs_of_pages_are_even_and_not_too_short():
    pages = paginate([1002], A4)
    runs = groups(pages, 2)
    assert len(runs) == 2 and abs(len(runs[0]) - len(runs[1])) <= 1
    assert [p for run in runs for p in run] == pages
    assert len(groups(pages[:3], 4)) == 1
    assert len(groups(pages[:5], 4)) == 2
    assert len(groups(pages, 1)) == 1
    long = paginate([10_002], A4)
    runs = groups(long, 2)
    assert len(runs) > 2 and max(len(run) for run in runs) <= layout.MAX_RUN_PAGES
    assert [p for run in runs for p in run] == long


def test_every_fixed_string_has_a_french_translation():
    import re
    from pathlib import Path

    from arportal.plugins.statements import data, i18n, pdf, routes

    folder = Path(i18n.__file__).parent
    used = set()
    for template in folder.glob("templates/**/*.html"):
        used |= set(re.findall(r'\b(?:t|st)\("([^"]+)"', template.read_text()))
    used |= set(data.AGEING_BUCKETS) | set(pdf.KIND_LABELS.values()) | set(pdf.TITLES.values())
    used |= {routes.TOO_MANY, "Page {page} of {pages}", "Opening balance", "Closing balance"}
    assert len(used) > 40
    assert sorted(used - set(i18n.FR)) == []
