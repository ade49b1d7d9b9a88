"""The sandbox model: a scripted, OpenAI-compatible `POST /v1/chat/completions`, mounted at /sandbox/openai.

It is not a language model. It follows a fixed script, so the assistant's whole loop (message → tool call →
answer) can be tried and tested offline, and every reply starts with "[Sandbox model]" so nobody mistakes it
for a real one. It reads only the conversation it is sent (stateless, like the real API):

- the last user message mentions issues and `github_list_issues` is offered → it calls that tool (with the
  `owner/name` repository named in the message, or `acme/product` unless the workspace's default project fills
  it), then answers from the tool's result;
- a tool result it was sent → it answers from it (a refused or failed tool is reported as such);
- anything else → an echo that says how many earlier messages and which tools it was given.

Knobs, written into the user's message so that tests (and people) can drive each path:

- `[sandbox:call=TOOL] {"arg": "value"}` asks for TOOL with those arguments (offered or not);
- `[sandbox:loop]` keeps asking for the same tool after every result, until `tool_choice` is "none";
  `[sandbox:loop=stubborn]` ignores "none" too, as a misbehaving model would;
- `[sandbox:error=503]` answers that HTTP status in OpenAI's error shape; `[sandbox:error-after-tool=500]`
  does so only once a tool result is in the conversation;
- `[sandbox:timeout=SECONDS]` waits that long (default 300) before answering.

Like the real API it refuses a missing bearer key (401), a body that is not a Chat Completions request (400)
and `tool_choice` without `tools` (400). The app's state keeps the last requests (`model_store(app)`).
"""

import asyncio
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from platform_server.assistant.client import SANDBOX_MODEL_NAME
from platform_server.sandbox.common import bearer_token, json_body, json_response

LABEL = "[Sandbox model]"
DEFAULT_REPO = "acme/product"

_DIRECTIVE = re.compile(r"\[sandbox:(?P<name>[a-z-]+)(?:=(?P<value>[^\]\s]*))?\]")
_REPO = re.compile(r"\b([A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+)\b")
_ISSUES = re.compile(r"\bissues?\b", re.IGNORECASE)
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


@dataclass
class SandboxModelStore:
    # The latest request bodies, newest last: what the assistant offered and sent.
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=100))
    completions: int = 0

    def reset(self) -> None:
        self.requests.clear()
        self.completions = 0


@dataclass(frozen=True)
class _Knobs:
    call: tuple[str, dict[str, Any]] | None = None
    loop: str | None = None
    error: int | None = None
    error_after_tool: int | None = None
    timeout: float | None = None


def _error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> Response:
    return json_response({"error": {"message": message, "type": kind, "param": None, "code": code}}, status)


def _status(value: str | None, default: int) -> int:
    if value and value.isdigit() and 400 <= int(value) <= 599:
        return int(value)
    return default


def _knobs(text: str) -> _Knobs:
    values: dict[str, Any] = {}
    for match in _DIRECTIVE.finditer(text):
        name, value = match["name"], match["value"]
        if name == "call" and value:
            arguments: dict[str, Any] = {}
            rest = text[match.end() :].lstrip()
            if rest.startswith("{"):
                try:
                    decoded, _ = json.JSONDecoder().raw_decode(rest)
                except ValueError:
                    decoded = {}
                arguments = decoded if isinstance(decoded, dict) else {}
            values["call"] = (value, arguments)
        elif name == "loop":
            values["loop"] = value or "polite"
        elif name == "error":
            values["error"] = _status(value, 500)
        elif name == "error-after-tool":
            values["error_after_tool"] = _status(value, 500)
        elif name == "timeout":
            try:
                values["timeout"] = float(value) if value else 300.0
            except ValueError:
                values["timeout"] = 300.0
    return _Knobs(**values)


def _validate(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "The request body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    answered: set[str] = set()
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            return f"Invalid value for 'messages[{index}].role'"
        if message["role"] == "assistant":
            answered.update(str(call.get("id")) for call in message.get("tool_calls") or () if isinstance(call, dict))
        if message["role"] == "tool" and message.get("tool_call_id") not in answered:
            return (
                "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with "
                "'tool_calls'."
            )
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list) or not tools:
            return "Invalid 'tools': empty array. Expected an array with minimum length 1"
        for tool in tools:
            function = tool.get("function") if isinstance(tool, dict) else None
            if tool.get("type") != "function" or not isinstance(function, dict) or not function.get("name"):
                return "Invalid 'tools': each tool must be {'type': 'function', 'function': {'name', …}}"
    elif "tool_choice" in body:
        return "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."
    return None


def _offered(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {tool["function"]["name"]: tool["function"] for tool in body.get("tools") or ()}


def _issues_call(text: str, offered: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    tool = offered.get("github_list_issues")
    if tool is None:
        return None
    named = _REPO.search(text)
    if named is not None:
        return "github_list_issues", {"repo": named.group(1)}
    # Left out when the workspace's default project fills it (then it is no longer required).
    required = tool.get("parameters", {}).get("required", [])
    return "github_list_issues", {"repo": DEFAULT_REPO} if "repo" in required else {}


def _describe_result(name: str, content: str) -> str:
    try:
        result = json.loads(content)
    except ValueError:
        return f"{name} returned: {content[:300]}"
    if isinstance(result, dict) and "error" in result:
        return f"The tool {name} could not run ({result['error']}): {result.get('message', '')}"
    if name == "github_list_issues" and isinstance(result, dict) and isinstance(result.get("issues"), list):
        issues = result["issues"]
        listed = "; ".join(f"#{issue.get('number')} {issue.get('title')}" for issue in issues[:10])
        more = f" (and {len(issues) - 10} more)" if len(issues) > 10 else ""
        return f"{result.get('repo')} has {len(issues)} issues on this page: {listed}{more}."
    return f"{name} returned: {json.dumps(result, separators=(',', ':'))[:300]}"


def _completion(body: dict[str, Any], number: int, content: str | None, calls: list[dict[str, Any]]) -> Response:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    prompt_words = sum(len(str(m.get("content") or "").split()) for m in body["messages"])
    completion_words = len((content or "").split()) + 10 * len(calls)
    return json_response(
        {
            "id": f"chatcmpl-sandbox-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "sandbox",
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls" if calls else "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt_words,
                "completion_tokens": completion_words,
                "total_tokens": prompt_words + completion_words,
            },
        }
    )


def _tool_call(number: int, step: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"call_sandbox_{number}_{step}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def create_model_sandbox() -> Starlette:
    store = SandboxModelStore()

    async def chat_completions(request: Request) -> Response:
        if bearer_token(request) is None:
            return _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header using "
                "Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        try:
            body = await json_body(request)
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.")
        problem = _validate(body)
        if problem is not None:
            return _error(400, problem)
        store.requests.append(body)
        store.completions += 1
        number = store.completions
        messages: list[dict[str, Any]] = body["messages"]
        users = [index for index, message in enumerate(messages) if message["role"] == "user"]
        text = str(messages[users[-1]].get("content") or "") if users else ""
        turn = messages[users[-1] + 1 :] if users else []
        results = [message for message in turn if message["role"] == "tool"]
        knobs = _knobs(text)
        if knobs.timeout is not None:
            await asyncio.sleep(knobs.timeout)
        if knobs.error is not None or (knobs.error_after_tool is not None and results):
            status = knobs.error or knobs.error_after_tool or 500
            return _error(status, f"{LABEL} Simulated error {status}", "server_error")
        offered = _offered(body)
        first = knobs.call or (_issues_call(text, offered) if _ISSUES.search(text) else None)
        may_call = body.get("tool_choice", "auto") != "none" or knobs.loop == "stubborn"
        step = sum(1 for message in turn if message["role"] == "assistant") + 1
        if first is not None and may_call and (not results or knobs.loop is not None):
            return _completion(body, number, None, [_tool_call(number, step, *first)])
        if results:
            names = {
                call["id"]: call["function"]["name"]
                for message in turn
                if message["role"] == "assistant"
                for call in message.get("tool_calls") or ()
            }
            described = [_describe_result(names.get(r["tool_call_id"], "tool"), str(r.get("content"))) for r in results]
            if knobs.loop is not None:
                described.append(f"I stopped after {len(results)} tool calls because no more were allowed.")
            return _completion(body, number, f"{LABEL} {' '.join(described)}", [])
        if _ISSUES.search(text):
            reply = "I cannot list issues here: the github_list_issues tool is not enabled for this workspace."
        else:
            earlier = len(users) - 1
            tools = ", ".join(sorted(offered)) or "none"
            reply = (
                f"You said: {text[:200]!r}. I have {earlier} earlier messages from you in this conversation, "
                f"and these tools: {tools}."
            )
        return _completion(body, number, f"{LABEL} {reply}", [])

    async def list_models(request: Request) -> Response:
        if bearer_token(request) is None:
            return _error(401, "You didn't provide an API key.")
        model = {"id": SANDBOX_MODEL_NAME, "object": "model", "created": 0, "owned_by": "platform-sandbox"}
        return json_response({"object": "list", "data": [model]})

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
        ]
    )
    app.state.store = store
    return app


def model_store(app: Any) -> SandboxModelStore:
    """The sandbox model's store of an app with the sandbox installed."""
    store: SandboxModelStore = app.state.sandbox_model
    return store
