"""Webhooks the simulated providers send when their data changes, signed the way each real provider signs.

A provider registers a hook through its real API (GitHub `POST /repos/{o}/{r}/hooks`, Linear `webhookCreate`,
Jira `POST /rest/api/3/webhook`); a change (through the API, or `touch` through `/sandbox/_control/changes`)
is then delivered to each matching hook, asynchronously, like the real thing:

- GitHub: `X-GitHub-Event`, `X-GitHub-Delivery`, `X-GitHub-Hook-ID`, `X-Hub-Signature-256: sha256=<hex>`.
- Linear: `Linear-Event`, `Linear-Delivery`, `Linear-Signature: <hex>`, `webhookTimestamp` (ms) in the body.
- Jira: `Authorization: Bearer <JWT HS256 signed with the app's client secret>`,
  `X-Atlassian-Webhook-Identifier`; `matchedWebhookIds` in the body.

`deliveries` records every attempt (hook id, event, HTTP status or the error) for tests to wait on.
"""

import asyncio
import hashlib
import hmac
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import orjson

from platform_server.log import get_logger
from platform_server.sandbox.common import client_secret_for

logger = get_logger(__name__)

DELIVERY_TIMEOUT_SECONDS = 10.0


@dataclass
class SandboxHook:
    id: int
    provider: str
    # What it listens to: `owner/repo` (GitHub), a team id or "*" for all public teams (Linear), a project key
    # (Jira, from its JQL filter).
    target: str
    url: str
    secret: str | None
    events: list[str]
    created: float = field(default_factory=time.time)
    expires: float | None = None
    # GitHub's config.content_type.
    content_type: str = "json"


@dataclass
class Delivery:
    hook_id: int
    provider: str
    event: str
    delivery_id: str
    status: int | None = None
    error: str | None = None


class WebhookOutbox:
    def __init__(self) -> None:
        self.transport_factory: Callable[[], httpx.AsyncBaseTransport | None] = lambda: None
        # provider → change(item, changes): changes one item as a user would and announces it; KeyError for an
        # unknown item. Each provider's app registers its own (`/sandbox/_control/changes` calls them).
        self.changers: dict[str, Callable[[str, dict[str, Any]], None]] = {}
        self.reset()

    def reset(self) -> None:
        self.hooks: dict[int, SandboxHook] = {}
        self.deliveries: list[Delivery] = []
        self._ids = itertools.count(10_000)
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, provider: str, target: str, url: str, secret: str | None, events: list[str]) -> SandboxHook:
        hook = SandboxHook(next(self._ids), provider, target, url, secret, events)
        self.hooks[hook.id] = hook
        return hook

    def remove(self, provider: str, hook_id: int) -> bool:
        hook = self.hooks.get(hook_id)
        if hook is None or hook.provider != provider:
            return False
        del self.hooks[hook_id]
        return True

    def matching(self, provider: str, targets: set[str], event: str) -> list[SandboxHook]:
        return [
            hook
            for hook in self.hooks.values()
            if hook.provider == provider and hook.target in targets and event in hook.events
        ]

    def emit(
        self, provider: str, targets: set[str], event: str, build: Callable[[SandboxHook], dict[str, Any]]
    ) -> None:
        """Queues one delivery per matching hook; returns at once (the provider answers before it delivers)."""
        for hook in self.matching(provider, targets, event):
            self.send(hook, event, build(hook))

    def send(self, hook: SandboxHook, event: str, payload: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(hook, event, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Waits for the deliveries in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver(self, hook: SandboxHook, event: str, payload: dict[str, Any]) -> None:
        body = orjson.dumps(payload)
        delivery_id = str(uuid.uuid4())
        headers = {"Content-Type": "application/json", **_signed_headers(hook, event, body, delivery_id)}
        record = Delivery(hook.id, hook.provider, event, delivery_id)
        self.deliveries.append(record)
        try:
            async with httpx.AsyncClient(transport=self.transport_factory(), timeout=DELIVERY_TIMEOUT_SECONDS) as http:
                response = await http.post(hook.url, content=body, headers=headers)
            record.status = response.status_code
        except httpx.HTTPError as exc:
            record.error = type(exc).__name__
            logger.warning("sandbox_webhook_failed", provider=hook.provider, hook_id=hook.id, error=record.error)


def _hex_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _signed_headers(hook: SandboxHook, event: str, body: bytes, delivery_id: str) -> dict[str, str]:
    if hook.provider == "github":
        headers = {
            "User-Agent": "GitHub-Hookshot/sandbox",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id,
            "X-GitHub-Hook-ID": str(hook.id),
            "X-GitHub-Hook-Installation-Target-Type": "repository",
        }
        if hook.secret:
            headers["X-Hub-Signature-256"] = "sha256=" + _hex_hmac(hook.secret, body)
        return headers
    if hook.provider == "linear":
        headers = {"User-Agent": "Linear-Webhook", "Linear-Event": event, "Linear-Delivery": delivery_id}
        if hook.secret:
            headers["Linear-Signature"] = _hex_hmac(hook.secret, body)
        return headers
    now = int(time.time())
    token = jwt.encode(
        {"iss": "sandbox-jira", "iat": now, "exp": now + 300}, client_secret_for("jira"), algorithm="HS256"
    )
    return {
        "Authorization": f"Bearer {token}",
        "X-Atlassian-Webhook-Identifier": delivery_id,
        "X-Atlassian-Webhook-Flow": "Primary",
    }
