"""What plugins declare to the core at start-up, and the small value types hooks exchange."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec


@dataclass(frozen=True)
class Feature:
    """An org-level switch. A plugin whose every feature is off is absent for that tenant."""

    key: str
    label: str
    default: bool = False
    requires: Callable[[Any], str | None] | None = None
    """What a tenant must have before the feature exists there (say, its service's connection
    configured). Called with the TenantContext (cheaply: on every hook dispatch), it answers
    None when the tenant has it, else what is missing, in words. While something is missing
    the feature is off whatever its switch says, except for routes tagged `setup`."""


@dataclass(frozen=True)
class CustomerToggle:
    """A customer-level switch.

    `default_setting` names a tenant setting (`"section.key"`) whose value, when the customer
    is created, becomes the toggle's value (e.g. autopay for new customers); `default` is used
    when that setting is absent. `feature` ties the toggle to an org-level feature.
    """

    key: str
    label: str
    default: bool = False
    default_setting: str | None = None
    feature: str | None = None


@dataclass(frozen=True)
class SettingsSection:
    """A per-tenant settings section validated by a msgspec Struct (its defaults apply)."""

    key: str
    schema: type[msgspec.Struct]
    secret_fields: tuple[str, ...] = ()
    """Fields the API answers as "********" and never logs."""
    check: Callable[..., Any] | None = None
    """`check(ctx, value)`, sync or async: what the Struct alone cannot judge (the instance
    config, the tenant's rows). Called with the validated section before it is stored or
    previewed; it raises `ValueError("field: message")` to refuse it (422 naming
    `<section>.<field>`)."""
    feature: str | None = None
    """The feature this section configures (checked by `required_when_on`)."""
    required_when_on: tuple[str, ...] = ()
    """Fields that must not be empty while `feature` is on: a write that switches the
    feature on, or saves the section while it is on, is refused naming the field."""


@dataclass(frozen=True)
class Job:
    """An idempotent async job: `run` is called once per due run, with those of `ctx` (the
    tenant's TenantContext; None when `per_tenant` is false), `config` and `host` it names.

    `every_seconds` is the interval between runs. `feature` limits the tenants it is called
    for (the job receives one tenant at a time when `per_tenant` is true).
    """

    name: str
    run: Callable[..., Awaitable[Any]]
    every_seconds: int = 3600
    per_tenant: bool = True
    feature: str | None = None


@dataclass(frozen=True)
class Hold:
    """An invoice is on hold (an open dispute, a pending promise): others must skip it."""

    invoice_id: int
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Charge:
    """An amount owed on top of an invoice (a late fee, interest), answered by
    `arportal_customer_charges`: the portal draws it under its invoice and counts it in the
    customer's balance. `label` is shown as written (in the customer's language)."""

    invoice_id: int
    label: str
    amount_minor: int
    currency: str
    date: dt.date | None = None


@dataclass(frozen=True)
class Theme:
    """Brand of a tenant, as answered by the firstresult hook `arportal_theme`.

    Colours are `#RRGGBB` (anything else is replaced by the default where it is drawn); a
    text colour that does not reach WCAG AA contrast on its background is replaced by black
    or white. The logo is `logo_bytes` (PNG or JPEG) with its `logo_content_type`: pages
    show it from `<portal>/logo`, mail from a signed public URL, and a PDF renderer can
    embed the bytes (a `data:` URL) without any fetch. `logo_url` is for a same-origin path
    or a `data:image/...` URL only.
    """

    display_name: str | None = None
    primary_color: str = "#1f5fbf"
    primary_text_color: str = "#ffffff"
    banner_color: str = "#1b2a41"
    banner_text_color: str = "#ffffff"
    logo_url: str | None = None
    logo_bytes: bytes | None = None
    logo_content_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MailSender:
    """The From (and optional Reply-To) of a tenant's mail.

    `email=None` keeps the instance's `mail.default_sender` as the From (e.g. while the
    tenant's own address is not verified) and only sets the Reply-To. An address outside the
    instance's `mail.allowed_sender_domains` is replaced by the default too."""

    email: str | None = None
    name: str | None = None
    reply_to: str | None = None


@dataclass(frozen=True)
class PortalLinkInfo:
    url: str
    expires_at: Any
    created_at: Any
