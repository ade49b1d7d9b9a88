"""Linear tools: issues, projects and cycles through the GraphQL API (api.linear.app/graphql)."""

import re
from typing import Any

from platform_server.integrations.providers.base import InvalidProject
from platform_server.integrations.providers.client import ProviderClient, ProviderNotFound, quote_value
from platform_server.integrations.providers.toolspec import (
    ToolSpec,
    arg,
    array,
    clip,
    enum,
    integer,
    nullable,
    obj,
    string,
)

TEAM_KEY_PATTERN = r"^[A-Z0-9]{1,7}$"
_VALID_TEAM_KEY = re.compile(TEAM_KEY_PATTERN)
STATE_TYPES = ("triage", "backlog", "unstarted", "started", "completed", "canceled")

_ISSUES = """
query Issues($first: Int, $after: String, $filter: IssueFilter) {
  issues(first: $first, after: $after, filter: $filter, orderBy: updatedAt) {
    nodes {
      id identifier title description priority priorityLabel url createdAt updatedAt
      state { name type } assignee { name email } team { key } labels { nodes { name } }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""
_TEAM = """
query Team($key: String!) {
  teams(first: 1, filter: { key: { eq: $key } }) { nodes { id key name states { nodes { id name type } } } }
}"""
_CREATE = """
mutation Create($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier title url state { name } } }
}"""
_PROJECTS = """
query Projects($first: Int, $after: String, $filter: ProjectFilter) {
  projects(first: $first, after: $after, filter: $filter) {
    nodes { id name description status { name type } progress startDate targetDate url teams { nodes { key } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
_CYCLES = """
query Cycles($first: Int, $after: String, $filter: CycleFilter) {
  cycles(first: $first, after: $after, filter: $filter) {
    nodes { id number name startsAt endsAt progress isActive team { key } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def parse_team_key(project: str) -> str:
    """A workspace's defaultProject as a Linear team key (letters uppercased)."""
    key = project.strip().upper()
    if not _VALID_TEAM_KEY.match(key):
        raise InvalidProject(f"defaultProject must be a Linear team key such as ENG; got {quote_value(project)}")
    return key


def _page(connection: dict[str, Any]) -> str | None:
    info = connection.get("pageInfo") or {}
    return info.get("endCursor") if info.get("hasNextPage") else None


async def _team(client: ProviderClient, key: str) -> dict[str, Any]:
    data = await client.graphql(_TEAM, {"key": key})
    nodes = ((data or {}).get("teams") or {}).get("nodes") or []
    if not nodes:
        raise ProviderNotFound("linear", f"Linear has no team with key {quote_value(key)}; keys look like ENG")
    team: dict[str, Any] = nodes[0]
    return team


async def list_issues(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    filter_: dict[str, Any] = {"team": {"key": {"eq": arguments["teamKey"]}}}
    if arguments.get("stateType"):
        filter_["state"] = {"type": {"eq": arguments["stateType"]}}
    if arguments.get("stateName"):
        filter_.setdefault("state", {})["name"] = {"eqIgnoreCase": arguments["stateName"]}
    if arguments.get("assigneeEmail"):
        filter_["assignee"] = {"email": {"eq": arguments["assigneeEmail"]}}
    if arguments.get("updatedSince"):
        filter_["updatedAt"] = {"gte": arguments["updatedSince"]}
    data = await client.graphql(
        _ISSUES, {"first": arg(arguments, "first", 50), "after": arguments.get("after"), "filter": filter_}
    )
    connection = (data or {}).get("issues") or {}
    issues = [
        {
            "id": node["id"],
            "identifier": node["identifier"],
            "title": node["title"],
            "state": (node.get("state") or {}).get("name"),
            "stateType": (node.get("state") or {}).get("type"),
            "priority": node.get("priorityLabel"),
            "assignee": (node.get("assignee") or {}).get("email"),
            "labels": [label["name"] for label in ((node.get("labels") or {}).get("nodes") or [])],
            "url": node["url"],
            "createdAt": node["createdAt"],
            "updatedAt": node["updatedAt"],
            "description": clip(node.get("description")),
        }
        for node in connection.get("nodes") or []
    ]
    return {"teamKey": arguments["teamKey"], "issues": issues, "nextCursor": _page(connection)}


async def create_issue(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    team = await _team(client, str(arguments["teamKey"]))
    data: dict[str, Any] = {"teamId": team["id"], "title": arguments["title"]}
    if arguments.get("description"):
        data["description"] = arguments["description"]
    if arguments.get("priority") is not None:
        data["priority"] = arguments["priority"]
    if arguments.get("stateName"):
        states = (team.get("states") or {}).get("nodes") or []
        wanted = str(arguments["stateName"]).lower()
        state = next((s for s in states if s["name"].lower() == wanted), None)
        if state is None:
            names = ", ".join(s["name"] for s in states)
            raise ProviderNotFound(
                "linear", f"Team {team['key']} has no state {quote_value(arguments['stateName'])}; use one of: {names}"
            )
        data["stateId"] = state["id"]
    result = await client.graphql(_CREATE, {"input": data}, mutation=True)
    payload = (result or {}).get("issueCreate") or {}
    issue = payload.get("issue") or {}
    return {
        "success": bool(payload.get("success")),
        "id": issue.get("id"),
        "identifier": issue.get("identifier"),
        "title": issue.get("title"),
        "state": (issue.get("state") or {}).get("name"),
        "url": issue.get("url"),
    }


async def list_projects(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    filter_: dict[str, Any] = {}
    if arguments.get("teamKey"):
        filter_["accessibleTeams"] = {"some": {"key": {"eq": arguments["teamKey"]}}}
    if arguments.get("statusType"):
        # `Project.state` is deprecated in Linear's schema; a project's status has a name and one of six types.
        filter_["status"] = {"type": {"eq": arguments["statusType"]}}
    data = await client.graphql(
        _PROJECTS,
        {"first": arg(arguments, "first", 50), "after": arguments.get("after"), "filter": filter_ or None},
    )
    connection = (data or {}).get("projects") or {}
    projects = [
        {
            "id": node["id"],
            "name": node["name"],
            "status": (node.get("status") or {}).get("name"),
            "statusType": (node.get("status") or {}).get("type"),
            "progress": node["progress"],
            "startDate": node.get("startDate"),
            "targetDate": node.get("targetDate"),
            "teams": [team["key"] for team in ((node.get("teams") or {}).get("nodes") or [])],
            "url": node["url"],
        }
        for node in connection.get("nodes") or []
    ]
    return {"projects": projects, "nextCursor": _page(connection)}


async def list_cycles(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    filter_: dict[str, Any] = {"team": {"key": {"eq": arguments["teamKey"]}}}
    if arguments.get("activeOnly"):
        filter_["isActive"] = {"eq": True}
    data = await client.graphql(
        _CYCLES, {"first": arg(arguments, "first", 50), "after": arguments.get("after"), "filter": filter_}
    )
    connection = (data or {}).get("cycles") or {}
    cycles = [
        {
            "id": node["id"],
            "number": int(node["number"]),
            "name": node.get("name"),
            "startsAt": node["startsAt"],
            "endsAt": node["endsAt"],
            "progress": node["progress"],
            "isActive": node["isActive"],
        }
        for node in connection.get("nodes") or []
    ]
    return {"teamKey": arguments["teamKey"], "cycles": cycles, "nextCursor": _page(connection)}


_TEAM_KEY = string("Linear team key, e.g. ENG.", pattern=TEAM_KEY_PATTERN)
_FIRST = integer("Results per page.", 1, 100, 50)
_AFTER = string("The `nextCursor` of the previous page.", maxLength=200)
_NEXT = nullable(string("Pass as `after` for the next page; null on the last page"))
_NULL_STR = nullable({"type": "string"})

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        provider="linear",
        name="linear_list_issues",
        title="List Linear issues",
        description=(
            "List issues of a Linear team, most recently updated first. Filter by workflow `stateType` "
            "(backlog, unstarted, started, completed, canceled), `stateName`, `assigneeEmail` or "
            "`updatedSince` (ISO 8601). Page with `after` = `nextCursor`."
        ),
        input_schema=obj(
            {
                "teamKey": _TEAM_KEY,
                "stateType": enum("Only issues whose state is of this type.", STATE_TYPES),
                "stateName": string("Only issues in the state with this name, e.g. In Progress.", maxLength=100),
                "assigneeEmail": string("Only issues assigned to this user.", format="email", maxLength=254),
                "updatedSince": string("Only issues updated at or after this time.", format="date-time"),
                "first": _FIRST,
                "after": _AFTER,
            },
            ("teamKey",),
        ),
        output_schema=obj(
            {
                "teamKey": {"type": "string"},
                "issues": array(
                    obj(
                        {
                            "id": {"type": "string"},
                            "identifier": {"type": "string"},
                            "title": {"type": "string"},
                            "state": _NULL_STR,
                            "stateType": _NULL_STR,
                            "priority": _NULL_STR,
                            "assignee": _NULL_STR,
                            "labels": array({"type": "string"}),
                            "url": {"type": "string"},
                            "createdAt": {"type": "string"},
                            "updatedAt": {"type": "string"},
                            "description": _NULL_STR,
                        },
                        ("id", "identifier", "title", "url"),
                    )
                ),
                "nextCursor": _NEXT,
            },
            ("teamKey", "issues", "nextCursor"),
        ),
        run=list_issues,
        default_project_argument="teamKey",
        scopes=("read",),
    ),
    ToolSpec(
        provider="linear",
        name="linear_create_issue",
        title="Create a Linear issue",
        description=(
            "Create an issue in a Linear team. `priority` is 0 (none), 1 (urgent), 2 (high), 3 (medium) or "
            "4 (low); `stateName` picks a workflow state of the team (default: the team's first unstarted "
            "state). Returns the issue's identifier (e.g. ENG-42) and URL."
        ),
        input_schema=obj(
            {
                "teamKey": _TEAM_KEY,
                "title": string("Issue title.", minLength=1, maxLength=255),
                "description": string("Description in Markdown.", maxLength=100_000),
                "priority": integer("0 none, 1 urgent, 2 high, 3 medium, 4 low.", 0, 4),
                "stateName": string("Workflow state name, e.g. Todo or In Progress.", maxLength=100),
            },
            ("teamKey", "title"),
        ),
        output_schema=obj(
            {
                "success": {"type": "boolean"},
                "id": _NULL_STR,
                "identifier": _NULL_STR,
                "title": _NULL_STR,
                "state": _NULL_STR,
                "url": _NULL_STR,
            },
            ("success", "identifier", "url"),
        ),
        run=create_issue,
        read_only=False,
        destructive=False,
        idempotent=False,
        default_project_argument="teamKey",
        scopes=("write",),
    ),
    ToolSpec(
        provider="linear",
        name="linear_list_projects",
        title="List Linear projects",
        description=(
            "List Linear projects with their status (the workspace's name for it and its type), optionally only "
            "those a team takes part in (`teamKey`) or whose status has one `statusType` (backlog, planned, "
            "started, paused, completed, canceled). Page with `after` = `nextCursor`."
        ),
        input_schema=obj(
            {
                "teamKey": _TEAM_KEY,
                "statusType": enum(
                    "Type of the project's status.",
                    ("backlog", "planned", "started", "paused", "completed", "canceled"),
                ),
                "first": _FIRST,
                "after": _AFTER,
            }
        ),
        output_schema=obj(
            {
                "projects": array(
                    obj(
                        {
                            "id": {"type": "string"},
                            "name": {"type": "string"},
                            "status": _NULL_STR,
                            "statusType": _NULL_STR,
                            "progress": {"type": "number"},
                            "startDate": _NULL_STR,
                            "targetDate": _NULL_STR,
                            "teams": array({"type": "string"}),
                            "url": {"type": "string"},
                        },
                        ("id", "name", "status", "statusType", "url"),
                    )
                ),
                "nextCursor": _NEXT,
            },
            ("projects", "nextCursor"),
        ),
        run=list_projects,
        default_project_argument="teamKey",
        scopes=("read",),
    ),
    ToolSpec(
        provider="linear",
        name="linear_list_cycles",
        title="List Linear cycles",
        description=(
            "List the cycles (sprints) of a Linear team with their dates and progress; `activeOnly` returns "
            "just the current one. Page with `after` = `nextCursor`."
        ),
        input_schema=obj(
            {
                "teamKey": _TEAM_KEY,
                "activeOnly": {"type": "boolean", "description": "Only the active cycle.", "default": False},
                "first": _FIRST,
                "after": _AFTER,
            },
            ("teamKey",),
        ),
        output_schema=obj(
            {
                "teamKey": {"type": "string"},
                "cycles": array(
                    obj(
                        {
                            "id": {"type": "string"},
                            "number": {"type": "integer"},
                            "name": _NULL_STR,
                            "startsAt": {"type": "string"},
                            "endsAt": {"type": "string"},
                            "progress": {"type": "number"},
                            "isActive": {"type": "boolean"},
                        },
                        ("id", "number", "startsAt", "endsAt"),
                    )
                ),
                "nextCursor": _NEXT,
            },
            ("teamKey", "cycles", "nextCursor"),
        ),
        run=list_cycles,
        default_project_argument="teamKey",
        scopes=("read",),
    ),
)
