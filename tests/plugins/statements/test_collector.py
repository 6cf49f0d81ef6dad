"""The cyclic collector is paused during a layout and collects afterwards, in the background
once the process is idle, or before the next task when too much garbage is waiting."""

from __future__ import annotations

import gc
import time

from arportal.plugins.statements import collector


class Node:
    def __init__(self) -> None:
        self.me = self


def nodes() -> int:
    return sum(1 for o in gc.get_objects() if type(o) is Node)


def layout() -> None:
    with collector.paused():
        assert not gc.isenabled()
        for _ in range(1000):
            Node()


def wait_until(condition, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_collected_in_the_background_once_idle_then_on_again():
    gc.collect()
    layout()
    assert nodes() == 1000 and not gc.isenabled()  # the next task would not wait
    assert wait_until(gc.isenabled)
    assert nodes() == 0


def test_when_tasks_keep_coming_garbage_past_the_limit_is_collected_first(monkeypatch):
    # Tasks "keep coming": no idle moment long enough for the background collection, however
    # slow this machine is between two steps (counting objects takes a while in a full run).
    monkeypatch.setattr(collector, "SETTLE_SECONDS", 120)
    gc.collect()
    layout()
    assert nodes() == 1000
    monkeypatch.setattr(collector, "PENDING_LIMIT", gc.get_count()[0] + 500)
    with collector.paused():
        assert nodes() == 1000  # under the limit: this task does not wait for a collection
    layout()
    assert nodes() == 2000
    with collector.paused():
        assert nodes() == 0  # collected before this one started
        with collector.paused():  # a nested task that does nothing: leaving it must not
            pass  # switch the collector on while the outer one still runs
        assert not gc.isenabled()
        monkeypatch.setattr(collector, "SETTLE_SECONDS", 0.05)
    assert wait_until(gc.isenabled)
