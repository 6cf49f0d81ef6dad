"""`stripe`: cards collected by Stripe.js on the portal, charged off-session by Stripe.

- Saving: the page creates a SetupIntent (usage `off_session`) tagged with the tenant and the
  customer; Stripe.js confirms it in the browser (the card number goes to Stripe only) and
  the form posts the SetupIntent id back. We check it succeeded and belongs to this customer,
  then attach its PaymentMethod to a Stripe Customer.
- Charging: a PaymentIntent created with `off_session` and `confirm`, and the attempt's
  idempotency key (Stripe answers a repeat with the first answer for 24 hours).
- The webhook (`POST /api/v1/autopay/stripe/webhook/<tenant id>`) is verified with the
  tenant's signing secret and settles attempts whose answer was lost.

Keys are the tenant's settings section `autopay_stripe`; the API address is the instance's
`[plugins.options.autopay] stripe_api_base` (default https://api.stripe.com), for a proxy or a
test server. Errors we keep or log carry Stripe's codes, never a key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import stripe
from markupsafe import Markup

from arportal import PortalContext, TenantContext, render_fragment
from arportal.plugins.autopay.gateways.base import (
    HARD_DECLINES,
    ChargeRequest,
    ChargeResult,
    GatewayUnavailable,
    MethodError,
    SavedMethod,
)
from arportal.plugins.autopay.i18n import translator

log = logging.getLogger("arportal.plugins.autopay.stripe")

DEFAULT_API_BASE = "https://api.stripe.com"
JS_ORIGIN = "https://js.stripe.com"
CSP = {
    "script-src": [JS_ORIGIN],
    "frame-src": [JS_ORIGIN, "https://hooks.stripe.com"],
    "connect-src": ["https://api.stripe.com"],
}
TIMEOUT_SECONDS = 30
SECTION = "autopay_stripe"
UNCONFIRMED = "Your card could not be confirmed. Check it and try again."


def owner_tag(ctx: TenantContext, customer_id: int) -> str:
    return f"{ctx.tenant_id}:{customer_id}"


def api_base(ctx: TenantContext) -> str:
    options = ctx.config.plugins.options.get("autopay", {})
    base = str(options.get("stripe_api_base") or DEFAULT_API_BASE)
    if not base.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise GatewayUnavailable("stripe: plugins.options.autopay.stripe_api_base must be https")
    return base.rstrip("/")


@contextlib.asynccontextmanager
async def _connected(ctx: TenantContext) -> AsyncIterator[stripe.StripeClient]:
    """A client with the tenant's key and its own HTTP connection pool, closed afterwards."""
    keys = ctx.settings(SECTION)
    if not keys.secret_key:
        raise GatewayUnavailable("stripe: the setting autopay_stripe.secret_key is not set")
    http = stripe.HTTPXClient(timeout=TIMEOUT_SECONDS)
    try:
        yield stripe.StripeClient(
            keys.secret_key,
            base_addresses={"api": api_base(ctx)},
            http_client=http,
            max_network_retries=2,
        )
    finally:
        await http.close_async()


def _why(exc: stripe.StripeError) -> str:
    """What we may keep or log of a Stripe error: its class and code (messages of some
    errors quote part of a key)."""
    code = getattr(exc, "code", None)
    return f"stripe: {type(exc).__name__}" + (f" ({code})" if code else "")


def decline_of(code: str, decline_code: str, message: str, charge_id: str = "") -> ChargeResult:
    reason = decline_code or code or "card_declined"
    return ChargeResult(
        status="declined", charge_id=charge_id, decline_code=reason,
        message=message[:300] or "Your card was declined.",
        hard=reason in HARD_DECLINES or code in HARD_DECLINES,
    )


class StripeCharger:
    def __init__(self, client: stripe.StripeClient):
        self.client = client

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        params: dict[str, Any] = {
            "amount": request.amount_minor,
            "currency": request.currency.lower(),
            "customer": request.gateway_customer,
            "payment_method": request.reference,
            "off_session": True,
            "confirm": True,
            "description": request.description,
            "metadata": dict(request.metadata),
        }
        try:
            intent = await self.client.v1.payment_intents.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.CardError as exc:
            error = exc.error
            intent_id = getattr(getattr(error, "payment_intent", None), "id", "") or ""
            return decline_of(
                exc.code or "", getattr(error, "decline_code", "") or "",
                exc.user_message or "", intent_id,
            )
        except stripe.IdempotencyError as exc:
            raise GatewayUnavailable(_why(exc)) from None
        except stripe.InvalidRequestError as exc:
            # e.g. the PaymentMethod was detached in Stripe's dashboard: the method is unusable.
            return decline_of(exc.code or "invalid_request", "", exc.user_message or "", "")
        except stripe.StripeError as exc:
            raise GatewayUnavailable(_why(exc)) from None
        return result_of(intent.to_dict())


def result_of(intent: Mapping[str, Any]) -> ChargeResult:
    """A PaymentIntent (from the API or a webhook event) as a charge result; one still
    processing raises `GatewayUnavailable` (its webhook settles it)."""
    status = intent.get("status")
    if status == "succeeded":
        return ChargeResult(status="succeeded", charge_id=str(intent["id"]))
    if status in ("processing", "requires_capture"):
        raise GatewayUnavailable(f"stripe: the payment is {status}")
    error = intent.get("last_payment_error") or {}
    return decline_of(
        str(error.get("code") or "card_declined"), str(error.get("decline_code") or ""),
        str(error.get("message") or ""), str(intent.get("id") or ""),
    )


class StripeGateway:
    name = "stripe"
    label = "Stripe"
    idempotency_window: dt.timedelta | None = dt.timedelta(hours=23)
    """Stripe keeps idempotency keys for at least 24 hours; an hour of margin."""

    async def setup_fields(
        self, ctx: PortalContext, errors: Mapping[str, str], values: Mapping[str, str]
    ) -> Markup:
        keys = ctx.settings(SECTION)
        if not keys.publishable_key:
            raise GatewayUnavailable(
                "stripe: the setting autopay_stripe.publishable_key is not set"
            )
        async with _connected(ctx) as client:
            try:
                intent = await client.v1.setup_intents.create_async(
                    params={
                        "usage": "off_session",
                        "payment_method_types": ["card"],
                        "metadata": {"arportal_owner": owner_tag(ctx, ctx.customer["id"])},
                    }
                )
            except stripe.StripeError as exc:
                raise GatewayUnavailable(_why(exc)) from None
        for directive, sources in CSP.items():
            ctx.allow_csp_sources(directive, *sources)
        return render_fragment(
            ctx, "autopay:gateways/stripe.html", errors=errors,
            publishable_key=keys.publishable_key, client_secret=intent.client_secret,
            script_url=ctx.url("autopay/static/stripe-setup.js"), js_origin=JS_ORIGIN,
            tr=translator(ctx.locale),
        )

    async def save_method(
        self, ctx: PortalContext, form: Mapping[str, str], previous: dict[str, Any] | None
    ) -> SavedMethod:
        setup_intent = form.get("setup_intent", "").strip()
        if not setup_intent.startswith("seti_") or len(setup_intent) > 255:
            raise MethodError("setup_intent", UNCONFIRMED)
        customer = ctx.customer
        async with _connected(ctx) as client:
            try:
                intent = (await client.v1.setup_intents.retrieve_async(
                    setup_intent, params={"expand": ["payment_method"]}
                )).to_dict()
                metadata = intent.get("metadata") or {}
                if metadata.get("arportal_owner") != owner_tag(ctx, customer["id"]):
                    raise MethodError("setup_intent", UNCONFIRMED)
                if intent.get("status") != "succeeded":
                    raise MethodError("setup_intent", UNCONFIRMED)
                method = intent["payment_method"]
                card = method["card"]
                stripe_customer = (previous or {}).get("gateway_customer") or ""
                if stripe_customer:
                    await client.v1.payment_methods.attach_async(
                        method["id"], params={"customer": stripe_customer}
                    )
                else:
                    created = await client.v1.customers.create_async(
                        params={
                            "payment_method": method["id"],
                            "name": customer["name"][:250],
                            "email": customer["email"] or None,  # type: ignore[typeddict-item]
                            "metadata": {"arportal_owner": owner_tag(ctx, customer["id"])},
                        }
                    )
                    stripe_customer = created.id
            except stripe.StripeError as exc:
                log.warning("tenant %s: saving a Stripe card failed: %s", ctx.slug, _why(exc))
                raise MethodError(
                    "setup_intent", "This card was refused. Try another card."
                ) from None
        return SavedMethod(
            reference=method["id"],
            gateway_customer=stripe_customer,
            brand=str(card.get("brand") or "card"),
            last4=str(card.get("last4") or ""),
            exp_month=int(card.get("exp_month") or 0),
            exp_year=int(card.get("exp_year") or 0),
        )

    async def remove_method(self, ctx: TenantContext, method: dict[str, Any]) -> None:
        try:
            async with _connected(ctx) as client:
                await client.v1.payment_methods.detach_async(method["reference"])
        except (stripe.StripeError, GatewayUnavailable) as exc:
            reason = _why(exc) if isinstance(exc, stripe.StripeError) else str(exc)
            log.warning("tenant %s: detaching a Stripe card failed: %s", ctx.slug, reason)

    @contextlib.asynccontextmanager
    async def open_session(self, ctx: TenantContext) -> AsyncIterator[StripeCharger]:
        async with _connected(ctx) as client:
            yield StripeCharger(client)


def verify_event(payload: bytes, header: str | None, secret: str) -> dict[str, Any]:
    """The event of a webhook request, after checking Stripe's signature
    (`Stripe-Signature: t=...,v1=...`, at most 5 minutes old). Raises ValueError."""
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), header, secret, 300)
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        raise ValueError("invalid Stripe-Signature") from None
    import msgspec

    event = msgspec.json.decode(payload)
    if not isinstance(event, dict):
        raise ValueError("not a Stripe event")
    return event


def event_outcome(event: dict[str, Any]) -> tuple[str, ChargeResult] | None:
    """`(idempotency key, result)` of a PaymentIntent event about one of our attempts."""
    if event.get("type") not in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        return None
    intent = (event.get("data") or {}).get("object") or {}
    key = (intent.get("metadata") or {}).get("arportal_attempt")
    if not isinstance(key, str) or not key:
        return None
    try:
        return key, result_of(intent)
    except GatewayUnavailable:
        return None
