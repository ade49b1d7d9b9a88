"""`PreSolvedRoute` answers exactly what FastAPI's own route answers for the same route, and runs the same work;
`PrefixedRouter` leaves every answer of the app as FastAPI's own router gives it."""

import enum
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import orjson
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.routing import APIRoute

from platform_server.app import create_app
from platform_server.config import Settings
from platform_server.errors import Unauthorized
from platform_server.features.router import router as features_router
from platform_server.routing import PrefixedRouter, PreSolvedRoute
from platform_server.work_items.router import router as items_router


class Color(enum.StrEnum):
    red = "red"
    blue = "blue"


def _router(route_class: type[APIRoute], calls: list[str]) -> APIRouter:
    """The same routes for both route classes; `calls` records every dependency run and every cleanup."""

    async def resource(request: Request) -> AsyncIterator[str]:
        calls.append("enter")
        yield request.url.path
        calls.append("exit")

    async def shared(size: Annotated[int, Query(ge=1, le=5)] = 2) -> int:
        calls.append("shared")
        return size

    async def caller(shared_size: Annotated[int, Depends(shared)], held: Annotated[str, Depends(resource)]) -> str:
        calls.append("caller")
        return f"{held}:{shared_size}"

    async def refuses(key: str | None = None) -> None:
        if key == "wrong":
            calls.append("refused")
            raise Unauthorized("wrong key")

    router = APIRouter(prefix="/r", route_class=route_class, dependencies=[Depends(refuses)])

    @router.get("/items")
    async def items(
        who: Annotated[str, Depends(caller)],
        again: Annotated[int, Depends(shared)],
        color: Annotated[Color | None, Query()] = None,
        name: str | None = None,
        count: Annotated[int, Query(alias="n")] = 1,
    ) -> Response:
        calls.append("endpoint")
        body = {"who": who, "again": again, "color": color, "name": name, "count": count}
        return Response(orjson.dumps(body), media_type="application/json")

    @router.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    return router


def _app(router: APIRouter) -> FastAPI:
    # The project's exception handlers, so errors render as the API renders them.
    app = create_app(Settings(DATABASE_URL="sqlite+aiosqlite:///:memory:", RATE_LIMIT_ENABLED=False))
    app.include_router(router)
    return app


QUERIES = [
    "",
    "size=4",
    "size=4&color=blue&name=x&n=7",
    "color=green",
    "size=0",
    "size=abc&n=x",
    "n=",
    "key=wrong&size=0",
    "key=wrong",
    "name=a&name=b",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_answers_and_work_are_fastapi_s(query: str) -> None:
    answers = []
    for route_class in (APIRoute, PreSolvedRoute):
        calls: list[str] = []
        transport = httpx.ASGITransport(app=_app(_router(route_class, calls)))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get(f"/r/items?{query}")
        body = response.json()
        if isinstance(body, dict) and "error" in body:
            body["error"].pop("requestId", None)
        answers.append((response.status_code, body, calls))
    assert answers[0] == answers[1]


def test_plans_only_routes_it_can_solve() -> None:
    router = _router(PreSolvedRoute, [])
    planned = {route.path: route.presolved for route in router.routes if isinstance(route, PreSolvedRoute)}
    # A path parameter and an endpoint answering a model are FastAPI's to handle.
    assert planned == {"/r/items": True, "/r/items/{item_id}": False}


@pytest.mark.parametrize(
    ("router", "operation_id"), [(features_router, "listFeatures"), (items_router, "listWorkItems")]
)
def test_the_hot_lists_are_planned(router: APIRouter, operation_id: str) -> None:
    create_app(Settings(DATABASE_URL="sqlite+aiosqlite:///:memory:"))
    listing = next(
        route for route in router.routes if isinstance(route, APIRoute) and route.operation_id == operation_id
    )
    assert isinstance(listing, PreSolvedRoute)
    assert listing.presolved


async def test_dependency_overrides_are_honoured() -> None:
    router = _router(PreSolvedRoute, [])
    app = _app(router)

    async def fixed() -> str:
        return "overridden"

    items = next(route for route in router.routes if isinstance(route, APIRoute) and route.path == "/r/items")
    caller = next(dependant.call for dependant in items.dependant.dependencies if dependant.name == "who")
    assert caller is not None
    app.dependency_overrides[caller] = fixed
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/r/items")
    assert response.status_code == 200
    assert response.json()["who"] == "overridden"


def _prefixed_app(router_class: type[APIRouter], include_prefix: str) -> tuple[FastAPI, APIRouter]:
    """A router of `router_class` under /p, then a plain one whose paths the first must leave to it."""
    first = router_class(prefix="/p")

    @first.get("/items")
    async def items() -> dict[str, str]:
        return {"in": "p"}

    @first.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    later = APIRouter()

    @later.get("/later")
    async def elsewhere() -> dict[str, str]:
        return {"in": "later"}

    @later.get("/pitems")
    async def starts_alike() -> dict[str, str]:
        return {"in": "pitems"}

    app = create_app(Settings(DATABASE_URL="sqlite+aiosqlite:///:memory:", RATE_LIMIT_ENABLED=False))
    app.include_router(first, prefix=include_prefix)
    app.include_router(later, prefix=include_prefix)
    return app, first


_REQUESTS = [
    ("GET", "/p/items"),
    ("POST", "/p/items"),
    ("GET", "/p/items/3"),
    ("DELETE", "/p/items/3"),
    ("GET", "/p/items/x"),
    ("GET", "/p/items/"),
    ("GET", "/p/nothing"),
    ("GET", "/later"),
    ("POST", "/later"),
    ("GET", "/pitems"),
    ("GET", "/nothing"),
]


async def _answers(app: FastAPI, prefix: str) -> list[tuple[int, str, str | None, str | None]]:
    answers = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for method, path in [*_REQUESTS, ("GET", "/later"), ("GET", "/p/items")]:
            response = await client.request(method, prefix + path)
            # A redirect has no body.
            body = response.json() if response.content else None
            if isinstance(body, dict) and "error" in body:
                body["error"].pop("requestId", None)
            answers.append(
                (
                    response.status_code,
                    orjson.dumps(body).decode(),
                    response.headers.get("allow"),
                    response.headers.get("location"),
                )
            )
    return answers


@pytest.mark.parametrize("include_prefix", ["", "/v1"])
async def test_a_prefixed_router_leaves_every_answer_fastapi_s(include_prefix: str) -> None:
    plain, _ = _prefixed_app(APIRouter, include_prefix)
    prefixed, _ = _prefixed_app(PrefixedRouter, include_prefix)
    expected = await _answers(plain, include_prefix)
    assert await _answers(prefixed, include_prefix) == expected
    # The app's answers: found, 405 with its methods, redirected, 404.
    statuses = [status for status, *_ in expected[: len(_REQUESTS)]]
    assert statuses == [200, 405, 200, 405, 422, 307, 404, 200, 405, 200, 404]
    assert await _answers(prefixed, "/elsewhere") == await _answers(plain, "/elsewhere")


async def test_a_prefixed_router_given_a_path_outside_its_prefix_asks_its_routes() -> None:
    app, router = _prefixed_app(PrefixedRouter, "")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/p/items")).status_code == 200

        async def outside(request: Request) -> Response:
            return Response(b"outside")

        # Added after the router has answered: a Starlette route is not given the prefix.
        router.add_route("/outside", outside)
        response = await client.get("/outside")
    assert (response.status_code, response.content) == (200, b"outside")


def _app_with_a_parameter_in_the_prefix(router_class: type[APIRouter]) -> FastAPI:
    router = router_class(prefix="/w/{workspace_id}/ai")

    @router.get("/things")
    async def things(workspace_id: int) -> dict[str, int]:
        return {"workspace": workspace_id}

    @router.get("/things/{thing_id}")
    async def thing(workspace_id: int, thing_id: int) -> dict[str, int]:
        return {"workspace": workspace_id, "thing": thing_id}

    app = create_app(Settings(DATABASE_URL="sqlite+aiosqlite:///:memory:", RATE_LIMIT_ENABLED=False))
    app.include_router(router)
    return app


async def test_a_prefix_with_a_path_parameter_is_compared_up_to_the_parameter() -> None:
    requests = [
        ("GET", "/w/1/ai/things"),
        ("GET", "/w/1/ai/things/2"),
        ("POST", "/w/1/ai/things"),
        ("GET", "/w/x/ai/things"),
        ("GET", "/w/1/other"),
        ("GET", "/w/"),
        ("GET", "/elsewhere"),
    ]
    answers = {}
    for router_class in (APIRouter, PrefixedRouter):
        transport = httpx.ASGITransport(app=_app_with_a_parameter_in_the_prefix(router_class))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers[router_class] = [
                (response.status_code, response.headers.get("allow"))
                for response in [await client.request(method, path) for method, path in requests]
            ]
    assert answers[PrefixedRouter] == answers[APIRouter]
    assert [status for status, _ in answers[APIRouter]] == [200, 200, 405, 422, 404, 404, 404]


def _unprefixed_app(router_class: type[APIRouter]) -> FastAPI:
    """A router without a prefix (as the probes'), its routes' own paths the only thing its requests share."""
    probes = router_class()

    @probes.get("/up")
    async def up() -> dict[str, str]:
        return {"in": "up"}

    @probes.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"thing": thing_id}

    later = APIRouter()

    @later.get("/upper")
    async def upper() -> dict[str, str]:
        return {"in": "upper"}

    app = create_app(Settings(DATABASE_URL="sqlite+aiosqlite:///:memory:", RATE_LIMIT_ENABLED=False))
    app.include_router(probes)
    app.include_router(later)
    return app


async def test_a_router_without_a_prefix_is_compared_by_its_routes_paths() -> None:
    requests = [
        ("GET", "/up"),
        ("POST", "/up"),
        ("GET", "/up/"),
        ("GET", "/upper"),
        ("GET", "/things/2"),
        ("GET", "/things/x"),
        ("GET", "/things"),
        ("GET", "/nothing"),
    ]
    answers = {}
    for router_class in (APIRouter, PrefixedRouter):
        transport = httpx.ASGITransport(app=_unprefixed_app(router_class))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers[router_class] = [
                (response.status_code, response.headers.get("allow"), response.headers.get("location"))
                for response in [await client.request(method, path) for method, path in requests]
            ]
    assert answers[PrefixedRouter] == answers[APIRouter]
    assert [status for status, *_ in answers[APIRouter]] == [200, 405, 307, 200, 200, 422, 404, 404]
