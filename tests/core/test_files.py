"""Uploads (`arportal.store_upload`): typed by content, size-limited, stored once per content
hash, read back only by their tenant, served as downloads; on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from arportal import UploadError, attachment_response, read_upload, store_upload
from arportal.files import DOCX, GIF, JPEG, PDF, PNG, TEXT, WEBP, XLSX, clean_name, sniff
from arportal.models import StoredFile
from arportal.tenancy import load_context
from tests.conftest import make_tenant


def ooxml(part: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(part, "<x/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%PDF-1.7\n...", PDF),
        (b"\x89PNG\r\n\x1a\n\x00\x00", PNG),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", JPEG),
        (b"GIF89a\x01\x00", GIF),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", WEBP),
        (ooxml("word/document.xml"), DOCX),
        (ooxml("xl/workbook.xml"), XLSX),
        ("Montant dû : 12,00 €\n".encode(), TEXT),
        (ooxml("ppt/presentation.xml"), None),
        (b"PK\x03\x04 not really a zip", None),
        (b"<!DOCTYPE html><html><script>alert(1)</script>", None),
        (b'  <svg xmlns="http://www.w3.org/2000/svg"/>', None),
        (b'<?xml version="1.0"?><svg/>', None),
        (b"MZ\x90\x00\x03\x00\x00\x00", None),
        (b"\x7fELF\x02\x01\x01", None),
        (b"\xff\xfe\x00\x00 binary", None),
        (b"", None),
    ],
)
def test_sniff_reads_the_type_from_the_bytes(data, expected):
    assert sniff(data) == expected


def test_clean_name_keeps_only_a_plain_file_name():
    assert clean_name("C:\\Users\\me\\scan.pdf") == "scan.pdf"
    assert clean_name("../../etc/passwd") == "passwd"
    assert clean_name("bad\r\nname\x00.pdf") == "badname.pdf"
    assert clean_name("...") == "file"
    assert len(clean_name("a" * 400 + ".pdf")) == 255


async def test_store_read_and_serve(app, tmp_path):
    tenant = await make_tenant()
    other = await make_tenant("globex", "Globex")
    ctx = await load_context(app.host, app.config, tenant.row)
    other_ctx = await load_context(app.host, app.config, other.row)
    data = b"%PDF-1.4\n" + b"x" * 100

    first = await store_upload(ctx, data, "../Été 2026.pdf", allowed=[PDF, PNG])
    again = await store_upload(ctx, data, "copy.pdf", allowed=[PDF])
    assert first.content_type == PDF and first.size == len(data) and first.name == "Été 2026.pdf"
    assert first.sha256 == again.sha256 and first.id != again.id
    blobs = [p for p in Path(app.config.files_dir).rglob("*") if p.is_file()]
    assert [p.name for p in blobs] == [first.sha256], "one file per content hash"

    found = await read_upload(ctx, first.id)
    assert found is not None and found[1] == data and found[0] == first
    assert await read_upload(other_ctx, first.id) is None, "another tenant's file is not found"
    assert await read_upload(ctx, 10**9) is None

    response = attachment_response(*found)
    assert response.media_type == PDF
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"t 2026.pdf\"; filename*=UTF-8''%C3%89t%C3%A9%202026.pdf"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"", 422, "the file is empty"),
        (b"%PDF-" + b"x" * 2000, 413, "larger than 1 KB"),
        (b"<html></html>", 422, "not accepted (accepted: PDF, PNG)"),
        (b"GIF89a....", 422, "not accepted"),
    ],
)
async def test_refused_uploads_leave_nothing(app, data, status, message):
    tenant = await make_tenant()
    ctx = await load_context(app.host, app.config, tenant.row)
    with pytest.raises(UploadError) as refused:
        await store_upload(ctx, data, "x.pdf", allowed=[PDF, PNG], field="document",
                           max_bytes=1024)
    assert refused.value.status_code == status
    assert refused.value.field == "document" and message in str(refused.value)
    assert await StoredFile.count() == 0
    assert not Path(app.config.files_dir).exists()
