"""Running the Piccolo migrations of the core and of every loaded plugin, in dependency order."""

from __future__ import annotations

import contextlib
import io

from piccolo.apps.migrations.commands.forwards import run_forwards


class MigrationError(RuntimeError):
    pass


async def run_migrations(verbose: bool = False) -> None:
    """Apply pending migrations (idempotent). Piccolo prints progress; keep it quiet."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out) if not verbose else contextlib.nullcontext():
        result = await run_forwards(app_name="all")
    if not result.success:
        raise MigrationError(f"migrations failed: {result.message}\n{out.getvalue()}")
