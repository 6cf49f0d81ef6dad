"""JSON bodies and errors of the admin API: every refusal of input is a 422
`{"detail": "...", "field": "path.of[3].bad_field"}`.

Bodies are decoded here with msgspec (not by Litestar's signature model), because msgspec's
error knows the path of the bad value and Litestar's message drops it.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.di import Provide
from litestar.exceptions import ValidationException

from arportal.files import UploadError
from arportal.ledger import LedgerError
from arportal.pagination import CursorError
from arportal.settings import SettingsError

T = TypeVar("T")

_AT = re.compile(r"^(?P<message>.*?) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_NAMED = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]+)`")


class BodyError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def validation_field(exc: msgspec.ValidationError, root: str = "") -> tuple[str, str]:
    """`(field path, message)` of a msgspec error; `root` names a top-level list (`items`)."""
    text = str(exc)
    match = _AT.match(text)
    message, path = (match["message"], match["path"]) if match else (text, "")
    named = _NAMED.search(message)
    if named:
        path += "." + named["name"]
    field = (root + path) if path.startswith("[") else (root + path if root else path.lstrip("."))
    return field or root or "body", message


def documented_body(type_: Any) -> dict[str, Provide]:
    """Handler `dependencies` that only document the JSON body in OpenAPI.

    The dependency is never resolved (no handler asks for it), so Litestar does not decode the
    body (it would accept "2" for an integer and drop the path of errors); `decode_body` does."""

    async def body(data: Any) -> None:
        return None

    body.__annotations__ = {"data": type_, "return": None}
    return {"_documented_body": Provide(body)}


async def decode_body(
    request: Request[Any, Any, Any], type_: type[T], *, root: str = "", empty: T | None = None
) -> T:
    """Decode the JSON body into `type_` (an empty body is `empty`, when given)."""
    body = await request.body()
    if not body.strip():
        if empty is not None:
            return empty
        raise BodyError("body", "expected a JSON body")
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        raise BodyError(*validation_field(exc, root)) from None
    except msgspec.DecodeError as exc:
        raise BodyError("body", f"not valid JSON: {exc}") from None


def _unprocessable(detail: str, field: str | None) -> Response[dict[str, Any]]:
    return Response({"detail": detail, "field": field}, status_code=422)


def _ledger(request: Request[Any, Any, Any], exc: LedgerError) -> Response[dict[str, Any]]:
    return _unprocessable(str(exc), exc.field)


def _settings(request: Request[Any, Any, Any], exc: SettingsError) -> Response[dict[str, Any]]:
    return _unprocessable(str(exc), exc.path)


def _field_error(
    request: Request[Any, Any, Any], exc: BodyError | CursorError
) -> Response[dict[str, Any]]:
    return _unprocessable(str(exc), exc.field)


def _parameters(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    """Litestar's own check of query and path parameters (e.g. `?limit=abc`)."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    field = first.get("key")
    message = first.get("message") or exc.detail
    return _unprocessable(f"{field}: {message}" if field else str(message), field)


def _file(request: Request[Any, Any, Any], exc: UploadError) -> Response[dict[str, Any]]:
    """An upload refused: 413 over the size limit, else 422."""
    return Response({"detail": str(exc), "field": exc.field}, status_code=exc.status_code)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    UploadError: _file,
    LedgerError: _ledger,
    SettingsError: _settings,
    BodyError: _field_error,
    CursorError: _field_error,
    ValidationException: _parameters,
}
