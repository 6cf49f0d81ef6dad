"""The plugin's admin API (`/api/v1/branding/...`) and portal routes.

Admin: shared documents (upload, list, delete), the logo (upload, remove), the sender
address's confirmation state. Portal: a document's download, and the public page of the
one-time link that confirms a sender address. Every route but that page is tagged with the
feature, so the core answers 404 while a tenant has it off.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, delete, get, post, put
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath
from litestar.response import Template

from arportal import (
    DOCUMENT_TYPES,
    IMAGE_TYPES,
    PortalDep,
    TenantDep,
    UploadError,
    apply_settings,
    attachment_response,
    delete_upload,
    emit_event,
    read_upload,
    store_upload,
    tenant_context_by_id,
)
from arportal.plugins.branding import sender
from arportal.plugins.branding.models import BrandingDocument
from arportal.plugins.branding.settings import SECTION, settings_of

FEATURE = "branding"
TITLE_MAX = 200
LOGO_MAX_BYTES = 2 * 1024 * 1024


def _field_error(field: str, message: str) -> ValidationException:
    return ValidationException(detail=message, extra=[{"key": field, "message": message}])


async def _upload(request: Request[Any, Any, Any]) -> tuple[dict[str, Any], bytes, str | None]:
    """The form fields and the bytes and name of its `file`. A body that is not a form (for
    the logo: `Content-Type: image/png` and the bytes) is the file itself."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("multipart/form-data", "application/x-www-form")):
        return {}, await request.body(), None
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise UploadError("file", "expected a file in the multipart field `file`")
    data = await upload.read()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    return fields, data, upload.filename


def _title(fields: dict[str, Any]) -> str:
    title = str(fields.get("title") or "").strip()
    if not 1 <= len(title) <= TITLE_MAX:
        raise _field_error("title", f"title: expected 1 to {TITLE_MAX} characters")
    if any(ord(ch) < 32 for ch in title):
        raise _field_error("title", "title: line breaks are not allowed")
    return title


def document_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "title": row["title"],
        "file_name": row["file_name"],
        "content_type": row["content_type"],
        "size": row["size"],
        "created_at": row["created_at"].isoformat(),
    }


def _documents(tenant_id: int) -> Any:
    return BrandingDocument.select(
        BrandingDocument.id,
        BrandingDocument.title,
        BrandingDocument.created_at,
        BrandingDocument.file.as_alias("file_id"),
        BrandingDocument.file.name.as_alias("file_name"),
        BrandingDocument.file.content_type.as_alias("content_type"),
        BrandingDocument.file.size.as_alias("size"),
    ).where(BrandingDocument.tenant == tenant_id)


async def documents_of(tenant_id: int) -> list[dict[str, Any]]:
    return await _documents(tenant_id).order_by(BrandingDocument.id)  # type: ignore[no-any-return]


async def _document(tenant_id: int, document_id: int) -> dict[str, Any]:
    row = await _documents(tenant_id).where(BrandingDocument.id == document_id).first()
    if row is None:
        raise NotFoundException(f"no document {document_id}")
    return row  # type: ignore[no-any-return]


# --- Admin API ---------------------------------------------------------------------------------


@post("/branding/documents", opt={"feature": FEATURE}, status_code=201,
      summary="Share a document with every customer (multipart: title, file)")
async def upload_document(tenant: TenantDep, request: Request[Any, Any, Any]) -> dict[str, Any]:
    fields, data, name = await _upload(request)
    title = _title(fields)
    stored = await store_upload(tenant, data, name, allowed=DOCUMENT_TYPES)
    rows = await BrandingDocument.insert(
        BrandingDocument(tenant=tenant.tenant_id, title=title, file=stored.id)
    ).returning(BrandingDocument.id)
    document = await _document(tenant.tenant_id, rows[0]["id"])
    await emit_event(tenant, "branding_document_added", document_out(document),
                     subject_type="document", subject_id=str(document["id"]))
    return document_out(document)


@get("/branding/documents", opt={"feature": FEATURE}, summary="The shared documents")
async def list_documents(tenant: TenantDep) -> dict[str, Any]:
    return {"items": [document_out(row) for row in await documents_of(tenant.tenant_id)]}


@delete("/branding/documents/{document_id:int}", opt={"feature": FEATURE},
        summary="Stop sharing a document")
async def delete_document(tenant: TenantDep, document_id: FromPath[int]) -> None:
    document = await _document(tenant.tenant_id, document_id)
    await BrandingDocument.delete().where(
        (BrandingDocument.tenant == tenant.tenant_id) & (BrandingDocument.id == document_id)
    )
    await delete_upload(tenant, document["file_id"])
    await emit_event(tenant, "branding_document_removed", document_out(document),
                     subject_type="document", subject_id=str(document_id))


@put("/branding/logo", opt={"feature": FEATURE},
     summary="Set the logo (PNG or JPEG: multipart `file`, or the image as the body)")
async def put_logo(tenant: TenantDep, request: Request[Any, Any, Any]) -> dict[str, Any]:
    _fields, data, name = await _upload(request)
    stored = await store_upload(
        tenant, data, name or "logo", allowed=IMAGE_TYPES, max_bytes=LOGO_MAX_BYTES
    )
    previous = settings_of(tenant).logo
    await apply_settings(tenant, {SECTION: {"logo": stored.id}})
    if previous is not None and previous != stored.id:
        await delete_upload(tenant, previous)
    return {"logo": stored.id, "content_type": stored.content_type, "size": stored.size}


@delete("/branding/logo", opt={"feature": FEATURE}, summary="Remove the logo")
async def delete_logo(tenant: TenantDep) -> None:
    previous = settings_of(tenant).logo
    if previous is None:
        return
    await apply_settings(tenant, {SECTION: {"logo": None}})
    await delete_upload(tenant, previous)


@get("/branding/sender", opt={"feature": FEATURE},
     summary="The sender address and whether it is confirmed")
async def get_sender(tenant: TenantDep) -> dict[str, Any]:
    return await sender.status(tenant)


@post("/branding/sender/confirmation", opt={"feature": FEATURE}, status_code=202,
      summary="Mail a fresh confirmation link to the sender address")
async def resend_confirmation(tenant: TenantDep) -> dict[str, Any]:
    outbox_id = await sender.request_confirmation(tenant)
    return {**await sender.status(tenant), "outbox_id": outbox_id}


# --- Portal ----------------------------------------------------------------------------------


@get("/documents/{document_id:int}", opt={"feature": FEATURE})
async def download_document(portal: PortalDep, document_id: FromPath[int]) -> Any:
    """The original bytes, with their file name, as an attachment."""
    document = await _document(portal.tenant_id, document_id)
    found = await read_upload(portal, document["file_id"])
    if found is None:
        raise NotFoundException()
    return attachment_response(*found)


async def _confirm_page(request: Request[Any, Any, Any], token: str, done: bool) -> Template:
    row = await sender.pending(token)
    ctx = None
    if row is not None:
        app = request.app
        ctx = await tenant_context_by_id(app.state.host, app.state.config, row["tenant"],
                                         actor="sender-confirmation")
    if row is None or ctx is None or not ctx.feature_enabled(FEATURE):
        raise NotFoundException()
    if done and await sender.confirm(token) is None:
        raise NotFoundException()
    if done:
        await emit_event(ctx, "branding_sender_confirmed", {"email": row["email"]},
                         subject_type="sender", subject_id=row["email"])
    return Template(
        template_name="branding:confirm_sender.html",
        context={"email": row["email"], "tenant_name": ctx.name, "done": done},
    )


@get("/branding/sender/confirm/{token:str}", opt={"public": True})
async def confirm_page(request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
    """What the mailed link opens: a button (a GET changes nothing; mail scanners open it)."""
    return await _confirm_page(request, token, done=False)


@post("/branding/sender/confirm/{token:str}", opt={"public": True}, status_code=200)
async def confirm_sender(request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
    return await _confirm_page(request, token, done=True)


ADMIN_ROUTES = [
    upload_document,
    list_documents,
    delete_document,
    put_logo,
    delete_logo,
    get_sender,
    resend_confirmation,
]
PORTAL_ROUTES = [download_document, confirm_page, confirm_sender]
