"""The API documentation works offline, and a browser at `/` lands on a page."""

import re

import httpx

ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']|url:\s*["']([^"']+)["']""")


async def test_docs_load_only_local_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    references = [first or second for first, second in ASSET.findall(page.text)]
    assert "/openapi.json" in references
    assert "/docs/assets/swagger-ui-bundle.js" in references
    assert "/docs/assets/swagger-ui.css" in references
    # Nothing from another host: no CDN, so the page renders without a network.
    assert all(reference.startswith("/") and not reference.startswith("//") for reference in references), references
    for reference in references:
        response = await client.get(reference)
        assert response.status_code == 200, reference
        assert response.content, reference
    script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in script.headers["content-type"]
    assert "SwaggerUIBundle" in script.text
    assert (await client.get("/docs/assets/swagger-ui.css")).headers["content-type"].startswith("text/css")
    assert (await client.get("/docs/oauth2-redirect")).status_code == 200


async def test_unknown_asset_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs/assets/nothing.js")).status_code == 404


async def test_root_sends_a_browser_to_the_settings_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code in (302, 307)
    assert response.headers["location"].endswith("/settings")
    page = await client.get("/", follow_redirects=True)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
