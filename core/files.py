"""Uploaded files: size-limited, typed by their content, stored once under their SHA-256.

A plugin that takes a file (a customer's attachment, an operator's document or logo) calls
`store_upload` with the bytes, the name the sender gave and the types it accepts; reads it
back with `read_upload` (or only its row with `get_upload`), always by tenant, so another
tenant's id is unknown; serves it with `attachment_response` (a download, never rendered by
the browser); and removes it with `delete_upload`.

The type is never taken from the name or the sender's Content-Type: `sniff` reads the bytes.
It knows a short list of harmless formats and names the dangerous ones (HTML, SVG,
executables) so a refusal can say what was refused. The bytes live in `config.files_dir`, one
blob per content hash whoever uploaded them, and go when their last `stored_file` row goes.

Images that mail must show (a tenant's logo) get a signed, public URL (`signed_image_url`):
mail clients fetch images without a session, and the signature keeps every other blob
unreachable.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import os
import re
import unicodedata
import zipfile
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import puremagic
from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Response

from arportal.models import StoredFile

if TYPE_CHECKING:
    from arportal.config import Config
    from arportal.context import TenantContext

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
WEBP = "image/webp"
TEXT = "text/plain"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTML = "text/html"
SVG = "image/svg+xml"
EXECUTABLE = "application/x-executable"

LABELS = {
    PDF: "PDF",
    PNG: "PNG",
    JPEG: "JPEG",
    GIF: "GIF",
    WEBP: "WebP",
    TEXT: "plain text",
    DOCX: "DOCX",
    XLSX: "XLSX",
    HTML: "HTML",
    SVG: "SVG",
    EXECUTABLE: "an executable",
}
IMAGE_TYPES = frozenset({PNG, JPEG})
"""Images every browser and mail client shows and none can script (no SVG)."""
DOCUMENT_TYPES = frozenset({PDF, PNG, JPEG, TEXT, DOCX, XLSX})
"""Documents shared with customers: nothing a browser would run or render as a page."""
CACHE_FILES = 64
CACHE_FILE_BYTES = 2 * 1024 * 1024

_EXECUTABLE_MAGIC = (
    b"MZ",  # Windows PE, DOS
    b"\x7fELF",
    b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe",  # Mach-O
    b"\xca\xfe\xba\xbe",  # Mach-O universal, Java class
    b"#!",  # a script for an interpreter
)
_MARKUP = re.compile(rb"<\s*(!doctype\s+html|html|head|body|script|iframe|svg|\?xml)\b", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
"""Control characters (Unicode category Cc) other than tab, line feed, form feed, return."""
_SHA256 = re.compile(r"[0-9a-f]{64}")


class UploadError(ValueError):
    """A refused upload: `status_code` 413 when too large, else 422; `field` names the input.

    The admin API answers it as `{"detail": "<field>: <message>", "field": ...}`."""

    def __init__(self, field: str, message: str, status_code: int = 422):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class StoredUpload:
    """A tenant's stored file (its `stored_file` row)."""

    id: int
    sha256: str
    name: str
    content_type: str
    size: int


# --- What a file is ------------------------------------------------------------------------


def _office_type(data: bytes) -> str | None:
    """DOCX or XLSX from the ZIP's directory (both are zips; the name does not say which); a
    document with macros (`vbaProject.bin`) is none of them."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" not in names or any(n.endswith("vbaProject.bin") for n in names):
        return None
    if "word/document.xml" in names:
        return DOCX
    if "xl/workbook.xml" in names:
        return XLSX
    return None


def _text_type(data: bytes) -> str | None:
    """TEXT for UTF-8 without control characters; HTML or SVG for markup a browser renders."""
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head = data[:4096]
    match = _MARKUP.search(head)
    if match:
        tag = match.group(1).lower()
        return SVG if tag == b"svg" or (tag == b"?xml" and b"<svg" in head.lower()) else HTML
    if head.lstrip().startswith(b"<"):
        return HTML
    if _CONTROL.search(decoded):
        return None
    return TEXT


def sniff(data: bytes) -> str | None:
    """The content type of `data` judged from its bytes: a key of `LABELS` (only by the
    checks here), another type puremagic recognises (to name a refusal), or None when
    nothing matches (an empty file included)."""
    if not data:
        return None
    if data.startswith(_EXECUTABLE_MAGIC):
        return EXECUTABLE
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
        return _office_type(data)
    text = _text_type(data)
    if text is not None:
        return text
    try:
        matches = puremagic.magic_string(data)
    except (puremagic.PureError, ValueError):
        return None
    return next((m.mime_type for m in matches if m.mime_type and m.mime_type not in LABELS), None)


def type_label(content_type: str | None) -> str:
    if content_type is None:
        return "an unknown type"
    return LABELS.get(content_type, content_type)


def clean_name(name: str | None, fallback: str = "file") -> str:
    """A file name safe to store and to send back: no folders, no control characters, at
    most 255 characters (the extension kept)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base)
                   if unicodedata.category(ch)[0] != "C").strip(" .")
    if not base:
        return fallback
    if len(base) > 255:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 254 - len(ext)] + dot + ext) if dot and len(ext) < 20 else base[:255]
    return base


def _size(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):g} MB"
    if limit >= 1024:
        return f"{limit / 1024:g} KB"
    return f"{limit} bytes"


def check_upload(
    data: bytes, allowed: Collection[str], *, max_bytes: int, field: str = "file"
) -> str:
    """The sniffed content type of an upload, or `UploadError`: 422 for an empty file, 413
    over `max_bytes`, 422 for a type not in `allowed` (the message lists them)."""
    if not data:
        raise UploadError(field, "the file is empty")
    if len(data) > max_bytes:
        raise UploadError(field, f"the file is larger than the limit of {_size(max_bytes)}", 413)
    content_type = sniff(data)
    if content_type is None or content_type not in allowed:
        names = ", ".join(
            [LABELS[t] for t in LABELS if t in allowed]
            + sorted(t for t in allowed if t not in LABELS)
        )
        raise UploadError(
            field, f"{type_label(content_type)} is not accepted (allowed: {names})"
        )
    return content_type


# --- Blobs ---------------------------------------------------------------------------------


def blob_path(config: Config, sha256: str) -> Path:
    if not _SHA256.fullmatch(sha256):
        raise ValueError("sha256: expected 64 lowercase hex digits")
    return Path(config.files_dir) / sha256[:2] / sha256


def _write_blob(path: Path, data: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{id(data)}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


async def write_blob(config: Config, data: bytes) -> str:
    """Keep `data` under its SHA-256 (once, whoever writes it); answer the hash."""
    sha256 = hashlib.sha256(data).hexdigest()
    await asyncio.to_thread(_write_blob, blob_path(config, sha256), data)
    return sha256


async def read_blob(config: Config, sha256: str) -> bytes | None:
    path = blob_path(config, sha256)
    try:
        return await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        return None


# --- Files of a tenant ---------------------------------------------------------------------


def _stored(row: dict[str, Any]) -> StoredUpload:
    return StoredUpload(
        int(row["id"]), row["sha256"], row["name"], row["content_type"], int(row["size"])
    )


async def store_upload(
    ctx: TenantContext,
    data: bytes,
    name: str | None,
    *,
    allowed: Collection[str],
    field: str = "file",
    max_bytes: int | None = None,
) -> StoredUpload:
    """Check an upload (`check_upload`; `max_bytes` defaults to the instance's
    `upload_max_bytes` and cannot exceed it), keep its bytes and answer its row. Inside a
    transaction, the row is part of it; a refused upload leaves nothing."""
    limit = ctx.config.upload_max_bytes
    if max_bytes is not None:
        limit = min(limit, max_bytes)
    content_type = check_upload(data, allowed, max_bytes=limit, field=field)
    sha256 = await write_blob(ctx.config, data)
    rows = await StoredFile.insert(
        StoredFile(
            tenant=ctx.tenant_id,
            sha256=sha256,
            name=clean_name(name),
            content_type=content_type,
            size=len(data),
        )
    ).returning(*StoredFile.all_columns())
    # A delete of the same bytes by someone else may have removed the blob meanwhile.
    await asyncio.to_thread(_write_blob, blob_path(ctx.config, sha256), data)
    return _stored(rows[0])


async def get_upload(ctx: TenantContext, file_id: int) -> StoredUpload | None:
    """The tenant's file (without its bytes), or None: another tenant's id is None, like an
    unknown one."""
    row = await (
        StoredFile.select()
        .where((StoredFile.tenant == ctx.tenant_id) & (StoredFile.id == file_id))
        .first()
    )
    return None if row is None else _stored(row)


_cache: OrderedDict[tuple[str, int, int], tuple[StoredUpload, bytes]] = OrderedDict()


async def read_upload(
    ctx: TenantContext, file_id: int, *, cached: bool = False
) -> tuple[StoredUpload, bytes] | None:
    """The tenant's file and its bytes, or None. `cached` keeps small files in memory (for
    what every page draws, such as a logo): a file id never changes its bytes."""
    key = (ctx.config.files_dir, ctx.tenant_id, file_id)
    if cached and key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    upload = await get_upload(ctx, file_id)
    if upload is None:
        return None
    data = await read_blob(ctx.config, upload.sha256)
    if data is None:
        return None
    if cached and len(data) <= CACHE_FILE_BYTES:
        _cache[key] = (upload, data)
        while len(_cache) > CACHE_FILES:
            _cache.popitem(last=False)
    return upload, data


async def delete_upload(ctx: TenantContext, file_id: int) -> bool:
    """Remove the tenant's file; the blob goes with its last row. False if there was none."""
    upload = await get_upload(ctx, file_id)
    if upload is None:
        return False
    await StoredFile.delete().where(
        (StoredFile.tenant == ctx.tenant_id) & (StoredFile.id == file_id)
    )
    _cache.pop((ctx.config.files_dir, ctx.tenant_id, file_id), None)
    if not await StoredFile.exists().where(StoredFile.sha256 == upload.sha256):
        path = blob_path(ctx.config, upload.sha256)
        await asyncio.to_thread(path.unlink, True)
    return True


# --- Responses -----------------------------------------------------------------------------


def content_disposition(name: str, kind: str = "attachment") -> str:
    """`attachment; filename="ascii"; filename*=UTF-8''...` (RFC 6266), quotes and
    non-ASCII characters made safe for the plain `filename`."""
    plain = name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def attachment_response(upload: StoredUpload, data: bytes) -> Response[bytes]:
    """The file as a download with its name: never shown inline, never re-sniffed."""
    return Response(
        data,
        media_type=upload.content_type,
        headers={
            "Content-Disposition": content_disposition(upload.name),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


def _image_signature(secret: bytes, sha256: str) -> str:
    mac = hmac.new(secret, f"image:{sha256}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


async def signed_image_url(config: Config, data: bytes) -> str:
    """An absolute, public URL of a PNG or JPEG (for mail: clients fetch images without a
    session). The bytes are kept like any upload; only signed hashes are served."""
    sha256 = await write_blob(config, data)
    signature = _image_signature(config.resolved_secret(), sha256)
    return f"{config.base_url.rstrip('/')}/files/images/{sha256}/{signature}"


@get("/files/images/{sha256:str}/{signature:str}", opt={"public": True},
     include_in_schema=False)
async def signed_image(
    request: Request[Any, Any, Any], sha256: FromPath[str], signature: FromPath[str]
) -> Response[bytes]:
    config: Config = request.app.state.config
    expected = _image_signature(request.app.state.secret, sha256)
    if not _SHA256.fullmatch(sha256) or not hmac.compare_digest(expected, signature):
        raise NotFoundException()
    data = await read_blob(config, sha256)
    content_type = sniff(data) if data else None
    if data is None or content_type not in IMAGE_TYPES:
        raise NotFoundException()
    return Response(
        data,
        media_type=content_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )
