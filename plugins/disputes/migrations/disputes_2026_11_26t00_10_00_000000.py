"""The disputes and their messages."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import ForeignKey, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


def _stub(name: str, tablename: str) -> type[Table]:
    """A core table as this migration needs it: only its primary key."""
    return type(name, (Table,), {"id": Serial(primary_key=True)}, tablename=tablename)


Tenant = _stub("Tenant", "tenant")
Customer = _stub("Customer", "customer")
Invoice = _stub("Invoice", "invoice")
StoredFile = _stub("StoredFile", "stored_file")

ID = "2026-11-26T00:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "disputes and their messages"

COMMON = {
    "primary_key": False,
    "unique": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


def _fk(references, null=False, index=False):
    return ForeignKey, {
        **COMMON,
        "references": references,
        "on_delete": OnDelete.restrict,
        "on_update": OnUpdate.cascade,
        "target_column": None,
        "null": null,
        "index": index,
    }


def _varchar(length, default="", null=False):
    return Varchar, {**COMMON, "length": length, "default": default, "null": null, "index": False}


def _text(default=""):
    return Text, {**COMMON, "default": default, "null": False, "index": False}


def _timestamp(null=False):
    default = None if null else TimestamptzNow()
    return Timestamptz, {**COMMON, "default": default, "null": null, "index": False}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="disputes", description=DESCRIPTION)
    manager.add_table(class_name="Dispute", tablename="disputes_dispute", schema=None)
    manager.add_table(class_name="DisputeMessage", tablename="disputes_message", schema=None)

    # The Dispute class as this migration creates it, for the messages' foreign key.
    dispute = _stub("Dispute", "disputes_dispute")
    tables = {
        ("Dispute", "disputes_dispute"): {
            "tenant": _fk(Tenant),
            "customer": _fk(Customer),
            "invoice": _fk(Invoice),
            "reason": _varchar(40),
            "reason_label": _varchar(100),
            "status": _varchar(16, "open"),
            "resolution": _varchar(16, None, null=True),
            "resolution_note": _text(),
            "opened_by": _varchar(16, "customer"),
            "created_at": _timestamp(),
            "resolved_at": _timestamp(null=True),
        },
        ("DisputeMessage", "disputes_message"): {
            "tenant": _fk(Tenant),
            "dispute": _fk(dispute, index=True),
            "author": _varchar(16),
            "body": _text(),
            "attachment": _fk(StoredFile, null=True),
            "created_at": _timestamp(),
        },
    }
    for (class_name, tablename), columns in tables.items():
        for name, (column_class, params) in columns.items():
            manager.add_column(
                table_class_name=class_name,
                tablename=tablename,
                column_name=name,
                db_column_name=name,
                column_class_name=column_class.__name__,
                column_class=column_class,
                params=params,
                schema=None,
            )
    return manager
