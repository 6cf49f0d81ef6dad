"""Delivering the outbox over SMTP, with retries and backoff.

Rows are claimed (`claimed_until`) before anything is sent, so two workers never send the same
mail; a worker that dies mid-batch leaves claims that expire after `CLAIM_SECONDS`, and the
mail is then sent by the next run. A failure keeps the mail pending with a later
`next_attempt_at`: nothing is lost while the SMTP server is down. After `MAX_ATTEMPTS`
failures the mail is marked `failed`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import TYPE_CHECKING, Any

import aiosmtplib

from arportal import db
from arportal.clock import utcnow
from arportal.models import OutboxMessage

if TYPE_CHECKING:
    from arportal.config import Config, SmtpConfig

log = logging.getLogger("arportal.mailer")

MAX_ATTEMPTS = 10
CLAIM_SECONDS = 600
BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 6 * 3600

_CLAIM_SQL = """
UPDATE outbox SET claimed_until = {}
WHERE id IN (
    SELECT id FROM outbox
    WHERE status = 'pending' AND next_attempt_at <= {}
      AND (claimed_until IS NULL OR claimed_until < {})
    ORDER BY next_attempt_at, id
    LIMIT {}%s
)
AND (claimed_until IS NULL OR claimed_until < {})
RETURNING id
"""


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    """Mails given up on in this run (status `failed`)."""
    retried: int = 0
    """Mails that failed this time and stay pending for a later attempt."""


def backoff(attempts: int) -> dt.timedelta:
    """1 min after the first failure, doubling, at most 6 h."""
    seconds = BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return dt.timedelta(seconds=min(seconds, BACKOFF_MAX_SECONDS))


async def claim_due(now: dt.datetime, limit: int) -> list[int]:
    """Claim up to `limit` due mails for this worker, atomically; answer their ids.

    One statement on both engines: on PostgreSQL the inner SELECT takes row locks with
    `FOR UPDATE SKIP LOCKED`, so concurrent workers pick disjoint rows; SQLite runs the
    statement under its write lock, and the repeated `claimed_until` test keeps a row
    claimed by someone else out either way.
    """
    lock = " FOR UPDATE SKIP LOCKED" if db.is_postgres() else ""
    until = now + dt.timedelta(seconds=CLAIM_SECONDS)
    rows = await OutboxMessage.raw(_CLAIM_SQL % lock, until, now, now, limit, now)
    return sorted(int(row["id"]) for row in rows)


def build_message(row: dict[str, Any]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = row["from_addr"]
    message["To"] = ", ".join(row["to_addrs"])
    message["Subject"] = row["subject"]
    if row["reply_to"]:
        message["Reply-To"] = row["reply_to"]
    message["Date"] = format_datetime(utcnow())
    domain = parseaddr(row["from_addr"])[1].rpartition("@")[2] or "localhost"
    created = int(row["created_at"].timestamp())
    # Stable per outbox row: a mail sent twice (a claim that expired mid-send) shows as one.
    message["Message-ID"] = f"<outbox.{row['id']}.{created}@{domain}>"
    message.set_content(row["text_body"])
    if row["html_body"]:
        message.add_alternative(row["html_body"], subtype="html")
    return message


def _client(smtp: SmtpConfig) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=smtp.host,
        port=smtp.port,
        username=smtp.username,
        password=smtp.password,
        use_tls=smtp.use_tls,
        start_tls=smtp.starttls,
        timeout=smtp.timeout,
    )


async def _mark_sent(message_id: int, now: dt.datetime) -> None:
    await OutboxMessage.update(
        {
            OutboxMessage.status: "sent",
            OutboxMessage.sent_at: now,
            OutboxMessage.attempts: OutboxMessage.attempts + 1,
            OutboxMessage.claimed_until: None,
            OutboxMessage.last_error: None,
        }
    ).where(OutboxMessage.id == message_id)


async def _mark_failed(row: dict[str, Any], error: str, now: dt.datetime) -> bool:
    """Record a failed attempt; answer True when the mail is given up on."""
    attempts = int(row["attempts"]) + 1
    give_up = attempts >= MAX_ATTEMPTS
    await OutboxMessage.update(
        {
            OutboxMessage.status: "failed" if give_up else "pending",
            OutboxMessage.attempts: attempts,
            OutboxMessage.last_error: error[:2000],
            OutboxMessage.next_attempt_at: now + backoff(attempts),
            OutboxMessage.claimed_until: None,
        }
    ).where(OutboxMessage.id == row["id"])
    return give_up


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def deliver_pending(
    config: Config, *, limit: int = 100, now: dt.datetime | None = None
) -> DeliveryReport:
    """Send up to `limit` due mails over one SMTP connection.

    Without `config.smtp` nothing is sent: mail waits in the outbox. `now` is for tests.
    """
    report = DeliveryReport()
    if config.smtp is None:
        return report
    now = now or utcnow()
    ids = await claim_due(now, limit)
    if not ids:
        return report
    rows = await (
        OutboxMessage.select()
        .where(OutboxMessage.id.is_in(ids))
        .order_by(OutboxMessage.id)
        .output(load_json=True)
    )

    client: aiosmtplib.SMTP | None = None
    server_down: str | None = None
    unstarted = [row["id"] for row in rows]
    try:
        for row in rows:
            unstarted.remove(row["id"])
            error = server_down
            if error is None and client is None:
                try:
                    client = await _connect(config.smtp)
                except Exception as exc:
                    server_down = error = _describe(exc)
            if error is None and client is not None:
                try:
                    await _send(client, row)
                except Exception as exc:
                    error = _describe(exc)
                    await _drop(client)
                    client = None
            if error is None:
                await _mark_sent(row["id"], now)
                report.sent += 1
                continue
            attempt = int(row["attempts"]) + 1
            log.warning("outbox mail %s not sent (attempt %s): %s", row["id"], attempt, error)
            if await _mark_failed(row, error, now):
                report.failed += 1
            else:
                report.retried += 1
    finally:
        if unstarted:  # cancelled (shut-down) or a database error: others may take them now
            await asyncio.shield(_release(unstarted))
        await _drop(client)
    return report


async def _release(ids: list[int]) -> None:
    try:
        await OutboxMessage.update({OutboxMessage.claimed_until: None}).where(
            OutboxMessage.id.is_in(ids), OutboxMessage.status == "pending"
        )
    except Exception:
        log.exception("outbox: could not release claims; they expire in %ss", CLAIM_SECONDS)


async def _connect(smtp: SmtpConfig) -> aiosmtplib.SMTP:
    """Connect (TLS, STARTTLS and login as configured). A failure here fails the whole batch:
    the server is unreachable or refuses us, and each mail waits for its next attempt."""
    client = _client(smtp)
    try:
        await client.connect()
    except BaseException:
        client.close()
        raise
    return client


async def _send(client: aiosmtplib.SMTP, row: dict[str, Any]) -> None:
    refused, _reply = await client.send_message(
        build_message(row),
        sender=parseaddr(row["from_addr"])[1],
        recipients=[parseaddr(to)[1] for to in row["to_addrs"]],
    )
    if refused:
        # Some recipients were refused, at least one accepted: the mail counts as sent.
        log.warning("outbox mail %s: recipients refused: %s", row["id"], sorted(refused))


async def _drop(client: aiosmtplib.SMTP | None) -> None:
    """Close a connection after an error, so the next mail starts on a clean one."""
    if client is not None and client.is_connected:
        try:
            await client.quit()
        except Exception:
            client.close()
