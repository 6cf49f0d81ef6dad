"""Running uvicorn: Nagle's algorithm off on every connection of every worker, connections
spread over the workers, asyncio's event loop.

asyncio turns TCP_NODELAY on only for sockets created with `proto=IPPROTO_TCP`; the
listening socket uvicorn binds for `--workers N` has `proto=0`, so its workers' connections
keep Nagle on. uvicorn's h11 protocol writes a response's head and body in separate sends, and
the body then waits for the client's delayed ACK: about 40 ms per request, whatever the page
costs (measured here: a hello endpoint at 1,130 req/s with 2 workers against 8,300 with one).
Setting TCP_NODELAY on the listening socket fixes it: Linux copies it to accepted sockets.
Each worker binds its own listening socket (`ReusePortListener`).

The event loop is asyncio's own, with httptools parsing HTTP. With uvloop, a worker kept busy
by open keep-alive connections left new connections waiting: measured with one worker and 50
connections loading the portal page, a connection opened during the run was accepted 0.7 s
after the client's connect, and wrk's p99 was 634 ms against 62 ms with asyncio's loop, at the
same throughput (930 and 928 pages/s); with 2 workers asyncio's loop was faster as well
(docs/benchmarks.md). A customer's first click is a new connection.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

SERVER_OPTIONS: dict[str, Any] = {"loop": "asyncio", "http": "httptools"}


def run(app: str, *, workers: int = 1, **options: Any) -> None:
    """`uvicorn.run(app, workers=workers, **options)` with TCP_NODELAY on the listener, and
    asyncio's loop with httptools unless `options` say otherwise."""
    config = uvicorn.Config(app, workers=workers, **{**SERVER_OPTIONS, **options})
    if config.workers <= 1:
        uvicorn.Server(config).run()
        return
    if sys.platform != "linux":  # SO_REUSEPORT spreads connections over sockets on Linux only
        sock = config.bind_socket()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        Multiprocess(config, sockets=[sock]).run()
        return
    listener = ReusePortListener(config.host, config.port, config.backlog)
    with listener.bind() as probe:  # fails here, once, if the port is taken
        listener.port = probe.getsockname()[1]
    Multiprocess(config, sockets=[listener]).run()  # type: ignore[list-item]


class ReusePortListener:
    """A listening socket each worker binds for itself, with SO_REUSEPORT (and TCP_NODELAY).

    uvicorn's workers share one listening socket, and whichever is idle when a burst of
    connections arrives accepts them all (asyncio accepts in a loop): 50 keep-alive
    connections opened at once were split 40/10 or 34/16, so one worker queued four times the
    other's requests. With a socket per worker the kernel spreads new connections over the
    workers. uvicorn hands the objects in `sockets` to each worker process by pickling them:
    this one unpickles as a freshly bound socket, so a worker that dies takes its socket with it
    and no connection is left waiting in the queue of a socket nobody accepts from."""

    def __init__(self, host: str, port: int, backlog: int) -> None:
        self.host, self.port, self.backlog = host, port, backlog

    def __reduce__(self) -> tuple[Any, tuple[str, int, int]]:
        return _bind_reuse_port, (self.host, self.port, self.backlog)

    def bind(self) -> socket.socket:
        return _bind_reuse_port(self.host, self.port, self.backlog)


def _bind_reuse_port(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


def main(argv: list[str] | None = None) -> None:
    """`python -m arportal.serving APP --factory --workers N --port P`: for the benchmarks,
    which serve every compared app the way `arportal serve` does."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m arportal.serving")
    parser.add_argument("app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--factory", action="store_true")
    args = parser.parse_args(argv)
    run(args.app, host=args.host, port=args.port, workers=args.workers, factory=args.factory,
        access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
