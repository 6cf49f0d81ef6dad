"""Uploads (`arportal.store_upload`): typed by their content, size-limited, stored once per
content hash, read back only by their tenant, served as downloads, removed with their last
reference; signed public URLs for mail images. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from arportal import (
    DOCUMENT_TYPES,
    IMAGE_TYPES,
    StoredFile,
    UploadError,
    attachment_response,
    delete_upload,
    files,
    get_upload,
    read_upload,
    sniff,
    store_upload,
)
from arportal.files import check_upload, clean_name, content_disposition, signed_image_url
from arportal.tenancy import load_context
from tests.conftest import Running, make_tenant, running_app
from tests.core.file_samples import EXE, HTML, JPEG, PDF, SVG, TEXT, office, png


def zipped(*parts: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in parts:
            archive.writestr(part, "<x/>")
    return buffer.getvalue()


# --- What a file is ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PDF, files.PDF),
        (png(), files.PNG),
        (JPEG, files.JPEG),
        (b"GIF89a\x01\x00\x01\x00", files.GIF),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", files.WEBP),
        (TEXT, files.TEXT),
        ("Prix : 12,50 €\n".encode(), files.TEXT),
        (office("docx"), files.DOCX),
        (office("xlsx"), files.XLSX),
        (HTML, files.HTML),
        (b"\n  <HTML><p>hi", files.HTML),
        (b"<p>a fragment</p>", files.HTML),
        (SVG, files.SVG),
        (b'  <svg xmlns="http://www.w3.org/2000/svg"/>', files.SVG),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', files.SVG),
        (EXE, files.EXECUTABLE),
        (b"\x7fELF\x02\x01\x01\x00", files.EXECUTABLE),
        (b"#!/usr/bin/env python\nprint(1)\n", files.EXECUTABLE),
        (zipped("[Content_Types].xml", "ppt/presentation.xml"), None),
        (b"PK\x03\x04 not really a zip", None),
        (b"\x00\x01\x02\x03binary", None),
        (b"\xff\xfe\x00\x00 binary", None),
        (b"", None),
    ],
)
def test_the_type_comes_from_the_bytes(data: bytes, expected: str | None) -> None:
    assert sniff(data) == expected


def test_a_macro_document_or_a_plain_zip_is_no_office_file() -> None:
    macro = zipped("[Content_Types].xml", "word/document.xml", "word/vbaProject.bin")
    assert sniff(macro) is None
    assert sniff(zipped("readme.txt")) is None


def test_check_upload_names_the_refusal() -> None:
    with pytest.raises(UploadError) as too_big:
        check_upload(b"x" * 101, DOCUMENT_TYPES, max_bytes=100)
    assert too_big.value.status_code == 413 and too_big.value.field == "file"
    assert str(too_big.value) == "file: the file is larger than the limit of 100 bytes"
    with pytest.raises(UploadError) as html:
        check_upload(HTML, DOCUMENT_TYPES, max_bytes=100, field="attachment")
    assert html.value.status_code == 422
    assert str(html.value) == (
        "attachment: HTML is not accepted (allowed: PDF, PNG, JPEG, plain text, DOCX, XLSX)"
    )
    assert check_upload(png(), IMAGE_TYPES, max_bytes=1000) == "image/png"


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ann\\W-9.pdf", "W-9.pdf"),
        ("bad\r\nname\x00.pdf", "badname.pdf"),
        ("", "file"),
        ("...", "file"),
        ("a" * 300 + ".pdf", "a" * 251 + ".pdf"),
    ],
)
def test_file_names_are_made_safe(name: str, clean: str) -> None:
    assert clean_name(name) == clean


def test_content_disposition_keeps_the_name_and_stays_one_header() -> None:
    value = content_disposition('Relevé "mars".pdf')
    assert value == (
        "attachment; filename=\"Relev_ 'mars'.pdf\"; "
        "filename*=UTF-8''Relev%C3%A9%20%22mars%22.pdf"
    )


# --- Files of a tenant ---------------------------------------------------------------------


async def test_store_read_and_serve(app: Running) -> None:
    ctx = await load_context(app.host, app.config, (await make_tenant()).row)
    other = await load_context(app.host, app.config, (await make_tenant("globex", "Globex")).row)
    data = b"%PDF-1.4\n" + b"x" * 100

    first = await store_upload(ctx, data, "../Été 2026.pdf", allowed=[files.PDF, files.PNG])
    again = await store_upload(ctx, data, "copy.pdf", allowed=[files.PDF])
    assert first.content_type == files.PDF and first.size == len(data)
    assert first.name == "Été 2026.pdf"
    assert first.sha256 == again.sha256 and first.id != again.id
    blobs = [p for p in Path(app.config.files_dir).rglob("*") if p.is_file()]
    assert [p.name for p in blobs] == [first.sha256], "one file per content hash"

    found = await read_upload(ctx, first.id)
    assert found is not None and found[1] == data and found[0] == first
    assert await get_upload(ctx, first.id) == first
    assert await read_upload(other, first.id) is None, "another tenant's file is not found"
    assert await get_upload(other, first.id) is None
    assert await read_upload(ctx, 10**9) is None

    response = attachment_response(*found)
    assert response.media_type == files.PDF
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"_t_ 2026.pdf\"; filename*=UTF-8''%C3%89t%C3%A9%202026.pdf"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"", 422, "the file is empty"),
        (b"%PDF-" + b"x" * 2000, 413, "larger than the limit of 1 KB"),
        (b"<html></html>", 422, "HTML is not accepted (allowed: PDF, PNG)"),
        (b"GIF89a....", 422, "GIF is not accepted"),
        (EXE, 422, "an executable is not accepted"),
    ],
)
async def test_refused_uploads_leave_nothing(
    app: Running, data: bytes, status: int, message: str
) -> None:
    ctx = await load_context(app.host, app.config, (await make_tenant()).row)
    with pytest.raises(UploadError) as refused:
        await store_upload(ctx, data, "x.pdf", allowed=[files.PDF, files.PNG], field="document",
                           max_bytes=1024)
    assert refused.value.status_code == status
    assert refused.value.field == "document" and message in str(refused.value)
    assert await StoredFile.count() == 0
    assert not Path(app.config.files_dir).exists()


async def test_a_plugin_limit_never_raises_the_instance_limit(
    make_config: Any, plugins: Any
) -> None:
    async with running_app(make_config(upload_max_bytes=100), plugins) as running:
        ctx = await load_context(running.host, running.config, (await make_tenant()).row)
        with pytest.raises(UploadError) as refused:
            await store_upload(ctx, PDF + b"x" * 100, "big.pdf", allowed=[files.PDF],
                               max_bytes=10**9)
        assert refused.value.status_code == 413


async def test_files_are_kept_once_and_removed_with_their_last_row(app: Running) -> None:
    acme = await load_context(app.host, app.config, (await make_tenant("acme")).row)
    globex = await load_context(app.host, app.config, (await make_tenant("globex")).row)
    first = await store_upload(acme, PDF, "w9.pdf", allowed=DOCUMENT_TYPES)
    second = await store_upload(globex, PDF, "other.pdf", allowed=DOCUMENT_TYPES)
    assert first.sha256 == second.sha256 and first.content_type == "application/pdf"
    blobs = [p for p in Path(app.config.files_dir).rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in blobs] == [PDF]
    assert blobs[0].name == first.sha256 and blobs[0].parent.name == first.sha256[:2]

    assert await delete_upload(globex, first.id) is False, "another tenant's id"
    assert await delete_upload(acme, first.id) is True
    assert await delete_upload(acme, first.id) is False
    assert await read_upload(acme, first.id) is None
    assert blobs[0].exists(), "globex still has the same bytes"
    await delete_upload(globex, second.id)
    assert not blobs[0].exists()


async def test_cached_reads_serve_a_logo_without_the_disk(app: Running) -> None:
    ctx = await load_context(app.host, app.config, (await make_tenant()).row)
    logo = png()
    stored = await store_upload(ctx, logo, "logo.png", allowed=IMAGE_TYPES)
    assert (await read_upload(ctx, stored.id, cached=True))[1] == logo  # type: ignore[index]
    files.blob_path(app.config, stored.sha256).unlink()
    assert (await read_upload(ctx, stored.id, cached=True))[1] == logo  # type: ignore[index]
    assert await read_upload(ctx, stored.id) is None, "uncached: the blob is gone"


# --- Signed images for mail ----------------------------------------------------------------


async def test_a_signed_image_url_serves_only_that_image(app: Running) -> None:
    logo = png()
    url = await signed_image_url(app.config, logo)
    assert url.startswith("http://testserver/files/images/")
    path = url.removeprefix("http://testserver")
    response = await app.client.get(path)
    assert response.status_code == 200 and response.content == logo
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "immutable" in response.headers["cache-control"]

    pdf_url = await signed_image_url(app.config, PDF)
    assert (await app.client.get(pdf_url.removeprefix("http://testserver"))).status_code == 404
    sha, signature = path.split("/")[-2:]
    assert (await app.client.get(f"/files/images/{sha}/{signature[::-1]}")).status_code == 404
    assert (await app.client.get(f"/files/images/{'0' * 64}/{signature}")).status_code == 404
