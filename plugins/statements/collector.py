"""Python's cyclic garbage collector, paused while a worker process lays out or joins PDFs.

WeasyPrint builds hundreds of thousands of boxes that all stay alive until the PDF is
written. With the collector on, each pass walks them again as they pile up and frees
nothing: a third of the time of a 1,000-line statement here. Peak memory is the same with
it paused (the boxes are alive either way).

The cycles a layout leaves behind are freed by one collection afterwards, in the background
once the process has been idle for `SETTLE_SECONDS`, so the PDF goes back to the server
first and the statement's next task (joining its parts, often sent to the same process)
does not wait behind a collection. When tasks keep coming, the garbage of at most
`MAX_UNCOLLECTED` of them waits: the next one collects before it starts. The collector is
switched on again once the process is idle, for whatever else the process does.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Iterator

SETTLE_SECONDS = 0.5
MAX_UNCOLLECTED = 2

_lock = threading.Lock()
_running = 0
_uncollected = 0


def _collect() -> None:
    global _uncollected
    gc.collect()
    _uncollected = 0


def _collect_when_idle() -> None:
    time.sleep(SETTLE_SECONDS)
    with _lock:
        if _running or not _uncollected:
            return  # the task now running collects after itself
        _collect()
        gc.enable()


@contextlib.contextmanager
def paused() -> Iterator[None]:
    global _running, _uncollected
    with _lock:
        if not _running and _uncollected >= MAX_UNCOLLECTED:
            _collect()
        _running += 1
        gc.disable()
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            _uncollected += 1
        threading.Thread(target=_collect_when_idle, name="collect-when-idle", daemon=True).start()
