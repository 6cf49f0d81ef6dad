"""Shared fixtures: the ones `arportal.testing` gives every plugin author (installed with
arportal as a pytest plugin): `db_url`, `make_config`, `plugins`, `app`, `client`, `tenant`,
`customer`, `outbox`, `frozen_today`. Every test that takes `db_url` (directly or through
`app`/`client`) runs on SQLite and on PostgreSQL: `ARPORTAL_TEST_POSTGRES`, else the ini
option `arportal_test_postgres` in pyproject.toml (the local server at 127.0.0.1:5432,
database `test`); without a reachable server that half is skipped with the reason. The
browser tests share `browser` (headless Chromium, see tests/e2e/live.py).

The helpers below are re-exported for the tests that import them from here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from arportal.testing import SECRET, Running, TenantHandle, make_tenant, running_app

pytest_plugins = ["pytester"]

__all__ = ["SECRET", "Running", "TenantHandle", "make_tenant", "running_app"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium, one per test module (see tests/e2e/live.py)."""
    from tests.e2e.live import chromium

    with chromium() as launched:
        yield launched
