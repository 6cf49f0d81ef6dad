"""Opening a dispute, adding to its thread and resolving it: the rules the portal and the
admin API share.

Every change is one transaction: the dispute, its message, an attachment's row and the mails
(through the outbox) are written together or not at all; the event (which also writes the
audit entry) follows the commit. At most one dispute of an invoice is open: the check is made
inside the transaction and backed by a partial unique index for requests that race.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from arportal import (
    Customer,
    Invoice,
    StoredUpload,
    TenantContext,
    UploadError,
    emit_event,
    store_upload,
)
from arportal.plugins.disputes import notify
from arportal.plugins.disputes.models import Dispute, DisputeMessage
from arportal.plugins.disputes.settings import DisputesSettings, Reason

SECTION = "disputes"
FEATURE = "disputes"
OPEN, RESOLVED = "open", "resolved"
STATUSES = (OPEN, RESOLVED)
RESOLUTIONS = ("accepted", "rejected")
CUSTOMER, OPERATOR = "customer", "operator"
MESSAGE_MAX = 2000
NOTE_MAX = 2000
ATTACHMENT_TYPES = ("application/pdf", "image/png", "image/jpeg")
CHUNK = 500


class DisputeError(ValueError):
    """Refused input: `field` names it; `status_code` is 422, or 413 for a file too large."""

    def __init__(self, field: str, message: str, status_code: int = 422):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status_code = status_code


class AlreadyOpen(Exception):
    """The invoice already has an open dispute (its id): no second one is opened."""

    def __init__(self, dispute_id: int):
        super().__init__(f"the invoice already has an open dispute ({dispute_id})")
        self.dispute_id = dispute_id


class NotOpen(Exception):
    """The dispute is resolved: no message can be added and it cannot be resolved again."""


@dataclass(frozen=True)
class Attachment:
    data: bytes
    name: str


def settings_of(ctx: TenantContext) -> DisputesSettings:
    return ctx.settings(SECTION)  # type: ignore[no-any-return]


def clean_text(text: str, field: str, limit: int, required: bool = True) -> str:
    """Line breaks as `\\n` (a browser sends CRLF), outer blanks dropped, length checked."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not text:
        raise DisputeError(field, "required")
    if len(text) > limit:
        raise DisputeError(field, f"at most {limit} characters")
    return text


def active_reason(ctx: TenantContext, key: str) -> Reason:
    reasons = settings_of(ctx).active()
    for reason in reasons:
        if reason.key == key:
            return reason
    keys = ", ".join(reason.key for reason in reasons)
    raise DisputeError("reason", f"unknown reason {key!r}; expected one of {keys}")


def _transaction() -> Any:
    """IMMEDIATE on SQLite (two writers queue instead of failing), a plain one on PostgreSQL."""
    engine = Dispute._meta.db
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


def _unique_violation(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.IntegrityError):
        return "UNIQUE" in str(exc)
    return type(exc).__name__ == "UniqueViolationError"


# --- reading ---------------------------------------------------------------------------------


def dispute_query() -> Any:
    return Dispute.select(
        Dispute.id,
        Dispute.customer,
        Dispute.invoice,
        Dispute.reason,
        Dispute.reason_label,
        Dispute.status,
        Dispute.resolution,
        Dispute.resolution_note,
        Dispute.opened_by,
        Dispute.created_at,
        Dispute.resolved_at,
        Dispute.invoice.external_id.as_alias("invoice_external_id"),
        Dispute.invoice.number.as_alias("invoice_number"),
        Dispute.customer.external_id.as_alias("customer_external_id"),
    )


async def get_dispute(
    ctx: TenantContext, dispute_id: int, customer_id: int | None = None
) -> dict[str, Any] | None:
    """A dispute of the tenant (and of the customer, when given); None for anyone else's."""
    where = (Dispute.tenant == ctx.tenant_id) & (Dispute.id == dispute_id)
    if customer_id is not None:
        where &= Dispute.customer == customer_id
    row: dict[str, Any] | None = await dispute_query().where(where).first()
    return row


async def messages_of(
    ctx: TenantContext, dispute_ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    """The threads of several disputes, oldest message first (one query per 500 disputes)."""
    threads: dict[int, list[dict[str, Any]]] = {dispute_id: [] for dispute_id in dispute_ids}
    for start in range(0, len(dispute_ids), CHUNK):
        rows = await (
            DisputeMessage.select(
                DisputeMessage.id,
                DisputeMessage.dispute,
                DisputeMessage.author,
                DisputeMessage.body,
                DisputeMessage.attachment,
                DisputeMessage.created_at,
                DisputeMessage.attachment.name.as_alias("attachment_name"),
                DisputeMessage.attachment.content_type.as_alias("attachment_type"),
                DisputeMessage.attachment.size.as_alias("attachment_size"),
            )
            .where(
                (DisputeMessage.tenant == ctx.tenant_id)
                & DisputeMessage.dispute.is_in(dispute_ids[start : start + CHUNK])
            )
            .order_by(DisputeMessage.id)
        )
        for row in rows:
            threads[row["dispute"]].append(row)
    return threads


async def by_invoice(
    ctx: TenantContext, invoice_ids: Iterable[int], *, only_open: bool = True
) -> dict[int, dict[str, Any]]:
    """The open (or the latest) dispute of each invoice that has one."""
    ids = sorted(set(invoice_ids))
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        where = (Dispute.tenant == ctx.tenant_id) & Dispute.invoice.is_in(chunk)
        if only_open:
            where &= Dispute.status == OPEN
        rows = await (
            Dispute.select(Dispute.id, Dispute.invoice, Dispute.reason, Dispute.reason_label,
                           Dispute.status)
            .where(where)
            .order_by(Dispute.id)
        )
        for row in rows:
            found[row["invoice"]] = row
    return found


async def open_of_customer(ctx: TenantContext, customer_id: int) -> list[dict[str, Any]]:
    return await (  # type: ignore[no-any-return]
        dispute_query()
        .where(
            (Dispute.tenant == ctx.tenant_id)
            & (Dispute.customer == customer_id)
            & (Dispute.status == OPEN)
        )
        .order_by(Dispute.id)
        .limit(50)
    )


def reason_label(ctx: TenantContext, dispute: dict[str, Any]) -> str:
    """The reason's current label (renamed reasons show their new name)."""
    return settings_of(ctx).label(dispute["reason"], dispute["reason_label"])


async def customer_row(ctx: TenantContext, customer_id: int) -> dict[str, Any]:
    row = await (
        Customer.select(Customer.id, Customer.external_id, Customer.name, Customer.email,
                        Customer.locale)
        .where((Customer.tenant == ctx.tenant_id) & (Customer.id == customer_id))
        .first()
    )
    if row is None:  # pragma: no cover - foreign keys keep the customer
        raise LookupError(f"no customer {customer_id}")
    return row  # type: ignore[no-any-return]


# --- changing --------------------------------------------------------------------------------


async def _store(
    ctx: TenantContext, attachment: Attachment | None, field: str
) -> StoredUpload | None:
    if attachment is None:
        return None
    try:
        return await store_upload(
            ctx, attachment.data, attachment.name, allowed=ATTACHMENT_TYPES, field=field
        )
    except UploadError as exc:
        raise DisputeError(exc.field, exc.message, exc.status_code) from None


async def _insert_message(
    ctx: TenantContext, dispute_id: int, author: str, body: str, file_id: int | None
) -> int:
    rows = await DisputeMessage.insert(
        DisputeMessage(
            tenant=ctx.tenant_id, dispute=dispute_id, author=author, body=body,
            attachment=file_id,
        )
    ).returning(DisputeMessage.id)
    return int(rows[0]["id"])


async def open_dispute(
    ctx: TenantContext,
    *,
    invoice: dict[str, Any],
    customer: dict[str, Any],
    reason_key: str,
    message: str,
    attachment: Attachment | None = None,
    by: str = CUSTOMER,
) -> dict[str, Any]:
    """Open a dispute on an open invoice of `customer`, with its first message; answer it.

    Raises `DisputeError` for bad input and `AlreadyOpen` when the invoice has an open one.
    """
    reason = active_reason(ctx, reason_key)
    body = clean_text(message, "message", MESSAGE_MAX)
    if invoice["status"] != "open":
        raise DisputeError("invoice", "only an open invoice can be disputed")
    try:
        async with _transaction():
            existing = await by_invoice(ctx, [invoice["id"]])
            if existing:
                raise AlreadyOpen(existing[invoice["id"]]["id"])
            upload = await _store(ctx, attachment, "attachment")
            rows = await Dispute.insert(
                Dispute(
                    tenant=ctx.tenant_id, customer=customer["id"], invoice=invoice["id"],
                    reason=reason.key, reason_label=reason.label, status=OPEN, opened_by=by,
                )
            ).returning(Dispute.id)
            dispute_id = int(rows[0]["id"])
            message_id = await _insert_message(
                ctx, dispute_id, by, body, upload.id if upload else None
            )
            dispute = await get_dispute(ctx, dispute_id)
            assert dispute is not None
            await notify.dispute_opened(
                ctx, dispute, customer, reason_label(ctx, dispute), body,
                attachment_name=upload.name if upload else None,
            )
    except Exception as exc:
        if not _unique_violation(exc):
            raise
        existing = await by_invoice(ctx, [invoice["id"]])
        if not existing:  # pragma: no cover - the conflicting dispute cannot vanish
            raise
        raise AlreadyOpen(existing[invoice["id"]]["id"]) from None
    await emit_event(
        ctx, "dispute_opened", event_data(ctx, dispute, message_id=message_id),
        subject_type="dispute", subject_id=str(dispute_id),
    )
    return dispute


async def add_message(
    ctx: TenantContext,
    dispute: dict[str, Any],
    *,
    author: str,
    body: str,
    attachment: Attachment | None = None,
    field: str = "message",
) -> int:
    """Add to an open dispute's thread; the other side is mailed. Answers the message id."""
    text = clean_text(body, field, MESSAGE_MAX)
    async with _transaction():
        status = await Dispute.select(Dispute.status).where(Dispute.id == dispute["id"]).first()
        if status is None or status["status"] != OPEN:
            raise NotOpen()
        upload = await _store(ctx, attachment, "attachment")
        message_id = await _insert_message(
            ctx, dispute["id"], author, text, upload.id if upload else None
        )
        customer = await customer_row(ctx, dispute["customer"])
        if author == CUSTOMER:
            await notify.customer_wrote(
                ctx, dispute, customer, reason_label(ctx, dispute), message_id, text,
                attachment_name=upload.name if upload else None,
            )
        else:
            await notify.operator_replied(ctx, dispute, customer, message_id, text)
    await emit_event(
        ctx, "dispute_message_added",
        {**event_data(ctx, dispute), "message_id": message_id, "author": author,
         "attachment": attachment is not None},
        subject_type="dispute", subject_id=str(dispute["id"]),
    )
    return message_id


async def resolve(
    ctx: TenantContext, dispute: dict[str, Any], resolution: str, note: str = ""
) -> dict[str, Any]:
    """Resolve an open dispute (`accepted` or `rejected`): the hold lifts, the customer is
    told. Raises `NotOpen` for a resolved one."""
    if resolution not in RESOLUTIONS:
        raise DisputeError("resolution", f"expected one of {', '.join(RESOLUTIONS)}")
    text = clean_text(note, "note", NOTE_MAX, required=False)
    async with _transaction():
        updated = await (
            Dispute.update(
                {
                    Dispute.status: RESOLVED,
                    Dispute.resolution: resolution,
                    Dispute.resolution_note: text,
                    Dispute.resolved_at: dt.datetime.now(dt.UTC),
                }
            )
            .where(
                (Dispute.tenant == ctx.tenant_id)
                & (Dispute.id == dispute["id"])
                & (Dispute.status == OPEN)
            )
            .returning(Dispute.id)
        )
        if not updated:
            raise NotOpen()
        resolved = await get_dispute(ctx, dispute["id"])
        assert resolved is not None
        customer = await customer_row(ctx, dispute["customer"])
        await notify.dispute_resolved(ctx, resolved, customer, reason_label(ctx, resolved))
    await emit_event(
        ctx, "dispute_resolved", {**event_data(ctx, resolved), "note": text},
        subject_type="dispute", subject_id=str(dispute["id"]),
    )
    return resolved


def event_data(ctx: TenantContext, dispute: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """What events about a dispute carry (and the audit log keeps)."""
    return {
        "dispute_id": dispute["id"],
        "invoice_id": dispute["invoice"],
        "invoice_external_id": dispute["invoice_external_id"],
        "invoice_number": dispute["invoice_number"],
        "customer_external_id": dispute["customer_external_id"],
        "reason": dispute["reason"],
        "reason_label": reason_label(ctx, dispute),
        "status": dispute["status"],
        "resolution": dispute["resolution"],
        "opened_by": dispute["opened_by"],
        **extra,
    }


async def find_invoice(
    ctx: TenantContext, external_id: str, customer_id: int | None = None, *, portal: bool = False
) -> dict[str, Any] | None:
    """An invoice of the tenant (of the customer, when given) by external id; on the portal
    only as the portal shows it (open or paid, and not issued after today when the tenant
    hides those). None for anyone else's."""
    where = (Invoice.tenant == ctx.tenant_id) & (Invoice.external_id == external_id)
    if customer_id is not None:
        where &= Invoice.customer == customer_id
    if portal:
        where &= Invoice.status.is_in(["open", "paid"])
        if ctx.portal_settings.hide_future_invoices:
            where &= Invoice.issue_date <= ctx.today()
    row: dict[str, Any] | None = await (
        Invoice.select(
            Invoice.id, Invoice.customer, Invoice.external_id, Invoice.number, Invoice.status,
            Invoice.issue_date, Invoice.due_date, Invoice.currency, Invoice.total_minor,
            Invoice.amount_due_minor,
        )
        .where(where)
        .first()
    )
    return row
