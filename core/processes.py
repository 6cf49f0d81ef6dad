"""Worker processes for CPU-bound work that must stay off the event loop (PDF layout).

WeasyPrint and its like hold the GIL while they work, so a thread would stall every other
request of the server process; a pool of processes does not. The pool belongs to the app
(`PluginHost.processes`), starts its processes on first use and stops them with the app.

Processes are started with `forkserver`, never `fork`: by the time the pool starts, the
server process runs threads (database drivers, the event loop's executor), and forking a
threaded process can copy a lock another thread holds. A function run in the pool is
pickled by reference, so it must be a module-level function of an importable module, and its
arguments and result must pickle.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

MAX_TASKS_PER_CHILD = 500
"""A worker is replaced after this many tasks, so memory a long-lived worker accumulates
(font and layout caches) is given back."""


def default_size() -> int:
    return max(1, os.cpu_count() or 1)


class ProcessPool:
    """A lazily started `ProcessPoolExecutor` of `size` processes."""

    def __init__(self, size: int | None = None):
        self.size = size or default_size()
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        return self._executor is not None

    def _get(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.size,
                    mp_context=multiprocessing.get_context("forkserver"),
                    max_tasks_per_child=MAX_TASKS_PER_CHILD,
                )
            return self._executor

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is executor:
                self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., T], /, *args: Any) -> T:
        """`fn(*args)` in a worker process, awaited without blocking the event loop.

        A worker that dies (killed, out of memory) breaks the executor: the call raises
        `BrokenProcessPool` and the next call starts a fresh pool.
        """
        executor = self._get()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, functools.partial(fn, *args))
        except BrokenProcessPool:
            self._discard(executor)
            raise

    def shutdown(self) -> None:
        """Stop the processes (a task already running is let finish; queued ones are
        cancelled). The pool starts again if used afterwards."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    async def aclose(self) -> None:
        """`shutdown` without blocking the event loop while workers finish."""
        if self._executor is not None:
            await asyncio.to_thread(self.shutdown)
