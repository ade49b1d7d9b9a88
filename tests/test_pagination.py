import pytest

from platform_server.pagination import PageParams, Pagination


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
