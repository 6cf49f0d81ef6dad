"""The plugin's tables: shared documents, and the sender addresses a tenant asked to use.

Foreign keys never cascade and are never silently nullable.
"""

from __future__ import annotations

from piccolo.columns import ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from arportal import StoredFile, Tenant


class BrandingDocument(Table, tablename="branding_document"):
    """A document every customer of the tenant can download (a W-9, bank details, terms)."""

    id: Serial
    tenant = ForeignKey(references=Tenant, null=False, on_delete=OnDelete.restrict, index=True)
    title = Varchar(length=200)
    file = ForeignKey(references=StoredFile, null=False, on_delete=OnDelete.restrict)
    created_at = Timestamptz(default=TimestamptzNow())


class BrandingSender(Table, tablename="branding_sender"):
    """An address the tenant asked to send from; verified once its one-time link is followed.

    One row per (tenant, email): switching back to an address verified before needs no new
    confirmation. Only the SHA-256 of the pending link's token is kept.
    """

    id: Serial
    tenant = ForeignKey(references=Tenant, null=False, on_delete=OnDelete.restrict)
    email = Varchar(length=254)
    token_hash = Varchar(length=64, null=True, default=None, index=True)
    token_expires_at = Timestamptz(null=True, default=None)
    verified_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
