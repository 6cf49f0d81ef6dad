"""What the statements tests share: an app with the plugin, the operator's API calls, and
reading the PDFs back as a customer's clerk would."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pypdf

from arportal.plugins.statements import plugin as statements_plugin
from tests.conftest import Running, TenantHandle, running_app

PLUGINS = [("statements", statements_plugin)]
TODAY = dt.date(2026, 3, 15)
HEADER = "Date Type Reference Debit Credit Balance"


@contextlib.asynccontextmanager
async def statements_app(make_config: Any, **config: Any) -> AsyncIterator[Running]:
    config.setdefault("process_workers", 2)
    async with running_app(make_config(**config), PLUGINS) as running:
        yield running


async def api(
    app: Running, tenant: TenantHandle, method: str, path: str, body: Any = None,
    status: int = 200,
) -> Any:
    response = await app.client.request(
        method, f"/api/v1{path}", json=body, headers=tenant.headers
    )
    assert response.status_code == status, response.text
    return response.json()


async def set_features(app: Running, tenant: TenantHandle, **features: bool) -> None:
    await api(app, tenant, "PATCH", "/settings", {"features": features})


async def set_statements(app: Running, tenant: TenantHandle, **values: Any) -> None:
    await api(app, tenant, "PATCH", "/settings", {"statements": values})


async def add_customer(
    app: Running, tenant: TenantHandle, external_id: str = "C-1", *,
    name: str = "Northwind Traders", locale: str = "en", currency: str = "EUR",
) -> dict[str, Any]:
    body = [{"external_id": external_id, "name": name, "locale": locale, "currency": currency}]
    (customer,) = await api(app, tenant, "PUT", "/customers", body)
    return customer  # type: ignore[no-any-return]


def invoice(
    external_id: str, issue: str, total: str, *, customer: str = "C-1", currency: str = "EUR",
    due: str | None = None, status: str = "open", number: str | None = None,
) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "customer_external_id": customer,
        "number": number or external_id,
        "issue_date": issue,
        "due_date": due or issue,
        "currency": currency,
        "total": total,
        "status": status,
    }


def document(
    external_id: str, day: str, amount: str, *, customer: str = "C-1", currency: str = "EUR",
    number: str | None = None,
) -> dict[str, Any]:
    body = {
        "external_id": external_id,
        "customer_external_id": customer,
        "date": day,
        "currency": currency,
        "amount": amount,
    }
    if number is not None:
        body["number"] = number
    return body


async def open_portal(app: Running, customer: dict[str, Any]) -> None:
    entered = await app.client.get(urlsplit(customer["portal_url"]).path)
    assert entered.status_code == 303, entered.text


def normalize(text: str) -> str:
    """Text as read: babel's narrow and non-breaking spaces as plain spaces."""
    return re.sub(r"[ \t]+", " ", text.replace("\u202f", " ").replace("\xa0", " "))


def pdf_pages(content: bytes) -> list[str]:
    assert content.startswith(b"%PDF-"), content[:100]
    reader = pypdf.PdfReader(io.BytesIO(content))
    return [normalize(page.extract_text()) for page in reader.pages]


def pdf_lines(content: bytes) -> list[str]:
    return [line.strip() for page in pdf_pages(content) for line in page.splitlines()]


def csv_rows(content: bytes) -> list[list[str]]:
    text = content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def page_footers(pages: list[str]) -> list[str]:
    return [re.findall(r"Page \d+ (?:of|sur) \d+", page)[-1] for page in pages]
