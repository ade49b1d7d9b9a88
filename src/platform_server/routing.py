"""Routing made cheaper: a route class whose dependencies are solved from a plan made once, when the route is
built, and a router that tells at once that a path is not one of its own."""

import copy
import functools
import inspect
import types
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar, Union, get_args, get_origin

from fastapi import Request, Response
from fastapi._compat import ModelField
from fastapi.dependencies.models import Dependant, _get_cache_key, _is_async_gen_callable, _is_coroutine_callable
from fastapi.dependencies.utils import _get_param_aliases, _solve_generator
from fastapi.params import Query
from fastapi.routing import (
    APIRoute,
    APIRouter,
    _effective_route_context_var,
    _get_scope_included_router,
    _IncludedRouter,
)
from fastapi.telemetry import get_telemetry_data
from fastapi.types import DependencyCacheKey
from starlette._utils import get_route_path
from starlette.datastructures import QueryParams
from starlette.routing import Match
from starlette.types import Scope

# The query parameter types a plan reads; anything else (lists, models, JSON) is left to FastAPI.
_SCALARS = (str, int, float, bool, Enum)
_MISSING = object()
_IMMUTABLE = (str, int, float, bool, Enum, type(None))


_OWN_SHIELD = "__ends_under_its_own_shield__"
_DependencyT = TypeVar("_DependencyT", bound=Callable[..., AsyncIterator[Any]])


def ends_under_its_own_shield(dependency: _DependencyT) -> _DependencyT:
    """Marks a dependency with `yield` whose exit cannot be cut short by a cancellation, by its own means.

    FastAPI guards every such exit from AnyIO cancellation with a cancel scope held open from the dependency's
    start to the end of the request, which costs a tenth of a short request's CPU (a page of the features
    list). A `PreSolvedRoute` enters a marked dependency as a plain context manager instead; the exits of
    unmarked ones stay FastAPI's.
    """
    setattr(dependency, _OWN_SHIELD, True)
    return dependency


class PreSolvedRoute(APIRoute):
    """FastAPI re-derives, on every request, how to solve each dependency and read each parameter from their
    annotations: about a third of the CPU of a page of the features list. For a route whose dependencies are
    async functions or async generators taking only scalar query parameters, the request and one another, and
    whose endpoint answers a `Response` of its own, this works that out once.

    The same dependencies run in the same order, with FastAPI's per-request cache and its own handling of
    dependencies with `yield` (those that shield their own exit, `ends_under_its_own_shield`, are entered as
    plain context managers on the same exit stacks). Every other route, and every request the plan does not
    cover, is served by FastAPI's handler: one whose query parameters do not validate (so the 422, and any
    error a dependency raises before it, are FastAPI's own), one while dependency overrides are set, and one
    traced by FastAPI's telemetry. The OpenAPI document is built from the same dependant, so it is unchanged.
    """

    # Whether the last handler built (the route's own, then one per inclusion) follows a plan.
    presolved: bool = False

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = super().get_route_handler()
        # Built once for the route itself and once per router it is included in, as FastAPI's handler is: an
        # inclusion adds its router's dependencies and the app's dependency overrides.
        context = _effective_route_context_var.get()
        route = context if context is not None and context.original_route is self else self
        dependant = route.dependant
        root = None
        if dependant is not None and route.body_field is None and _answers_response(self.endpoint):
            root = _plan(dependant)
        self.presolved = root is not None
        if root is None:
            return standard
        # Every query parameter of the tree, in the order FastAPI reads them.
        params = tuple(param for step in root.walk() for param in step.query)
        overrides = route.dependency_overrides_provider
        # The dependant's call, as FastAPI's handler calls it (an integration may have wrapped the endpoint).
        endpoint = dependant.call
        assert endpoint is not None

        async def handler(request: Request) -> Response:
            if (overrides is not None and overrides.dependency_overrides) or get_telemetry_data() is not None:
                return await standard(request)
            query = _read_query(params, request.query_params)
            if query is None:
                return await standard(request)
            values = await root.solve(request, query, {})
            response: Response = await endpoint(**values)
            return response

        return handler


def _answers_response(endpoint: Callable[..., Any]) -> bool:
    returns = inspect.signature(endpoint).return_annotation
    return inspect.iscoroutinefunction(endpoint) and inspect.isclass(returns) and issubclass(returns, Response)


@dataclass(frozen=True, slots=True)
class _QueryParam:
    name: str
    alias: str
    field: ModelField


@dataclass(frozen=True, slots=True)
class _Step:
    """A dependant: its sub-dependencies, its own query parameters and where it takes the request."""

    dependant: Dependant
    cache_key: DependencyCacheKey
    generator: bool
    # A dependency with `yield` that protects its own exit (`ends_under_its_own_shield`).
    own_shield: bool
    dependencies: tuple["_Step", ...]
    query: tuple[_QueryParam, ...]
    request_param: str | None

    def walk(self) -> "list[_Step]":
        steps = [step for sub in self.dependencies for step in sub.walk()]
        steps.append(self)
        return steps

    async def solve(
        self, request: Request, query: dict[int, Any], cache: dict[DependencyCacheKey, Any]
    ) -> dict[str, Any]:
        """The arguments of this step's call, as `fastapi.dependencies.utils.solve_dependencies` builds them."""
        values: dict[str, Any] = {}
        for sub in self.dependencies:
            sub_values = await sub.solve(request, query, cache)
            dependant = sub.dependant
            if dependant.use_cache and sub.cache_key in cache:
                solved = cache[sub.cache_key]
            elif sub.generator:
                stack_key = "fastapi_function_astack" if dependant.scope == "function" else "fastapi_inner_astack"
                stack = request.scope[stack_key]
                if sub.own_shield:
                    assert dependant.call is not None
                    solved = await stack.enter_async_context(asynccontextmanager(dependant.call)(**sub_values))
                else:
                    solved = await _solve_generator(
                        dependant=dependant, stack=stack, sub_values=sub_values, request=request
                    )
            else:
                assert dependant.call is not None
                solved = await dependant.call(**sub_values)
            if dependant.name is not None:
                values[dependant.name] = solved
            cache.setdefault(sub.cache_key, solved)
        for param in self.query:
            values[param.name] = query[id(param)]
        if self.request_param is not None:
            values[self.request_param] = request
        return values


def _read_query(params: tuple[_QueryParam, ...], received: QueryParams) -> dict[int, Any] | None:
    """The value of each parameter by its id, or None when one does not validate."""
    values: dict[int, Any] = {}
    for param in params:
        value = _read(param, received)
        if value is _MISSING:
            return None
        values[id(param)] = value
    return values


def _read(param: _QueryParam, params: QueryParams) -> Any:
    raw = params.get(param.alias)
    field_info = param.field.field_info
    if raw is None:
        if field_info.is_required():
            return _MISSING
        default = param.field.default
        # A copy, as FastAPI makes, of a default that could be changed; a scalar one is its own copy.
        if not isinstance(default, _IMMUTABLE):
            default = copy.deepcopy(default)
        if not field_info.validate_default:
            return default
        raw = default
    value, errors = param.field.validate(raw, {}, loc=("query", param.alias))
    return _MISSING if errors else value


def _plan(dependant: Dependant) -> _Step | None:
    if (
        dependant.path_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or dependant.concurrency is not None
    ):
        return None
    query = []
    for field in dependant.query_params:
        # One name to read it by: not a choice of aliases.
        aliases = _get_param_aliases(field)
        if not isinstance(field.field_info, Query) or len(aliases) != 1 or aliases[0][0] != aliases[0][1]:
            return None
        if not _is_scalar(field.field_info.annotation):
            return None
        query.append(_QueryParam(name=field.name, alias=aliases[0][1], field=field))
    dependencies = []
    for sub in dependant.dependencies:
        if not (_is_coroutine_callable(sub.call) or _is_async_gen_callable(sub.call)):
            return None
        step = _plan(sub)
        if step is None:
            return None
        dependencies.append(step)
    return _Step(
        dependant=dependant,
        cache_key=_get_cache_key(dependant=dependant),
        generator=_is_async_gen_callable(dependant.call),
        own_shield=getattr(dependant.call, _OWN_SHIELD, False),
        dependencies=tuple(dependencies),
        query=tuple(query),
        request_param=dependant.request_param_name,
    )


def _is_scalar(annotation: Any) -> bool:
    if get_origin(annotation) in (Union, types.UnionType):
        return all(arg is type(None) or _is_scalar(arg) for arg in get_args(annotation))
    return inspect.isclass(annotation) and issubclass(annotation, _SCALARS)


class PrefixedRouter(APIRouter):
    """A router that answers "not mine" at once for a path that none of its routes can match.

    The app looks for a request's route by asking each included router in turn, and a router asks each of its
    routes (FastAPI's bookkeeping, then the path's pattern): every request pays that for every router included
    before its own. A route's pattern starts with its literal path (up to its first parameter, with the
    router's and the inclusion's prefixes), so a path that starts with none of them matches no route, not even
    partly (no 405): the answer is the same. That holds for routers of any prefix, the empty one too (the
    probes', `/healthz` and `/readyz`). It holds while every route is an `APIRoute`, whose path FastAPI builds
    from the prefix; a router given anything else asks its routes as FastAPI does.
    """

    _checked_version: int | None = None
    _all_api_routes = False
    _starts: dict[str, tuple[str, ...]]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        included = _get_scope_included_router(scope)
        if isinstance(included, _IncludedRouter):
            starts = self._literal_starts(included.include_context.prefix)
            if starts is not None and not get_route_path(scope).startswith(starts):
                return Match.NONE, {}
        return super().matches(scope)

    def _literal_starts(self, include_prefix: str) -> tuple[str, ...] | None:
        """What a path must start with to match one of the routes, when included under `include_prefix`; None
        when a route is not an `APIRoute`."""
        # Bumped by FastAPI whenever a route or router is added to this one.
        version = self._routes_version
        if version != self._checked_version:
            self._all_api_routes = not self._low_priority_routes and all(
                isinstance(route, APIRoute) for route in self.routes
            )
            self._starts = {}
            self._checked_version = version
        if not self._all_api_routes:
            return None
        starts = self._starts.get(include_prefix)
        if starts is None:
            paths = {
                _literal_start(include_prefix + route.path) for route in self.routes if isinstance(route, APIRoute)
            }
            starts = self._starts[include_prefix] = tuple(sorted(paths))
        return starts


@functools.cache
def _literal_start(path: str) -> str:
    return path.partition("{")[0]
