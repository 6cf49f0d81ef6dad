"""Cursor pagination for the admin API's lists.

Every list answers `{"items": [...], "next_cursor": str | null}`. The cursor is an opaque
base64url string holding the id of the last row of the page; `?limit=` is 1 to 1000
(default 100). Rows are ordered by id, so a page never repeats or skips a row when rows are
added meanwhile.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_PREFIX = "id:"


class CursorError(ValueError):
    """A bad `cursor` or `limit`; `field` names the query parameter."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{last_id}".encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorError("cursor", "not a cursor this API gave out") from None
    if not text.startswith(_PREFIX) or not text[len(_PREFIX) :].isdigit():
        raise CursorError("cursor", "not a cursor this API gave out")
    return int(text[len(_PREFIX) :])


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise CursorError("limit", f"expected an integer from 1 to {MAX_LIMIT}")
    return limit


async def paginate(
    query: Any,
    id_column: Any,
    cursor: str | None,
    limit: int | None,
    *,
    descending: bool = False,
) -> tuple[list[dict[str, Any]], str | None]:
    """Run a Piccolo select one page at a time: `(rows, next_cursor)`."""
    size = check_limit(limit)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(id_column < after if descending else id_column > after)
    rows = await query.order_by(id_column, ascending=not descending).limit(size + 1)
    next_cursor = encode_cursor(rows[size - 1][id_column._meta.name]) if len(rows) > size else None
    return list(rows[:size]), next_cursor


def page(items: Sequence[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": list(items), "next_cursor": next_cursor}


async def paginated(
    query: Any,
    id_column: Any,
    cursor: str | None,
    limit: int | None,
    render: Callable[[list[dict[str, Any]]], Any],
    *,
    descending: bool = False,
) -> dict[str, Any]:
    """`paginate`, then `render` the rows (sync or async) into the answer's items."""
    rows, next_cursor = await paginate(query, id_column, cursor, limit, descending=descending)
    items = render(rows)
    if hasattr(items, "__await__"):
        items = await items
    return page(items, next_cursor)
