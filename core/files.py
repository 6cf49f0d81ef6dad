"""Uploaded files: size-limited, typed by their content, stored under their SHA-256.

A plugin that takes a file (a customer's attachment, an operator's document) calls
`store_upload` with the bytes, the name the sender gave and the types it accepts; reads it
back with `read_upload` (scoped by tenant: another tenant's id is not found); and serves it
with `attachment_response` (always a download, never rendered by the browser).

The type is never taken from the name or the sender's Content-Type: `sniff` reads the first
bytes. It knows a short list of harmless formats; anything else (HTML, SVG, scripts,
executables) has no type and is refused. The bytes live in `config.files_dir`, one file per
content hash, written once; the `stored_file` row gives the tenant, name and type.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import unicodedata
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from litestar import Response

from arportal.models import StoredFile

if TYPE_CHECKING:
    from arportal.context import TenantContext

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
WEBP = "image/webp"
TEXT = "text/plain"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

LABELS = {PDF: "PDF", PNG: "PNG", JPEG: "JPEG", GIF: "GIF", WEBP: "WebP", TEXT: "plain text",
          DOCX: "Word (DOCX)", XLSX: "Excel (XLSX)"}
_MARKUP = re.compile(rb"^\s*<(?:!doctype|html|head|body|script|svg|\?xml)", re.IGNORECASE)
_OOXML_PARTS = {DOCX: "word/document.xml", XLSX: "xl/workbook.xml"}


class UploadError(ValueError):
    """A refused upload: `status_code` 413 when too large, else 422; `field` names the input."""

    def __init__(self, field: str, message: str, status_code: int = 422):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class StoredUpload:
    id: int
    sha256: str
    name: str
    content_type: str
    size: int


def _ooxml(data: bytes) -> str | None:
    """DOCX or XLSX by the parts the zip holds (both are zips; the name does not say which)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for content_type, part in _OOXML_PARTS.items():
        if part in names:
            return content_type
    return None


def _text(data: bytes) -> bool:
    if _MARKUP.match(data[:512]):
        return False
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in decoded)


def sniff(data: bytes) -> str | None:
    """The content type of `data` read from its bytes, or None for anything not known here."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"PK\x03\x04"):
        return _ooxml(data)
    if data and _text(data):
        return TEXT
    return None


def clean_name(name: str, fallback: str = "file") -> str:
    """The last path component of a sender's file name, without control characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip(" .")
    return base[:255] or fallback


def _path(root: str, sha256: str) -> Path:
    return Path(root) / sha256[:2] / sha256


def _write(path: Path, data: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


async def store_upload(
    ctx: TenantContext,
    data: bytes,
    name: str,
    *,
    allowed: Collection[str],
    field: str = "file",
    max_bytes: int | None = None,
) -> StoredUpload:
    """Check and keep an uploaded file for the tenant; answer its row.

    Refused with `UploadError`: an empty file (422), one over `max_bytes` (default the
    instance's `upload_max_bytes`; 413), one whose content is not of an `allowed` type (422,
    the message lists them). Inside a transaction, the row is part of it.
    """
    limit = ctx.config.upload_max_bytes if max_bytes is None else max_bytes
    if not data:
        raise UploadError(field, "the file is empty")
    if len(data) > limit:
        raise UploadError(field, f"the file is larger than {_size(limit)}", 413)
    content_type = sniff(data)
    if content_type is None or content_type not in allowed:
        kinds = ", ".join(LABELS.get(kind, kind) for kind in allowed)
        raise UploadError(field, f"this kind of file is not accepted (accepted: {kinds})")
    sha256 = hashlib.sha256(data).hexdigest()
    await asyncio.to_thread(_write, _path(ctx.config.files_dir, sha256), data)
    filename = clean_name(name)
    rows = await StoredFile.insert(
        StoredFile(
            tenant=ctx.tenant_id, sha256=sha256, name=filename, content_type=content_type,
            size=len(data),
        )
    ).returning(StoredFile.id)
    return StoredUpload(int(rows[0]["id"]), sha256, filename, content_type, len(data))


async def read_upload(ctx: TenantContext, file_id: int) -> tuple[StoredUpload, bytes] | None:
    """A file of the tenant and its bytes; None for an unknown id or another tenant's."""
    row = await (
        StoredFile.select()
        .where((StoredFile.id == file_id) & (StoredFile.tenant == ctx.tenant_id))
        .first()
    )
    if row is None:
        return None
    path = _path(ctx.config.files_dir, row["sha256"])
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        return None
    upload = StoredUpload(row["id"], row["sha256"], row["name"], row["content_type"], row["size"])
    return upload, data


def attachment_response(upload: StoredUpload, data: bytes) -> Response[bytes]:
    """The file as a download with its name, never sniffed or shown inline by the browser."""
    ascii_name = upload.name.encode("ascii", "ignore").decode().replace('"', "") or "file"
    encoded = quote(upload.name, safe="")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"
    headers: dict[str, Any] = {
        "Content-Disposition": disposition,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }
    return Response(data, media_type=upload.content_type, headers=headers)


def _size(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):g} MB"
    if limit >= 1024:
        return f"{limit / 1024:g} KB"
    return f"{limit} bytes"


__all__ = [
    "DOCX",
    "GIF",
    "JPEG",
    "PDF",
    "PNG",
    "TEXT",
    "WEBP",
    "XLSX",
    "StoredUpload",
    "UploadError",
    "attachment_response",
    "clean_name",
    "read_upload",
    "sniff",
    "store_upload",
]
