"""A Notion page's content as a tree: `GET /v1/blocks/{id}/children` lists one level, and a block with
`has_children` has its own children, read the same way."""

from dataclasses import dataclass
from typing import Any

from platform_server.integrations.providers.client import ProviderClient
from platform_server.integrations.providers.notion.api import notion_pages

PAGE_SIZE = 100
# Blocks whose children are other pages' content, not this page's.
_SEPARATE_PAGES = frozenset({"child_page", "child_database"})


@dataclass(frozen=True, slots=True)
class Content:
    """A page's blocks, nested ones under each block's `children`; `complete` is False when a bound cut it."""

    blocks: list[dict[str, Any]]
    complete: bool


async def read_content(client: ProviderClient, block_id: str, *, max_blocks: int, max_depth: int) -> Content:
    """A page's (or block's) content, depth first in document order, at most `max_blocks` blocks and
    `max_depth` levels below the top one."""
    remaining = max_blocks
    complete = True

    async def level(parent_id: str, depth: int) -> list[dict[str, Any]]:
        nonlocal remaining, complete
        found: list[dict[str, Any]] = []
        path = client.path("v1", "blocks", parent_id, "children")
        async for batch in notion_pages(client, "GET", path, {"page_size": PAGE_SIZE}):
            for block in batch:
                if not isinstance(block, dict):
                    continue
                if remaining <= 0:
                    complete = False
                    return found
                remaining -= 1
                found.append(block)
                nested = block.get("has_children") and block.get("type") not in _SEPARATE_PAGES
                if not nested or not block.get("id"):
                    continue
                if depth >= max_depth:
                    complete = False
                    continue
                block["children"] = await level(str(block["id"]), depth + 1)
        return found

    blocks = await level(block_id, 0)
    return Content(blocks, complete)
