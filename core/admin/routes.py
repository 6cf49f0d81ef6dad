"""Core admin API handlers."""

from __future__ import annotations

from typing import Any

ADMIN_HANDLERS: list[Any] = []
