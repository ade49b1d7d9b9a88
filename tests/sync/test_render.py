"""Rich text renderers and item mappers: provider payloads (shapes from the providers' docs) → our rows."""

from datetime import UTC, datetime

import pytest

from platform_server.integrations.providers.base import InvalidProject
from platform_server.integrations.providers.github.importer import GitHubIssues, GitHubPullRequests
from platform_server.integrations.providers.github.tools import parse_repository
from platform_server.integrations.providers.jira.importer import JiraIssues, jql_time
from platform_server.integrations.providers.jira.tools import parse_project_key
from platform_server.integrations.providers.linear.importer import LinearIssues
from platform_server.integrations.providers.linear.tools import parse_team_key
from platform_server.integrations.providers.notion.importer import NotionPages
from platform_server.integrations.providers.notion.tools import parse_parent
from platform_server.integrations.sync.base import parse_time
from platform_server.integrations.sync.render import adf_to_text, notion_blocks_to_text

NOTION_ID = "598337872cf94fdf8782e53db20768a5"


def text(value: str, **extra: object) -> dict[str, object]:
    return {"type": "text", "text": value, **extra}


def test_adf_renders_blocks_lists_and_inline_nodes() -> None:
    document = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [text("Steps")]},
            {
                "type": "paragraph",
                "content": [
                    text("Open "),
                    text("checkout", marks=[{"type": "strong"}]),
                    {"type": "hardBreak"},
                    {"type": "mention", "attrs": {"id": "1", "text": "@Ann"}},
                    {"type": "inlineCard", "attrs": {"url": "https://example.com"}},
                ],
            },
            {
                "type": "orderedList",
                "content": [
                    {"type": "listItem", "content": [{"type": "paragraph", "content": [text("one")]}]},
                    {
                        "type": "listItem",
                        "content": [
                            {"type": "paragraph", "content": [text("two")]},
                            {
                                "type": "bulletList",
                                "content": [
                                    {"type": "listItem", "content": [{"type": "paragraph", "content": [text("deep")]}]}
                                ],
                            },
                        ],
                    },
                ],
            },
            {"type": "codeBlock", "attrs": {"language": "py"}, "content": [text("x = 1")]},
            {"type": "blockquote", "content": [{"type": "paragraph", "content": [text("quoted")]}]},
            {"type": "rule"},
            {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"id": "m"}}]},
            {"type": "unknownFutureNode", "content": [text("still shown")]},
        ],
    }
    assert adf_to_text(document) == (
        "## Steps\nOpen checkout\n@Annhttps://example.com\n1. one\n2. two\n   - deep\n```\nx = 1\n```\n> quoted\n---\n"
        "still shown"
    )


@pytest.mark.parametrize("value", [None, 42, [], {"type": "doc", "content": []}, "   "])
def test_adf_empty_or_odd_input_is_none(value: object) -> None:
    assert adf_to_text(value) is None


def test_adf_survives_hostile_nesting() -> None:
    node: dict[str, object] = text("bottom")
    for _ in range(5000):
        node = {"type": "blockquote", "content": [node]}
    # Past the depth limit the content is dropped instead of exhausting the recursion limit.
    assert adf_to_text({"type": "doc", "content": [node]}) is None


def test_notion_blocks_render_to_text() -> None:
    def rich(value: str) -> list[dict[str, object]]:
        return [{"type": "text", "plain_text": value, "text": {"content": value}}]

    blocks = [
        {"type": "heading_1", "heading_1": {"rich_text": rich("Goal")}},
        {"type": "paragraph", "paragraph": {"rich_text": rich("Ship it")}},
        {"type": "bulleted_list_item", "bulleted_list_item": {"rich_text": rich("fast")}},
        {"type": "numbered_list_item", "numbered_list_item": {"rich_text": rich("a")}},
        {"type": "numbered_list_item", "numbered_list_item": {"rich_text": rich("b")}},
        {"type": "to_do", "to_do": {"rich_text": rich("test"), "checked": True}},
        {"type": "code", "code": {"rich_text": rich("make"), "language": "bash"}},
        {"type": "divider", "divider": {}},
        {"type": "image", "image": {"caption": []}},
        {"type": "quote", "quote": {"rich_text": rich("wise")}},
    ]
    assert notion_blocks_to_text(blocks) == (
        "# Goal\nShip it\n- fast\n1. a\n2. b\n- [x] test\n```bash\nmake\n```\n---\n> wise"
    )
    assert notion_blocks_to_text([]) is None


def test_notion_nested_blocks_render_indented() -> None:
    def block(kind: str, text: str, *children: dict[str, object]) -> dict[str, object]:
        found: dict[str, object] = {"type": kind, kind: {"rich_text": [{"plain_text": text}]}}
        if children:
            found["children"] = list(children)
        return found

    blocks = [
        block("numbered_list_item", "one", block("numbered_list_item", "a"), block("numbered_list_item", "b")),
        block("numbered_list_item", "two"),
        block("toggle", "More", block("code", "x = 1\ny = 2")),
        # A table shows nothing itself: its rows stay at its level.
        {
            "type": "table",
            "table": {},
            "children": [{"type": "table_row", "table_row": {"cells": [[{"plain_text": "k"}], [{"plain_text": "v"}]]}}],
        },
    ]
    assert notion_blocks_to_text(blocks) == (
        "1. one\n  1. a\n  2. b\n2. two\nMore\n  ```\n  x = 1\n  y = 2\n  ```\n| k | v |"
    )
    deep: dict[str, object] = block("paragraph", "bottom")
    for _ in range(5000):
        deep = block("toggle", "t", deep)
    # Past the depth limit nesting is dropped instead of exhausting the recursion limit.
    assert "bottom" not in (notion_blocks_to_text([deep]) or "")


def test_github_issue_mapping() -> None:
    issue = {
        "id": 1899300021,
        "number": 12,
        "title": "Checkout fails on Safari",
        "body": "Steps…",
        "state": "closed",
        "html_url": "https://github.com/acme/product/issues/12",
        "labels": [{"name": "bug"}, "p1"],
        "assignee": {"login": "octocat"},
        "created_at": "2025-12-01T10:00:00Z",
        "updated_at": "2025-12-02T10:00:00Z",
    }
    row = GitHubIssues().map(issue, "acme/product")
    assert row == {
        "external_id": "1899300021",
        "title": "Checkout fails on Safari",
        "description": "Steps…",
        "status": "done",
        "url": "https://github.com/acme/product/issues/12",
        "key": "acme/product#12",
        "labels": ["bug", "p1"],
        "assignee": "octocat",
        "source_created_at": datetime(2025, 12, 1, 10, tzinfo=UTC),
        "source_updated_at": datetime(2025, 12, 2, 10, tzinfo=UTC),
    }
    assert GitHubIssues().map({**issue, "state": "open", "assignee": None}, "acme/product")["status"] == "todo"
    pull = {**issue, "state": "open", "pull_request": {"url": "…"}}
    assert GitHubPullRequests().map(pull, "acme/product")["status"] == "in_review"
    assert GitHubPullRequests().map({**pull, "draft": True}, "acme/product")["status"] == "in_progress"


def test_jira_issue_mapping_renders_adf_and_maps_status_and_priority() -> None:
    issue = {
        "id": "10042",
        "key": "PROJ-12",
        "fields": {
            "summary": "Login broken",
            "description": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [text("Hi")]}]},
            "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
            "priority": {"name": "Highest"},
            "labels": ["backend"],
            "assignee": {"displayName": "Ann Lee"},
            "created": "2025-12-01T10:00:00.000+0000",
            "updated": "2025-12-02T12:30:00.000+0100",
        },
    }
    row = JiraIssues().map(issue, "https://acme.atlassian.net")
    assert row["key"] == "PROJ-12"
    assert row["url"] == "https://acme.atlassian.net/browse/PROJ-12"
    assert row["description"] == "Hi"
    assert (row["status"], row["priority"]) == ("in_progress", "urgent")
    assert row["assignee"] == "Ann Lee"
    assert row["source_updated_at"] == datetime(2025, 12, 2, 11, 30, tzinfo=UTC)
    done = {**issue, "fields": {**issue["fields"], "status": {"statusCategory": {"key": "done"}}}}  # type: ignore[dict-item]
    assert JiraIssues().map(done, "")["status"] == "done"


def test_jira_time_uses_the_accounts_zone() -> None:
    moment = datetime(2025, 12, 2, 11, 30, tzinfo=UTC)
    assert jql_time(moment, {}) == "2025-12-02 11:30"
    assert jql_time(moment, {"timeZone": "Europe/Berlin"}) == "2025-12-02 12:30"
    assert jql_time(moment, {"timeZone": "Not/AZone"}) == "2025-12-02 11:30"


def test_linear_issue_mapping() -> None:
    node = {
        "id": "0b9c",
        "identifier": "ENG-42",
        "title": "Faster sync",
        "description": "md",
        "url": "https://linear.app/acme/issue/ENG-42",
        "priority": 2,
        "createdAt": "2025-12-01T10:00:00.000Z",
        "updatedAt": "2025-12-02T10:00:00.000Z",
        "archivedAt": None,
        "state": {"type": "completed", "name": "Done"},
        "assignee": {"name": "ann", "displayName": "Ann"},
        "labels": {"nodes": [{"name": "perf"}]},
    }
    row = LinearIssues().map(node)
    assert (row["key"], row["status"], row["priority"], row["labels"], row["assignee"]) == (
        "ENG-42",
        "done",
        "high",
        ["perf"],
        "Ann",
    )


def test_notion_page_mapping() -> None:
    page = {
        "id": "59833787-2cf9-4fdf-8782-e53db20768a5",
        "url": "https://www.notion.so/Roadmap-598337872cf94fdf8782e53db20768a5",
        "created_time": "2025-12-01T10:00:00.000Z",
        "last_edited_time": "2025-12-02T10:00:00.000Z",
        "properties": {
            "Name": {"type": "title", "title": [{"plain_text": "Dark mode"}]},
            "Status": {"type": "status", "status": {"name": "In progress"}},
        },
    }
    row = NotionPages().map(page)
    assert (row["external_id"], row["title"], row["status"]) == (
        "598337872cf94fdf8782e53db20768a5",
        "Dark mode",
        "in_progress",
    )
    assert NotionPages().map({**page, "archived": True})["status"] == "canceled"


@pytest.mark.parametrize(
    ("parse", "value", "expected"),
    [
        (parse_repository, "acme/product", "acme/product"),
        (parse_repository, " acme/product.git ", "acme/product"),
        (parse_project_key, "proj", "PROJ"),
        (parse_team_key, "eng", "ENG"),
        (parse_parent, "https://www.notion.so/Roadmap-" + NOTION_ID, NOTION_ID),
        (parse_parent, "59833787-2cf9-4fdf-8782-e53db20768a5", "598337872cf94fdf8782e53db20768a5"),
    ],
)
def test_projects_parse(parse: object, value: str, expected: str) -> None:
    assert parse(value) == expected  # type: ignore[operator]


@pytest.mark.parametrize(
    ("parse", "value"),
    [
        (parse_repository, "acme"),
        (parse_repository, "acme/product/extra"),
        (parse_repository, "../etc"),
        (parse_project_key, "PROJ-1"),
        (parse_project_key, "1PROJ"),
        (parse_team_key, "ENG TEAM"),
        (parse_parent, "not-an-id"),
    ],
)
def test_bad_projects_are_refused_with_the_expected_form(parse: object, value: str) -> None:
    with pytest.raises(InvalidProject):
        parse(value)  # type: ignore[operator]


def test_parse_time_handles_provider_formats() -> None:
    assert parse_time("2025-12-02T10:00:00Z") == datetime(2025, 12, 2, 10, tzinfo=UTC)
    assert parse_time("2025-12-02T10:00:00.123+0000") == datetime(2025, 12, 2, 10, 0, 0, 123000, tzinfo=UTC)
    assert parse_time("yesterday") is None
    assert parse_time(None) is None
