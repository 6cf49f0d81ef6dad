"""The customer's autopay pages, under the portal. Every route is tagged with the feature and
the customer toggle, so the core answers 404 while either is off.

GET  /autopay                 the method, the next charges, the latest attempts
GET  /autopay/method          the form that saves (or changes) the payment method
POST /autopay/method          save it (consent to the mandate required)
POST /autopay/method/remove   forget it
POST /autopay/off, /on        the customer's own switch (turning on again needs consent)
"""

from __future__ import annotations

import hashlib
import logging
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from arportal import PortalContext, PortalDep, portal_page
from arportal.plugins.autopay import methods
from arportal.plugins.autopay.gateways.base import GatewayUnavailable, MethodError
from arportal.plugins.autopay.i18n import translator
from arportal.plugins.autopay.registry import NoGateway, tenant_gateway
from arportal.plugins.autopay.views import customer_view

log = logging.getLogger("arportal.plugins.autopay")

FEATURE = TOGGLE = "autopay"
TAGS = {"feature": FEATURE, "toggle": TOGGLE}
STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {"autopay.css": "text/css", "stripe-setup.js": "text/javascript"}
DONE = ("saved", "removed", "off", "on")
FIELD_MAX = 500


@cache
def static_file(name: str) -> tuple[bytes, str]:
    content = (STATIC / name).read_bytes()
    return content, hashlib.sha256(content).hexdigest()[:12]


def static_url(portal: PortalContext, name: str) -> str:
    return portal.url(f"autopay/static/{name}") + f"?v={static_file(name)[1]}"


async def _page(portal: PortalContext, template: str, status_code: int = 200,
                **context: Any) -> Template:
    return await portal_page(
        portal, f"autopay:{template}", status_code=status_code, tr=translator(portal.locale),
        stylesheet_url=static_url(portal, "autopay.css"), **context,
    )


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The posted fields, one short string each (a repeated or oversized field is dropped)."""
    form = await request.form()
    values: dict[str, str] = {}
    for key, items in form.dict().items():
        if len(items) == 1 and isinstance(items[0], str) and len(items[0]) <= FIELD_MAX:
            values[key] = items[0]
    values.pop("_csrf_token", None)
    return values


def _consented(values: dict[str, str]) -> bool:
    return values.pop("consent", "") in ("on", "yes", "true", "1")


@get("/autopay", opt=TAGS, name="autopay:page")
async def page(portal: PortalDep, done: FromQuery[str | None] = None) -> Template:
    return await _page(portal, "page.html", view=await customer_view(portal),
                       done=done if done in DONE else None)


async def _method_page(portal: PortalContext, errors: dict[str, str], values: dict[str, str],
                       status_code: int = 200) -> Template:
    method = await methods.method_of(portal, portal.customer["id"])
    fields = None
    try:
        gateway = await tenant_gateway(portal)
        fields = await gateway.setup_fields(portal, errors, values)
    except (NoGateway, GatewayUnavailable) as exc:
        log.error(
            "tenant %s: the payment method form is unavailable: %s", portal.slug, exc
        )
        status_code = 503
    return await _page(
        portal, "method.html", status_code=status_code, fields=fields, errors=errors,
        method=method, mandate=methods.mandate_text(portal, portal.locale),
    )


@get("/autopay/method", opt=TAGS, name="autopay:method")
async def method_form(portal: PortalDep) -> Template:
    return await _method_page(portal, {}, {})


@post("/autopay/method", opt=TAGS, status_code=303)
async def save_method(portal: PortalDep, request: Request[Any, Any, Any]) -> Response[Any]:
    values = await _form(request)
    tr = translator(portal.locale)
    if not _consented(values):
        errors = {"consent": tr("Tick the box to authorise automatic payments.")}
        return await _method_page(portal, errors, values, 422)
    try:
        gateway = await tenant_gateway(portal)
        previous = await methods.method_of(portal, portal.customer["id"])
        saved = await gateway.save_method(portal, values, previous)
    except MethodError as exc:
        return await _method_page(portal, {exc.field: tr(exc.message)}, values, 422)
    except (NoGateway, GatewayUnavailable):
        return await _method_page(portal, {}, values, 503)
    await methods.save(portal, gateway.name, saved)
    replaced = previous and previous["reference"] != saved.reference
    if replaced and previous["gateway"] == gateway.name:
        await gateway.remove_method(portal, previous)
    return Redirect(portal.url("autopay") + "?done=saved", status_code=303)


@post("/autopay/method/remove", opt=TAGS, status_code=303)
async def remove_method(portal: PortalDep) -> Redirect:
    removed = await methods.remove(portal)
    if removed is not None:
        try:
            gateway = await tenant_gateway(portal)
        except NoGateway:
            gateway = None
        if gateway is not None and gateway.name == removed["gateway"]:
            await gateway.remove_method(portal, removed)
    return Redirect(portal.url("autopay") + "?done=removed", status_code=303)


@post("/autopay/off", opt=TAGS, status_code=303)
async def turn_off(portal: PortalDep) -> Redirect:
    await methods.switch(portal, False)
    return Redirect(portal.url("autopay") + "?done=off", status_code=303)


@post("/autopay/on", opt=TAGS, status_code=303)
async def turn_on(portal: PortalDep, request: Request[Any, Any, Any]) -> Response[Any]:
    values = await _form(request)
    if not _consented(values):
        tr = translator(portal.locale)
        return await _page(
            portal, "page.html", status_code=422, view=await customer_view(portal), done=None,
            consent_error=tr("Tick the box to authorise automatic payments."),
        )
    await methods.switch(portal, True)
    return Redirect(portal.url("autopay") + "?done=on", status_code=303)


@get("/autopay/static/{name:str}", opt={"public": True})
async def static(name: FromPath[str]) -> Response[bytes]:
    if name not in STATIC_TYPES:
        raise NotFoundException()
    content, version = static_file(name)
    return Response(
        content,
        media_type=f"{STATIC_TYPES[name]}; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400", "ETag": f'"{version}"'},
    )


PORTAL_ROUTES = [page, method_form, save_method, remove_method, turn_off, turn_on, static]
