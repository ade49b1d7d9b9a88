"""Slack tools: channels, posting messages and message search through the Web API (slack.com/api)."""

import re
from typing import Any

from platform_server.integrations.providers.base import InvalidProject
from platform_server.integrations.providers.client import ProviderClient, quote_value
from platform_server.integrations.providers.toolspec import (
    ToolSpec,
    arg,
    array,
    enum,
    integer,
    nullable,
    obj,
    string,
)

_CHANNEL_TYPES = ("public_channel", "private_channel")
# A conversation id (C…, G… or D…, uppercase), or a channel name with or without `#`: Slack names are lowercase
# letters, digits, `-`, `_` and `.`, at most 80 characters.
CHANNEL_PATTERN = r"^(?:[CDG][A-Z0-9]{1,20}|#?[a-z0-9][a-z0-9._-]{0,79})$"
_CHANNEL = re.compile(CHANNEL_PATTERN)


def parse_channel(project: str) -> str:
    """A workspace's defaultProject as a Slack channel id or name."""
    channel = project.strip()
    if not _CHANNEL.match(channel):
        raise InvalidProject(
            "defaultProject for Slack must be a channel id (C0123456789) or name (#general); "
            f"got {quote_value(project)}"
        )
    return channel


async def list_channels(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    types = arguments.get("types") or ["public_channel"]
    response = await client.get(
        "/api/conversations.list",
        params={
            "types": ",".join(types),
            "exclude_archived": arg(arguments, "excludeArchived", True),
            "limit": arg(arguments, "limit", 100),
            "cursor": arguments.get("cursor"),
        },
    )
    data = response.data or {}
    channels = [
        {
            "id": channel["id"],
            "name": channel.get("name"),
            "isPrivate": bool(channel.get("is_private")),
            "isMember": bool(channel.get("is_member")),
            "isArchived": bool(channel.get("is_archived")),
            "numMembers": channel.get("num_members"),
            "purpose": (channel.get("purpose") or {}).get("value") or None,
        }
        for channel in data.get("channels") or []
    ]
    return {
        "channels": channels,
        "nextCursor": (data.get("response_metadata") or {}).get("next_cursor") or None,
    }


async def send_message(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"channel": arguments["channel"], "text": arguments["text"]}
    if arguments.get("threadTs"):
        body["thread_ts"] = arguments["threadTs"]
    data = (await client.post("/api/chat.postMessage", json=body)).data or {}
    return {
        "channel": data.get("channel"),
        "ts": data.get("ts"),
        "text": (data.get("message") or {}).get("text"),
    }


async def search_messages(client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
    # search.messages refuses bot tokens: it runs as the user who installed the app.
    response = await client.get(
        "/api/search.messages",
        params={
            "query": arguments["query"],
            "count": arg(arguments, "count", 20),
            "page": arg(arguments, "page", 1),
            "sort": arg(arguments, "sort", "timestamp"),
            "sort_dir": arg(arguments, "sortDir", "desc"),
        },
        user_token=True,
    )
    messages = (response.data or {}).get("messages") or {}
    paging = messages.get("paging") or {}
    return {
        "messages": [
            {
                "channelId": (match.get("channel") or {}).get("id"),
                "channelName": (match.get("channel") or {}).get("name"),
                "user": match.get("username") or match.get("user"),
                "text": match.get("text"),
                "ts": match.get("ts"),
                "permalink": match.get("permalink"),
            }
            for match in messages.get("matches") or []
        ],
        "total": messages.get("total", 0),
        "page": paging.get("page", 1),
        "pages": paging.get("pages", 0),
    }


_NULL_STR = nullable({"type": "string"})

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        provider="slack",
        name="slack_list_channels",
        title="List Slack channels",
        description=(
            "List the Slack workspace's channels with their ids (use an id, or a name like #general, as "
            "`channel` for slack_send_message). `isMember` says whether the app can post there. Page with "
            "`cursor` = `nextCursor`."
        ),
        input_schema=obj(
            {
                "types": array(
                    enum("Channel type.", _CHANNEL_TYPES),
                    "Which channels (default public).",
                    minItems=1,
                    uniqueItems=True,
                ),
                "excludeArchived": {
                    "type": "boolean",
                    "description": "Leave out archived channels.",
                    "default": True,
                },
                "limit": integer("Channels per page.", 1, 200, 100),
                "cursor": string("The `nextCursor` of the previous page.", maxLength=200),
            }
        ),
        output_schema=obj(
            {
                "channels": array(
                    obj(
                        {
                            "id": {"type": "string"},
                            "name": _NULL_STR,
                            "isPrivate": {"type": "boolean"},
                            "isMember": {"type": "boolean"},
                            "isArchived": {"type": "boolean"},
                            "numMembers": nullable({"type": "integer"}),
                            "purpose": _NULL_STR,
                        },
                        ("id", "name", "isPrivate", "isMember"),
                    )
                ),
                "nextCursor": _NULL_STR,
            },
            ("channels", "nextCursor"),
        ),
        run=list_channels,
        scopes=("channels:read",),
    ),
    ToolSpec(
        provider="slack",
        name="slack_send_message",
        title="Send a Slack message",
        description=(
            "Post a message to a Slack channel (id like C0123456789, or #name), optionally as a reply in a "
            "thread (`threadTs`). The app must be a member of the channel; Slack mrkdwn formatting applies."
        ),
        input_schema=obj(
            {
                "channel": string("Channel id or #name.", pattern=CHANNEL_PATTERN),
                "text": string("Message text (mrkdwn).", minLength=1, maxLength=40_000),
                "threadTs": string("Timestamp of the parent message to reply in its thread.", pattern=r"^\d+\.\d+$"),
            },
            ("channel", "text"),
        ),
        output_schema=obj({"channel": _NULL_STR, "ts": _NULL_STR, "text": _NULL_STR}, ("channel", "ts")),
        run=send_message,
        read_only=False,
        destructive=False,
        idempotent=False,
        default_project_argument="channel",
        scopes=("chat:write",),
    ),
    ToolSpec(
        provider="slack",
        name="slack_search_messages",
        title="Search Slack messages",
        description=(
            "Search Slack messages visible to the user who connected Slack. The query supports Slack's "
            "modifiers, e.g. `deploy in:#releases from:@alice`. Results are newest first; page with `page`."
        ),
        input_schema=obj(
            {
                "query": string("Search query.", minLength=1, maxLength=500),
                "count": integer("Results per page.", 1, 100, 20),
                "page": integer("Page number, starting at 1.", 1, 100, 1),
                "sort": enum("Sort by relevance or time.", ("score", "timestamp"), "timestamp"),
                "sortDir": enum("Sort direction.", ("asc", "desc"), "desc"),
            },
            ("query",),
        ),
        output_schema=obj(
            {
                "messages": array(
                    obj(
                        {
                            "channelId": _NULL_STR,
                            "channelName": _NULL_STR,
                            "user": _NULL_STR,
                            "text": _NULL_STR,
                            "ts": _NULL_STR,
                            "permalink": _NULL_STR,
                        },
                        ("channelId", "text", "ts"),
                    )
                ),
                "total": {"type": "integer"},
                "page": {"type": "integer"},
                "pages": {"type": "integer"},
            },
            ("messages", "total", "page", "pages"),
        ),
        run=search_messages,
        scopes=("search:read",),
    ),
)
