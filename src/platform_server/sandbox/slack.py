"""Simulated Slack: OAuth v2 and the Web API methods the tools call, with `ok: false` errors on HTTP 200."""

import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from platform_server.sandbox.common import bearer_token, json_response
from platform_server.sandbox.gate import ProviderGate, provider_app
from platform_server.sandbox.oauth import oauth_routes
from platform_server.sandbox.store import AccessToken, SandboxStore
from platform_server.sandbox.worlds import SlackWorld

_AUTH_ERRORS = {
    "missing": "not_authed",
    "unknown": "invalid_auth",
    "expired": "token_expired",
    "revoked": "token_revoked",
}
_CHANNEL_TYPES = {"public_channel", "private_channel", "mpim", "im"}


def error(status: int, message: str) -> Response:
    code = "unknown_method" if status == 404 else "method_not_allowed" if status == 405 else message
    return json_response({"ok": False, "error": code}, status)


def _fail(code: str, **extra: Any) -> Response:
    return json_response({"ok": False, "error": code, **extra})


def create_slack_app(store: SandboxStore) -> ProviderGate:
    def world() -> SlackWorld:
        result: SlackWorld = store.world("slack")
        return result

    async def arguments(request: Request) -> dict[str, Any]:
        values: dict[str, Any] = dict(request.query_params)
        if request.method == "POST":
            raw = await request.body()
            content_type = request.headers.get("content-type", "")
            if "application/json" in content_type:
                try:
                    body = orjson.loads(raw) if raw else {}
                except orjson.JSONDecodeError:
                    return {"__invalid__": "invalid_json"}
                if not isinstance(body, dict):
                    return {"__invalid__": "invalid_json"}
                values.update(body)
            else:
                values.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        return values

    async def unknown_method(request: Request) -> Response:
        return json_response({"ok": False, "error": "unknown_method", "req_method": request.path_params["method"]}, 404)

    def method(
        handler: Callable[[AccessToken, dict[str, Any]], Response],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await call(request, handler)

        return endpoint

    async def call(request: Request, handler: Callable[[AccessToken, dict[str, Any]], Response]) -> Response:
        args = await arguments(request)
        if "__invalid__" in args:
            return _fail(args["__invalid__"])
        # A bearer header is the way now; the `token` argument is the legacy one.
        token = bearer_token(request) or (args.pop("token", None) if request.method == "POST" else None)
        record, problem = store.authenticate("slack", token)
        if record is None:
            return _fail(_AUTH_ERRORS[problem or "unknown"])
        return handler(record, args)

    def scopes_of(record: AccessToken) -> list[str]:
        return record.grant.user_scopes if record.kind == "user" else record.grant.scopes

    def missing_scope(record: AccessToken, *needed: str) -> Response | None:
        granted = scopes_of(record)
        if any(scope in granted for scope in needed):
            return None
        return _fail("missing_scope", needed=",".join(needed), provided=",".join(granted))

    def auth_test(record: AccessToken, _args: dict[str, Any]) -> Response:
        slack = world()
        account = record.grant.account
        body: dict[str, Any] = {
            "ok": True,
            "url": "https://acme.slack.com/",
            "team": "Acme",
            "user": "platform" if record.kind == "bot" else account.login,
            "team_id": slack.team_id,
            "user_id": "U0SANDBOXBOT" if record.kind == "bot" else slack.user_id(account.login),
            "is_enterprise_install": False,
        }
        if record.kind == "bot":
            body["bot_id"] = "B0SANDBOX"
        return json_response(body)

    def auth_revoke(record: AccessToken, args: dict[str, Any]) -> Response:
        if str(args.get("test", "")).lower() in ("1", "true"):
            return json_response({"ok": True, "revoked": False})
        # auth.revoke ends the one token it is called with (and, with rotation, its refresh token); the install's
        # other token lives on (only apps.uninstall ends them all).
        record.grant.revoked_kinds.add(record.kind)
        return json_response({"ok": True, "revoked": True})

    def conversations_list(record: AccessToken, args: dict[str, Any]) -> Response:
        problem = missing_scope(record, "channels:read", "groups:read")
        if problem:
            return problem
        types = {part.strip() for part in str(args.get("types", "public_channel")).split(",") if part.strip()}
        if not types or not types <= _CHANNEL_TYPES:
            return _fail("invalid_types")
        try:
            limit = int(args.get("limit", 100))
        except ValueError:
            return _fail("invalid_limit")
        if not 1 <= limit <= 1000:
            return _fail("invalid_limit")
        exclude_archived = str(args.get("exclude_archived", "false")).lower() in ("1", "true")
        slack = world()
        channels = [
            channel
            for channel in slack.channels
            if ("private_channel" if channel["is_private"] else "public_channel") in types
            and not (exclude_archived and channel["is_archived"])
            # Private channels are visible only to their members.
            and (not channel["is_private"] or record.kind == "user" or channel["is_member"])
        ]
        start = 0
        cursor = args.get("cursor")
        if cursor:
            index = next((i for i, channel in enumerate(channels) if f"dGVhbTpD{channel['id']}" == cursor), None)
            if index is None:
                return _fail("invalid_cursor")
            start = index
        page = channels[start : start + limit]
        next_cursor = f"dGVhbTpD{channels[start + limit]['id']}" if start + limit < len(channels) else ""
        return json_response({"ok": True, "channels": page, "response_metadata": {"next_cursor": next_cursor}})

    def post_message(record: AccessToken, args: dict[str, Any]) -> Response:
        problem = missing_scope(record, "chat:write")
        if problem:
            return problem
        slack = world()
        channel_ref = args.get("channel")
        if not channel_ref:
            return _fail("channel_not_found")
        channel = slack.channel(str(channel_ref))
        if channel is None:
            return _fail("channel_not_found")
        text = args.get("text")
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = orjson.loads(blocks)
            except orjson.JSONDecodeError:
                return _fail("invalid_blocks_format")
        if blocks is not None and not isinstance(blocks, list):
            return _fail("invalid_blocks_format")
        if not text and not blocks:
            return _fail("no_text")
        if text is not None and len(str(text)) > 40_000:
            return _fail("msg_too_long")
        if channel["is_archived"]:
            return _fail("is_archived")
        if record.kind == "bot" and not channel["is_member"]:
            return _fail("not_in_channel")
        ts = f"{time.time():.6f}"
        user = "U0SANDBOXBOT" if record.kind == "bot" else slack.user_id(record.grant.account.login)
        message: dict[str, Any] = {
            "type": "message",
            "text": str(text or ""),
            "user": user,
            "ts": ts,
            "team": slack.team_id,
        }
        if record.kind == "bot":
            message["bot_id"] = "B0SANDBOX"
        if args.get("thread_ts"):
            message["thread_ts"] = str(args["thread_ts"])
        if blocks:
            message["blocks"] = blocks
        slack.messages.append(
            {
                "channel": channel["id"],
                "user": user,
                "username": "platform" if record.kind == "bot" else record.grant.account.login,
                "text": message["text"],
                "ts": ts,
            }
        )
        return json_response({"ok": True, "channel": channel["id"], "ts": ts, "message": message})

    def search_messages(record: AccessToken, args: dict[str, Any]) -> Response:
        if record.kind != "user":
            return _fail("not_allowed_token_type")
        problem = missing_scope(record, "search:read")
        if problem:
            return problem
        query = str(args.get("query", "")).strip()
        if not query:
            return _fail("no_query")
        try:
            count = int(args.get("count", 20))
            page = int(args.get("page", 1))
        except ValueError:
            return _fail("invalid_arguments")
        count = min(max(count, 1), 100)
        if not 1 <= page <= 100:
            return _fail("invalid_arguments")
        slack = world()
        terms = []
        in_channel = from_user = None
        for term in query.split():
            if term.startswith("in:"):
                in_channel = slack.channel(term[3:].lstrip("#<").rstrip(">"))
                if in_channel is None:
                    return json_response({"ok": True, "query": query, "messages": _empty_matches(count, page)})
            elif term.startswith("from:"):
                from_user = term[5:].lstrip("@<").rstrip(">")
            else:
                terms.append(term.lower())
        matches = [
            message
            for message in slack.messages
            if all(term in message["text"].lower() for term in terms)
            and (in_channel is None or message["channel"] == in_channel["id"])
            and (from_user is None or from_user in (message["username"], message["user"]))
        ]
        descending = str(args.get("sort_dir", "desc")) != "asc"
        # Relevance is not simulated: "score" sorts like "timestamp".
        matches.sort(key=lambda message: float(message["ts"]), reverse=descending)
        total = len(matches)
        pages = max(1, -(-total // count))
        selected = matches[(page - 1) * count : page * count]
        results = []
        for message in selected:
            channel = slack.channel(message["channel"]) or {}
            results.append(
                {
                    "iid": f"{message['channel']}-{message['ts']}",
                    "type": "message",
                    "user": message["user"],
                    "username": message["username"],
                    "ts": message["ts"],
                    "text": message["text"],
                    "team": slack.team_id,
                    "channel": {
                        "id": channel.get("id"),
                        "name": channel.get("name"),
                        "is_private": channel.get("is_private"),
                    },
                    "permalink": f"https://acme.slack.com/archives/{message['channel']}/p"
                    + message["ts"].replace(".", ""),
                }
            )
        return json_response(
            {
                "ok": True,
                "query": query,
                "messages": {
                    "total": total,
                    "matches": results,
                    "paging": {"count": count, "total": total, "page": page, "pages": pages},
                    "pagination": {
                        "total_count": total,
                        "page": page,
                        "per_page": count,
                        "page_count": pages,
                        "first": (page - 1) * count + 1 if selected else 0,
                        "last": (page - 1) * count + len(selected),
                    },
                },
            }
        )

    routes = [
        *oauth_routes(store, "slack"),
        Route("/api/auth.test", method(auth_test), methods=["GET", "POST"]),
        Route("/api/auth.revoke", method(auth_revoke), methods=["GET", "POST"]),
        Route("/api/conversations.list", method(conversations_list), methods=["GET", "POST"]),
        Route("/api/chat.postMessage", method(post_message), methods=["POST"]),
        Route("/api/search.messages", method(search_messages), methods=["GET", "POST"]),
        Route("/api/{method}", unknown_method, methods=["GET", "POST"]),
    ]
    return provider_app(store, "slack", routes, error, {"/oauth/v2/authorize"})


def _empty_matches(count: int, page: int) -> dict[str, Any]:
    return {
        "total": 0,
        "matches": [],
        "paging": {"count": count, "total": 0, "page": page, "pages": 0},
        "pagination": {
            "total_count": 0,
            "page": page,
            "per_page": count,
            "page_count": 0,
            "first": 0,
            "last": 0,
        },
    }
