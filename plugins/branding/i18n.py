"""The plugin's few portal strings in English and French (keys are the English text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from babel.numbers import format_decimal

FR = {
    "Documents": "Documents",
    "{kind}, {size}": "{kind}, {size}",
    "plain text": "texte brut",
    "{n} KB": "{n} Ko",
    "{n} MB": "{n} Mo",
}


def translator(ctx: Any) -> Callable[..., str]:
    """`t(text, **values)` in the language of the portal's customer (English elsewhere)."""
    catalog = FR if str(getattr(ctx, "locale", "en")).startswith("fr") else {}

    def t(text: str, **values: Any) -> str:
        result = catalog.get(text, text)
        return result.format(**values) if values else result

    return t


def file_size(ctx: Any, size: int) -> str:
    """`120 KB`, `1.5 MB` (`1,5 Mo` in French)."""
    t = translator(ctx)
    locale = str(getattr(ctx, "locale", "en"))
    if size >= 1024 * 1024:
        return t("{n} MB", n=format_decimal(size / (1024 * 1024), "#,##0.#", locale=locale))
    return t("{n} KB", n=format_decimal(max(1, round(size / 1024)), "#,##0", locale=locale))
