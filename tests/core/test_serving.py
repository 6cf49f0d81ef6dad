"""`arportal serve --workers N` must turn Nagle's algorithm off on its workers' connections:
with it on, every response waits about 40 ms for the client's delayed ACK."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from arportal import serving


def test_multiworker_listener_has_nodelay(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class FakeMultiprocess:
        def __init__(self, config: Any, sockets: list[socket.socket]) -> None:
            seen["workers"] = config.workers
            seen["sockets"] = sockets

        def run(self) -> None:
            sock = seen["sockets"][0]
            seen["nodelay"] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            sock.listen()
            client = socket.create_connection(sock.getsockname())
            accepted, _ = sock.accept()
            seen["accepted_nodelay"] = accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            accepted.close()
            client.close()
            sock.close()

    monkeypatch.setattr(serving, "Multiprocess", FakeMultiprocess)
    serving.run("arportal.app:app_from_environment", factory=True, host="127.0.0.1", port=0,
                workers=2, log_level="warning")
    assert seen["workers"] == 2
    assert seen["nodelay"] != 0
    assert seen["accepted_nodelay"] != 0, "accepted connections must inherit TCP_NODELAY"


def test_serve_uses_asyncio_loop_and_httptools(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvloop kept new connections waiting behind busy keep-alive ones (p99 634 ms against
    62 ms, docs/benchmarks.md): `arportal serve` asks uvicorn for asyncio's loop."""
    seen: dict[str, Any] = {}

    class FakeServer:
        def __init__(self, config: Any) -> None:
            seen["loop"], seen["http"] = config.loop, config.http

        def run(self) -> None:
            seen["ran"] = True

    monkeypatch.setattr(serving.uvicorn, "Server", FakeServer)
    serving.run("arportal.app:app_from_environment", factory=True, workers=1)
    assert seen == {"loop": "asyncio", "http": "httptools", "ran": True}
