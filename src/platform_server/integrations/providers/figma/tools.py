"""Figma tools: files of a team or project, a file's structure, and image exports (api.figma.com/v1)."""

import asyncio
import re
from typing import Any

from platform_server.integrations.providers.base import InvalidProject
from platform_server.integrations.providers.client import (
    ProviderBadRequest,
    ProviderClient,
    ProviderForbidden,
    quote_value,
)
from platform_server.integrations.providers.toolspec import (
    ToolSpec,
    array,
    enum,
    integer,
    nullable,
    obj,
    string,
)

FILE_KEY = string("A Figma file key (the part after /file/ or /design/ in its URL).", pattern=r"^[A-Za-z0-9]{10,64}$")
NODE_ID = string("A node id, e.g. 1:2.", pattern=r"^[0-9]+[:-][0-9]+$")
NUMERIC_ID_PATTERN = r"^[0-9]{1,30}$"
_NUMERIC_ID = re.compile(NUMERIC_ID_PATTERN)


def parse_team_id(project: str) -> str:
    """A workspace's defaultProject as a Figma team id (the number in figma.com/files/team/<teamId>)."""
    team_id = project.strip()
    if not _NUMERIC_ID.match(team_id):
        raise InvalidProject(f"defaultProject for Figma must be a team id (digits only); got {quote_value(project)}")
    return team_id


async def list_files(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    if arguments.get("projectId"):
        projects: list[dict[str, Any]] = [{"id": str(arguments["projectId"]), "name": None}]
    elif arguments.get("teamId"):
        # Figma's API cannot list a user's teams, so the team id comes from the user (its URL).
        try:
            data = (await client.get(client.path("v1", "teams", arguments["teamId"], "projects"))).data or {}
        except ProviderForbidden as exc:
            raise ProviderForbidden(
                "figma",
                "Figma refused to list the team's projects: that needs the projects:read scope, which Figma grants "
                "only to private (organisation) OAuth apps. Pass `projectId` (from a project URL, "
                "figma.com/files/project/<projectId>) instead, or connect Figma through a private app that "
                "requests projects:read",
                status_code=exc.status_code,
            ) from exc
        projects = [{"id": str(p["id"]), "name": p.get("name")} for p in data.get("projects") or []]
    else:
        raise ProviderBadRequest(
            "figma", "Give `teamId` (from a team URL: figma.com/files/team/<teamId>) or `projectId`"
        )
    responses = await asyncio.gather(*(client.get(client.path("v1", "projects", p["id"], "files")) for p in projects))
    files = []
    for project, response in zip(projects, responses, strict=True):
        data = response.data or {}
        for file in data.get("files") or []:
            files.append(
                {
                    "key": file["key"],
                    "name": file["name"],
                    "projectId": project["id"],
                    "projectName": project["name"] or data.get("name"),
                    "lastModified": file.get("last_modified"),
                    "thumbnailUrl": file.get("thumbnail_url"),
                }
            )
    return {"files": files}


async def get_file(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    key = str(arguments["fileKey"])
    params: dict[str, Any] = {"depth": arguments.get("depth", 2)}
    if arguments.get("nodeIds"):
        params["ids"] = ",".join(arguments["nodeIds"])
    data = (await client.get(client.path("v1", "files", key), params=params)).data or {}
    pages = [
        {
            "id": page["id"],
            "name": page.get("name"),
            "frames": [
                {"id": child["id"], "name": child.get("name"), "type": child.get("type")}
                for child in page.get("children") or []
            ],
        }
        for page in (data.get("document") or {}).get("children") or []
    ]
    return {
        "key": key,
        "name": data.get("name"),
        "lastModified": data.get("lastModified"),
        "version": data.get("version"),
        "pages": pages,
    }


async def export_images(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    key = str(arguments["fileKey"])
    image_format = arguments.get("format", "png")
    data = (
        await client.get(
            client.path("v1", "images", key),
            params={
                "ids": ",".join(arguments["nodeIds"]),
                "format": image_format,
                "scale": arguments.get("scale", 1),
            },
        )
    ).data or {}
    images = data.get("images") or {}
    return {
        "fileKey": key,
        "format": image_format,
        "images": [{"nodeId": node, "url": images.get(node)} for node in arguments["nodeIds"]],
        "failed": [node for node in arguments["nodeIds"] if not images.get(node)],
    }


_NULL_STR = nullable({"type": "string"})

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        provider="figma",
        name="figma_list_files",
        title="List Figma files",
        description=(
            "List the Figma files of a team (all its projects) or of one project. Figma cannot list a user's "
            "teams: take `teamId` from a team URL (figma.com/files/team/<teamId>/…). Use a file's `key` in "
            "figma_get_file and figma_export_images."
        ),
        input_schema=obj(
            {
                "teamId": string("Figma team id.", pattern=NUMERIC_ID_PATTERN),
                "projectId": string("Figma project id.", pattern=NUMERIC_ID_PATTERN),
            },
            anyOf=[{"required": ["teamId"]}, {"required": ["projectId"]}],
        ),
        output_schema=obj(
            {
                "files": array(
                    obj(
                        {
                            "key": {"type": "string"},
                            "name": {"type": "string"},
                            "projectId": {"type": "string"},
                            "projectName": _NULL_STR,
                            "lastModified": _NULL_STR,
                            "thumbnailUrl": _NULL_STR,
                        },
                        ("key", "name", "projectId"),
                    )
                )
            },
            ("files",),
        ),
        run=list_files,
        default_project_argument="teamId",
        scopes=("projects:read",),
    ),
    ToolSpec(
        provider="figma",
        name="figma_get_file",
        title="Read a Figma file's structure",
        description=(
            "Read a Figma file's pages and their top-level frames (ids, names, types). Limit the answer to some "
            "nodes with `nodeIds`. Counts against Figma's tight per-seat limit for file reads: call it once "
            "per file and reuse the result."
        ),
        input_schema=obj(
            {
                "fileKey": FILE_KEY,
                "depth": integer("How deep into the tree: 1 pages, 2 pages and frames.", 1, 4, 2),
                "nodeIds": array(NODE_ID, "Only these nodes.", maxItems=50, uniqueItems=True),
            },
            ("fileKey",),
        ),
        output_schema=obj(
            {
                "key": {"type": "string"},
                "name": _NULL_STR,
                "lastModified": _NULL_STR,
                "version": _NULL_STR,
                "pages": array(
                    obj(
                        {
                            "id": {"type": "string"},
                            "name": _NULL_STR,
                            "frames": array(
                                obj({"id": {"type": "string"}, "name": _NULL_STR, "type": _NULL_STR}, ("id",))
                            ),
                        },
                        ("id", "frames"),
                    )
                ),
            },
            ("key", "name", "pages"),
        ),
        run=get_file,
        scopes=("file_content:read",),
    ),
    ToolSpec(
        provider="figma",
        name="figma_export_images",
        title="Export Figma nodes as images",
        description=(
            "Render nodes of a Figma file (frames, components…) as PNG, JPG, SVG or PDF and return temporary "
            "download URLs. Node ids come from figma_get_file. `failed` lists nodes Figma could not render."
        ),
        input_schema=obj(
            {
                "fileKey": FILE_KEY,
                "nodeIds": array(NODE_ID, "Nodes to render.", minItems=1, maxItems=50, uniqueItems=True),
                "format": enum("Image format.", ("png", "jpg", "svg", "pdf"), "png"),
                "scale": {
                    "type": "number",
                    "description": "Scale factor.",
                    "minimum": 0.01,
                    "maximum": 4,
                    "default": 1,
                },
            },
            ("fileKey", "nodeIds"),
        ),
        output_schema=obj(
            {
                "fileKey": {"type": "string"},
                "format": {"type": "string"},
                "images": array(obj({"nodeId": {"type": "string"}, "url": _NULL_STR}, ("nodeId", "url"))),
                "failed": array({"type": "string"}),
            },
            ("fileKey", "format", "images", "failed"),
        ),
        run=export_images,
        scopes=("file_content:read",),
    ),
)
