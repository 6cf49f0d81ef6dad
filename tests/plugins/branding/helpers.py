"""What the branding tests share: the operator's API calls, a customer's portal, sample files."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.conftest import Running, TenantHandle
from tests.core.file_samples import EXE, HTML, JPEG, PDF, SVG, TEXT, office, png

__all__ = ["EXE", "HTML", "JPEG", "PDF", "SVG", "TEXT", "office", "png"]


async def api(
    app: Running, tenant: TenantHandle, method: str, path: str, body: Any = None,
    status: int = 200, **kwargs: Any,
) -> Any:
    response = await app.client.request(
        method, f"/api/v1{path}", json=body, headers=tenant.headers, **kwargs
    )
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def patch_branding(
    app: Running, tenant: TenantHandle, status: int = 200, **values: Any
) -> Any:
    return await api(app, tenant, "PATCH", "/settings", {"branding": values}, status=status)


async def upload(
    app: Running, tenant: TenantHandle, data: bytes, name: str, title: str = "W-9 form",
    status: int = 201,
) -> Any:
    response = await app.client.post(
        "/api/v1/branding/documents",
        headers=tenant.headers,
        data={"title": title},
        files={"file": (name, data, "application/octet-stream")},
    )
    assert response.status_code == status, response.text
    return response.json()


async def put_logo(app: Running, tenant: TenantHandle, data: bytes, status: int = 200) -> Any:
    response = await app.client.put(
        "/api/v1/branding/logo", headers=tenant.headers,
        files={"file": ("logo.png", data, "image/png")},
    )
    assert response.status_code == status, response.text
    return response.json()


async def add_customer(app: Running, tenant: TenantHandle, external_id: str = "C1",
                       locale: str = "en") -> dict[str, Any]:
    body = [{"external_id": external_id, "name": f"Buyer {external_id}",
             "email": f"ap-{external_id.lower()}@buyer.test", "locale": locale}]
    (customer,) = await api(app, tenant, "PUT", "/customers", body)
    await api(app, tenant, "PUT", "/invoices", [{
        "external_id": f"{external_id}-INV-1", "customer_external_id": external_id,
        "number": f"{external_id}-INV-1", "issue_date": "2026-02-01", "due_date": "2026-03-01",
        "currency": "EUR", "total": "100.00",
    }])
    return customer  # type: ignore[no-any-return]


async def enter(app: Running, customer: dict[str, Any]) -> None:
    """Open the customer's link: the client's session cookie is now this customer's."""
    response = await app.client.get(urlsplit(customer["portal_url"]).path)
    assert response.status_code == 303, response.text
