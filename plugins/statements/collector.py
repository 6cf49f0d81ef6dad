"""Python's cyclic garbage collector, paused while a worker process lays out or joins PDFs.

WeasyPrint builds hundreds of thousands of boxes that all stay alive until the PDF is
written. With the collector on, each pass walks them again as they pile up and frees
nothing: a third of the time of a 1,000-line statement here. Peak memory is the same with
it paused (the boxes are alive either way).

The cycles a layout leaves behind are freed by one collection afterwards, in the background
once the process has been idle for `SETTLE_SECONDS`, so the PDF goes back to the server
first and the statement's next task (joining its parts, often sent to the same process)
does not wait behind a collection. When tasks keep coming, at most `PENDING_LIMIT` objects
(about the garbage of one longest run of pages, see `layout.MAX_RUN_PAGES`) wait: past that
the next task collects before it starts. The collector is switched on again once the process
is idle, for whatever else the process does.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Iterator

SETTLE_SECONDS = 0.5
PENDING_LIMIT = 1_500_000
"""Objects allocated since the last collection (`gc.get_count()[0]`); a 1,000-line
statement's layout leaves about 600,000."""

_lock = threading.Lock()
_running = 0


def _collect_when_idle() -> None:
    time.sleep(SETTLE_SECONDS)
    with _lock:
        if _running:
            return  # the task now running collects after itself
        gc.collect()
        gc.enable()


@contextlib.contextmanager
def paused() -> Iterator[None]:
    global _running
    with _lock:
        if not _running and gc.get_count()[0] > PENDING_LIMIT:
            gc.collect()
        _running += 1
        gc.disable()
    try:
        yield
    finally:
        with _lock:
            _running -= 1
        threading.Thread(target=_collect_when_idle, name="collect-when-idle", daemon=True).start()
