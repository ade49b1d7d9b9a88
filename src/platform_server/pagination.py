"""`page`/`limit` query parameters and the `{"data", "pagination"}` envelope."""

import math
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

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
        return cls(page=params.page, limit=params.limit, total=total, total_pages=math.ceil(total / params.limit))


ItemT = TypeVar("ItemT", bound=BaseModel)


class Paginated(BaseModel, Generic[ItemT]):
    data: list[ItemT]
    pagination: Pagination
