"""The curated remote MCP server catalog: its data, and `GET /api/integrations/mcp/catalog` on both databases."""

import re
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from platform_server.integrations.remote_mcp.catalog import CATALOG, CatalogCategory, find_entries
from platform_server.teams.models import Role
from tests.conftest import Member

PATH = "/api/integrations/mcp/catalog"
ENTRY_KEYS = {"id", "name", "url", "category", "authKind", "transport", "docsUrl", "description"}
# Tool names become `<id>__<tool>` (MCP tool names allow [A-Za-z0-9_.-]); a double underscore would be ambiguous.
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class TestData:
    def test_ids_are_unique_slugs(self) -> None:
        ids = [entry.id for entry in CATALOG]
        assert len(ids) == len(set(ids))
        assert all(SLUG.fullmatch(entry_id) for entry_id in ids), ids

    @pytest.mark.parametrize("entry", CATALOG, ids=lambda entry: entry.id)
    def test_entry_is_complete(self, entry: Any) -> None:
        for url in (entry.url, entry.docs_url):
            parts = urlsplit(url)
            assert parts.scheme == "https", url
            assert parts.hostname, url
            assert not parts.query, url
            assert not parts.fragment, url
        assert isinstance(entry.category, CatalogCategory)
        assert entry.name.strip()
        assert 10 <= len(entry.description) <= 200

    def test_urls_are_unique(self) -> None:
        urls = [entry.url for entry in CATALOG]
        assert len(urls) == len(set(urls))

    def test_there_is_a_real_choice(self) -> None:
        assert len(CATALOG) >= 20
        assert len({entry.category for entry in CATALOG}) >= 8

    def test_find_entries_filters_and_keeps_order(self) -> None:
        assert [e.id for e in find_entries(CatalogCategory.payments)] == ["stripe", "paypal", "square"]
        assert [e.id for e in find_entries(search="CLOUDFLARE", category=CatalogCategory.cloud)] == [
            "cloudflare-docs",
            "cloudflare-bindings",
            "cloudflare-builds",
        ]
        assert find_entries(search="no such server anywhere") == []


class TestEndpoint:
    async def test_lists_the_whole_catalog(self, client: httpx.AsyncClient, owner: Member) -> None:
        response = await client.get(PATH, params={"limit": 100}, headers=owner.headers)
        assert response.status_code == 200
        body = response.json()
        assert [item["id"] for item in body["data"]] == [entry.id for entry in CATALOG]
        assert body["pagination"] == {"page": 1, "limit": 100, "total": len(CATALOG), "total_pages": 1}
        linear = next(item for item in body["data"] if item["id"] == "linear")
        assert set(linear) == ENTRY_KEYS
        assert linear == {
            "id": "linear",
            "name": "Linear",
            "url": "https://mcp.linear.app/mcp",
            "category": "Project Management",
            "authKind": "oauth",
            "transport": "streamable_http",
            "docsUrl": "https://linear.app/docs/mcp",
            "description": "Find, create and update Linear issues, projects and comments.",
        }

    async def test_pages(self, client: httpx.AsyncClient, owner: Member) -> None:
        response = await client.get(PATH, params={"page": 2, "limit": 5}, headers=owner.headers)
        body = response.json()
        assert [item["id"] for item in body["data"]] == [entry.id for entry in CATALOG[5:10]]
        assert body["pagination"]["total"] == len(CATALOG)
        assert body["pagination"]["total_pages"] == -(-len(CATALOG) // 5)
        past_the_end = await client.get(PATH, params={"page": 50, "limit": 5}, headers=owner.headers)
        assert past_the_end.status_code == 200
        assert past_the_end.json()["data"] == []
        assert past_the_end.json()["pagination"]["total"] == len(CATALOG)

    async def test_filters_by_category_and_search(self, client: httpx.AsyncClient, owner: Member) -> None:
        payments = await client.get(PATH, params={"category": "Payments"}, headers=owner.headers)
        assert [item["id"] for item in payments.json()["data"]] == ["stripe", "paypal", "square"]
        assert payments.json()["pagination"]["total"] == 3
        searched = await client.get(PATH, params={"search": "jira"}, headers=owner.headers)
        assert [item["id"] for item in searched.json()["data"]] == ["atlassian"]
        both = await client.get(PATH, params={"search": "cloudflare", "category": "Monitoring"}, headers=owner.headers)
        assert [item["id"] for item in both.json()["data"]] == ["cloudflare-observability"]
        nothing = await client.get(PATH, params={"search": "zzz-not-a-vendor"}, headers=owner.headers)
        assert nothing.json() == {"data": [], "pagination": {"page": 1, "limit": 20, "total": 0, "total_pages": 0}}

    async def test_any_member_may_read_it(
        self, client: httpx.AsyncClient, owner: Member, add_member: Callable[..., Coroutine[Any, Any, Member]]
    ) -> None:
        member = await add_member(owner, Role.member)
        response = await client.get(PATH, headers=member.headers)
        assert response.status_code == 200
        assert len(response.json()["data"]) == min(20, len(CATALOG))

    @pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer plat_not-a-key"}, {"Authorization": "Basic x"}])
    async def test_needs_an_api_key(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.get(PATH, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"category": "Gardening"}, "query.category"),
            ({"category": "payments"}, "query.category"),
            ({"search": ""}, "query.search"),
            ({"search": "x" * 101}, "query.search"),
            ({"limit": 0}, "query.limit"),
            ({"limit": 101}, "query.limit"),
            ({"limit": "ten"}, "query.limit"),
            ({"page": 0}, "query.page"),
        ],
    )
    async def test_bad_parameters_are_refused(
        self, client: httpx.AsyncClient, owner: Member, params: dict[str, Any], field: str
    ) -> None:
        response = await client.get(PATH, params=params, headers=owner.headers)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert [f["field"] for f in error["details"]["fields"]] == [field]

    @pytest.mark.parametrize("query", ["search=a%00b", "category=Payments%00"])
    async def test_hostile_text_is_refused(self, client: httpx.AsyncClient, owner: Member, query: str) -> None:
        response = await client.get(f"{PATH}?{query}", headers=owner.headers)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


class TestRouting:
    async def test_mcp_is_never_taken_for_an_integration_id(self, client: httpx.AsyncClient, owner: Member) -> None:
        # `/api/integrations/{integration_id}` is declared by a router that is included later.
        response = await client.get(PATH, headers=owner.headers)
        assert response.status_code == 200
        assert "data" in response.json()
        registry = await client.get("/api/integrations/mcp/registry", params={"limit": 0}, headers=owner.headers)
        assert registry.status_code == 422
        assert registry.json()["error"]["details"]["fields"][0]["field"] == "query.limit"

    async def test_integration_routes_still_answer(self, client: httpx.AsyncClient, owner: Member) -> None:
        listed = await client.get("/api/integrations", headers=owner.headers)
        assert listed.status_code == 200
        unknown = await client.get("/api/integrations/1234567890", headers=owner.headers)
        assert unknown.status_code == 404

    async def test_documented_with_stable_operation_ids(self, client: httpx.AsyncClient) -> None:
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert paths[PATH]["get"]["operationId"] == "listMcpServerCatalog"
        assert paths["/api/integrations/mcp/registry"]["get"]["operationId"] == "listMcpRegistryServers"
