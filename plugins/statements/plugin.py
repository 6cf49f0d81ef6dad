"""Statements: the hook implementations.

Two org-level features, each switched on its own: `account_statement` (on by default: every
invoice, payment and credit note of a period with a running balance) and
`outstanding_statement` (off by default: open invoices, ageing, total due and how to pay).
Both come as PDF and CSV on the portal, where a "Statements" panel offers them, and on the
admin API. Settings section `statements`: paper size, remittance text, the most lines a
statement may have.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arportal import Feature, SettingsSection, TenantContext, hookimpl, render_fragment
from arportal.plugins.statements.documents import SECTION
from arportal.plugins.statements.routes import (
    ACCOUNT_FEATURE,
    ADMIN_ROUTES,
    OUTSTANDING_FEATURE,
    PORTAL_ROUTES,
    panel_context,
)
from arportal.plugins.statements.settings import StatementSettings

ARPORTAL_REQUIRES = ">=0.1,<1"


@hookimpl
def arportal_features() -> list[Feature]:
    return [
        Feature(key=ACCOUNT_FEATURE, label="Account statement (PDF, CSV)", default=True),
        Feature(key=OUTSTANDING_FEATURE, label="Outstanding-balance statement (PDF, CSV)"),
    ]


@hookimpl
def arportal_settings() -> list[SettingsSection]:
    return [SettingsSection(key=SECTION, schema=StatementSettings)]


@hookimpl
def arportal_portal_routes() -> list[Any]:
    return PORTAL_ROUTES


@hookimpl
def arportal_admin_routes() -> list[Any]:
    return ADMIN_ROUTES


@hookimpl
def arportal_template_dirs() -> list[str]:
    return [str(Path(__file__).parent / "templates")]


@hookimpl
def arportal_portal_panels(ctx: TenantContext) -> Any:
    if not hasattr(ctx, "url"):
        return None
    return render_fragment(ctx, "statements:panel.html", **panel_context(ctx))


@hookimpl
def arportal_demo_settings() -> dict[str, Any]:
    """The demo tenant offers both statements (the outstanding one is off by default)."""
    return {"features": {"account_statement": True, "outstanding_statement": True}}
