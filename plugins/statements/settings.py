"""The plugin's settings section, `statements`: validated on write, defaults apply."""

from __future__ import annotations

from typing import Literal

import msgspec

HARD_MAX_LINES = 50_000
REMITTANCE_MAX_CHARS = 600
REMITTANCE_MAX_LINES = 8


class StatementSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    paper_size: Literal["A4", "Letter"] = "A4"
    remittance_text: str = ""
    """How to pay (bank details, address), printed at the end of the outstanding-balance
    statement. At most 600 characters on 8 lines: it has a fixed place on the page."""
    max_lines: int = 10_000
    """A statement with more lines than this answers 400 (choose a shorter period)."""

    def __post_init__(self) -> None:
        self.remittance_text = self.remittance_text.strip()
        if len(self.remittance_text) > REMITTANCE_MAX_CHARS:
            raise ValueError(f"remittance_text: expected at most {REMITTANCE_MAX_CHARS} characters")
        if self.remittance_text.count("\n") >= REMITTANCE_MAX_LINES:
            raise ValueError(f"remittance_text: expected at most {REMITTANCE_MAX_LINES} lines")
        if not 1 <= self.max_lines <= HARD_MAX_LINES:
            raise ValueError(f"max_lines: expected an integer from 1 to {HARD_MAX_LINES}")
