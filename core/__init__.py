"""arportal: the public API a plugin may use, and nothing else.

Everything exported here is covered by the compatibility promise in docs/plugins.md: names
are only added; removing one or changing a hook's signature needs a version note.
"""

from arportal.context import PortalContext, PortalDep, TenantContext, TenantDep
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
    DOCUMENT_TYPES,
    IMAGE_TYPES,
    FileRejected,
    attachment,
    delete_stored_file,
    get_stored_file,
    read_stored_file,
    sniff,
    store_file,
    type_label,
)
from arportal.holds import HoldsUnavailable, holds_for
from arportal.hookspecs import hookimpl, hookspec
from arportal.models import Customer, Invoice, StoredFile, Tenant
from arportal.outbox import enqueue_mail
from arportal.plugin_host import render_fragment
from arportal.portal.rendering import portal_page
from arportal.settings_store import apply_settings
from arportal.tenancy import tenant_context_by_id

__version__ = "0.1.0"

__all__ = [
    "DOCUMENT_TYPES",
    "IMAGE_TYPES",
    "Customer",
    "CustomerToggle",
    "Feature",
    "FileRejected",
    "Hold",
    "HoldsUnavailable",
    "Invoice",
    "Job",
    "MailSender",
    "PortalContext",
    "PortalDep",
    "SettingsSection",
    "StoredFile",
    "Tenant",
    "TenantContext",
    "TenantDep",
    "Theme",
    "__version__",
    "apply_settings",
    "attachment",
    "delete_stored_file",
    "emit_event",
    "enqueue_mail",
    "get_stored_file",
    "holds_for",
    "hookimpl",
    "hookspec",
    "portal_page",
    "read_stored_file",
    "render_fragment",
    "sniff",
    "store_file",
    "tenant_context_by_id",
    "type_label",
]
