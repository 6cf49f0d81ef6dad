"""NetSuite's REST record API, signed with OAuth 1.0a Token-Based Authentication.

Every request carries an `Authorization: OAuth realm="<account>", ...` header signed with
HMAC-SHA256 by oauthlib (NetSuite signs neither JSON bodies nor a body hash). Records are
created with an `externalId`, so a request repeated after a timeout cannot create a second
record: when NetSuite refuses a creation, the record is looked up by that external id and, if
it exists, taken as created (a duplicate).

Errors are `NetSuiteError`s whose message is NetSuite's own (`INVALID_KEY_OR_REF: ...`) or a
sentence about the connection; none of them carries a credential. 429, 5xx and network
errors are retried here with exponential backoff (honouring `Retry-After`); what is left is
`retryable` for the next run.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import msgspec
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client

from arportal.plugins.late_fees_netsuite.settings import LateFeeSettings

log = logging.getLogger("arportal.plugins.late_fees_netsuite")
logging.getLogger("oauthlib").setLevel(logging.WARNING)
"""oauthlib writes the consumer key, the token id and the base string at DEBUG: never."""

RECORD_PATH = "/services/rest/record/v1"
SUITEQL_PATH = "/services/rest/query/v1/suiteql"
TIMEOUT_SECONDS = 20.0
ATTEMPTS = 4
BACKOFF_SECONDS = 1.0
"""First wait after a 429 or 5xx; doubled at each attempt."""
MAX_WAIT_SECONDS = 30.0
_encoder = msgspec.json.Encoder(decimal_format="number")


class NetSuiteError(Exception):
    """NetSuite refused a request or could not be reached.

    `retryable`: worth trying again later (429, 5xx, network). `connection`: the fault is in
    the connection (credentials, permissions, address), not in one record.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retryable: bool = False,
        connection: bool = False,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retryable = retryable
        self.connection = connection


@dataclass(frozen=True)
class Created:
    internal_id: str
    duplicate: bool = False
    """The record already existed with this external id (an earlier try got through)."""


def error_text(response: httpx.Response) -> tuple[str, str | None]:
    """NetSuite's message and error code from an error response (RFC 7807 + `o:errorDetails`)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        details = body.get("o:errorDetails")
        if isinstance(details, list) and details and isinstance(details[0], dict):
            code = details[0].get("o:errorCode")
            detail = str(details[0].get("detail") or body.get("title") or "")
            text = f"{code}: {detail}" if code else detail
            return text[:1000], str(code) if code else None
        if body.get("title"):
            return str(body["title"])[:1000], None
    reason = response.reason_phrase or "error"
    return f"HTTP {response.status_code} {reason}", None


def _id_from_location(location: str) -> str | None:
    tail = location.rstrip("/").rsplit("/", 1)[-1]
    return tail if tail.isdigit() else None


class NetSuiteClient:
    """One tenant's connection; use as `async with NetSuiteClient(settings) as client:`.

    At most `settings.max_concurrent_requests` requests are in flight at once.
    """

    def __init__(
        self, settings: LateFeeSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ):
        self.settings = settings
        self.base = settings.api_base
        self._signer = Client(
            settings.consumer_key,
            client_secret=settings.consumer_secret,
            resource_owner_key=settings.token_id,
            resource_owner_secret=settings.token_secret,
            signature_method=SIGNATURE_HMAC_SHA256,
            realm=settings.realm,
        )
        self._limit = asyncio.Semaphore(settings.max_concurrent_requests)
        self._http = httpx.AsyncClient(timeout=TIMEOUT_SECONDS, transport=transport)

    async def __aenter__(self) -> NetSuiteClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    # --- requests -----------------------------------------------------------------------

    def _url(self, path: str, params: dict[str, Any] | None = None) -> str:
        url = self.base + path
        return f"{url}?{urlencode(params)}" if params else url

    async def _send_once(
        self, method: str, url: str, body: Any, headers: dict[str, str]
    ) -> httpx.Response:
        _, signed, _ = self._signer.sign(url, http_method=method)
        content = _encoder.encode(body) if body is not None else None
        all_headers = {
            "Accept": "application/json",
            **({"Content-Type": "application/json"} if content is not None else {}),
            **headers,
            "Authorization": signed["Authorization"],
        }
        async with self._limit:
            return await self._http.request(method, url, content=content, headers=all_headers)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send a signed request; 429, 5xx and network errors are retried with backoff.

        Answers the response of any other status (the caller reads it); raises a retryable
        `NetSuiteError` when the attempts are used up.
        """
        url = self._url(path, params)
        wait = BACKOFF_SECONDS
        last: NetSuiteError | None = None
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = await self._send_once(method, url, body, headers or {})
            except httpx.TimeoutException:
                last = NetSuiteError(
                    f"NetSuite did not answer within {TIMEOUT_SECONDS:g} seconds",
                    retryable=True,
                )
                delay = wait
            except httpx.HTTPError as exc:
                last = NetSuiteError(
                    f"could not reach NetSuite at {self.base}: {type(exc).__name__}: {exc}",
                    retryable=True,
                    connection=True,
                )
                delay = wait
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return response
                message, code = error_text(response)
                last = NetSuiteError(
                    f"NetSuite answered {response.status_code}: {message}",
                    status=response.status_code,
                    code=code,
                    retryable=True,
                )
                delay = max(wait, _retry_after(response))
            if attempt < ATTEMPTS:
                log.info("NetSuite %s %s: %s; trying again in %.1f s", method, path,
                         last.message, min(delay, MAX_WAIT_SECONDS))
                await asyncio.sleep(min(delay, MAX_WAIT_SECONDS))
                wait *= 2
        assert last is not None
        raise last

    def _refusal(self, response: httpx.Response) -> NetSuiteError:
        message, code = error_text(response)
        status = response.status_code
        if status == 401:
            return NetSuiteError(
                f"NetSuite refused the credentials ({message}): check account_id, "
                "consumer_key, consumer_secret, token_id and token_secret",
                status=status, code=code, connection=True,
            )
        if status == 403:
            return NetSuiteError(
                f"NetSuite refused access ({message}): the token's role lacks a permission "
                "(REST Web Services, Log in using Access Tokens, Invoice, Credit Memo)",
                status=status, code=code, connection=True,
            )
        return NetSuiteError(message, status=status, code=code)

    # --- records ------------------------------------------------------------------------

    async def find(self, record: str, external_id: str) -> str | None:
        """The internal id of the `record` with this external id, or None."""
        path = f"{RECORD_PATH}/{record}/eid:{quote(external_id, safe='')}"
        response = await self.request("GET", path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._refusal(response)
        found = response.json().get("id")
        return str(found) if found is not None else None

    async def _created(self, record: str, external_id: str, response: httpx.Response) -> Created:
        if response.status_code in (200, 201, 204):
            internal_id = _id_from_location(response.headers.get("location", ""))
            if internal_id is None and response.content:
                internal_id = str(response.json().get("id") or "") or None
            if internal_id is None:
                internal_id = await self.find(record, external_id)
            if internal_id is None:
                raise NetSuiteError(
                    f"NetSuite accepted the {record} but did not say its id", retryable=True
                )
            return Created(internal_id)
        refusal = self._refusal(response)
        if refusal.connection:
            raise refusal
        existing = await self.find(record, external_id)
        if existing is not None:
            return Created(existing, duplicate=True)
        raise refusal

    async def create(self, record: str, body: dict[str, Any]) -> Created:
        """POST a record whose body has an `externalId`; a duplicate counts as created."""
        response = await self.request("POST", f"{RECORD_PATH}/{record}", body=body)
        return await self._created(record, body["externalId"], response)

    async def transform(
        self, record: str, internal_id: str, target: str, body: dict[str, Any]
    ) -> Created:
        """Make a `target` from a record (an invoice's credit memo); idempotent the same way."""
        path = f"{RECORD_PATH}/{record}/{quote(internal_id, safe='')}/!transform/{target}"
        response = await self.request("POST", path, body=body)
        return await self._created(target, body["externalId"], response)

    # --- the connection test ------------------------------------------------------------

    async def check(self) -> list[str]:
        """What works, in sentences; raises `NetSuiteError` (in words) at the first problem."""
        response = await self.request("GET", f"{RECORD_PATH}/invoice", params={"limit": 1})
        if response.status_code == 404:
            raise NetSuiteError(
                f"{self.base} does not answer NetSuite's REST record API (404): check "
                "account_id and base_url, and that REST Web Services is enabled",
                status=404, connection=True,
            )
        if response.status_code != 200:
            raise self._refusal(response)
        done = [f"signed in to NetSuite account {self.settings.account_id} and read invoices"]
        item_id = self.settings.fee_item_id
        response = await self.request(
            "POST",
            SUITEQL_PATH,
            body={"q": f"SELECT id, itemid, isinactive FROM item WHERE id = {int(item_id)}"},
            headers={"Prefer": "transient"},
        )
        if response.status_code != 200:
            refusal = self._refusal(response)
            raise NetSuiteError(
                f"could not look up fee_item_id {item_id}: {refusal.message}",
                status=refusal.status, code=refusal.code, connection=refusal.connection,
            )
        items = response.json().get("items") or []
        if not items:
            raise NetSuiteError(f"fee_item_id {item_id} is not an item of this NetSuite account")
        item = items[0]
        name = item.get("itemid") or item_id
        if str(item.get("isinactive", "F")).upper() == "T":
            raise NetSuiteError(f"fee_item_id {item_id} ({name}) is inactive in NetSuite")
        done.append(f"fee lines will use item {item_id} ({name})")
        return done


def _retry_after(response: httpx.Response) -> float:
    """NetSuite's Retry-After, in seconds to wait (a duration, not money); 0 when absent."""
    value = response.headers.get("retry-after", "")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return 0.0
