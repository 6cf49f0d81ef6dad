"""A local stand-in for the Stripe API, speaking the endpoints the stripe gateway uses and
checking what Stripe checks: the secret key, the form fields, and idempotency keys (a repeat
with the same parameters answers the first answer; with other parameters, an error).

`confirm_setup` plays Stripe.js in the customer's browser (it confirms a SetupIntent with a
test PaymentMethod). Test PaymentMethods: `pm_card_visa` succeeds,
`pm_card_chargeDeclinedInsufficientFunds` and `pm_card_chargeDeclinedStolenCard` decline.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

CARDS = {
    "pm_card_visa": ("visa", "4242", None),
    "pm_card_chargeDeclinedInsufficientFunds": ("visa", "9995", "insufficient_funds"),
    "pm_card_chargeDeclinedStolenCard": ("visa", "9979", "stolen_card"),
}


class FakeStripe:
    def __init__(self, secret_key: str):
        self.secret_key = secret_key
        self.setup_intents: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.attached: dict[str, str] = {}
        self.idempotent: dict[str, tuple[dict[str, str], int, dict[str, Any]]] = {}
        self.intents: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                fake.handle(self, "GET")

            def do_POST(self) -> None:
                fake.handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeStripe:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- what Stripe.js does in the browser -------------------------------------------------

    def confirm_setup(self, setup_intent_id: str, payment_method: str = "pm_card_visa") -> None:
        with self.lock:
            self.setup_intents[setup_intent_id]["status"] = "succeeded"
            self.setup_intents[setup_intent_id]["payment_method"] = payment_method

    # --- the API ----------------------------------------------------------------------------

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode() if length else ""
        form = dict(parse_qsl(body))
        query = dict(parse_qsl(parts.query))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self.lock:
            self.requests.append((method, parts.path, form, headers))
            if headers.get("authorization") != f"Bearer {self.secret_key}":
                status, answer = 401, _error("invalid_request_error", "Invalid API Key provided")
            else:
                status, answer = self.route(method, parts.path, form, query, headers)
        payload = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("Request-Id", "req_" + secrets.token_hex(6))
        handler.end_headers()
        handler.wfile.write(payload)

    def route(self, method: str, path: str, form: dict[str, str], query: dict[str, str],
              headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if method == "POST" and path == "/v1/setup_intents":
            if form.get("usage") != "off_session" or form.get("payment_method_types[0]") != "card":
                return 400, _error("invalid_request_error", "usage must be off_session")
            intent_id = "seti_" + secrets.token_hex(8)
            self.setup_intents[intent_id] = {
                "id": intent_id, "object": "setup_intent", "status": "requires_payment_method",
                "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}",
                "usage": "off_session", "payment_method": None,
                "metadata": _metadata(form),
            }
            return 200, self.setup_intents[intent_id]
        if method == "GET" and path.startswith("/v1/setup_intents/"):
            intent = self.setup_intents.get(path.rsplit("/", 1)[1])
            if intent is None:
                return 404, _error("invalid_request_error", "No such setup_intent")
            answer = dict(intent)
            if query.get("expand[0]") == "payment_method" and intent["payment_method"]:
                answer["payment_method"] = _payment_method(intent["payment_method"])
            return 200, answer
        if method == "POST" and path == "/v1/customers":
            customer_id = "cus_" + secrets.token_hex(7)
            self.customers[customer_id] = {"id": customer_id, "object": "customer",
                                           "email": form.get("email"), "name": form.get("name"),
                                           "metadata": _metadata(form)}
            if form.get("payment_method"):
                self.attached[form["payment_method"]] = customer_id
            return 200, self.customers[customer_id]
        if method == "POST" and path.endswith("/attach"):
            payment_method = path.split("/")[3]
            self.attached[payment_method] = form["customer"]
            return 200, _payment_method(payment_method)
        if method == "POST" and path.endswith("/detach"):
            payment_method = path.split("/")[3]
            self.attached.pop(payment_method, None)
            return 200, _payment_method(payment_method)
        if method == "POST" and path == "/v1/payment_intents":
            return self.payment_intent(form, headers)
        return 404, _error("invalid_request_error", f"Unrecognized request URL ({path})")

    def payment_intent(self, form: dict[str, str],
                       headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        key = headers.get("idempotency-key")
        if not key:
            return 400, _error("invalid_request_error", "this test server wants idempotency keys")
        if key in self.idempotent:
            params, status, answer = self.idempotent[key]
            if params != form:
                return 400, _error("idempotency_error", "Keys for idempotent requests can only "
                                   "be used with the same parameters they were first used with.")
            return status, answer
        missing = [name for name in ("amount", "currency", "customer", "payment_method")
                   if not form.get(name)]
        if missing or form.get("off_session") != "true" or form.get("confirm") != "true":
            return 400, _error("invalid_request_error", f"missing {missing} or not off_session")
        if self.attached.get(form["payment_method"]) != form["customer"]:
            return 400, _error("invalid_request_error", "The payment method is not attached")
        intent_id = "pi_" + secrets.token_hex(8)
        decline = CARDS.get(form["payment_method"], ("visa", "0000", "generic_decline"))[2]
        intent = {"id": intent_id, "object": "payment_intent", "amount": int(form["amount"]),
                  "currency": form["currency"], "customer": form["customer"],
                  "metadata": _metadata(form), "status": "succeeded",
                  "last_payment_error": None}
        if decline is None:
            status, answer = 200, intent
        else:
            error = {"message": "Your card was declined.", "code": "card_declined",
                     "decline_code": decline}
            intent = {**intent, "status": "requires_payment_method",
                      "last_payment_error": error}
            answer = _error("card_error", "Your card was declined.", code="card_declined",
                            decline_code=decline, payment_intent=intent)
            status = 402
        self.intents.append(intent)
        self.idempotent[key] = (form, status, answer)
        return status, answer


def _metadata(form: dict[str, str]) -> dict[str, str]:
    return {k[len("metadata["):-1]: v for k, v in form.items() if k.startswith("metadata[")}


def _payment_method(payment_method: str) -> dict[str, Any]:
    brand, last4, _ = CARDS.get(payment_method, ("visa", "0000", None))
    return {"id": payment_method, "object": "payment_method", "type": "card",
            "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034}}


def _error(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, **extra}}
