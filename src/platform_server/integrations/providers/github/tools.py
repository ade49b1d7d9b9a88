"""GitHub tools: repositories, issues and pull requests through the REST API (api.github.com)."""

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from platform_server.integrations.providers.base import InvalidProject
from platform_server.integrations.providers.client import (
    ProviderBadRequest,
    ProviderClient,
    ProviderResponse,
    quote_value,
)
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

# What GitHub allows: a login or organization name is alphanumeric with hyphens, at most 39 characters; a
# repository name is letters, digits, `.`, `_` and `-`, at most 100 characters, and never `.` or `..`.
_OWNER = r"[A-Za-z0-9][A-Za-z0-9-]{0,38}"
_NAME = r"(?!\.\.?$)[A-Za-z0-9._-]{1,100}"
OWNER_PATTERN = f"^{_OWNER}$"
REPO_PATTERN = f"^{_OWNER}/{_NAME}$"
_REPO = re.compile(REPO_PATTERN)

REPO_ARG = string("Repository as owner/name, e.g. acme/product.", pattern=REPO_PATTERN, maxLength=140)
PAGE_ARGS = {
    "perPage": integer("Results per page.", 1, 100, 30),
    "page": integer("Page number, starting at 1.", 1, 1000, 1),
}
_NEXT_PAGE = nullable(integer("The page to ask for next; null when this was the last page.", 2, 100_000))
_USER = nullable(string("GitHub login"))


def parse_repository(project: str) -> str:
    """A workspace's defaultProject as owner/repo (a trailing .git, as in a clone URL, is dropped)."""
    repository = project.strip().removesuffix(".git")
    if not _REPO.match(repository):
        raise InvalidProject(
            f"defaultProject must be a GitHub repository as owner/repo (e.g. acme/product); got {quote_value(project)}"
        )
    return repository


def repo_path(client: ProviderClient, repository: str, *segments: str) -> str:
    """A path under one repository (`owner/name`): `/repos/<owner>/<name>/…`."""
    owner, _, name = repository.partition("/")
    return client.path("repos", owner, name, *segments)


def _repo(arguments: dict[str, Any]) -> str:
    repo = str(arguments.get("repo") or "")
    if not _REPO.match(repo):
        raise ProviderBadRequest("github", "`repo` must be owner/name, e.g. acme/product")
    return repo


def _next_page(response: ProviderResponse) -> int | None:
    link = response.next_link()
    if not link:
        return None
    values = parse_qs(urlsplit(link).query).get("page")
    return int(values[0]) if values and values[0].isdigit() else None


def _login(user: dict[str, Any] | None) -> str | None:
    return user.get("login") if user else None


def _issue(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": item["number"],
        "title": item["title"],
        "state": item["state"],
        "labels": [label["name"] for label in item.get("labels") or []],
        "assignee": _login(item.get("assignee")),
        "author": _login(item.get("user")),
        "comments": item.get("comments", 0),
        "htmlUrl": item["html_url"],
        "createdAt": item["created_at"],
        "updatedAt": item["updated_at"],
        "body": clip(item.get("body")),
    }


_ISSUE_SCHEMA = obj(
    {
        "number": {"type": "integer"},
        "title": {"type": "string"},
        "state": {"type": "string"},
        "labels": array({"type": "string"}),
        "assignee": _USER,
        "author": _USER,
        "comments": {"type": "integer"},
        "htmlUrl": {"type": "string"},
        "createdAt": {"type": "string"},
        "updatedAt": {"type": "string"},
        "body": nullable(string("The issue body, cut to 500 characters")),
    },
    ("number", "title", "state", "htmlUrl"),
)


async def list_repos(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    org = arguments.get("org")
    params: dict[str, Any] = {
        "sort": arg(arguments, "sort", "updated"),
        "per_page": arg(arguments, "perPage", 30),
        "page": arg(arguments, "page", 1),
    }
    if org:
        response = await client.get(
            client.path("orgs", org, "repos"), params={**params, "type": arg(arguments, "visibility", "all")}
        )
    else:
        response = await client.get("/user/repos", params={**params, "visibility": arg(arguments, "visibility", "all")})
    repos = [
        {
            "fullName": repo["full_name"],
            "private": repo["private"],
            "description": repo.get("description"),
            "defaultBranch": repo.get("default_branch"),
            "openIssuesCount": repo.get("open_issues_count", 0),
            "htmlUrl": repo["html_url"],
            "updatedAt": repo.get("updated_at"),
        }
        for repo in response.data or []
    ]
    return {"repos": repos, "nextPage": _next_page(response)}


async def list_issues(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    repo = _repo(arguments)
    labels = arguments.get("labels")
    params = {
        "state": arg(arguments, "state", "open"),
        "sort": arg(arguments, "sort", "created"),
        "direction": arg(arguments, "direction", "desc"),
        "since": arguments.get("since"),
        "labels": ",".join(labels) if labels else None,
        "assignee": arguments.get("assignee"),
        "per_page": arg(arguments, "perPage", 30),
        "page": arg(arguments, "page", 1),
    }
    response = await client.get(repo_path(client, repo, "issues"), params=params)
    # The issues endpoint also returns pull requests; they have their own tool.
    issues = [_issue(item) for item in response.data or [] if "pull_request" not in item]
    return {"repo": repo, "issues": issues, "nextPage": _next_page(response)}


def dropped_on_create(requested: Mapping[str, Any], issue: Mapping[str, Any]) -> dict[str, list[str]]:
    """The labels and assignees asked for that the created issue lacks.

    GitHub answers 201 and silently drops both when the user has no push access to the repository.
    """
    kept_labels = {str(label.get("name", "")).lower() for label in issue.get("labels") or []}
    kept_assignees = {str(user.get("login", "")).lower() for user in issue.get("assignees") or []}
    return {
        "labels": [str(name) for name in requested.get("labels") or [] if str(name).lower() not in kept_labels],
        "assignees": [
            str(name) for name in requested.get("assignees") or [] if str(name).lower() not in kept_assignees
        ],
    }


def dropped_warning(repo: str, dropped: Mapping[str, list[str]]) -> str | None:
    parts = [f"{kind} {', '.join(names)}" for kind, names in dropped.items() if names]
    if not parts:
        return None
    return (
        f"GitHub created the issue in {repo} without the {' and the '.join(parts)}: it drops them silently when "
        "the connected user has no push access to the repository"
    )


async def create_issue(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    repo = _repo(arguments)
    body: dict[str, Any] = {"title": arguments["title"]}
    for key in ("body", "labels", "assignees"):
        if arguments.get(key) is not None:
            body[key] = arguments[key]
    response = await client.post(repo_path(client, repo, "issues"), json=body)
    item = response.data
    dropped = dropped_on_create(body, item)
    return {
        "repo": repo,
        "number": item["number"],
        "title": item["title"],
        "state": item["state"],
        "htmlUrl": item["html_url"],
        "droppedLabels": dropped["labels"],
        "droppedAssignees": dropped["assignees"],
        "warning": dropped_warning(repo, dropped),
    }


async def list_pull_requests(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    repo = _repo(arguments)
    params = {
        "state": arg(arguments, "state", "open"),
        "base": arguments.get("base"),
        "sort": arg(arguments, "sort", "created"),
        "direction": arg(arguments, "direction", "desc"),
        "per_page": arg(arguments, "perPage", 30),
        "page": arg(arguments, "page", 1),
    }
    response = await client.get(repo_path(client, repo, "pulls"), params=params)
    pulls = [
        {
            "number": item["number"],
            "title": item["title"],
            "state": item["state"],
            "draft": item.get("draft", False),
            "author": _login(item.get("user")),
            "head": item["head"]["ref"],
            "base": item["base"]["ref"],
            "htmlUrl": item["html_url"],
            "createdAt": item["created_at"],
            "updatedAt": item["updated_at"],
            "mergedAt": item.get("merged_at"),
        }
        for item in response.data or []
    ]
    return {"repo": repo, "pullRequests": pulls, "nextPage": _next_page(response)}


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        provider="github",
        name="github_list_repos",
        title="List GitHub repositories",
        description=(
            "List the GitHub repositories the connected account can access (or those of one organization with "
            "`org`), most recently updated first. Use the `fullName` values as `repo` in the other GitHub tools."
        ),
        input_schema=obj(
            {
                "org": string("Only this organization's repositories, e.g. acme.", pattern=OWNER_PATTERN),
                "visibility": enum("Which repositories.", ("all", "public", "private"), "all"),
                "sort": enum("Sort order.", ("created", "updated", "pushed", "full_name"), "updated"),
                **PAGE_ARGS,
            }
        ),
        output_schema=obj(
            {
                "repos": array(
                    obj(
                        {
                            "fullName": {"type": "string"},
                            "private": {"type": "boolean"},
                            "description": nullable({"type": "string"}),
                            "defaultBranch": nullable({"type": "string"}),
                            "openIssuesCount": {"type": "integer"},
                            "htmlUrl": {"type": "string"},
                            "updatedAt": nullable({"type": "string"}),
                        },
                        ("fullName", "private", "htmlUrl"),
                    )
                ),
                "nextPage": _NEXT_PAGE,
            },
            ("repos", "nextPage"),
        ),
        run=list_repos,
        scopes=("repo",),
    ),
    ToolSpec(
        provider="github",
        name="github_list_issues",
        title="List GitHub issues",
        description=(
            "List issues of a GitHub repository (pull requests excluded), newest first by default. Filter by "
            "state, labels, assignee or `since` (issues updated at or after an ISO 8601 time). Page with "
            "`page` while `nextPage` is not null."
        ),
        input_schema=obj(
            {
                "repo": REPO_ARG,
                "state": enum("Issue state.", ("open", "closed", "all"), "open"),
                "labels": array(string("Label name"), "Only issues with all of these labels.", maxItems=20),
                "assignee": string("A login, `none` for unassigned or `*` for any.", maxLength=100),
                "since": string("Only issues updated at or after this time (ISO 8601).", format="date-time"),
                "sort": enum("Sort field.", ("created", "updated", "comments"), "created"),
                "direction": enum("Sort direction.", ("asc", "desc"), "desc"),
                **PAGE_ARGS,
            },
            ("repo",),
        ),
        output_schema=obj(
            {"repo": {"type": "string"}, "issues": array(_ISSUE_SCHEMA), "nextPage": _NEXT_PAGE},
            ("repo", "issues", "nextPage"),
        ),
        run=list_issues,
        default_project_argument="repo",
        scopes=("repo",),
    ),
    ToolSpec(
        provider="github",
        name="github_create_issue",
        title="Create a GitHub issue",
        description=(
            "Open a new issue in a GitHub repository. Returns its number and URL. Labels that do not exist "
            "yet are created by GitHub; assignees must be collaborators of the repository. Only a user with push "
            "access can set labels and assignees (GitHub drops them silently otherwise): `droppedLabels`, "
            "`droppedAssignees` and `warning` report what was left out."
        ),
        input_schema=obj(
            {
                "repo": REPO_ARG,
                "title": string("Issue title.", minLength=1, maxLength=256),
                "body": string("Issue description in Markdown.", maxLength=65_536),
                "labels": array(string("Label name", minLength=1, maxLength=50), "Labels to apply.", maxItems=20),
                "assignees": array(string("GitHub login", minLength=1, maxLength=39), "Logins to assign.", maxItems=10),
            },
            ("repo", "title"),
        ),
        output_schema=obj(
            {
                "repo": {"type": "string"},
                "number": {"type": "integer"},
                "title": {"type": "string"},
                "state": {"type": "string"},
                "htmlUrl": {"type": "string"},
                "droppedLabels": array({"type": "string"}),
                "droppedAssignees": array({"type": "string"}),
                "warning": nullable({"type": "string"}),
            },
            ("repo", "number", "title", "state", "htmlUrl", "droppedLabels", "droppedAssignees", "warning"),
        ),
        run=create_issue,
        read_only=False,
        destructive=False,
        idempotent=False,
        default_project_argument="repo",
        scopes=("repo",),
    ),
    ToolSpec(
        provider="github",
        name="github_list_pull_requests",
        title="List GitHub pull requests",
        description=(
            "List pull requests of a GitHub repository, filtered by state and base branch. Page with `page` "
            "while `nextPage` is not null."
        ),
        input_schema=obj(
            {
                "repo": REPO_ARG,
                "state": enum("Pull request state.", ("open", "closed", "all"), "open"),
                "base": string("Only pull requests into this branch, e.g. main.", maxLength=255),
                "sort": enum("Sort field.", ("created", "updated", "popularity", "long-running"), "created"),
                "direction": enum("Sort direction.", ("asc", "desc"), "desc"),
                **PAGE_ARGS,
            },
            ("repo",),
        ),
        output_schema=obj(
            {
                "repo": {"type": "string"},
                "pullRequests": array(
                    obj(
                        {
                            "number": {"type": "integer"},
                            "title": {"type": "string"},
                            "state": {"type": "string"},
                            "draft": {"type": "boolean"},
                            "author": _USER,
                            "head": {"type": "string"},
                            "base": {"type": "string"},
                            "htmlUrl": {"type": "string"},
                            "createdAt": {"type": "string"},
                            "updatedAt": {"type": "string"},
                            "mergedAt": nullable({"type": "string"}),
                        },
                        ("number", "title", "state", "htmlUrl"),
                    )
                ),
                "nextPage": _NEXT_PAGE,
            },
            ("repo", "pullRequests", "nextPage"),
        ),
        run=list_pull_requests,
        default_project_argument="repo",
        scopes=("repo",),
    ),
)
