"""Fixed-window rate limits kept in a Litestar store.

The app's `rate_limit` store is a MemoryStore on one machine and a RedisStore when
`redis_url` is configured, so several workers share the counters. On Redis the count is an
atomic INCR with an expiry at the end of the window; on the memory store a lock per limiter
makes read-and-write one step (the store belongs to one process, so that is enough), and
expired counters are swept once a window.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from litestar.stores.redis import RedisStore

if TYPE_CHECKING:
    from litestar.stores.base import Store

RATE_LIMIT_STORE = "rate_limit"


@dataclass
class FixedWindow:
    """At most `limit` hits per `window` seconds for each key, in windows aligned on the clock.

    `name` separates limiters sharing a store. Keys are hashed, so a client address or a link
    id never appears in the store as such.
    """

    store: Store
    name: str
    limit: int
    window: int = 60
    _lock: asyncio.Lock | None = field(default=None, repr=False)
    _swept_window: int = field(default=-1, repr=False)

    def _slot(self, key: str, now: float) -> tuple[str, int]:
        number = int(now // self.window)
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        remaining = self.window - int(now % self.window)
        return f"rl:{self.name}:{number}:{digest}", remaining

    async def count(self, key: str, now: float | None = None) -> int:
        slot, _ = self._slot(key, time.time() if now is None else now)
        value = await self.store.get(slot)
        return int(value or 0)

    async def exceeded(self, key: str, now: float | None = None) -> bool:
        """True once `limit` hits were counted in the current window (checks, counts nothing)."""
        return await self.count(key, now) >= self.limit

    async def hit(self, key: str, now: float | None = None) -> bool:
        """Count one hit; True while the hit is within the limit."""
        now = time.time() if now is None else now
        slot, remaining = self._slot(key, now)
        now_window = int(now // self.window)
        if isinstance(self.store, RedisStore):
            count = await _redis_incr(self.store, slot, remaining)
        else:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                await self._sweep(now_window)
                count = int(await self.store.get(slot) or 0) + 1
                await self.store.set(slot, str(count), expires_in=remaining + 1)
        return count <= self.limit

    async def _sweep(self, window_number: int) -> None:
        """Once a window, drop expired counters from an in-process store (it never forgets
        on its own: addresses seen once would pile up)."""
        if window_number != self._swept_window:
            self._swept_window = window_number
            delete_expired = getattr(self.store, "delete_expired", None)
            if delete_expired is not None:
                await delete_expired()

    def retry_after(self, now: float | None = None) -> int:
        """Seconds until the current window ends."""
        now = time.time() if now is None else now
        return self.window - int(now % self.window)


async def _redis_incr(store: RedisStore, slot: str, expires_in: int) -> int:
    key = store._make_key(slot)
    client: Any = store._redis
    async with client.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, expires_in + 1)
        count, _ = await pipe.execute()
    return int(count)


def app_store(app: Any) -> Store:
    """The app's shared rate-limit store."""
    return app.stores.get(RATE_LIMIT_STORE)  # type: ignore[no-any-return]


def app_limiter(app: Any, name: str, limit: int, window: int = 60) -> FixedWindow:
    """The app's limiter `name`, made once per app (its lock must outlive a request)."""
    limiters: dict[tuple[str, int, int], FixedWindow] = app.state.setdefault(
        "arportal_limiters", {}
    )
    key = (name, limit, window)
    if key not in limiters:
        limiters[key] = FixedWindow(app_store(app), name, limit, window)
    return limiters[key]


def client_address(scope: Any) -> str:
    """The connecting address as the ASGI server reports it (with `--proxy-headers`, the
    server has already replaced it by the trusted proxy's forwarded address)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
