"""Simulated Figma: www.figma.com/oauth, the api.figma.com token/refresh endpoints and the v1 REST API."""

import base64
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from platform_server.sandbox.common import bearer_token, json_response
from platform_server.sandbox.gate import ProviderGate, provider_app
from platform_server.sandbox.oauth import oauth_routes
from platform_server.sandbox.store import AccessToken, SandboxStore
from platform_server.sandbox.worlds import FigmaWorld

# A 1x1 transparent PNG: what every rendered image link serves.
_PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
_FORMATS = ("jpg", "png", "svg", "pdf")
_WHITE = {"r": 1, "g": 1, "b": 1, "a": 1}


def error(status: int, message: str) -> Response:
    return json_response({"status": status, "err": message}, status)


def create_figma_app(store: SandboxStore) -> ProviderGate:
    def world() -> FigmaWorld:
        result: FigmaWorld = store.world("figma")
        return result

    def auth(request: Request) -> AccessToken | Response:
        record, problem = store.authenticate("figma", bearer_token(request))
        if record is None:
            # Figma refuses bad tokens with 403, like a missing permission; only the message tells them apart.
            return error(403, "Token expired" if problem == "expired" else "Invalid token")
        return record

    async def me(request: Request) -> Response:
        record = auth(request)
        if isinstance(record, Response):
            return record
        account = record.grant.account
        return json_response(
            {
                "id": str(account.id),
                "email": account.email,
                "handle": account.display_name,
                "img_url": f"https://s3-alpha.figma.com/profile/{account.id}",
            }
        )

    async def team_projects(request: Request) -> Response:
        record = auth(request)
        if isinstance(record, Response):
            return record
        if "projects:read" not in record.grant.scopes:
            return error(403, "Invalid scope(s): this endpoint requires the projects:read scope")
        figma = world()
        if request.path_params["team_id"] != figma.team_id:
            return error(404, "Not found")
        return json_response({"name": "Acme", "projects": figma.projects})

    async def project_files(request: Request) -> Response:
        record = auth(request)
        if isinstance(record, Response):
            return record
        figma = world()
        project_id = request.path_params["project_id"]
        project = next((p for p in figma.projects if p["id"] == project_id), None)
        if project is None:
            return error(404, "Not found")
        files = [
            {
                "key": file["key"],
                "name": file["name"],
                "thumbnail_url": f"https://s3-alpha.figma.com/thumbnails/{file['key']}",
                "last_modified": file["last_modified"],
            }
            for file in figma.files.values()
            if file["project_id"] == project_id
        ]
        return json_response({"name": project["name"], "files": files})

    async def get_file(request: Request) -> Response:
        record = auth(request)
        if isinstance(record, Response):
            return record
        figma = world()
        file = figma.files.get(request.path_params["file_key"])
        if file is None:
            return error(404, "Not found")
        depth_raw = request.query_params.get("depth")
        depth = 99
        if depth_raw is not None:
            if not depth_raw.isdigit() or int(depth_raw) < 1:
                return error(400, "Invalid parameter: depth must be a positive integer")
            depth = int(depth_raw)
        ids = request.query_params.get("ids")
        wanted = {node for node in ids.split(",") if node} if ids else None

        def frame(frame_id: str, name: str) -> dict[str, Any]:
            bounds = {"x": 0, "y": 0, "width": 1440, "height": 900}
            return {
                "id": frame_id,
                "name": name,
                "type": "FRAME",
                "scrollBehavior": "SCROLLS",
                "blendMode": "PASS_THROUGH",
                "children": [],
                "absoluteBoundingBox": bounds,
                "absoluteRenderBounds": bounds,
                "clipsContent": True,
                "fills": [{"type": "SOLID", "blendMode": "NORMAL", "color": _WHITE}],
                "effects": [],
            }

        pages = []
        for page_id, page_name, frames in file["pages"]:
            page: dict[str, Any] = {
                "id": page_id,
                "name": page_name,
                "type": "CANVAS",
                "scrollBehavior": "SCROLLS",
                "backgroundColor": _WHITE,
                "flowStartingPoints": [],
                "prototypeDevice": {"type": "NONE", "rotation": "NONE"},
                "prototypeStartNodeID": None,
            }
            if depth >= 2:
                page["children"] = [
                    frame(frame_id, name)
                    for frame_id, name in frames
                    if wanted is None or frame_id in wanted or page_id in wanted
                ]
            if wanted is None or page_id in wanted or page.get("children"):
                pages.append(page)
        return json_response(
            {
                "name": file["name"],
                "role": "owner",
                "lastModified": file["last_modified"],
                "editorType": "figma",
                "thumbnailUrl": f"https://s3-alpha.figma.com/thumbnails/{file['key']}",
                "version": str(1000 + len(file["key"])),
                "document": {
                    "id": "0:0",
                    "name": "Document",
                    "type": "DOCUMENT",
                    "scrollBehavior": "SCROLLS",
                    "children": pages,
                },
                "components": {},
                "componentSets": {},
                "schemaVersion": 0,
                "styles": {},
            }
        )

    async def images(request: Request) -> Response:
        record = auth(request)
        if isinstance(record, Response):
            return record
        figma = world()
        file = figma.files.get(request.path_params["file_key"])
        if file is None:
            return error(404, "Not found")
        params = request.query_params
        ids = [node for node in params.get("ids", "").split(",") if node]
        if not ids:
            return error(400, "Invalid parameter: ids")
        image_format = params.get("format", "png")
        if image_format not in _FORMATS:
            return error(400, "Invalid parameter: format")
        try:
            scale = float(params.get("scale", "1"))
        except ValueError:
            return error(400, "Invalid parameter: scale")
        if not 0.01 <= scale <= 4:
            return error(400, "Invalid parameter: scale must be between 0.01 and 4")
        known = figma.node_ids(file)
        base = f"{figma.base_url}/sandbox/figma/_render/{file['key']}"
        return json_response(
            {
                "err": None,
                "images": {
                    node: (f"{base}/{node.replace(':', '-')}.{image_format}?scale={scale:g}" if node in known else None)
                    for node in ids
                },
            }
        )

    async def render(_request: Request) -> Response:
        # Stands in for the temporary S3 links real renders point at; those need no token either.
        return Response(_PIXEL, media_type="image/png")

    routes = [
        *oauth_routes(store, "figma"),
        Route("/v1/me", me, methods=["GET"]),
        Route("/v1/teams/{team_id}/projects", team_projects, methods=["GET"]),
        Route("/v1/projects/{project_id}/files", project_files, methods=["GET"]),
        Route("/v1/files/{file_key}", get_file, methods=["GET"]),
        Route("/v1/images/{file_key}", images, methods=["GET"]),
        Route("/_render/{file_key}/{name}", render, methods=["GET"]),
    ]
    return provider_app(store, "figma", routes, error, {"/oauth", "/_render/{file_key}/{name}"})
