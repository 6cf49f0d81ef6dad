"""The NetSuite stand-in, and short backoffs so retries take milliseconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from arportal.plugins.late_fees_netsuite import netsuite
from tests.plugins.late_fees_netsuite.standin import NetSuiteStandIn


@pytest.fixture
def standin() -> Iterator[NetSuiteStandIn]:
    with NetSuiteStandIn() as server:
        yield server


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netsuite, "BACKOFF_SECONDS", 0.01)
