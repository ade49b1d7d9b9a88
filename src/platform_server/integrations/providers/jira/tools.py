"""Jira Cloud tools: projects, JQL search, issue creation and workflow transitions (REST API v3)."""

import re
from typing import Any

from platform_server.integrations.providers.base import InvalidProject
from platform_server.integrations.providers.client import ProviderBadRequest, ProviderClient, quote_value
from platform_server.integrations.providers.toolspec import (
    ToolSpec,
    arg,
    array,
    clip,
    integer,
    nullable,
    obj,
    string,
)
from platform_server.integrations.sync.render import adf_to_text

# Jira Cloud project keys: an uppercase letter, then uppercase letters, digits or `_`; 2 to 10 characters.
_KEY = r"[A-Z][A-Z0-9_]{1,9}"
PROJECT_KEY_PATTERN = f"^{_KEY}$"
ISSUE_KEY_PATTERN = f"^{_KEY}-[0-9]{{1,18}}$"
_VALID_PROJECT_KEY = re.compile(PROJECT_KEY_PATTERN)
SEARCH_FIELDS = [
    "summary",
    "status",
    "assignee",
    "updated",
    "created",
    "issuetype",
    "priority",
    "labels",
    "description",
]


def parse_project_key(project: str) -> str:
    """A workspace's defaultProject as a Jira project key (letters uppercased)."""
    key = project.strip().upper()
    if not _VALID_PROJECT_KEY.match(key):
        raise InvalidProject(f"defaultProject must be a Jira project key such as PROJ; got {quote_value(project)}")
    return key


def rest_api(client: ProviderClient, cloud_id: str, *segments: str) -> str:
    """A REST v3 path of one Jira Cloud site, reached through the API gateway (`/ex/jira/<cloudId>`)."""
    return client.path("ex", "jira", cloud_id, "rest", "api", "3", *segments)


def api(client: ProviderClient, *segments: str) -> str:
    cloud_id = client.context.get("cloudId")
    if not cloud_id:
        raise ProviderBadRequest(
            "jira",
            "This Jira connection has no site (cloudId); reconnect Jira and pick a site on the consent screen",
        )
    return rest_api(client, str(cloud_id), *segments)


def _browse_url(client: ProviderClient, key: str) -> str | None:
    site = client.context.get("siteUrl")
    return f"{str(site).rstrip('/')}/browse/{key}" if site else None


def _jql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": paragraph}]}
            for paragraph in text.split("\n\n")
            if paragraph.strip()
        ],
    }


def _name(value: dict[str, Any] | None, key: str = "name") -> str | None:
    return value.get(key) if value else None


async def list_projects(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    start = arg(arguments, "startAt", 0)
    response = await client.get(
        api(client, "project", "search"),
        params={
            "startAt": start,
            "maxResults": arg(arguments, "maxResults", 50),
            "query": arguments.get("query"),
        },
    )
    data = response.data or {}
    values = data.get("values") or []
    return {
        "projects": [
            {"id": p["id"], "key": p["key"], "name": p["name"], "projectTypeKey": p.get("projectTypeKey")}
            for p in values
        ],
        "total": data.get("total", len(values)),
        "nextStartAt": None if data.get("isLast", True) else start + len(values),
    }


async def list_issues(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    project = str(arguments["projectKey"])
    clauses = [f"project = {_jql_string(project)}"]
    if arguments.get("status"):
        clauses.append(f"status = {_jql_string(str(arguments['status']))}")
    if arguments.get("jql"):
        clauses.append(f"({arguments['jql']})")
    jql = " AND ".join(clauses) + " ORDER BY updated DESC"
    body: dict[str, Any] = {
        "jql": jql,
        "maxResults": arg(arguments, "maxResults", 50),
        "fields": SEARCH_FIELDS,
    }
    if arguments.get("nextPageToken"):
        body["nextPageToken"] = arguments["nextPageToken"]
    response = await client.post(api(client, "search", "jql"), json=body, idempotent=True)
    data = response.data or {}
    issues = []
    for issue in data.get("issues") or []:
        fields = issue.get("fields") or {}
        status = fields.get("status") or {}
        issues.append(
            {
                "id": issue["id"],
                "key": issue["key"],
                "summary": fields.get("summary"),
                "status": status.get("name"),
                "statusCategory": (status.get("statusCategory") or {}).get("key"),
                "issueType": _name(fields.get("issuetype")),
                "priority": _name(fields.get("priority")),
                "assignee": _name(fields.get("assignee"), "displayName"),
                "labels": fields.get("labels") or [],
                "created": fields.get("created"),
                "updated": fields.get("updated"),
                "description": clip(adf_to_text(fields.get("description"))),
                "url": _browse_url(client, issue["key"]),
            }
        )
    return {
        "jql": jql,
        "issues": issues,
        # `isLast` is optional in enhanced search; the last page is the one without a token.
        "nextPageToken": data.get("nextPageToken"),
    }


async def create_issue(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "project": {"key": arguments["projectKey"]},
        "summary": arguments["summary"],
        "issuetype": {"name": arg(arguments, "issueType", "Task")},
    }
    if arguments.get("description"):
        fields["description"] = _adf(str(arguments["description"]))
    if arguments.get("labels"):
        fields["labels"] = arguments["labels"]
    if arguments.get("priority"):
        fields["priority"] = {"name": arguments["priority"]}
    response = await client.post(api(client, "issue"), json={"fields": fields})
    data = response.data or {}
    return {"id": data["id"], "key": data["key"], "url": _browse_url(client, data["key"])}


async def transition_issue(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    key = str(arguments["issueKey"])
    wanted = str(arguments["transition"]).strip().lower()
    response = await client.get(api(client, "issue", key, "transitions"))
    transitions = (response.data or {}).get("transitions") or []
    # Transition ids differ per workflow, so a name (or the target status) is what a model knows.
    chosen = next(
        (
            t
            for t in transitions
            if wanted
            in (
                str(t["id"]).lower(),
                str(t["name"]).lower(),
                str((t.get("to") or {}).get("name", "")).lower(),
            )
        ),
        None,
    )
    if chosen is None:
        available = ", ".join(f"{t['name']} (id {t['id']})" for t in transitions) or "none"
        raise ProviderBadRequest(
            "jira",
            f"{key} has no transition {quote_value(arguments['transition'])}; available transitions: {available}",
        )
    await client.post(api(client, "issue", key, "transitions"), json={"transition": {"id": chosen["id"]}})
    return {
        "issueKey": key,
        "transition": {"id": str(chosen["id"]), "name": chosen["name"]},
        "status": (chosen.get("to") or {}).get("name"),
        "url": _browse_url(client, key),
    }


_PROJECT_KEY = string("Jira project key, e.g. PROJ.", pattern=PROJECT_KEY_PATTERN)
_URL = nullable({"type": "string"})

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        provider="jira",
        name="jira_list_projects",
        title="List Jira projects",
        description=(
            "List the Jira projects of the connected site, optionally filtered by a text `query` on key or "
            "name. Use a project's `key` as `projectKey` in the other Jira tools. Page with `startAt`."
        ),
        input_schema=obj(
            {
                "query": string("Text to match in project key or name.", maxLength=100),
                "maxResults": integer("Projects per page.", 1, 50, 50),
                "startAt": integer("Index of the first project to return.", 0, 10_000, 0),
            }
        ),
        output_schema=obj(
            {
                "projects": array(
                    obj(
                        {
                            "id": {"type": "string"},
                            "key": {"type": "string"},
                            "name": {"type": "string"},
                            "projectTypeKey": nullable({"type": "string"}),
                        },
                        ("id", "key", "name"),
                    )
                ),
                "total": {"type": "integer"},
                "nextStartAt": nullable({"type": "integer"}),
            },
            ("projects", "total", "nextStartAt"),
        ),
        run=list_projects,
        scopes=("read:jira-work",),
    ),
    ToolSpec(
        provider="jira",
        name="jira_list_issues",
        title="List Jira issues",
        description=(
            "List issues of a Jira project, most recently updated first. Narrow with `status` (a status name "
            'such as "In Progress") or an extra JQL condition in `jql` (e.g. `assignee = currentUser()` or '
            "`updated >= -7d`). Pass `nextPageToken` from the previous result to get the next page."
        ),
        input_schema=obj(
            {
                "projectKey": _PROJECT_KEY,
                "status": string("Only issues in this status, e.g. To Do, In Progress, Done.", maxLength=100),
                "jql": string("An extra JQL condition ANDed to the project filter.", maxLength=1000),
                "maxResults": integer("Issues per page.", 1, 100, 50),
                "nextPageToken": string("The token from the previous page.", maxLength=2000),
            },
            ("projectKey",),
        ),
        output_schema=obj(
            {
                "jql": {"type": "string"},
                "issues": array(
                    obj(
                        {
                            "id": {"type": "string"},
                            "key": {"type": "string"},
                            "summary": nullable({"type": "string"}),
                            "status": nullable({"type": "string"}),
                            "statusCategory": nullable({"type": "string"}),
                            "issueType": nullable({"type": "string"}),
                            "priority": nullable({"type": "string"}),
                            "assignee": nullable({"type": "string"}),
                            "labels": array({"type": "string"}),
                            "created": nullable({"type": "string"}),
                            "updated": nullable({"type": "string"}),
                            "description": nullable({"type": "string"}),
                            "url": _URL,
                        },
                        ("id", "key"),
                    )
                ),
                "nextPageToken": nullable({"type": "string"}),
            },
            ("jql", "issues", "nextPageToken"),
        ),
        run=list_issues,
        default_project_argument="projectKey",
        scopes=("read:jira-work",),
    ),
    ToolSpec(
        provider="jira",
        name="jira_create_issue",
        title="Create a Jira issue",
        description=(
            "Create an issue in a Jira project. `issueType` is a type name of the project (Task, Bug, Story…); "
            "the plain-text `description` is converted to Atlassian Document Format."
        ),
        input_schema=obj(
            {
                "projectKey": _PROJECT_KEY,
                "summary": string("One-line summary.", minLength=1, maxLength=255),
                "issueType": string("Issue type name.", minLength=1, maxLength=60, default="Task"),
                "description": string("Plain-text description; blank lines separate paragraphs.", maxLength=32_000),
                "labels": array(string("Label (no spaces)", pattern=r"^\S+$", maxLength=255), "Labels.", maxItems=20),
                "priority": string("Priority name, e.g. High, Medium, Low.", maxLength=60),
            },
            ("projectKey", "summary"),
        ),
        output_schema=obj({"id": {"type": "string"}, "key": {"type": "string"}, "url": _URL}, ("id", "key", "url")),
        run=create_issue,
        read_only=False,
        destructive=False,
        idempotent=False,
        default_project_argument="projectKey",
        scopes=("write:jira-work",),
    ),
    ToolSpec(
        provider="jira",
        name="jira_transition_issue",
        title="Move a Jira issue through its workflow",
        description=(
            "Move a Jira issue to another status by running one of its workflow transitions. `transition` may "
            'be the transition\'s name, its id, or the target status name (e.g. "Done"); when nothing matches '
            "the error lists the available transitions."
        ),
        input_schema=obj(
            {
                "issueKey": string("Issue key, e.g. PROJ-12.", pattern=ISSUE_KEY_PATTERN),
                "transition": string("Transition name or id, or the target status.", minLength=1, maxLength=100),
            },
            ("issueKey", "transition"),
        ),
        output_schema=obj(
            {
                "issueKey": {"type": "string"},
                "transition": obj({"id": {"type": "string"}, "name": {"type": "string"}}, ("id", "name")),
                "status": nullable({"type": "string"}),
                "url": _URL,
            },
            ("issueKey", "transition", "status"),
        ),
        run=transition_issue,
        read_only=False,
        destructive=True,
        idempotent=False,
        scopes=("write:jira-work",),
    ),
)
