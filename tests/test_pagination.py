from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from platform_server.features.schemas import FeatureRead
from platform_server.pagination import PageJson, PageParams, Paginated, Pagination
from platform_server.work_items.schemas import WorkItemRead


@pytest.mark.parametrize(
    ("page", "limit", "total", "total_pages", "offset"),
    [(1, 20, 0, 0, 0), (1, 20, 1, 1, 0), (1, 20, 20, 1, 0), (2, 20, 21, 2, 20), (3, 1, 3, 3, 2), (5, 100, 150, 2, 400)],
)
def test_pagination_of(page: int, limit: int, total: int, total_pages: int, offset: int) -> None:
    params = PageParams(page=page, limit=limit)
    assert params.offset == offset
    assert Pagination.of(params, total).model_dump() == {
        "page": page,
        "limit": limit,
        "total": total,
        "total_pages": total_pages,
    }


def _row(schema: type[BaseModel], number: int) -> dict[str, Any]:
    """Every field of a list item set, with the values that make JSON writers differ."""
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    values = {
        "id": f"73901234567890123{number}",
        "workspace_id": "7390123456789012345",
        "integration_id": None if number % 2 else "7390123456789012350",
        "source_provider": "github",
        "source_entity": "issues",
        "external_id": "1899300021",
        "source_created_at": moment,
        "source_updated_at": None,
        "title": 'Ünïcode "quoted" \\ back\tslash\n\u2028 \U0001f680 </script>',
        "description": None if number % 2 else "\x01\x1f control",
        "status": "planned" if schema is FeatureRead else "todo",
        "priority": "high",
        "key": "acme/product#12",
        "url": "https://example.com/a?b=c&d=é",
        "labels": ["bug", "ünï"],
        "assignee": "octocat",
        "created_at": moment.replace(microsecond=0),
        "updated_at": datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    }
    # A database row holds every column, the schema's fields among them.
    return {**values, "team_id": "7390123456789012300", "total": 2}


@pytest.mark.parametrize("schema", [FeatureRead, WorkItemRead])
@pytest.mark.parametrize(("page", "limit", "total"), [(1, 20, 2), (3, 1, 7)])
def test_page_json_writes_the_models_bytes(schema: type[BaseModel], page: int, limit: int, total: int) -> None:
    rows = [_row(schema, number) for number in range(2)]
    params = PageParams(page=page, limit=limit)
    as_models = Paginated[schema](  # type: ignore[valid-type]
        data=[schema.model_validate(row) for row in rows], pagination=Pagination.of(params, total)
    )
    assert PageJson(schema).body(rows, params, total) == as_models.model_dump_json(by_alias=True).encode()
    assert (
        PageJson(schema).body([], params, 0)
        == Paginated[schema](  # type: ignore[valid-type]
            data=[], pagination=Pagination.of(params, 0)
        )
        .model_dump_json(by_alias=True)
        .encode()
    )
