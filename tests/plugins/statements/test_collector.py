"""The cyclic collector is paused during a layout and back on once the cycles it left are
collected, in the background."""

from __future__ import annotations

import gc
import time

from arportal.plugins.statements import collector


class Node:
    def __init__(self) -> None:
        self.me = self


def wait_until(condition, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_paused_during_a_layout_then_collected_and_on_again():
    assert gc.isenabled()
    gc.collect()
    with collector.paused():
        assert not gc.isenabled()
        for _ in range(1000):
            Node()
        with collector.paused():  # nested or overlapping layouts keep it paused
            pass
        time.sleep(collector.SETTLE_SECONDS * 3)
        assert not gc.isenabled()
    assert wait_until(gc.isenabled)
    assert not [o for o in gc.get_objects() if type(o) is Node]
