"""The notification outbox: mail is rendered and stored here, then delivered by the mailer.

Enqueueing never talks to an SMTP server, so a page or a job that sends mail never waits on
(or fails because of) one; `arportal.mailer.deliver_pending` sends what is due, with retries.
"""

from __future__ import annotations

import datetime as dt
import logging
import weakref
from email.utils import formataddr, parseaddr
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, TemplateNotFound

from arportal.clock import utcnow
from arportal.declarations import MailSender, Theme
from arportal.files import IMAGE_TYPES, signed_image_url
from arportal.models import OutboxMessage
from arportal.portal.slots import Brand, checked_brand

if TYPE_CHECKING:
    from arportal.config import Config
    from arportal.context import TenantContext
    from arportal.plugin_host import PluginHost

log = logging.getLogger("arportal.outbox")

FORBIDDEN_IN_HEADERS = ("\r", "\n", "\x00")
STATUSES = ("pending", "sent", "failed")

_text_environments: weakref.WeakKeyDictionary[Environment, Environment] = (
    weakref.WeakKeyDictionary()
)


def check_header(field: str, value: str) -> str:
    """Refuse header injection: a CR or LF would let a value add headers of its own."""
    if any(char in value for char in FORBIDDEN_IN_HEADERS):
        raise ValueError(f"{field}: line breaks are not allowed in a mail header")
    return value


def check_address(field: str, value: str) -> str:
    """A single address, bare (`a@b.example`) or named (`Name <a@b.example>`)."""
    check_header(field, value)
    _name, address = parseaddr(value)
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in address):
        raise ValueError(f"{field}: not a valid email address: {value!r}")
    return value


def _environment(host: PluginHost) -> Environment:
    env = getattr(host, "jinja", None)
    if env is None:
        from arportal.templating import build_environment

        env = build_environment(host, None)
        host.jinja = env  # type: ignore[attr-defined]
    return env  # type: ignore[no-any-return]


def _text_environment(env: Environment) -> Environment:
    """The same loaders and filters without HTML escaping, for the text/plain part.

    A fresh cache (`cache_size`) keeps templates compiled with autoescape out of it.
    """
    text_env = _text_environments.get(env)
    if text_env is None:
        text_env = env.overlay(autoescape=False, cache_size=400)
        _text_environments[env] = text_env
    return text_env


def render_mail(
    host: PluginHost, template: str, context: dict[str, Any]
) -> tuple[str, str | None]:
    """Render `<template>.txt` (required) and `<template>.html` (optional)."""
    env = _environment(host)
    text = _text_environment(env).get_template(f"{template}.txt").render(context)
    try:
        html_template = env.get_template(f"{template}.html")
    except TemplateNotFound:
        return text, None
    return text, html_template.render(context)


def _sender_fields(sender: MailSender | None, config: Config) -> tuple[str, str | None]:
    """From and Reply-To. A sender without an email (or one whose domain the instance does
    not allow, `mail.allowed_sender_domains`) sends from `mail.default_sender`."""
    default = check_address("mail.default_sender", config.mail.default_sender)
    if sender is None:
        return default, None
    reply_to = check_address("sender reply_to", sender.reply_to) if sender.reply_to else None
    if not sender.email:
        return default, reply_to
    check_header("sender name", sender.name or "")
    check_address("sender email", sender.email)
    if not config.mail.allows_sender(parseaddr(sender.email)[1]):
        log.warning(
            "sender %s is outside mail.allowed_sender_domains; sending from the default",
            sender.email,
        )
        return default, reply_to
    from_addr = formataddr((sender.name, sender.email)) if sender.name else sender.email
    return from_addr, reply_to


async def mail_brand(ctx: TenantContext, theme: Theme) -> Brand:
    """The theme as mail draws it: checked colours, and the logo as a public image URL."""
    logo = None
    if theme.logo_bytes and theme.logo_content_type in IMAGE_TYPES:
        logo = await signed_image_url(ctx.config, theme.logo_bytes)
    return checked_brand(theme, ctx.name, logo)


def _scoped_dedupe_key(ctx: TenantContext, dedupe_key: str) -> str:
    """Dedupe keys are unique instance-wide; prefix the tenant so tenants never collide."""
    key = f"{ctx.tenant_id}:{dedupe_key}"
    if len(key) > 200:
        raise ValueError("dedupe_key: at most 190 characters")
    return key


async def enqueue_mail(
    ctx: TenantContext,
    *,
    to: list[str],
    subject: str,
    template: str,
    context: dict[str, Any],
    dedupe_key: str | None = None,
    reply_to: str | None = None,
) -> int:
    """Render a mail for the tenant and store it in the outbox; answer its id.

    `template` is a name without extension (`"core:mail/portal_link"`): `.txt` is required,
    `.html` optional. The context also gets `tenant_name`, `theme` (the plugin's answer) and
    `brand` (its checked colours, name and logo URL: what `core:mail/base.html` draws). The
    sender is the tenant's (`arportal_mail_sender`) or the instance's `mail.default_sender`.
    With a `dedupe_key` that
    was already used by this tenant, nothing is stored and the existing id is answered.
    """
    if isinstance(to, str) or not to:
        raise ValueError("to: expected a non-empty list of addresses")
    recipients = [check_address("to", address) for address in to]
    check_header("subject", subject)
    if len(subject) > 500:
        raise ValueError("subject: at most 500 characters")
    if reply_to is not None:
        check_address("reply_to", reply_to)
        if len(reply_to) > 320:
            raise ValueError("reply_to: at most 320 characters")
    key = _scoped_dedupe_key(ctx, dedupe_key) if dedupe_key is not None else None
    if key is not None:
        existing = await _id_for_key(key)
        if existing is not None:
            return existing

    sender = await ctx.first("arportal_mail_sender")
    from_addr, sender_reply_to = _sender_fields(sender, ctx.config)
    theme = await ctx.first("arportal_theme")
    theme = theme if isinstance(theme, Theme) else Theme()
    brand = await mail_brand(ctx, theme)
    text, html = render_mail(
        ctx.host, template, {"tenant_name": ctx.name, "theme": theme, "brand": brand, **context}
    )

    message = OutboxMessage(
        tenant=ctx.tenant_id,
        dedupe_key=key,
        from_addr=from_addr,
        reply_to=reply_to or sender_reply_to,
        to_addrs=recipients,
        subject=subject,
        text_body=text,
        html_body=html,
    )
    query = OutboxMessage.insert(message)
    if key is not None:
        query = query.on_conflict(target=OutboxMessage.dedupe_key, action="DO NOTHING")
    rows = await query.returning(OutboxMessage.id)
    if rows:
        return int(rows[0]["id"])
    existing = await _id_for_key(key or "")
    if existing is None:  # pragma: no cover - the conflicting row cannot vanish
        raise RuntimeError("outbox: dedupe conflict without a row")
    return existing


async def _id_for_key(key: str) -> int | None:
    row = await (
        OutboxMessage.select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key).first()
    )
    return int(row["id"]) if row else None


async def list_outbox(
    status: str | None = None, tenant_id: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest messages first (without their bodies), for `arportal outbox list`."""
    query = OutboxMessage.select(
        OutboxMessage.id,
        OutboxMessage.tenant.as_alias("tenant_id"),
        OutboxMessage.tenant.slug.as_alias("tenant_slug"),
        OutboxMessage.status,
        OutboxMessage.from_addr,
        OutboxMessage.reply_to,
        OutboxMessage.to_addrs,
        OutboxMessage.subject,
        OutboxMessage.attempts,
        OutboxMessage.next_attempt_at,
        OutboxMessage.last_error,
        OutboxMessage.dedupe_key,
        OutboxMessage.created_at,
        OutboxMessage.sent_at,
    ).output(load_json=True)
    if status is not None:
        if status not in STATUSES:
            raise ValueError(f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
        query = query.where(OutboxMessage.status == status)
    if tenant_id is not None:
        query = query.where(OutboxMessage.tenant == tenant_id)
    return await query.order_by(OutboxMessage.id, ascending=False).limit(limit)


async def retry_failed(
    ids: list[int] | None = None, tenant_id: int | None = None, now: dt.datetime | None = None
) -> list[int]:
    """Give failed mails (all, the given ids, or a tenant's) a new run of attempts: back to
    `pending`, due now, attempts from zero; the last error stays until the next attempt.
    Answers the ids requeued, oldest first. Ids that are not failed are left as they are."""
    query = OutboxMessage.select(OutboxMessage.id).where(OutboxMessage.status == "failed")
    if ids is not None:
        if not ids:
            return []
        query = query.where(OutboxMessage.id.is_in(ids))
    if tenant_id is not None:
        query = query.where(OutboxMessage.tenant == tenant_id)
    chosen = [int(row["id"]) for row in await query.order_by(OutboxMessage.id)]
    if chosen:
        await OutboxMessage.update(
            {
                OutboxMessage.status: "pending",
                OutboxMessage.attempts: 0,
                OutboxMessage.next_attempt_at: now or utcnow(),
                OutboxMessage.claimed_until: None,
            }
        ).where(OutboxMessage.id.is_in(chosen), OutboxMessage.status == "failed")
    return chosen


__all__ = [
    "STATUSES",
    "check_address",
    "check_header",
    "enqueue_mail",
    "list_outbox",
    "render_mail",
    "retry_failed",
]
