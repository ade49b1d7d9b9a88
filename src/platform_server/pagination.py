"""`page`/`limit` query parameters and the `{"data", "pagination"}` envelope."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

MAX_LIMIT = 100
# Offsets are 64-bit signed integers in SQLite and PostgreSQL, and a larger one fails in the driver: this bound
# keeps (page - 1) * limit far inside that range, and is exact as a JavaScript number too (below 2**53).
MAX_PAGE = 10**15


@dataclass(frozen=True, slots=True)
class PageParams:
    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


# async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a hop on every list request.
async def _page_params(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1")] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page, 1 to 100")] = 20,
) -> PageParams:
    return PageParams(page=page, limit=limit)


PageDep = Annotated[PageParams, Depends(_page_params)]


class Pagination(BaseModel):
    page: int = Field(examples=[1])
    limit: int = Field(examples=[20])
    total: int = Field(examples=[150])
    total_pages: int = Field(examples=[8])

    @classmethod
    def of(cls, params: PageParams, total: int) -> "Pagination":
        return cls(**_pagination_fields(params, total))


def _pagination_fields(params: PageParams, total: int) -> dict[str, int]:
    """`Pagination`'s fields, in its order: what `PageJson` writes without building the model."""
    return {"page": params.page, "limit": params.limit, "total": total, "total_pages": math.ceil(total / params.limit)}


ItemT = TypeVar("ItemT", bound=BaseModel)


class Paginated(BaseModel, Generic[ItemT]):
    data: list[ItemT]
    pagination: Pagination


# Aware UTC datetimes as `UtcDatetime` writes them: whole seconds, `Z`.
_JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS


class PageJson:
    """Writes a page of rows (column values by field name) as the JSON of `Paginated[schema]`, straight.

    For the hottest lists: the rows come from the database in the types the schema declares (text, numbers,
    lists, aware UTC datetimes), so validating each into the model and serializing it again would only cost
    time (a quarter of the CPU of a 20-item list request). The bytes are the model's own: camelCase names in field
    order, times as `UtcDatetime` writes them (checked against the model in tests/test_pagination.py).
    """

    def __init__(self, schema: type[BaseModel]) -> None:
        self._fields = tuple(
            (name, field.serialization_alias or field.alias or name) for name, field in schema.model_fields.items()
        )

    def body(self, rows: Sequence[Mapping[str, Any]], params: PageParams, total: int) -> bytes:
        fields = self._fields
        page = {
            "data": [{alias: row[name] for name, alias in fields} for row in rows],
            "pagination": _pagination_fields(params, total),
        }
        return orjson.dumps(page, option=_JSON_OPTIONS)

    def response(self, rows: Sequence[Mapping[str, Any]], params: PageParams, total: int) -> Response:
        return Response(self.body(rows, params, total), media_type="application/json")
