"""A statement's PDF reaches nothing outside itself: customer and invoice text is printed as
text, and the URL fetcher refuses `file:`, `http(s):` and every other URL. A local HTTP
server and /etc/passwd's first line are the witnesses."""

from __future__ import annotations

import contextlib
import http.server
import io
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pypdf
import pytest
from weasyprint import HTML

from arportal.plugins.statements.fetcher import AssetFetcher, RefusedURL, asset_url
from arportal.plugins.statements.pdf import css_string, page_number_content
from tests.conftest import make_tenant
from tests.plugins.statements.helpers import (
    add_customer,
    api,
    csv_rows,
    invoice,
    open_portal,
    pdf_lines,
    set_features,
    statements_app,
)

PASSWD_WITNESS = Path("/etc/passwd").read_bytes().split(b"\n", 1)[0]
"""The first line of /etc/passwd (`root:x:0:0:...`): it must never appear in a PDF."""


@contextlib.contextmanager
def witness_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that notes every request it gets."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { background: red }")

        def log_message(self, *args: object) -> None:
            """Keep the witness server's request log out of the test output."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "http://127.0.0.1/x.png",
        "https://example.com/x.png",
        "data:image/png;base64,iVBORw0KGgo=",
        "ftp://example.com/x",
        asset_url("other"),
    ],
)
def test_the_fetcher_refuses_everything_but_its_own_assets(url):
    fetcher = AssetFetcher({asset_url("logo"): (b"PNG", "image/png")})
    with pytest.raises(RefusedURL):
        fetcher(url)
    assert fetcher.refused == [url]
    served = fetcher(asset_url("logo"))
    assert served.read() == b"PNG"
    assert served.headers.get_content_type() == "image/png"


def test_hostile_html_fetches_nothing_and_embeds_nothing():
    """Even HTML that asks for a local file, a web resource and an attachment (which
    WeasyPrint would embed) gets none of them through the fetcher."""
    with witness_server() as (base, hits):
        hostile = f"""<html><head>
        <link rel="stylesheet" href="{base}/style.css">
        <link rel="attachment" href="file:///etc/passwd">
        <style>@import url("{base}/import.css"); p {{ background: url(file:///etc/passwd) }}</style>
        </head><body><p>x</p><img src="file:///etc/passwd"><img src="{base}/x.png">
        <a rel="attachment" href="file:///etc/passwd">a</a></body></html>"""
        fetcher = AssetFetcher()
        content = HTML(string=hostile, base_url=asset_url(""), url_fetcher=fetcher).write_pdf()
        assert hits == []
    assert "file:///etc/passwd" in fetcher.refused
    assert f"{base}/style.css" in fetcher.refused
    assert PASSWD_WITNESS not in content
    assert pypdf.PdfReader(io.BytesIO(content)).attachments == {}


async def test_names_are_printed_as_text_and_fetch_nothing(make_config, frozen_today):
    with witness_server() as (base, hits):
        name = f'<img src="file:///etc/passwd"><img src="{base}/name.png">'
        number = '<link rel="attachment" href="file:///etc/passwd">'
        async with statements_app(make_config) as app:
            tenant = await make_tenant()
            await set_features(app, tenant, outstanding_statement=True)
            customer = await add_customer(app, tenant, name=name)
            await api(app, tenant, "PUT", "/invoices", [
                invoice("F-1", "2026-02-01", "10.00", number=number),
            ])
            await open_portal(app, customer)
            for path in ("account.pdf?from=2026-01-01", "outstanding.pdf"):
                response = await app.client.get(f"/portal/statements/{path}")
                assert response.status_code == 200
                text = "\n".join(pdf_lines(response.content))
                assert f"Customer: {name}" in text
                assert '<link rel="' in text  # a narrow cell shows the start of it
                assert PASSWD_WITNESS not in response.content
                reader = pypdf.PdfReader(io.BytesIO(response.content))
                assert reader.attachments == {}
                assert all(len(page.images) == 0 for page in reader.pages)
            rows = csv_rows((await app.client.get("/portal/statements/outstanding.csv")).content)
            assert rows[1][1] == number
        assert hits == []


def test_text_in_the_stylesheet_cannot_escape_its_string():
    name = 'A"; } @page { @top-left { content: url(file:///etc/passwd) } } </style><x>\\\n'
    literal = css_string(name)
    assert literal.startswith('"') and literal.endswith('"')
    assert re.fullmatch(r'"(?:[A-Za-z0-9 ]|\\[0-9a-f]+ )*"', literal)
    assert page_number_content("Page {page} of {pages}", 12) == (
        '"Page " counter(page) " of " "12"'
    )
    assert page_number_content("Page {page} sur {pages}", None) == (
        '"Page " counter(page) " sur " counter(pages)'
    )


async def test_a_hostile_name_in_the_running_header_stays_text(make_config, frozen_today):
    name = 'A"; } @page { @top-left { content: url(file:///etc/passwd) } } </style><b>x'
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        customer = await add_customer(app, tenant, name=name)
        await open_portal(app, customer)
        response = await app.client.get("/portal/statements/account.pdf")
        assert response.status_code == 200
        assert PASSWD_WITNESS not in response.content
        assert f"Customer: {name}" in "\n".join(pdf_lines(response.content))
