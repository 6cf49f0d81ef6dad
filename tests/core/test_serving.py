"""`arportal serve --workers N` must turn Nagle's algorithm off on its workers' connections
(with it on, every response waits about 40 ms for the client's delayed ACK) and spread
connections over its workers."""

from __future__ import annotations

import pickle
import socket
from typing import Any

import pytest

from arportal import serving


def test_each_worker_binds_its_own_listener_with_nodelay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What `serving.run` hands uvicorn's workers arrives in each worker (pickled, as uvicorn
    spawns them) as its own listening socket on the port, with Nagle off on what it accepts,
    and the kernel spreads new connections over the workers' sockets."""
    seen: dict[str, Any] = {}

    class FakeMultiprocess:
        def __init__(self, config: Any, sockets: list[Any]) -> None:
            seen["workers"] = config.workers
            seen["sockets"] = sockets

        def run(self) -> None:
            seen["supervised"] = True

    monkeypatch.setattr(serving, "Multiprocess", FakeMultiprocess)
    serving.run("arportal.app:app_from_environment", factory=True, host="127.0.0.1", port=0,
                workers=2, log_level="warning")
    assert seen["workers"] == 2 and seen["supervised"]
    [listener] = seen["sockets"]
    port = listener.port
    workers = [pickle.loads(pickle.dumps(listener)) for _ in range(2)]  # noqa: S301 - our own
    clients = []
    try:
        assert all(sock.getsockname() == ("127.0.0.1", port) for sock in workers)
        assert all(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for sock in workers)
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        accepted_per_worker = []
        for sock in workers:
            sock.setblocking(False)
            accepted = []
            while True:
                try:
                    accepted.append(sock.accept()[0])
                except BlockingIOError:
                    break
            assert all(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for conn in accepted)
            accepted_per_worker.append(len(accepted))
            for conn in accepted:
                conn.close()
        assert sum(accepted_per_worker) == 40
        assert min(accepted_per_worker) > 0, accepted_per_worker
    finally:
        for conn in clients:
            conn.close()
        for sock in workers:
            sock.close()


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
