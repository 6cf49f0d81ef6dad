"""Safety rules of the portal (DESIGN sections 5 and 9), each shown by a test, on both engines."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import re
import uuid
from typing import Any

import httpx
import pytest
from litestar.stores.redis import RedisStore

from arportal.links import rotate_links
from arportal.models import AuditEvent, CustomerToggleValue, OutboxMessage, PortalLink
from arportal.ratelimit import FixedWindow
from arportal.security import PORTAL_HEADERS
from tests.conftest import SECRET, make_tenant, running_app
from tests.core.test_portal import (
    add_customer,
    add_invoice,
    csrf_field,
    enter,
    expire,
    new_link,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


def other_client(app: Any, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def _redis_unreachable() -> str | None:
    try:
        import redis.asyncio as redis

        async def probe() -> None:
            client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
            try:
                await client.ping()
            finally:
                await client.aclose()

        asyncio.run(probe())
    except Exception as exc:
        return f"no Redis server reachable at {REDIS_URL}: {type(exc).__name__}: {exc}"
    return None


_REDIS_SKIP = _redis_unreachable()
needs_redis = pytest.mark.skipif(_REDIS_SKIP is not None, reason=_REDIS_SKIP or "")


# --- failed look-ups -------------------------------------------------------------------------


async def test_failed_lookups_are_rate_limited_per_client_address(make_config):
    async with running_app(make_config(failed_lookup_limit=3), []) as running:
        client = running.client
        tenant = await make_tenant()
        token = await new_link(tenant.id, await add_customer(tenant.id))
        answers = [(await client.get(f"/p/guess-{i}")).status_code for i in range(3)]
        assert answers == [404, 404, 404]
        blocked = await client.get("/p/guess-4")
        assert blocked.status_code == 429
        assert 1 <= int(blocked.headers["retry-after"]) <= 60
        assert "Too many attempts" in blocked.text
        csp = blocked.headers["content-security-policy"]
        assert csp == PORTAL_HEADERS["Content-Security-Policy"]
        assert (await client.get(f"/p/{token}")).status_code == 429, "blocked before any look-up"
        client.cookies.set("arportal_session", "1." + "0" * 64)
        assert (await client.get("/portal/")).status_code == 429

        async with other_client(running.app, "192.0.2.7") as elsewhere:
            assert (await elsewhere.get(f"/p/{token}")).status_code == 303
            assert (await elsewhere.get("/portal/")).status_code == 200, "successes never count"


async def test_bad_session_cookies_count_as_failed_lookups(make_config):
    async with running_app(make_config(failed_lookup_limit=2), []) as running:
        client = running.client
        for value in ("1.forged", "99.abc"):
            client.cookies.set("arportal_session", value)
            assert (await client.get("/portal/")).status_code == 404
        client.cookies.set("arportal_session", "x")
        assert (await client.get("/portal/")).status_code == 429
        assert (await client.get("/portal/static/portal.css")).status_code == 200, "public"


async def test_fixed_window_in_memory_counts_per_key_and_window():
    from litestar.stores.memory import MemoryStore

    limiter = FixedWindow(MemoryStore(), "test", limit=2, window=60)
    now = 1_000_020.0
    results = await asyncio.gather(*[limiter.hit("a", now) for _ in range(5)])
    assert sorted(results) == [False, False, False, True, True], "no lost update under load"
    assert await limiter.count("a", now) == 5
    assert await limiter.exceeded("a", now) and not await limiter.exceeded("b", now)
    assert not await limiter.exceeded("a", now + 60), "the next window starts over"
    assert limiter.retry_after(now + 20) == 40


@needs_redis
async def test_fixed_window_in_redis_is_shared_by_workers():
    namespace = f"arportal-test-{uuid.uuid4().hex}"
    worker_a = RedisStore.with_client(REDIS_URL, namespace=namespace)
    worker_b = RedisStore.with_client(REDIS_URL, namespace=namespace)
    try:
        limit_a = FixedWindow(worker_a, "failed-lookup", limit=3, window=60)
        limit_b = FixedWindow(worker_b, "failed-lookup", limit=3, window=60)
        now = 1_000_020.0
        assert await limit_a.hit("198.51.100.1", now)
        assert await limit_b.hit("198.51.100.1", now)
        assert await limit_a.hit("198.51.100.1", now)
        assert await limit_b.exceeded("198.51.100.1", now)
        assert not await limit_b.hit("198.51.100.1", now)
        assert not await limit_a.exceeded("198.51.100.2", now), "per address"
        assert not await limit_a.exceeded("198.51.100.1", now + 60), "a new window starts over"
        keys = await worker_a._redis.keys(f"{namespace}:*")
        assert keys and all(b"198.51.100" not in key for key in keys), "addresses are hashed"
        assert 0 < await worker_a._redis.ttl(keys[0]) <= 61
    finally:
        await worker_a.delete_all()
        await worker_a._redis.aclose()
        await worker_b._redis.aclose()


@needs_redis
async def test_the_app_counts_failed_lookups_in_redis_when_configured(make_config):
    address = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    config = make_config(failed_lookup_limit=2, redis_url=REDIS_URL)
    async with running_app(config, []) as running:
        store = running.app.stores.get("rate_limit")
        assert isinstance(store, RedisStore)
        async with other_client(running.app, address) as client:
            assert (await client.get("/p/nope-1")).status_code == 404
            assert (await client.get("/p/nope-2")).status_code == 404
            assert (await client.get("/p/nope-3")).status_code == 429
        limiter = FixedWindow(store, "failed-lookup", limit=2, window=60)
        assert await limiter.count(address) == 2
        await store._redis.aclose()


# --- CSRF, cookies, headers ------------------------------------------------------------------


async def test_portal_forms_need_the_csrf_token(app, client, tenant):
    customer = await add_customer(tenant.id)
    token = await new_link(tenant.id, customer)
    await expire(customer)
    page = await client.get(f"/p/{token}")
    assert 'name="_csrf_token"' in page.text

    assert (await client.post(f"/p/{token}/renew")).status_code == 403
    forged = await client.post(f"/p/{token}/renew", data={"_csrf_token": "forged"})
    assert forged.status_code == 403
    async with other_client(app.app, "127.0.0.1") as stranger:
        field = {"_csrf_token": csrf_field(page.text)}
        replay = await stranger.post(f"/p/{token}/renew", data=field)
        assert replay.status_code == 403, "a token without its cookie is refused"
    assert await OutboxMessage.count() == 0
    ok = await client.post(f"/p/{token}/renew", data={"_csrf_token": csrf_field(page.text)})
    assert ok.status_code == 303


async def test_session_cookie_is_httponly_samesite_lax_and_secure_on_https(make_config):
    async with running_app(make_config(base_url="https://portal.example"), []) as running:
        tenant = await make_tenant()
        token = await new_link(tenant.id, await add_customer(tenant.id))
        response = await running.client.get(f"/p/{token}")
        cookie = next(
            value for value in response.headers.get_list("set-cookie")
            if value.startswith("arportal_session=")
        )
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"httponly", "secure", "samesite", "path"} <= attributes
        assert "SameSite=lax" in cookie and "Path=/" in cookie


async def test_security_headers_on_every_portal_response(client, tenant, frozen_today):
    customer = await add_customer(tenant.id)
    await add_invoice(tenant.id, customer, "I-1", pdf_url="https://erp.example/1.pdf")
    token = await new_link(tenant.id, customer)
    disabled = await add_customer(tenant.id, "OFF")
    await CustomerToggleValue.insert(
        CustomerToggleValue(tenant=tenant.id, customer=disabled, key="portal", enabled=False)
    )
    disabled_token = await new_link(tenant.id, disabled)
    stale = await add_customer(tenant.id, "OLD")
    stale_token = await new_link(tenant.id, stale)
    await expire(stale)

    responses = {
        "enter": await client.get(f"/p/{token}"),
        "home": await client.get("/portal/"),
        "invoice": await client.get("/portal/invoices/I-1"),
        "pdf": await client.get("/portal/invoices/I-1/pdf"),
        "token path": await client.get(f"/p/{token}/invoices/I-1"),
        "theme": await client.get("/portal/theme.css"),
        "stylesheet": await client.get("/portal/static/portal.css"),
        "missing invoice": await client.get("/portal/invoices/NOPE"),
        "unknown link": await client.get("/p/unknown"),
        "disabled": await client.get(f"/p/{disabled_token}"),
        "expired": await client.get(f"/p/{stale_token}"),
        "sent": await client.get("/portal/link-sent"),
    }
    expected_status = {"enter": 303, "pdf": 303, "missing invoice": 404, "unknown link": 404,
                       "disabled": 403, "expired": 410}
    for name, response in responses.items():
        assert response.status_code == expected_status.get(name, 200), name
        for header in ("Referrer-Policy", "X-Robots-Tag", "X-Content-Type-Options",
                       "Content-Security-Policy", "X-Frame-Options"):
            assert response.headers[header] == PORTAL_HEADERS[header], (name, header)
        if name not in ("theme", "stylesheet"):
            assert response.headers["cache-control"] == "no-store", name
    assert responses["stylesheet"].headers["cache-control"].startswith("public")
    assert "style-src 'self'" in PORTAL_HEADERS["Content-Security-Policy"]
    assert "script-src 'self'" in PORTAL_HEADERS["Content-Security-Policy"]


async def test_pages_have_no_inline_style_or_script(client, tenant, frozen_today):
    """The CSP forbids inline style and script: the pages must not need them."""
    customer = await add_customer(tenant.id)
    await add_invoice(tenant.id, customer, "I-1", pdf_url="https://erp.example/1.pdf")
    stale = await add_customer(tenant.id, "OLD")
    stale_token = await new_link(tenant.id, stale)
    await expire(stale)
    pages = [(await client.get(f"/p/{stale_token}")).text, (await client.get("/p/nope")).text]
    await enter(client, await new_link(tenant.id, customer))
    for url in ("/portal/", "/portal/?status=all", "/portal/invoices/I-1", "/portal/link-sent"):
        pages.append((await client.get(url)).text)
    for markup in pages:
        assert not re.search(r"<script|<style|\sstyle=|\son[a-z]+=", markup, re.I), markup[:200]
        assert "javascript:" not in markup


# --- state, sessions, logs -------------------------------------------------------------------


async def _state() -> list[Any]:
    links = await PortalLink.select().order_by(PortalLink.id)
    return [
        links,
        await AuditEvent.count(),
        await OutboxMessage.count(),
        await CustomerToggleValue.count(),
    ]


async def test_a_get_never_changes_state(client, tenant, frozen_today):
    customer = await add_customer(tenant.id)
    await add_invoice(tenant.id, customer, "I-1")
    token = await new_link(tenant.id, customer)
    stale = await add_customer(tenant.id, "OLD")
    stale_token = await new_link(tenant.id, stale)
    await expire(stale)
    before = await _state()
    for _ in range(3):  # a mail scanner, then the person, then a reload
        for url in (f"/p/{token}", "/portal/", "/portal/invoices/I-1", f"/p/{token}/",
                    f"/p/{stale_token}", f"/p/{stale_token}/renew", "/portal/renew"):
            response = await client.get(url)
            assert response.status_code in (200, 303, 404, 405, 410), (url, response.status_code)
    assert await _state() == before


async def test_rotating_a_link_kills_its_sessions(client, tenant, frozen_today):
    customer = await add_customer(tenant.id)
    old_token = await new_link(tenant.id, customer)
    await enter(client, old_token)
    assert (await client.get("/portal/")).status_code == 200
    fresh = await rotate_links(SECRET.encode(), tenant.id, customer, 25)
    assert (await client.get("/portal/")).status_code == 404, "the old session is dead"
    assert (await client.get(f"/p/{old_token}")).status_code == 404
    await enter(client, fresh["token"])
    assert (await client.get("/portal/")).status_code == 200


async def test_the_access_log_never_prints_a_token(client, tenant, caplog, frozen_today):
    customer = await add_customer(tenant.id)
    await add_invoice(tenant.id, customer, "I-1")
    token = await new_link(tenant.id, customer)
    await expire(customer)
    caplog.set_level(logging.INFO, logger="arportal.access")
    page = await client.get(f"/p/{token}")
    await client.get(f"/p/{token}/invoices/I-1")
    await client.post(f"/p/{token}/renew", data={"_csrf_token": csrf_field(page.text)})
    await client.get("/p/" + "z" * 43)
    lines = [record.getMessage() for record in caplog.records if record.name == "arportal.access"]
    assert len(lines) == 4
    assert all(token not in line and "z" * 43 not in line for line in lines)
    assert any('"GET /p/<redacted>' in line for line in lines)
    assert any('"POST /p/<redacted>/renew' in line for line in lines)


async def test_the_renewal_limit_per_client_address(client, tenant):
    """Many expired links from one address: renewals stop after the per-address limit."""
    from arportal.portal.renew import RENEWALS_PER_ADDRESS

    sent = []
    for index in range(RENEWALS_PER_ADDRESS + 1):
        customer = await add_customer(tenant.id, f"C-{index}", email=f"ap{index}@x.test")
        token = await new_link(tenant.id, customer)
        await expire(customer)
        field = csrf_field((await client.get(f"/p/{token}")).text)
        response = await client.post(f"/p/{token}/renew", data={"_csrf_token": field})
        sent.append(response.status_code)
    assert sent == [303] * RENEWALS_PER_ADDRESS + [429]
    assert await OutboxMessage.count() == RENEWALS_PER_ADDRESS


async def test_renewing_an_unknown_link_is_a_404_and_counts_as_a_failure(make_config):
    async with running_app(make_config(failed_lookup_limit=1), []) as running:
        client = running.client
        await client.get("/portal/link-sent")
        header = {"x-csrftoken": client.cookies.get("arportal_csrf")}
        assert (await client.post("/p/nope/renew", headers=header)).status_code == 404
        assert (await client.post("/p/nope/renew", headers=header)).status_code == 429


async def test_links_expire_at_their_time(client, tenant):
    customer = await add_customer(tenant.id)
    token = await new_link(tenant.id, customer, days=1)
    assert (await client.get(f"/p/{token}")).status_code == 303
    await PortalLink.update(
        {PortalLink.expires_at: dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)}
    ).where(PortalLink.customer == customer)
    assert (await client.get("/portal/")).status_code == 410
