"""arportal: the public API a plugin may use, and nothing else.

Everything exported here is covered by the compatibility promise in docs/plugins.md: names
are only added; removing one or changing a hook's signature needs a version note.
"""

from arportal.context import PortalContext, PortalDep, TenantContext, TenantDep
from arportal.declarations import (
    Charge,
    CustomerToggle,
    Feature,
    Hold,
    Job,
    MailSender,
    SettingsSection,
    Theme,
)
from arportal.events import emit_event
from arportal.holds import HoldsUnavailable, holds_for
from arportal.hookspecs import hookimpl, hookspec
from arportal.models import Customer, Invoice, Tenant
from arportal.money import MoneyError, currency_exponent, from_minor, round_minor, to_minor
from arportal.outbox import enqueue_mail
from arportal.plugin_host import render_fragment
from arportal.portal.rendering import portal_page

__version__ = "0.1.0"

__all__ = [
    "Charge",
    "Customer",
    "CustomerToggle",
    "Feature",
    "Hold",
    "HoldsUnavailable",
    "Invoice",
    "Job",
    "MailSender",
    "MoneyError",
    "PortalContext",
    "PortalDep",
    "SettingsSection",
    "Tenant",
    "TenantContext",
    "TenantDep",
    "Theme",
    "__version__",
    "currency_exponent",
    "emit_event",
    "enqueue_mail",
    "from_minor",
    "holds_for",
    "hookimpl",
    "hookspec",
    "portal_page",
    "render_fragment",
    "round_minor",
    "to_minor",
]
