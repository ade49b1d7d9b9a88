"""An OpenAI-compatible Chat Completions client with function calling, over httpx.

Any endpoint that speaks `POST {AI_BASE_URL}/chat/completions` works: OpenAI, Azure-style gateways, vLLM,
Ollama, LM Studio. In sandbox mode the base URL defaults to the scripted model this app serves itself
(`sandbox/model.py`), reached in-process like the simulated providers when SANDBOX_IN_PROCESS is on.
"""

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from platform_server.config import Settings
from platform_server.errors import PlatformError

# Where sandbox mode serves its scripted model (sandbox/model.py), and what that model is called; here, not
# in the sandbox package, which production never imports.
SANDBOX_MODEL_PATH = "/sandbox/openai"
SANDBOX_MODEL_NAME = "platform-sandbox-model"
SANDBOX_MODEL_API_KEY = "sk-sandbox"


class AiNotConfigured(PlatformError):
    status_code = 503
    code = "AI_NOT_CONFIGURED"


class AiModelError(PlatformError):
    status_code = 502
    code = "AI_MODEL_ERROR"


class AiModelTimeout(PlatformError):
    status_code = 504
    code = "AI_MODEL_TIMEOUT"


@dataclass(frozen=True, slots=True)
class ModelEndpoint:
    base_url: str
    model: str
    api_key: str | None


def model_endpoint(settings: Settings) -> ModelEndpoint | None:
    """Where the model is, or None when the settings do not say; sandbox mode fills in its own model."""
    sandbox_url = f"{settings.PUBLIC_BASE_URL}{SANDBOX_MODEL_PATH}/v1"
    base_url = settings.AI_BASE_URL or (sandbox_url if settings.PLATFORM_SANDBOX else None)
    if base_url is None:
        return None
    on_sandbox = base_url.rstrip("/") == sandbox_url
    model = settings.AI_MODEL or (SANDBOX_MODEL_NAME if on_sandbox else None)
    if model is None:
        return None
    key = settings.AI_API_KEY.get_secret_value() if settings.AI_API_KEY is not None else None
    return ModelEndpoint(base_url.rstrip("/"), model, key or (SANDBOX_MODEL_API_KEY if on_sandbox else None))


def not_configured() -> AiNotConfigured:
    return AiNotConfigured(
        "The AI assistant is not configured: set AI_BASE_URL (an OpenAI-compatible endpoint, e.g. "
        "https://api.openai.com/v1) and AI_MODEL, plus AI_API_KEY if the endpoint needs one — or start the "
        "server with --sandbox to try it with the scripted sandbox model",
        details={"settings": ["AI_BASE_URL", "AI_MODEL", "AI_API_KEY"]},
    )


@dataclass(frozen=True, slots=True)
class ModelToolCall:
    id: str
    name: str
    # As the model sent it: a JSON text that may not parse, which the caller reports back to the model.
    arguments: str


@dataclass(frozen=True, slots=True)
class Completion:
    content: str | None
    tool_calls: Sequence[ModelToolCall]
    # The assistant message exactly as it goes back into the conversation on the next step.
    message: dict[str, Any]


class ChatClient:
    def __init__(
        self, endpoint: ModelEndpoint, timeout_seconds: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.endpoint = endpoint
        self.timeout_seconds = timeout_seconds
        headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
        self._http = httpx.AsyncClient(
            base_url=endpoint.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_seconds, connect=min(10.0, timeout_seconds)),
            transport=transport,
        )

    async def complete(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]], *, allow_tools: bool
    ) -> Completion:
        body: dict[str, Any] = {"model": self.endpoint.model, "messages": list(messages)}
        if tools:
            # Tools stay listed when they may no longer be called: earlier steps' tool calls refer to them.
            body["tools"] = list(tools)
            body["tool_choice"] = "auto" if allow_tools else "none"
        try:
            # httpx's own timeouts do not cover an in-process (ASGI) transport, and bound each phase rather
            # than the whole exchange; this bounds the call as a whole.
            async with asyncio.timeout(self.timeout_seconds):
                response = await self._http.post("/chat/completions", json=body)
        except (TimeoutError, httpx.TimeoutException):
            raise AiModelTimeout(
                f"The AI model did not answer within {self.timeout_seconds:g} seconds (AI_TIMEOUT_SECONDS); try again",
                details={"timeoutSeconds": self.timeout_seconds},
            ) from None
        except httpx.HTTPError as exc:
            raise AiModelError(
                f"The AI model could not be reached ({type(exc).__name__}); try again later",
                details={"reason": type(exc).__name__},
            ) from None
        if response.is_error:
            raise _answer_error(response)
        return _parse(response)

    async def aclose(self) -> None:
        await self._http.aclose()


def _answer_error(response: httpx.Response) -> AiModelError:
    status = response.status_code
    hint = {
        401: "check AI_API_KEY",
        403: "check AI_API_KEY",
        404: "check AI_BASE_URL and AI_MODEL",
        429: "the model's rate limit or budget is exhausted; try again later",
    }.get(status, "try again later" if status >= 500 else "see the model's message")
    details: dict[str, Any] = {"status": status}
    model_message = _error_message(response)
    if model_message:
        details["modelMessage"] = model_message[:500]
    return AiModelError(f"The AI model answered HTTP {status}; {hint}", details=details)


def _error_message(response: httpx.Response) -> str | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return error if isinstance(error, str) else None


def _parse(response: httpx.Response) -> Completion:
    try:
        payload = response.json()
        message = payload["choices"][0]["message"]
        if not isinstance(message, dict):
            raise TypeError("message is not an object")
        content = message.get("content")
        calls = [
            ModelToolCall(str(call["id"]), str(call["function"]["name"]), _arguments_text(call["function"]))
            for call in message.get("tool_calls") or ()
        ]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise AiModelError(
            "The AI model's answer is not a Chat Completions response; check AI_BASE_URL",
            details={"reason": f"{type(exc).__name__}: {exc}"[:200]},
        ) from None
    text = content if isinstance(content, str) else None
    echoed: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        echoed["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in calls
        ]
    return Completion(text, calls, echoed)


def _arguments_text(function: dict[str, Any]) -> str:
    arguments = function.get("arguments")
    if arguments is None:
        return "{}"
    # Some servers send an object rather than the JSON text the API specifies.
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def build_chat_client(settings: Settings, transport: httpx.AsyncBaseTransport | None) -> ChatClient | None:
    endpoint = model_endpoint(settings)
    if endpoint is None:
        return None
    return ChatClient(endpoint, settings.AI_TIMEOUT_SECONDS, transport)
