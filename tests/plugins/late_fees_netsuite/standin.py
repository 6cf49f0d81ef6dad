"""A local NetSuite stand-in: an HTTP server on 127.0.0.1 that checks what NetSuite checks.

- Token-Based Authentication: the `Authorization: OAuth ...` header is verified with this
  module's own RFC 5849 implementation (not oauthlib, which the client signs with): the realm
  (the account id), HMAC-SHA256, the consumer key and token, the signature over the method,
  the URL and the query, a fresh timestamp and a nonce never seen before. A refusal is a 401
  `INVALID_LOGIN`, as NetSuite answers.
- The REST record API for what the plugin uses: `POST /invoice` (body checked: externalId,
  entity, one line of the fee item, a positive numeric amount, a date), duplicates refused by
  external id, `GET /<record>/eid:<externalId>`, `GET /invoice?limit=`,
  `POST /invoice/<id>/!transform/creditMemo`, and SuiteQL's item look-up.
- Failures on demand (`fail_next`): 429, 500, a validation error, a record created but its
  answer lost (500 after the commit), a slow answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

RECORD = "/services/rest/record/v1/"
SUITEQL = "/services/rest/query/v1/suiteql"
_ITEM_QUERY = re.compile(r"^SELECT id, itemid, isinactive FROM item WHERE id = (\d+)$")


def _enc(value: str) -> str:
    """RFC 5849 section 3.6: percent-encode all but the unreserved characters."""
    return quote(value, safe="-._~")


def parse_authorization(header: str) -> dict[str, str] | None:
    if not header.startswith("OAuth "):
        return None
    params = {}
    for part in header[len("OAuth ") :].split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or len(value) < 2 or value[0] != '"' or value[-1] != '"':
            return None
        params[unquote(name)] = unquote(value[1:-1])
    return params


def signature(
    method: str, base_uri: str, query: str, oauth: dict[str, str], consumer_secret: str,
    token_secret: str,
) -> str:
    """RFC 5849 section 3.4: the signature base string, signed with HMAC-SHA256."""
    pairs = parse_qsl(query, keep_blank_values=True)
    pairs += [(k, v) for k, v in oauth.items() if k not in ("realm", "oauth_signature")]
    normalized = "&".join(f"{k}={v}" for k, v in sorted((_enc(k), _enc(v)) for k, v in pairs))
    base = "&".join([method.upper(), _enc(base_uri), _enc(normalized)])
    key = f"{_enc(consumer_secret)}&{_enc(token_secret)}"
    digest = hmac.new(key.encode(), base.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Account:
    account_id: str = "1234567_SB1"
    consumer_key: str = "ck-" + "a" * 40
    consumer_secret: str = "cs-" + "b" * 40
    token_id: str = "tid-" + "c" * 40
    token_secret: str = "ts-" + "d" * 40
    customers: set[str] = field(default_factory=lambda: {"C-1", "C-2", "4711"})
    items: dict[str, dict[str, str]] = field(
        default_factory=lambda: {"900": {"itemid": "Late fee", "isinactive": "F"}}
    )


@dataclass
class Failure:
    status: int
    method: str | None
    path: str | None
    after_commit: bool = False
    delay: float = 0.0
    detail: str = ""
    body_pattern: str | None = None


@dataclass
class Seen:
    method: str
    path: str
    body: Any
    status: int


class NetSuiteStandIn:
    def __init__(self, account: Account | None = None):
        self.account = account or Account()
        self.lock = threading.Lock()
        self.records: dict[str, dict[str, dict[str, Any]]] = {"invoice": {}, "creditMemo": {}}
        self.next_id = 1000
        self.nonces: set[str] = set()
        self.failures: list[Failure] = []
        self.requests: list[Seen] = []
        self.auth_errors: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> NetSuiteStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """A `late_fees_netsuite` settings section that connects to this stand-in."""
        a = self.account
        return {
            "account_id": a.account_id, "consumer_key": a.consumer_key,
            "consumer_secret": a.consumer_secret, "token_id": a.token_id,
            "token_secret": a.token_secret, "base_url": self.base_url, "fee_item_id": "900",
            **overrides,
        }

    def fail_next(self, status: int, *, times: int = 1, method: str | None = "POST",
                  path: str | None = None, after_commit: bool = False, delay: float = 0.0,
                  detail: str = "", body_pattern: str | None = None) -> None:
        """Answer the next `times` requests matching the method, a part of the path and a
        regular expression on the raw body with `status` (`after_commit`: do the work first,
        then answer `status`, as when an answer is lost)."""
        with self.lock:
            self.failures += [
                Failure(status, method, path, after_commit, delay, detail, body_pattern)
                for _ in range(times)
            ]

    def created(self, record: str = "invoice") -> list[dict[str, Any]]:
        with self.lock:
            return list(self.records[record].values())

    def posts(self, path_part: str = "record/v1/invoice") -> list[Seen]:
        return [r for r in self.requests if r.method == "POST" and path_part in r.path]

    # --- the HTTP side --------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                standin.handle(self, "GET")

            def do_POST(self) -> None:
                standin.handle(self, "POST")

        return Handler

    def _reply(self, request: BaseHTTPRequestHandler, status: int, body: Any = None,
               headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body, default=float).encode() if body is not None else b""
        request.send_response(status)
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        if payload:
            request.send_header("Content-Type", "application/vnd.oracle.resource+json")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    @staticmethod
    def error(status: int, code: str, detail: str) -> dict[str, Any]:
        titles = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
                  429: "Too Many Requests", 500: "Internal Server Error"}
        return {
            "type": "https://www.rfc-editor.org/rfc/rfc9110.html",
            "title": titles.get(status, "Error"),
            "status": status,
            "o:errorDetails": [{"detail": detail, "o:errorCode": code}],
        }

    def _authenticate(self, request: BaseHTTPRequestHandler, method: str) -> str | None:
        """None when the request is signed right, else why not."""
        a = self.account
        oauth = parse_authorization(request.headers.get("Authorization", ""))
        if oauth is None:
            return "no OAuth Authorization header"
        if oauth.get("realm") != a.account_id:
            return f"realm {oauth.get('realm')!r} is not account {a.account_id}"
        if oauth.get("oauth_signature_method") != "HMAC-SHA256":
            return f"signature method {oauth.get('oauth_signature_method')!r}"
        if oauth.get("oauth_version", "1.0") != "1.0":
            return "oauth_version"
        if oauth.get("oauth_consumer_key") != a.consumer_key:
            return "unknown consumer key"
        if oauth.get("oauth_token") != a.token_id:
            return "unknown token"
        try:
            stamp = int(oauth.get("oauth_timestamp", ""))
        except ValueError:
            return "no timestamp"
        if abs(time.time() - stamp) > 300:
            return "stale timestamp"
        nonce = oauth.get("oauth_nonce", "")
        with self.lock:
            if not nonce or nonce in self.nonces:
                return "nonce missing or used before"
            self.nonces.add(nonce)
        path, _, query = request.path.partition("?")
        expected = signature(method, self.base_url + path, query, oauth, a.consumer_secret,
                             a.token_secret)
        if not hmac.compare_digest(expected, oauth.get("oauth_signature", "")):
            return "signature mismatch"
        return None

    def _failure(self, method: str, path: str, raw: bytes) -> Failure | None:
        with self.lock:
            for index, failure in enumerate(self.failures):
                if (
                    failure.method in (None, method)
                    and (failure.path is None or failure.path in path)
                    and (failure.body_pattern is None
                         or re.search(failure.body_pattern, raw.decode()))
                ):
                    return self.failures.pop(index)
        return None

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        """Answer a request; it is recorded in `requests` before the answer leaves."""
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        body: Any = json.loads(raw, parse_float=Decimal) if raw else None
        status, answer, headers, delay = self._answer(request, method, raw, body)
        with self.lock:
            self.requests.append(Seen(method, request.path, body, status))
        time.sleep(delay)
        self._reply(request, status, answer, headers)

    def _answer(self, request: BaseHTTPRequestHandler, method: str, raw: bytes, body: Any
                ) -> tuple[int, Any, dict[str, str], float]:
        reason = self._authenticate(request, method)
        if reason is not None:
            with self.lock:
                self.auth_errors.append(reason)
            return 401, self.error(
                401, "INVALID_LOGIN",
                "Invalid login attempt. For more details, see the Login Audit Trail in "
                "the NetSuite UI at Setup > Users/Roles > User Management > View Login "
                "Audit Trail.",
            ), {}, 0.0
        failure = self._failure(method, request.path, raw)
        if failure is not None and not failure.after_commit:
            code = {429: "CONCURRENCY_LIMIT_EXCEEDED", 400: "USER_ERROR"}.get(
                failure.status, "UNEXPECTED_ERROR")
            detail = failure.detail or "Injected failure"
            return failure.status, self.error(failure.status, code, detail), {}, failure.delay
        status, answer, headers = self.route(method, request.path, body, request.headers)
        if failure is not None:
            return failure.status, self.error(
                failure.status, "UNEXPECTED_ERROR", "An unexpected error occurred."
            ), {}, failure.delay
        return status, answer, headers, 0.0

    # --- the records ----------------------------------------------------------------------

    def route(self, method: str, path: str, body: Any, headers: Any
              ) -> tuple[int, Any, dict[str, str]]:
        target, _, query = path.partition("?")
        if method == "POST" and target == SUITEQL:
            return self._suiteql(body, headers)
        if not target.startswith(RECORD):
            return 404, self.error(404, "NONEXISTENT_ID", "Not found"), {}
        parts = [unquote(p) for p in target[len(RECORD) :].split("/")]
        if method == "GET" and parts == ["invoice"]:
            limit = int(dict(parse_qsl(query)).get("limit", "1000"))
            with self.lock:
                items = [{"id": i} for i in list(self.records["invoice"])[:limit]]
            return 200, {"count": len(items), "items": items, "hasMore": False}, {}
        if method == "GET" and len(parts) == 2 and parts[0] in self.records:
            record, key = parts
            with self.lock:
                found = None
                if key.startswith("eid:"):
                    found = next((r for r in self.records[record].values()
                                  if r["externalId"] == key[4:]), None)
                else:
                    found = self.records[record].get(key)
            if found is None:
                return 404, self.error(404, "NONEXISTENT_ID", f"Record {key} not found."), {}
            return 200, found, {}
        if method == "POST" and parts == ["invoice"]:
            return self._create("invoice", body, self._check_invoice(body))
        if method == "POST" and len(parts) == 4 and parts[0] == "invoice" and parts[2:] == [
            "!transform", "creditMemo"
        ]:
            with self.lock:
                source = self.records["invoice"].get(parts[1])
            if source is None:
                return 404, self.error(404, "NONEXISTENT_ID", f"Invoice {parts[1]} not found."), {}
            problem = self._check_external_id(body)
            return self._create("creditMemo", {**(body or {}), "createdFrom": parts[1],
                                               "item": source["item"],
                                               "entity": source["entity"]}, problem)
        return 404, self.error(404, "NONEXISTENT_ID", "Not found"), {}

    @staticmethod
    def _check_external_id(body: Any) -> str | None:
        if not isinstance(body, dict):
            return "The request body must be a JSON object."
        if not isinstance(body.get("externalId"), str) or not body["externalId"]:
            return "Please enter a value for externalId."
        return None

    def _check_invoice(self, body: Any) -> str | None:
        problem = self._check_external_id(body)
        if problem:
            return problem
        entity = body.get("entity")
        if not isinstance(entity, dict) or entity.get("id") not in self.account.customers:
            shown = entity.get("id") if isinstance(entity, dict) else entity
            return f"Invalid Field Value {shown} for the following field: entity"
        lines = (body.get("item") or {}).get("items")
        if not isinstance(lines, list) or len(lines) != 1:
            return "An invoice needs one line."
        line = lines[0]
        if (line.get("item") or {}).get("id") not in self.account.items:
            return f"Invalid Field Value {line.get('item')} for the following field: item"
        amount = line.get("amount")
        if not isinstance(amount, Decimal | int) or isinstance(amount, bool) or amount <= 0:
            return f"Invalid Field Value {amount!r} for the following field: amount"
        if line.get("rate") != amount or line.get("quantity") != 1:
            return "rate times quantity must equal amount"
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(body.get("tranDate", ""))):
            return "Invalid Field Value for the following field: tranDate"
        return None

    def _create(self, record: str, body: Any, problem: str | None
                ) -> tuple[int, Any, dict[str, str]]:
        if problem:
            return 400, self.error(400, "INVALID_FLD_VALUE" if "Field" in problem
                                   else "USER_ERROR", problem), {}
        with self.lock:
            if any(r["externalId"] == body["externalId"]
                   for r in self.records[record].values()):
                return 400, self.error(
                    400, "DUP_RCRD",
                    "A record with the same external ID already exists."), {}
            self.next_id += 1
            internal_id = str(self.next_id)
            self.records[record][internal_id] = {**body, "id": internal_id}
        location = f"{self.base_url}{RECORD}{record}/{internal_id}"
        return 204, None, {"Location": location}

    def _suiteql(self, body: Any, headers: Any) -> tuple[int, Any, dict[str, str]]:
        if headers.get("Prefer") != "transient":
            return 400, self.error(400, "USER_ERROR", "SuiteQL needs Prefer: transient."), {}
        match = _ITEM_QUERY.match(str((body or {}).get("q", "")))
        if match is None:
            return 400, self.error(400, "INVALID_PARAMETER", "Unsupported query."), {}
        item = self.account.items.get(match.group(1))
        items = [{"id": match.group(1), **item}] if item else []
        return 200, {"count": len(items), "items": items, "hasMore": False}, {}
