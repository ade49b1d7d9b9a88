"""A seventh provider is one new package: named in a copy of the registry, it reaches the catalog, the API's
provider enum, the sync lookups and the shared HTTP client through the Provider interface alone."""

from typing import Any, ClassVar

import httpx
import pytest

from platform_server.config import Settings
from platform_server.integrations.catalog import provider_catalog
from platform_server.integrations.providers.base import Category, OAuthConfig, Provider
from platform_server.integrations.providers.client import (
    ApiPolicy,
    ProviderClient,
    ProviderHttp,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderResponse,
    RetryPolicy,
    StaticTokenSource,
)
from platform_server.integrations.providers.toolspec import ToolSpec
from platform_server.integrations.registry import PROVIDERS, api_policies, by_name, name_enum
from platform_server.integrations.sync.base import ImportScope
from platform_server.integrations.sync.pairs import exporters_of, importers_of
from platform_server.work_items.models import WorkItem


class AcmeApi(ApiPolicy):
    name = "acme"
    title = "Acme Tracker"
    hosts = {"web": "https://acme.example", "api": "https://api.acme.example"}
    default_headers = {"Accept": "application/json", "Acme-Version": "7"}
    # Acme says "slow down" with 420 and its own header.
    rate_limit_statuses = frozenset({420})

    def reset_after(self, headers: httpx.Headers, now: float | None = None) -> float | None:
        value = headers.get("acme-wait")
        return float(value) if value is not None else None

    def error_message(self, data: Any) -> str | None:
        return str(data.get("problem")) if isinstance(data, dict) else None


async def _echo(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    return (await client.get(client.path("items", arguments["id"]))).data or {}


class AcmeExporter:
    provider: ClassVar[str] = "acme"
    target_entity: ClassVar[str] = "tickets"

    def parse_project(self, project: str) -> str:
        return project

    async def create(self, client: ProviderClient, scope: ImportScope, item: WorkItem) -> dict[str, Any]:
        return {}


class Acme(Provider):
    api = AcmeApi()
    category = Category.project_management
    oauth = OAuthConfig(
        authorize_url="https://acme.example/oauth/authorize",
        token_url="https://api.acme.example/oauth/token",
        default_scopes=("tickets:read",),
    )
    tools = (
        ToolSpec(
            provider="acme",
            name="acme_get_item",
            title="Read an Acme item",
            description="Read one item.",
            input_schema={"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
            output_schema={"type": "object"},
            run=_echo,
        ),
    )
    exporters = (AcmeExporter(),)
    project_hint = "a board name"

    @staticmethod
    def parse_project(project: str) -> str:
        return project


REGISTRY = (*PROVIDERS, Acme)


def test_names_titles_and_the_api_enum_derive_from_the_registry() -> None:
    assert (Acme.name, Acme.display_name, Acme.api_base_url) == ("acme", "Acme Tracker", "https://api.acme.example")
    assert by_name(REGISTRY)["acme"] is Acme
    assert [member.value for member in name_enum(REGISTRY)] == [provider.name for provider in REGISTRY]
    assert "acme" not in [member.value for member in name_enum(PROVIDERS)]


def test_the_catalog_and_the_sync_lookups_list_the_new_provider() -> None:
    entry = next(info for info in provider_catalog(Settings(), REGISTRY) if info.provider == "acme")
    assert (entry.name, entry.category, entry.default_scopes) == (
        "Acme Tracker",
        "Project Management",
        ["tickets:read"],
    )
    assert entry.missing_settings == ["ACME_CLIENT_ID", "ACME_CLIENT_SECRET"]
    assert [tool.name for tool in entry.tools] == ["acme_get_item"]
    assert isinstance(exporters_of(REGISTRY)[("acme", "tickets")], AcmeExporter)
    assert not [key for key in importers_of(REGISTRY) if key[0] == "acme"]


async def test_the_shared_client_follows_the_new_providers_policy() -> None:
    sent: list[httpx.Request] = []

    def acme(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path == "/items/busy":
            return httpx.Response(420, json={"problem": "slow down"}, headers={"acme-wait": "90"})
        return httpx.Response(404, json={"problem": "no such item"})

    provider_http = ProviderHttp(Settings(), api_policies(REGISTRY))
    try:
        pooled = provider_http.http("acme")
        assert pooled.base_url == "https://api.acme.example"
        assert pooled.headers["acme-version"] == "7"
    finally:
        await provider_http.aclose()

    async with httpx.AsyncClient(base_url="https://api.acme.example", transport=httpx.MockTransport(acme)) as http:
        client = ProviderClient(Acme.api, http, StaticTokenSource("acme", "token"), policy=RetryPolicy())
        with pytest.raises(ProviderNotFound, match="Acme Tracker found nothing at /items/7: no such item"):
            await Acme.tools[0].execute(client, {"id": "7"})
        with pytest.raises(ProviderRateLimited) as limited:
            await client.get(client.path("items", "busy"))
    assert limited.value.retry_after_seconds == 90
    assert [request.headers["authorization"] for request in sent] == ["Bearer token", "Bearer token"]


def test_a_response_is_classified_by_the_policy_alone() -> None:
    response = ProviderResponse(420, httpx.Headers({"acme-wait": "3"}), {"problem": "x"}, "https://api.acme.example/")
    assert Acme.api.is_rate_limited(response)
    assert Acme.api.rate_limit_wait(response, attempt=1) == 3
    assert not Acme.api.is_unauthorized(response)
