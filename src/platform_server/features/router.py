from typing import Annotated

from fastapi import Query, Response

from platform_server.auth.dependencies import CurrentPrincipal
from platform_server.db import SessionDep
from platform_server.errors import error_responses
from platform_server.features.models import FeatureStatus
from platform_server.features.schemas import FeatureCreate, FeatureRead, FeatureUpdate
from platform_server.features.service import feature_service
from platform_server.pagination import PageDep, PageJson, Paginated
from platform_server.routing import PrefixedRouter, PreSolvedRoute
from platform_server.schemas import Message

router = PrefixedRouter(
    prefix="/api/features", tags=["features"], responses=error_responses(401, 404, 422), route_class=PreSolvedRoute
)

_page_json = PageJson(FeatureRead)


@router.get("", operation_id="listFeatures", summary="List features", response_model=Paginated[FeatureRead])
async def list_features(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    workspace_id: Annotated[str | None, Query(description="Only this workspace's features")] = None,
    status: Annotated[FeatureStatus | None, Query()] = None,
) -> Response:
    """Newest first. An unknown (or another team's) `workspace_id` answers 404."""
    features, total = await feature_service.list(session, principal, page, workspace_id, {"status": status})
    return _page_json.response(features, page, total)


@router.post("", status_code=201, operation_id="createFeature", summary="Create a feature")
async def create_feature(principal: CurrentPrincipal, session: SessionDep, body: FeatureCreate) -> FeatureRead:
    return FeatureRead.model_validate(await feature_service.create(session, principal, body.model_dump()))


@router.get("/{feature_id}", operation_id="getFeature", summary="Get a feature")
async def get_feature(principal: CurrentPrincipal, session: SessionDep, feature_id: str) -> FeatureRead:
    return FeatureRead.model_validate(await feature_service.get(session, principal, feature_id))


@router.patch("/{feature_id}", operation_id="updateFeature", summary="Update a feature")
async def update_feature(
    principal: CurrentPrincipal, session: SessionDep, feature_id: str, body: FeatureUpdate
) -> FeatureRead:
    return FeatureRead.model_validate(await feature_service.update(session, principal, feature_id, body.changes()))


@router.delete("/{feature_id}", operation_id="deleteFeature", summary="Delete a feature")
async def delete_feature(principal: CurrentPrincipal, session: SessionDep, feature_id: str) -> Message:
    await feature_service.delete(session, principal, feature_id)
    return Message(message="Feature deleted")
