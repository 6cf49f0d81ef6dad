"""Per-tenant settings: sections validated by the Struct a plugin (or the core) declared.

`GET /api/v1/settings` shows `{"features": {...}, "<section>": {...}}`; a PATCH takes any part
of it. Unknown keys and wrong types are refused with the path of the bad field.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

SECRET_MASK = "********"  # noqa: S105  (what the API shows instead of a secret)


class SettingsError(ValueError):
    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class PortalSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The core's own section, `portal`."""

    hide_future_invoices: bool = False
    link_validity_days: int = 25
    timezone: str = "UTC"
    page_size: int = 50

    def __post_init__(self) -> None:
        if not 1 <= self.link_validity_days <= 1000:
            raise ValueError("link_validity_days: expected an integer from 1 to 1000")
        if not 10 <= self.page_size <= 200:
            raise ValueError("page_size: expected an integer from 10 to 200")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from None


def decode_section(key: str, schema: type[msgspec.Struct], data: dict[str, Any]) -> msgspec.Struct:
    """Validate one section; errors name `<section>.<field>`."""
    try:
        return msgspec.convert(data, schema, strict=True)
    except msgspec.ValidationError as exc:
        text = str(exc)
        path = key
        if "at `$." in text:
            path = key + "." + text.split("at `$.", 1)[1].rstrip("`").split("`", 1)[0]
        raise SettingsError(path, text.split(" - at ")[0]) from None
    except (ValueError, TypeError) as exc:
        text = str(exc)
        field_name = text.split(":", 1)[0] if ":" in text else ""
        raise SettingsError(f"{key}.{field_name}" if field_name else key, text) from None


def encode_section(value: msgspec.Struct, secret_fields: tuple[str, ...] = ()) -> dict[str, Any]:
    data = msgspec.to_builtins(value)
    for name in secret_fields:
        if data.get(name):
            data[name] = SECRET_MASK
    return data
