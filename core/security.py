"""Security headers of portal responses and an access log that never prints a portal token."""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("arportal.access")

PORTAL_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'; object-src 'none'"
    ),
}

PREVIEW_HEADERS = {
    **PORTAL_HEADERS,
    "Content-Security-Policy": PORTAL_HEADERS["Content-Security-Policy"].replace(
        "form-action 'self'", "form-action 'none'"
    ),
}
"""A Save & View preview is read-only: the browser submits none of its forms."""

_TOKEN_PATH = re.compile(r"^/(p|preview)/[^/]+")


def redact_path(path: str) -> str:
    return _TOKEN_PATH.sub(r"/\1/<redacted>", path)


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in headers.items()]


class PortalHeaders:
    """Adds the portal's security headers to every response under /p/, /portal and
    /preview, error pages included."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self.portal = _raw(PORTAL_HEADERS)
        self.preview = _raw(PREVIEW_HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith("/preview/"):
            raw = self.preview
        elif path.startswith(("/p/", "/portal")):
            raw = self.portal
        else:
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in raw if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_wrapper)


class AccessLog:
    """One line per request: method, path with any portal token redacted, status, time.

    Replaces the ASGI server's access log (which prints full paths and so the token)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = redact_path(scope["path"])
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client") or ("-", 0)
                access_log.info(
                    '%s "%s %s" %s %.1fms', client[0], scope["method"], path, status["code"],
                    (time.perf_counter() - started) * 1000,
                )
