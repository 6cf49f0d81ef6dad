"""The branding plugin's tables: shared documents and sender addresses."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class Tenant(Table, tablename="tenant", schema=None):
    id = Serial(null=False, primary_key=True, db_column_name="id")


class StoredFile(Table, tablename="stored_file", schema=None):
    id = Serial(null=False, primary_key=True, db_column_name="id")


ID = "2026-11-26T00:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "branding documents and senders"


def _params(**extra):
    params = {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }
    params.update(extra)
    return params


def _fk(references, index=False):
    return _params(
        references=references,
        on_delete=OnDelete.restrict,
        on_update=OnUpdate.cascade,
        target_column=None,
        index=index,
    )


COLUMNS = {
    ("BrandingDocument", "branding_document"): [
        ("tenant", ForeignKey, _fk(Tenant, index=True)),
        ("title", Varchar, _params(length=200, default="")),
        ("file", ForeignKey, _fk(StoredFile)),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
    ("BrandingSender", "branding_sender"): [
        ("tenant", ForeignKey, _fk(Tenant)),
        ("email", Varchar, _params(length=254, default="")),
        ("token_hash", Varchar, _params(length=64, default=None, null=True, index=True)),
        ("token_expires_at", Timestamptz, _params(default=None, null=True)),
        ("verified_at", Timestamptz, _params(default=None, null=True)),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="branding", description=DESCRIPTION)
    for (class_name, tablename), columns in COLUMNS.items():
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        for name, column_class, params in columns:
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
