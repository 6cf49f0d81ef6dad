"""Stored files: types judged from the bytes, kept once under their hash, read by tenant only,
sent back as attachments; signed public URLs for mail images (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from arportal import files
from arportal.files import (
    DOCUMENT_TYPES,
    IMAGE_TYPES,
    FileRejected,
    check_upload,
    clean_name,
    content_disposition,
    delete_stored_file,
    read_stored_file,
    signed_image_url,
    sniff,
    store_file,
)
from arportal.tenancy import load_context
from tests.conftest import Running, make_tenant
from tests.core.file_samples import EXE, HTML, JPEG, PDF, SVG, TEXT, office, png


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PDF, files.PDF),
        (png(), files.PNG),
        (JPEG, files.JPEG),
        (TEXT, files.TEXT),
        ("Prix : 12,50 €\n".encode(), files.TEXT),
        (office("docx"), files.DOCX),
        (office("xlsx"), files.XLSX),
        (HTML, files.HTML),
        (b"\n  <HTML><p>hi", files.HTML),
        (b"<p>a fragment</p>", files.HTML),
        (SVG, files.SVG),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', files.SVG),
        (EXE, files.EXECUTABLE),
        (b"\x7fELF\x02\x01\x01\x00", files.EXECUTABLE),
        (b"#!/usr/bin/env python\nprint(1)\n", files.EXECUTABLE),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"\x00\x01\x02\x03binary", None),
    ],
)
def test_the_type_comes_from_the_bytes(data: bytes, expected: str | None) -> None:
    assert sniff(data) == expected


def test_a_macro_document_or_a_plain_zip_is_no_office_file() -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<d/>")
        archive.writestr("word/vbaProject.bin", "macro")
    assert sniff(buffer.getvalue()) is None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hi")
    assert sniff(buffer.getvalue()) is None


def test_check_upload_names_the_refusal(make_config: Any) -> None:
    config = make_config(upload_max_bytes=100)
    with pytest.raises(FileRejected) as too_big:
        check_upload(config, b"x" * 101, DOCUMENT_TYPES)
    assert too_big.value.status_code == 413 and too_big.value.field == "file"
    with pytest.raises(FileRejected) as html:
        check_upload(config, HTML, DOCUMENT_TYPES, field="attachment")
    assert html.value.status_code == 422
    assert str(html.value) == (
        "attachment: HTML is not accepted (allowed: PDF, PNG, JPEG, plain text, DOCX, XLSX)"
    )
    assert check_upload(config, png(), IMAGE_TYPES) == "image/png"


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ann\\W-9.pdf", "W-9.pdf"),
        ("bad\r\nname.pdf", "badname.pdf"),
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


async def test_files_are_kept_once_and_read_by_tenant_only(app: Running) -> None:
    acme = await load_context(app.host, app.config, (await make_tenant("acme")).row)
    globex = await load_context(app.host, app.config, (await make_tenant("globex")).row)
    first = await store_file(acme, PDF, "w9.pdf", allowed=DOCUMENT_TYPES)
    second = await store_file(globex, PDF, "other.pdf", allowed=DOCUMENT_TYPES)
    assert first["sha256"] == second["sha256"] and first["content_type"] == "application/pdf"
    blobs = [p for p in Path(app.config.files_dir).rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in blobs] == [PDF]
    assert blobs[0].name == first["sha256"] and blobs[0].parent.name == first["sha256"][:2]

    assert await read_stored_file(globex, first["id"]) is None, "another tenant's id"
    row, data = await read_stored_file(acme, first["id"])  # type: ignore[misc]
    assert data == PDF and row["name"] == "w9.pdf"

    assert await delete_stored_file(acme, first["id"]) is True
    assert await delete_stored_file(acme, first["id"]) is False
    assert blobs[0].exists(), "globex still has the same bytes"
    await delete_stored_file(globex, second["id"])
    assert not blobs[0].exists()


async def test_cached_reads_serve_a_logo_without_the_disk(app: Running) -> None:
    ctx = await load_context(app.host, app.config, (await make_tenant()).row)
    logo = png()
    stored = await store_file(ctx, logo, "logo.png", allowed=IMAGE_TYPES)
    assert (await read_stored_file(ctx, stored["id"], cached=True))[1] == logo  # type: ignore[index]
    files.blob_path(app.config, stored["sha256"]).unlink()
    assert (await read_stored_file(ctx, stored["id"], cached=True))[1] == logo  # type: ignore[index]
    assert await read_stored_file(ctx, stored["id"]) is None, "uncached: the blob is gone"


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
