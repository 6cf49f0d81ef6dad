"""CSV imports: all rows or none.

The columns are the JSON field names of the admin API (`external_id`, `name`, `email`, ...);
their order does not matter, an empty cell means "not given" (the field's default applies) and
an unknown column is an error. A few additions keep CSV flat:

- customers: `contacts` and `extra` cells hold JSON (`[{"email": "ap@x.example"}]`,
  `{"netsuite_id": "12"}`); a column `extra.<key>` sets one key of `extra` as text.
- payments and credit notes: `invoice_external_id` + `allocation_amount` give one allocation
  per row; rows with the same payment `external_id` are one payment (their other cells must
  agree) with one allocation per row.

Errors name the line as a spreadsheet shows it (the header is line 1) and the column:
`line 7: due_date: expected YYYY-MM-DD, got '2024-13-01'`. `import_file` reads and checks every
row before it writes, then writes them through the ledger in one transaction (in batches), so
an error anywhere leaves the database as it was.
"""

from __future__ import annotations

import array
import contextlib
import csv
import datetime as dt
import functools
import gc
import io
import itertools
import operator
import os
import re
import typing
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import IO, TYPE_CHECKING, Any

import msgspec
import msgspec.inspect as mi

from arportal.ledger import (
    AllocationIn,
    CreditNoteIn,
    CustomerIn,
    InvoiceIn,
    LedgerError,
    PaymentIn,
    PreparedInvoice,
    Status,
    prepare_invoice,
    upsert_credit_notes,
    upsert_customers,
    upsert_invoices,
    upsert_payments,
    write_invoices,
)
from arportal.money import MoneyError, check_currency, currency_exponent

if TYPE_CHECKING:
    from arportal.context import TenantContext

ALLOCATION_COLUMNS = ("invoice_external_id", "allocation_amount")
EXTRA_PREFIX = "extra."

KINDS: dict[str, tuple[type[msgspec.Struct], Callable[..., Any]]] = {
    "customers": (CustomerIn, upsert_customers),
    "invoices": (InvoiceIn, upsert_invoices),
    "payments": (PaymentIn, upsert_payments),
    "credit-notes": (CreditNoteIn, upsert_credit_notes),
}


class ImportFailure(ValueError):
    """A row cannot be imported: `line` (header = 1) and `field` (the column) say where."""

    def __init__(self, line: int, field: str | None, message: str):
        super().__init__(f"line {line}: {field}: {message}" if field else f"line {line}: {message}")
        self.line = line
        self.field = field
        self.message = message


class CsvRows(list):  # type: ignore[type-arg]
    """The structs read from a CSV, with the line of each (and of each allocation)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []
        self.allocation_lines: list[list[int]] = []


@contextlib.contextmanager
def _text(source: str | os.PathLike[str] | IO[Any]) -> Iterator[IO[str]]:
    if isinstance(source, str | os.PathLike):
        with open(source, encoding="utf-8-sig", newline="") as handle:
            yield handle
        return
    sample = source.read(0)
    if isinstance(sample, bytes):
        yield io.TextIOWrapper(source, encoding="utf-8-sig", newline="")  # type: ignore[arg-type]
    else:
        yield source  # type: ignore[misc]


def _field_types(struct_type: type[msgspec.Struct]) -> dict[str, Any]:
    info = mi.type_info(struct_type)
    assert isinstance(info, mi.StructType)
    return {field.encode_name: field for field in info.fields}


def _base_type(kind: Any) -> Any:
    while isinstance(kind, mi.UnionType):
        rest = [t for t in kind.types if not isinstance(t, mi.NoneType)]
        if len(rest) != 1:
            break
        kind = rest[0]
    return kind


def _explain(kind: Any, raw: str, fallback: str) -> str:
    kind = _base_type(kind)
    if isinstance(kind, mi.DateType):
        return f"expected YYYY-MM-DD, got {raw!r}"
    if isinstance(kind, mi.DecimalType):
        return f"expected a decimal amount like 1234.50, got {raw!r}"
    if isinstance(kind, mi.LiteralType):
        return f"expected one of {', '.join(map(str, kind.values))}, got {raw!r}"
    if isinstance(kind, mi.BoolType):
        return f"expected true or false, got {raw!r}"
    if isinstance(kind, mi.IntType):
        return f"expected a whole number, got {raw!r}"
    return fallback


_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$\.(?P<path>[^`\[]+)[^`]*`)?$", re.DOTALL)
_MISSING = re.compile(r"missing required field `(?P<name>[^`]+)`")


def _row_error(
    line: int, exc: msgspec.ValidationError, fields: dict[str, Any], record: dict[str, Any]
) -> ImportFailure:
    text = str(exc)
    missing = _MISSING.search(text)
    if missing:
        return ImportFailure(line, missing["name"], "required, but the cell is empty")
    match = _AT.match(text)
    path = match["path"] if match else None
    message = match["message"] if match else text
    if path and path in fields:
        raw = record.get(path)
        if isinstance(raw, str):
            return ImportFailure(
                line, path, _explain(fields[path].type, raw, f"{message}, got {raw!r}")
            )
    return ImportFailure(line, path, message)


def _decimal(line: int, field: str, raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise ImportFailure(line, field, f"expected a decimal amount like 1234.50, got {raw!r}")
    return value


def read_csv(
    source: str | os.PathLike[str] | IO[Any], struct_type: type[msgspec.Struct]
) -> CsvRows:
    """Read and check every row of a CSV into `struct_type` items (see the module docs)."""
    fields = _field_types(struct_type)
    merges = "allocations" in fields
    json_fields = {
        name
        for name, f in fields.items()
        if isinstance(_base_type(f.type), mi.ListType | mi.DictType) and name != "allocations"
    }
    rows = CsvRows()
    first_line: dict[str, int] = {}
    records: dict[str, dict[str, Any]] = {}
    with _text(source) as handle:
        reader = csv.reader(handle)
        header = _header(reader)
        _check_header(header, fields, merges, struct_type)
        line = 1
        try:
            for cells in reader:
                line += 1
                read = _cells_record(line, cells, header, json_fields, merges)
                if read is not None:
                    _add(rows, line, *read, struct_type, fields, first_line, records)
        except csv.Error as exc:
            raise ImportFailure(line, None, f"not valid CSV: {exc}") from None
        except UnicodeDecodeError:
            raise ImportFailure(line + 1, None, "not UTF-8 text") from None
    return rows


def _header(reader: Iterator[list[str]]) -> list[str]:
    try:
        return [cell.strip().lstrip("\ufeff") for cell in next(reader)]
    except StopIteration:
        raise ImportFailure(1, None, "the file is empty; expected a header row") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ImportFailure(1, None, f"not a readable UTF-8 CSV file: {exc}") from None


def _cells_record(
    line: int, cells: list[str], header: list[str], json_fields: set[str], merges: bool
) -> tuple[dict[str, Any], tuple[str, Decimal] | None] | None:
    """The record (and allocation) of one row, None for a blank row."""
    if not any(cell.strip() for cell in cells):
        return None
    if len(cells) > len(header):
        raise ImportFailure(
            line, None, f"{len(cells)} cells, but the header has {len(header)} columns"
        )
    values = {name: cell.strip() for name, cell in zip(header, cells, strict=False)}
    return _record(line, values, json_fields, merges)


def _check_header(
    header: list[str], fields: dict[str, Any], merges: bool, struct_type: type[msgspec.Struct]
) -> None:
    allowed = [name for name in fields if not (merges and name == "allocations")]
    if merges:
        allowed += list(ALLOCATION_COLUMNS)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise ImportFailure(1, name, "this column appears twice")
        seen.add(name)
        known = name in allowed or (
            struct_type is CustomerIn
            and name.startswith(EXTRA_PREFIX)
            and len(name) > len(EXTRA_PREFIX)
        )
        if not known:
            raise ImportFailure(
                1, name or "(empty)", f"unknown column; expected {', '.join(allowed)}"
            )
    for name, f in fields.items():
        if f.required and name not in seen:
            raise ImportFailure(1, name, "missing column")
    if merges and ("invoice_external_id" in seen) != ("allocation_amount" in seen):
        raise ImportFailure(1, None, "invoice_external_id and allocation_amount go together")


def _record(
    line: int, values: dict[str, str], json_fields: set[str], merges: bool
) -> tuple[dict[str, Any], tuple[str, Decimal] | None]:
    record: dict[str, Any] = {}
    for name, raw in values.items():
        if not raw or name in ALLOCATION_COLUMNS:
            continue
        if name.startswith(EXTRA_PREFIX):
            record.setdefault("extra", {})[name[len(EXTRA_PREFIX) :]] = raw
        elif name in json_fields:
            try:
                decoded = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                raise ImportFailure(line, name, f"expected JSON, got {raw!r}") from None
            if name == "extra" and isinstance(decoded, dict):
                record["extra"] = {**decoded, **record.get("extra", {})}
            else:
                record[name] = decoded
        else:
            record[name] = raw
    allocation = None
    if merges:
        invoice, amount = values.get("invoice_external_id", ""), values.get("allocation_amount", "")
        if invoice and not amount:
            raise ImportFailure(line, "allocation_amount", "required with invoice_external_id")
        if amount and not invoice:
            raise ImportFailure(line, "invoice_external_id", "required with allocation_amount")
        if invoice:
            allocation = (invoice, _decimal(line, "allocation_amount", amount))
    return record, allocation


def _add(
    rows: CsvRows,
    line: int,
    record: dict[str, Any],
    allocation: tuple[str, Decimal] | None,
    struct_type: type[msgspec.Struct],
    fields: dict[str, Any],
    first_line: dict[str, int],
    records: dict[str, dict[str, Any]],
) -> None:
    external_id = record.get("external_id")
    if allocation is not None and external_id in first_line:
        start = first_line[external_id]
        first = records[external_id]
        for name in sorted((set(record) | set(first)) - {"__index__"}):
            if record.get(name) != first.get(name):
                raise ImportFailure(
                    line, name, (f"differs from line {start}, where {external_id!r} starts")
                )
        index = records[external_id]["__index__"]
        rows[index].allocations.append(
            AllocationIn(invoice_external_id=allocation[0], amount=allocation[1])
        )
        rows.allocation_lines[index].append(line)
        return
    try:
        item = msgspec.convert(record, struct_type, strict=False)
    except msgspec.ValidationError as exc:
        raise _row_error(line, exc, fields, record) from None
    if allocation is not None:
        item.allocations.append(
            AllocationIn(invoice_external_id=allocation[0], amount=allocation[1])
        )
    if external_id is not None:
        first_line.setdefault(external_id, line)
        records.setdefault(external_id, {**record, "__index__": len(rows)})
    rows.append(item)
    rows.lines.append(line)
    rows.allocation_lines.append([line] if allocation is not None else [])


# --- invoices: the same rows and errors as read_csv + prepare_invoice, in one pass ------------

CHUNK_ROWS = 500
"""Rows converted together, column by column, by `_InvoiceReader.chunk`."""
_STATUSES = frozenset(typing.get_args(Status))
_NO_CURRENCY = ("", -1)
_DATES = re.compile(r"(?:\d{4}-\d{2}-\d{2}\n)*\d{4}-\d{2}-\d{2}", re.ASCII)


@functools.lru_cache(maxsize=16)
def _amounts(exponent: int, exact: bool) -> re.Pattern[str]:
    """Amounts, one a line: plain digits (at most 15 before the point), and `exponent`
    decimals (`exact`) or up to `exponent` of them."""
    decimals = (
        "" if exponent == 0 else rf"\.\d{{{exponent}}}" if exact else rf"(?:\.\d{{1,{exponent}}})?"
    )
    one = rf"\d{{1,15}}{decimals}"
    return re.compile(rf"(?:{one}\n)*{one}", re.ASCII)


def read_invoices(source: str | os.PathLike[str] | IO[Any]) -> CsvRows:
    """The invoices of a CSV as `PreparedInvoice` tuples (what `ledger.prepare_invoice`
    makes), with the same result and the same errors as `read_csv(source, InvoiceIn)`
    followed by `prepare_invoice` of every item, in one pass: errors of the generic reader
    first, then the first error of `prepare_invoice`.

    Runs of `CHUNK_ROWS` rows are converted column by column with loops that run in C
    (`map`, `zip`, one regex over a whole column) when every cell is in the usual shape:
    ASCII amounts like 1234.50 within the currency's decimals, YYYY-MM-DD dates, currencies
    of one exponent, values within bounds. Otherwise each row of the run is converted alone,
    the same checks in Python, and a row still not in that shape takes the generic path
    (msgspec, Decimal), which accepts it or names its error exactly as `read_csv` does."""
    fields = _field_types(InvoiceIn)
    rows = CsvRows()
    rows.lines = array.array("q")  # type: ignore[assignment]
    with _text(source) as handle:
        reader = csv.reader(handle)
        header = _header(reader)
        _check_header(header, fields, False, InvoiceIn)
        invoices = _InvoiceReader(header, fields, rows)
        line = 1
        run: list[list[str]] = []
        try:
            while True:
                run = []
                run.extend(itertools.islice(reader, CHUNK_ROWS))
                if not run:
                    break
                invoices.convert(line + 1, run)
                line += len(run)
        except (csv.Error, UnicodeDecodeError) as exc:
            # `run` holds the records read before the error: their errors come first.
            invoices.convert(line + 1, run)
            line += len(run)
            if isinstance(exc, UnicodeDecodeError):
                raise ImportFailure(line + 1, None, "not UTF-8 text") from None
            raise ImportFailure(line, None, f"not valid CSV: {exc}") from None
    if invoices.later is not None:
        raise invoices.later
    return rows


class _InvoiceReader:
    """Converts the rows of `read_invoices` into `rows`, a run of rows at a time."""

    def __init__(self, header: list[str], fields: dict[str, Any], rows: CsvRows):
        self.header = header
        self.fields = fields
        self.rows = rows
        self.later: ImportFailure | None = None
        """The first error of `prepare_invoice`, raised once every row is read."""
        at = {name: index for index, name in enumerate(header)}
        self.ext_at, self.customer_at = at["external_id"], at["customer_external_id"]
        self.number_at, self.issue_at, self.due_date_at = (
            at["number"],
            at["issue_date"],
            at["due_date"],
        )
        self.currency_at, self.total_at = at["currency"], at["total"]
        self.due_at, self.status_at, self.pdf_at = (
            at.get("amount_due"),
            at.get("status"),
            at.get("pdf_url"),
        )
        self.currencies: dict[str, tuple[str, int]] = {}
        self.codes: dict[str, str] = {}
        self.parsed_dates = _Dates()

    def convert(self, first_line: int, run: list[list[str]]) -> None:
        """Convert the rows of `run` (lines `first_line`...) into `rows`."""
        if not run:
            return
        items = self.chunk(run) if set(map(len, run)) == {len(self.header)} else None
        if items is not None:
            self.rows.extend(items)
            self.rows.lines.extend(range(first_line, first_line + len(run)))
            return
        for line, cells in enumerate(run, start=first_line):
            self.one(line, cells)

    def one(self, line: int, cells: list[str]) -> None:
        item = self.row(cells) if len(cells) == len(self.header) else None
        if item is None:
            try:
                item = _generic_invoice(line, cells, self.header, self.fields, len(self.rows))
            except LedgerError as exc:
                self.later = self.later or _at_line_of(line, exc)
                return
            if item is None:
                return
        self.rows.append(item)
        self.rows.lines.append(line)

    def currency(self, raw: str) -> tuple[str, int]:
        """The checked code and the exponent of a currency cell (exponent -1: unknown)."""
        known = self.currencies.get(raw)
        if known is None:
            try:
                code = check_currency(raw)
            except MoneyError:
                known = _NO_CURRENCY
            else:
                known = (code, currency_exponent(code))
                self.codes[raw] = code
            self.currencies[raw] = known
        return known

    # --- a run of rows, column by column ---

    def chunk(self, run: list[list[str]]) -> list[PreparedInvoice] | None:
        """The run converted, or None if any cell is not in the usual shape."""
        columns = list(zip(*run, strict=True))
        count = len(run)

        def column(at: int) -> list[str]:
            return list(map(str.strip, columns[at]))

        external_ids, customers, numbers = (
            column(self.ext_at),
            column(self.customer_at),
            column(self.number_at),
        )
        for values in (external_ids, customers, numbers):
            if min(map(len, values)) < 1 or max(map(len, values)) > 100:
                return None
        currencies = column(self.currency_at)
        exponents = {self.currency(raw)[1] for raw in set(currencies)}
        if len(exponents) != 1 or -1 in exponents:
            return None
        exponent = exponents.pop()
        totals = _column_minor(column(self.total_at), exponent)
        issues = self.dates(column(self.issue_at))
        due_dates = self.dates(column(self.due_date_at))
        if totals is None or issues is None or due_dates is None:
            return None
        if not all(map(operator.le, issues, due_dates)):
            return None
        dues = self.dues(column(self.due_at) if self.due_at is not None else None, count, exponent)
        if dues is None or not _within(dues, totals):
            return None
        statuses: list[str] = ["open"] * count
        if self.status_at is not None:
            statuses = column(self.status_at)
            distinct = set(statuses)
            if not distinct <= _STATUSES | {""}:
                return None
            if "" in distinct:
                statuses = [status or "open" for status in statuses]
        pdf_urls: list[str | None] = [None] * count
        if self.pdf_at is not None and any(raw := column(self.pdf_at)):
            if not all(not url or _pdf_url_ok(url) for url in raw):
                return None
            pdf_urls = [url or None for url in raw]
        return list(
            zip(
                external_ids,
                customers,
                numbers,
                issues,
                due_dates,
                map(self.codes.__getitem__, currencies),
                totals,
                dues,
                statuses,
                pdf_urls,
                strict=True,
            )
        )

    @staticmethod
    def dues(raw: list[str] | None, count: int, exponent: int) -> list[int | None] | None:
        """The amount_due column (None where a cell is empty), or None when a cell is not
        in the usual shape."""
        if raw is None or not any(raw):
            return [None] * count
        given = _column_minor(raw if all(raw) else [value for value in raw if value], exponent)
        if given is None:
            return None
        amounts = iter(given)
        return [next(amounts) if value else None for value in raw]

    def dates(self, values: list[str]) -> list[dt.date] | None:
        if not _DATES.fullmatch("\n".join(values)):
            return None
        try:
            return list(map(self.parsed_dates.__getitem__, values))
        except ValueError:
            return None

    # --- one row ---

    def row(self, cells: list[str]) -> PreparedInvoice | None:
        """One row converted, or None if any cell is not in the usual shape."""
        external_id = cells[self.ext_at].strip()
        customer = cells[self.customer_at].strip()
        number = cells[self.number_at].strip()
        if not (0 < len(external_id) <= 100 and 0 < len(customer) <= 100):
            return None
        if not 0 < len(number) <= 100:
            return None
        raw_currency = cells[self.currency_at].strip()
        currency, exponent = self.currency(raw_currency)
        if exponent < 0:
            return None
        total = _minor(cells[self.total_at].strip(), exponent)
        issue = _date(cells[self.issue_at].strip())
        due_date = _date(cells[self.due_date_at].strip())
        if total is None or issue is None or due_date is None or due_date < issue:
            return None
        due = None
        if self.due_at is not None and (raw := cells[self.due_at].strip()):
            due = _minor(raw, exponent)
            if due is None or due > total:
                return None
        status = cells[self.status_at].strip() if self.status_at is not None else ""
        if not status:
            status = "open"
        elif status not in _STATUSES:
            return None
        pdf_url = cells[self.pdf_at].strip() if self.pdf_at is not None else ""
        if pdf_url and not _pdf_url_ok(pdf_url):
            return None
        return (
            external_id,
            customer,
            number,
            issue,
            due_date,
            currency,
            total,
            due,
            status,
            pdf_url or None,
        )


def _pdf_url_ok(url: str) -> bool:
    return len(url) <= 2000 and url.startswith(("https://", "http://"))


def _within(dues: list[int | None], totals: list[int]) -> bool:
    """Whether no amount due is more than its total."""
    missing = dues.count(None)
    if missing == len(dues):
        return True
    if missing:
        return all(due is None or due <= total for due, total in zip(dues, totals, strict=True))
    return all(map(operator.le, dues, totals))  # type: ignore[arg-type]


def _minor(raw: str, exponent: int) -> int | None:
    """Minor units of an amount in the usual shape (see `_amounts`), else None."""
    if "\n" in raw or not _amounts(exponent, False).fullmatch(raw):
        return None
    whole, _, fraction = raw.partition(".")
    return int(whole + fraction) * 10 ** (exponent - len(fraction))


def _column_minor(values: list[str], exponent: int) -> list[int] | None:
    text = "\n".join(values)
    if text.count("\n") != len(values) - 1:
        return None
    if _amounts(exponent, True).fullmatch(text):
        return list(map(int, text.replace(".", "").split("\n")))
    if not _amounts(exponent, False).fullmatch(text):
        return None
    return [_minor(value, exponent) for value in values]  # type: ignore[misc]


class _Dates(dict[str, dt.date]):
    """YYYY-MM-DD text -> date, each text parsed once (a file has few distinct dates)."""

    def __missing__(self, raw: str) -> dt.date:
        value = self[raw] = dt.date.fromisoformat(raw)
        return value


def _date(raw: str) -> dt.date | None:
    if len(raw) != 10 or not _DATES.fullmatch(raw):
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


def _generic_invoice(
    line: int, cells: list[str], header: list[str], fields: dict[str, Any], index: int
) -> PreparedInvoice | None:
    read = _cells_record(line, cells, header, set(), False)
    if read is None:
        return None
    record = read[0]
    try:
        item = msgspec.convert(record, InvoiceIn, strict=False)
    except msgspec.ValidationError as exc:
        raise _row_error(line, exc, fields, record) from None
    return prepare_invoice(index, item)


def _at_line_of(line: int, exc: LedgerError) -> ImportFailure:
    match = _LEDGER_FIELD.match(exc.field)
    return ImportFailure(line, match[3] if match else exc.field, exc.message)


_LEDGER_FIELD = re.compile(r"^items\[(\d+)\](?:\.allocations\[(\d+)\])?(?:\.(.+))?$")


def _at_line(rows: CsvRows, exc: LedgerError) -> ImportFailure:
    """Name the CSV line and column of a ledger error about `items[i]...`."""
    match = _LEDGER_FIELD.match(exc.field)
    if not match:
        return ImportFailure(rows.lines[0] if rows.lines else 1, exc.field, exc.message)
    index = int(match[1])
    line = rows.lines[index]
    field = match[3]
    if match[2] is not None:
        line = rows.allocation_lines[index][int(match[2])]
        field = "allocation_amount" if field == "amount" else field
    elif field == "allocations":
        field = "allocation_amount"
    return ImportFailure(line, field, exc.message)


async def import_file(
    ctx: TenantContext,
    kind: str,
    path: str | os.PathLike[str] | IO[Any],
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Import a CSV of `customers`, `invoices`, `payments` or `credit-notes` (all rows or
    none); returns how many items (customers, invoices, payments...) it holds."""
    kind = kind.replace("_", "-")
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    with _cycle_collector_paused():
        return await _import(ctx, kind, path, progress)


async def _import(
    ctx: TenantContext,
    kind: str,
    path: str | os.PathLike[str] | IO[Any],
    progress: Callable[[int, int], None] | None,
) -> int:
    struct_type, upsert = KINDS[kind]
    rows = read_invoices(path) if kind == "invoices" else read_csv(path, struct_type)
    if progress:
        progress(0, len(rows))
    if not rows:
        return 0
    try:
        if kind == "invoices":
            await write_invoices(ctx, rows, progress=progress, returning=False)
        else:
            await upsert(ctx, rows, progress=progress)
    except LedgerError as exc:
        raise _at_line(rows, exc) from None
    return len(rows)


@contextlib.contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """An import allocates millions of objects that form no reference cycles (rows of
    strings, numbers and dates; reference counting frees them). The cyclic collector would
    walk the growing row list again and again: a third of the Python time of an import of
    1,000,000 invoices. It is paused for the import (for the whole process) and resumed
    once the rows are freed (else its first pass would walk them all)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


__all__ = ["CsvRows", "ImportFailure", "import_file", "read_csv", "read_invoices"]
