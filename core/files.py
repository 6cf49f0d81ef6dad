"""Stored files: uploads kept under their SHA-256 in `files_dir`, each described by a
`stored_file` row of the tenant that uploaded it.

The type of an upload is judged from its bytes (never from its name or the client's
Content-Type): `sniff` knows the types below, and names the dangerous ones (HTML, SVG,
executables) so a refusal can say what was refused. Identical bytes are kept once, whoever
uploaded them; a blob is removed when its last row goes. Files go back to a browser only as
attachments with `X-Content-Type-Options: nosniff`, and rows are always read by tenant, so
another tenant's file id is unknown.

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


class FileRejected(ValueError):
    """An upload refused: `status_code` 413 (too large) or 422, `field` names the form field."""

    def __init__(self, field: str, message: str, status_code: int = 422):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status_code = status_code


# --- What a file is ------------------------------------------------------------------------


def _office_type(data: bytes) -> str | None:
    """DOCX or XLSX from the ZIP's directory (puremagic cannot tell them apart); a document
    with macros (`vbaProject.bin`) is none of them."""
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
    if b"\x00" in data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head = data[:4096]
    match = _MARKUP.search(head)
    if match:
        tag = match.group(1).lower()
        return SVG if tag == b"svg" or (tag == b"?xml" and b"<svg" in head.lower()) else HTML
    if head.lstrip().startswith(b"<"):
        return HTML
    return TEXT


def sniff(data: bytes) -> str | None:
    """The content type of `data` judged from its bytes: a key of `LABELS`, another type
    puremagic recognises, or None when nothing matches."""
    if data.startswith(_EXECUTABLE_MAGIC):
        return EXECUTABLE
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04"):
        return _office_type(data)
    text = _text_type(data)
    if text is not None:
        return text
    try:
        matches = puremagic.magic_string(data)
    except (puremagic.PureError, ValueError):
        return None
    return next((m.mime_type for m in matches if m.mime_type), None)


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


def check_upload(
    config: Config, data: bytes, allowed: Collection[str], field: str = "file"
) -> str:
    """The sniffed content type of an upload, or `FileRejected`: 413 over
    `upload_max_bytes`, 422 for an empty file or a type not in `allowed`."""
    if len(data) > config.upload_max_bytes:
        limit = config.upload_max_bytes / (1024 * 1024)
        raise FileRejected(field, f"the file is larger than the limit of {limit:g} MB", 413)
    if not data:
        raise FileRejected(field, "the file is empty")
    content_type = sniff(data)
    if content_type is None or content_type not in allowed:
        names = ", ".join(
            [LABELS[t] for t in LABELS if t in allowed]
            + sorted(t for t in allowed if t not in LABELS)
        )
        raise FileRejected(
            field, f"{type_label(content_type)} is not accepted (allowed: {names})"
        )
    return content_type


# --- Blobs ---------------------------------------------------------------------------------


def blob_path(config: Config, sha256: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
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


# --- Rows of a tenant ----------------------------------------------------------------------


async def store_file(
    ctx: TenantContext,
    data: bytes,
    name: str | None,
    *,
    allowed: Collection[str],
    field: str = "file",
) -> dict[str, Any]:
    """Check an upload (`check_upload`), keep its bytes and answer its `stored_file` row
    (`id`, `sha256`, `name`, `content_type`, `size`, `created_at`)."""
    content_type = check_upload(ctx.config, data, allowed, field)
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
    return rows[0]  # type: ignore[no-any-return]


async def get_stored_file(ctx: TenantContext, file_id: int) -> dict[str, Any] | None:
    """The tenant's row, or None (another tenant's id is None, like an unknown one)."""
    return await (  # type: ignore[no-any-return]
        StoredFile.select()
        .where((StoredFile.tenant == ctx.tenant_id) & (StoredFile.id == file_id))
        .first()
    )


_cache: OrderedDict[tuple[str, int, int], tuple[dict[str, Any], bytes]] = OrderedDict()


async def read_stored_file(
    ctx: TenantContext, file_id: int, *, cached: bool = False
) -> tuple[dict[str, Any], bytes] | None:
    """The tenant's row and bytes, or None. `cached` keeps small files in memory (for what
    every page draws, such as a logo): a file id never changes its bytes."""
    key = (ctx.config.files_dir, ctx.tenant_id, file_id)
    if cached and key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    row = await get_stored_file(ctx, file_id)
    if row is None:
        return None
    data = await read_blob(ctx.config, row["sha256"])
    if data is None:
        return None
    if cached and len(data) <= CACHE_FILE_BYTES:
        _cache[key] = (row, data)
        while len(_cache) > CACHE_FILES:
            _cache.popitem(last=False)
    return row, data


async def delete_stored_file(ctx: TenantContext, file_id: int) -> bool:
    """Remove the tenant's row; the blob goes with its last row. False if there was none."""
    row = await get_stored_file(ctx, file_id)
    if row is None:
        return False
    await StoredFile.delete().where(
        (StoredFile.tenant == ctx.tenant_id) & (StoredFile.id == file_id)
    )
    _cache.pop((ctx.config.files_dir, ctx.tenant_id, file_id), None)
    if not await StoredFile.exists().where(StoredFile.sha256 == row["sha256"]):
        path = blob_path(ctx.config, row["sha256"])
        await asyncio.to_thread(path.unlink, True)
    return True


# --- Responses -----------------------------------------------------------------------------


def content_disposition(name: str, kind: str = "attachment") -> str:
    """`attachment; filename="ascii"; filename*=UTF-8''...` (RFC 6266), quotes and
    non-ASCII characters made safe for the plain `filename`."""
    plain = name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def attachment(data: bytes, name: str, content_type: str) -> Response[bytes]:
    """A download: saved under its name, never shown inline, never re-sniffed."""
    return Response(
        data,
        media_type=content_type,
        headers={
            "Content-Disposition": content_disposition(name),
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
    if not re.fullmatch(r"[0-9a-f]{64}", sha256) or not hmac.compare_digest(expected, signature):
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
