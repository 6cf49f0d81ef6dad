"""arportal: the public API a plugin may use, and nothing else.

Everything exported here is covered by the compatibility promise in docs/plugins.md: names
are only added; removing one or changing a hook's signature needs a version note.
"""

from arportal.context import PortalContext, PortalDep, TenantContext, TenantDep
from arportal.db import fetch, transaction
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
from arportal.files import (
    DOCUMENT_TYPES,
    IMAGE_TYPES,
    StoredUpload,
    UploadError,
    attachment_response,
    delete_upload,
    get_upload,
    read_upload,
    sniff,
    store_upload,
    type_label,
)
from arportal.formatting import format_date, format_money
from arportal.holds import HoldsUnavailable, holds_for
from arportal.hookspecs import hookimpl, hookspec
from arportal.ledger import LedgerError, record_payment, record_payments
from arportal.links import portal_urls
from arportal.models import (
    Allocation,
    CreditNote,
    Customer,
    Invoice,
    Payment,
    StoredFile,
    Tenant,
)
from arportal.money import MoneyError, currency_exponent, from_minor, round_minor, to_minor
from arportal.outbox import enqueue_mail
from arportal.plugin_host import render_fragment
from arportal.portal.i18n import translate
from arportal.portal.rendering import portal_page
from arportal.settings_store import apply_settings
from arportal.tenancy import tenant_context_by_id

__version__ = "0.1.0"

__all__ = [
    "DOCUMENT_TYPES",
    "IMAGE_TYPES",
    "Allocation",
    "Charge",
    "CreditNote",
    "Customer",
    "CustomerToggle",
    "Feature",
    "Hold",
    "HoldsUnavailable",
    "Invoice",
    "Job",
    "LedgerError",
    "MailSender",
    "MoneyError",
    "Payment",
    "PortalContext",
    "PortalDep",
    "SettingsSection",
    "StoredFile",
    "StoredUpload",
    "Tenant",
    "TenantContext",
    "TenantDep",
    "Theme",
    "UploadError",
    "__version__",
    "apply_settings",
    "attachment_response",
    "currency_exponent",
    "delete_upload",
    "emit_event",
    "enqueue_mail",
    "fetch",
    "format_date",
    "format_money",
    "from_minor",
    "get_upload",
    "holds_for",
    "hookimpl",
    "hookspec",
    "portal_page",
    "portal_urls",
    "record_payment",
    "record_payments",
    "read_upload",
    "render_fragment",
    "round_minor",
    "sniff",
    "store_upload",
    "tenant_context_by_id",
    "to_minor",
    "transaction",
    "translate",
    "type_label",
]
