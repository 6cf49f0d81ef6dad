"""The promise and history tables (their indexes follow in the next migration: Piccolo runs a
migration's raw SQL before its new tables)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import BigInt, Date, ForeignKey, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.date import DateNow
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-11-26T00:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "promises and their history"


def _ref(name, tablename):
    return type(name, (Table,), {"id": Serial(primary_key=True)}, tablename=tablename)


Tenant = _ref("Tenant", "tenant")
Customer = _ref("Customer", "customer")
Invoice = _ref("Invoice", "invoice")
Promise = _ref("Promise", "promise_to_pay_promise")


def _params(**overrides):
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
    params.update(overrides)
    return params


def _fk(references, index=False):
    return ForeignKey, _params(
        references=references,
        on_delete=OnDelete.restrict,
        on_update=OnUpdate.cascade,
        target_column=None,
        index=index,
    )


PROMISE_COLUMNS = {
    "tenant": _fk(Tenant),
    "customer": _fk(Customer),
    "invoice": _fk(Invoice, index=True),
    "batch": (Varchar, _params(length=32, default="")),
    "promised_date": (Date, _params(default=DateNow())),
    "made_on": (Date, _params(default=DateNow())),
    "date_set_on": (Date, _params(default=DateNow())),
    "amount_minor": (BigInt, _params(default=0)),
    "due_at_promise_minor": (BigInt, _params(default=0)),
    "currency": (Varchar, _params(length=3, default="")),
    "note": (Text, _params(default="")),
    "status": (Varchar, _params(length=10, default="pending")),
    "source": (Varchar, _params(length=8, default="")),
    "created_at": (Timestamptz, _params(default=TimestamptzNow())),
    "updated_at": (Timestamptz, _params(default=TimestamptzNow())),
    "settled_at": (Timestamptz, _params(default=None, null=True)),
    "reminded_for": (Date, _params(default=None, null=True)),
}

HISTORY_COLUMNS = {
    "tenant": _fk(Tenant),
    "promise": _fk(Promise, index=True),
    "action": (Varchar, _params(length=10, default="")),
    "actor": (Varchar, _params(length=8, default="")),
    "promised_date": (Date, _params(default=DateNow())),
    "previous_date": (Date, _params(default=None, null=True)),
    "note": (Text, _params(default="")),
    "created_at": (Timestamptz, _params(default=TimestamptzNow())),
}


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="promise_to_pay", description=DESCRIPTION
    )
    for class_name, tablename, columns in (
        ("Promise", "promise_to_pay_promise", PROMISE_COLUMNS),
        ("PromiseHistory", "promise_to_pay_history", HISTORY_COLUMNS),
    ):
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
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
