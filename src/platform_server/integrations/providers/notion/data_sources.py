"""A Notion database's data sources (Notion-Version 2025-09-03): a database is a container of one or more data
sources; pages live in a data source, which holds their schema."""

from collections.abc import Mapping
from dataclasses import dataclass

from platform_server.integrations.providers.client import ProviderBadRequest, ProviderClient, ProviderNotFound
from platform_server.integrations.sync.render import notion_rich_text


@dataclass(frozen=True, slots=True)
class DataSource:
    id: str
    name: str


async def data_sources(client: ProviderClient, database_id: str) -> list[DataSource]:
    """The data sources of a database (`GET /v1/databases/{id}` → `data_sources`)."""
    database = (await client.get(client.path("v1", "databases", database_id))).data or {}
    return [
        DataSource(str(source["id"]), str(source.get("name") or ""))
        for source in database.get("data_sources") or []
        if isinstance(source, Mapping) and source.get("id")
    ]


async def data_sources_of(client: ProviderClient, notion_id: str) -> list[DataSource] | None:
    """The data sources an id stands for: a database's, or the data source itself; None for anything else
    (a page). Notion answers a wrong kind of id with 404 or 400, so both mean "not this kind"."""
    try:
        return await data_sources(client, notion_id)
    except (ProviderNotFound, ProviderBadRequest):
        pass
    try:
        source = (await client.get(client.path("v1", "data_sources", notion_id))).data or {}
    except (ProviderNotFound, ProviderBadRequest):
        return None
    return [DataSource(str(source.get("id") or notion_id), notion_rich_text(source.get("title")))]
