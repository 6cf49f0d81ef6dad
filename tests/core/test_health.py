async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ok"}


async def test_openapi_is_served(client):
    schema = (await client.get("/api/v1/schema/openapi.json")).json()
    assert schema["info"]["title"] == "arportal admin API"


async def test_unknown_portal_link_is_404_with_security_headers(client):
    response = await client.get("/p/not-a-real-token")
    assert response.status_code == 404
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in response.headers["content-security-policy"]
