"""arportal: the public API a plugin may use, and nothing else.

Everything exported here is covered by the compatibility promise in docs/plugins.md: names
are only added; removing one or changing a hook's signature needs a version note.
"""

from arportal.context import PortalContext, PortalDep, TenantContext, TenantDep
from arportal.db import transaction
from arportal.declarations import (
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
    StoredUpload,
    UploadError,
    attachment_response,
    read_upload,
    store_upload,
)
from arportal.holds import HoldsUnavailable, holds_for
from arportal.hookspecs import hookimpl, hookspec
from arportal.models import Customer, Invoice, StoredFile, Tenant
from arportal.outbox import enqueue_mail
from arportal.plugin_host import render_fragment
from arportal.portal.i18n import translate
from arportal.portal.rendering import portal_page

__version__ = "0.1.0"

__all__ = [
    "Customer",
    "CustomerToggle",
    "Feature",
    "Hold",
    "HoldsUnavailable",
    "Invoice",
    "Job",
    "MailSender",
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
    "attachment_response",
    "emit_event",
    "enqueue_mail",
    "holds_for",
    "hookimpl",
    "hookspec",
    "portal_page",
    "read_upload",
    "render_fragment",
    "store_upload",
    "transaction",
    "translate",
]
