"""The only way a statement's HTML reaches anything outside itself.

WeasyPrint's default fetcher reads `file:` URLs and the network, and `<link rel=attachment>`
embeds whatever it fetched into the PDF. A statement carries customer and invoice text, so
this fetcher serves only the assets the renderer put in it (the tenant's logo), under the
`arportal-asset:` scheme, from memory; it refuses every other URL (`file:`, `http(s):`,
`data:`, ...), and WeasyPrint then leaves the resource out.
"""

from __future__ import annotations

from weasyprint.urls import URLFetcher, URLFetcherResponse

ASSET_SCHEME = "arportal-asset"


def asset_url(name: str) -> str:
    return f"{ASSET_SCHEME}:{name}"


class RefusedURL(ValueError):
    """A URL a statement asked for that is not one of the portal's own assets."""


class AssetFetcher(URLFetcher):
    def __init__(self, assets: dict[str, tuple[bytes, str]] | None = None):
        super().__init__(allowed_protocols=(ASSET_SCHEME,), allow_redirects=False)
        self.assets = dict(assets or {})
        """`{url: (body, content type)}`"""
        self.refused: list[str] = []

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        asset = self.assets.get(url)
        if asset is None:
            self.refused.append(url)
            raise RefusedURL(f"a statement loads only its own assets, not {url[:80]!r}")
        body, content_type = asset
        return URLFetcherResponse(url, body, headers={"Content-Type": content_type})
