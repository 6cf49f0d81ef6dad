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

CSP_EXTENSIBLE = ("script-src", "frame-src", "connect-src", "img-src", "style-src")
"""Directives a portal page may widen for itself (`PortalContext.allow_csp_sources`)."""
_CSP_SOURCE = re.compile(r"^https://(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(:\d{1,5})?$")
CONTEXT_STATE_KEY = "arportal_portal_context"
"""Where the portal keeps the request's `PortalContext` in the ASGI scope state."""


def check_csp_source(directive: str, source: str) -> None:
    """Only an https origin (`https://js.example.com`, `https://*.example.com`) may be added,
    and only to `CSP_EXTENSIBLE` directives: never a keyword such as 'unsafe-inline', a
    scheme alone, a path or a wildcard host."""
    if directive not in CSP_EXTENSIBLE:
        raise ValueError(
            f"CSP directive {directive!r} cannot be widened (allowed: {', '.join(CSP_EXTENSIBLE)})"
        )
    if not _CSP_SOURCE.match(source):
        raise ValueError(f"CSP source {source!r}: expected an https origin such as https://js.example.com")


def content_security_policy(
    extra: dict[str, list[str]] | None = None,
    base: str = PORTAL_HEADERS["Content-Security-Policy"],
) -> str:
    """The portal's policy (or `base`), with `extra` sources added to their directives."""
    if not extra:
        return base
    directives = [part.strip() for part in base.split(";") if part.strip()]
    names = [part.split()[0] for part in directives]
    for directive, sources in extra.items():
        if directive in names:
            index = names.index(directive)
            directives[index] = " ".join([directives[index], *sources])
        else:
            directives.append(" ".join([directive, "'self'", *sources]))
    return "; ".join(directives)


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
                portal = scope.get("state", {}).get(CONTEXT_STATE_KEY)
                sources = getattr(portal, "csp_sources", None)
                if sources:
                    extra = [
                        (k, content_security_policy(sources, v.decode()).encode())
                        if k == b"content-security-policy" else (k, v)
                        for k, v in extra
                    ]
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
