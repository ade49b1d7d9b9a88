"""The HTTP client every provider call goes through: tools (MCP gateway) and importers (sync) alike.

One `httpx.AsyncClient` per provider, created in the app lifespan (`app.state.provider_http`), with explicit
timeouts, over a pooled keep-alive HTTP/1.1 transport of our own (`transport.Http1Transport`: httpx's default one
cost most of a tool call's CPU). Provider calls do not go through that client's machinery but straight to its pool
(`transport.ProviderWire`), with its base URL, default headers and timeouts: this module builds and checks the
final URL itself. A call is made through a `ProviderClient` bound to one integration's `TokenSource` and
to the provider's `ApiPolicy` (its package's `api.py`), which says what its answers mean; nothing here knows
any provider by name:

- 401 (or the provider's equivalent, e.g. Slack's `ok: false, error: invalid_auth`): one
  `refresh_after_unauthorized()`, one retry, then `rejected_after_refresh()` (the integration is marked
  expired) and `IntegrationExpired`.
- Rate limits: the policy's wait, by default `Retry-After` (seconds or HTTP-date), then the provider's reset
  header (GitHub epoch seconds, Jira ISO-8601, Linear epoch milliseconds); the wait is capped
  (`RetryPolicy.max_rate_limit_wait`) and jittered; a longer wait raises `ProviderRateLimited(retry_after_seconds)`
  at once. A rate-limited request was not processed, so it is retried whatever its method.
- 5xx and timeouts are retried with exponential backoff on idempotent requests only; writes are never
  retried blindly (a timed-out POST may have created the issue).
- Everything else becomes a typed `ProviderError` with a message a model or a user can act on.

Where a request may go: callers build paths with `provider_path` (every value one encoded segment), and the
client refuses, before anything is sent, a final URL that is not under the provider's API base (other scheme,
host or port, a path outside the base, or a `.`/`..` segment, percent-encoded or not). Redirects are never
followed. So the integration's token only ever travels to its provider's API, and a 401 (which may end with
the integration marked expired) can only be that API's answer to that token.

Sandbox mode changes nothing here but the base URLs (`provider_host`): every provider host maps to
`{PUBLIC_BASE_URL}/sandbox/<provider>`. With `SANDBOX_IN_PROCESS` (the default) requests to
`PUBLIC_BASE_URL` are served by the app itself through `httpx.ASGITransport`, so tests (which run the app
without a server) and a single-process server need no network; everything else goes out over the network.
"""

import asyncio
import contextvars
import math
import random
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from functools import cache
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import quote, unquote, urlencode, urlsplit

import httpx
import orjson
from starlette.types import ASGIApp

from platform_server.config import Settings
from platform_server.integrations.providers.transport import (
    AnswerTooLarge,
    Http1Transport,
    ProviderWire,
    WireRequest,
    WireResponse,
    provider_pool,
)

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def sandbox_host(settings: Settings, provider: str) -> str:
    """Where every host of a provider goes in sandbox mode: the sandbox serves every path under one prefix."""
    return f"{settings.PUBLIC_BASE_URL}/sandbox/{provider}"


def provider_host(settings: Settings, api: "ApiPolicy", host: str = "api") -> str:
    """Base URL of one of a provider's hosts ("api" or "web", the OAuth/browser host)."""
    if settings.PLATFORM_SANDBOX:
        return sandbox_host(settings, api.name)
    return api.hosts[host]


def provider_title(provider: str) -> str:
    """A provider's display title, for messages that only know its name."""
    # The registry imports every provider package, and they import this module: it is read at call time.
    from platform_server.integrations.registry import PROVIDER_CLASSES

    found = PROVIDER_CLASSES.get(provider)
    return found.display_name if found else provider


# ---------------------------------------------------------------------------------------------------------
# Errors


class ProviderError(Exception):
    """A provider call failed; `message` says what to do about it."""

    code: ClassVar[str] = "provider_error"

    def __init__(self, provider: str, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.message = message
        self.status_code = status_code

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "provider": self.provider, "message": self.message}


class ProviderBadRequest(ProviderError):
    code = "bad_request"


class ProviderNotFound(ProviderError):
    code = "not_found"


class ProviderForbidden(ProviderError):
    code = "forbidden"


class OutsideProviderApi(ProviderBadRequest):
    """A request the client refused to send: its URL is not under the provider's API base."""


class ProviderUnavailable(ProviderError):
    code = "unavailable"


class IntegrationExpired(ProviderError):
    code = "integration_expired"

    def __init__(self, provider: str, message: str | None = None, *, status_code: int | None = 401) -> None:
        title = provider_title(provider)
        super().__init__(
            provider,
            message
            or f"The {title} connection has expired or was revoked; reconnect {title} in Settings → Integrations",
            status_code=status_code,
        )


class ProviderRateLimited(ProviderError):
    code = "rate_limited"

    def __init__(self, provider: str, retry_after_seconds: float, *, status_code: int | None = 429) -> None:
        self.retry_after_seconds = max(1, math.ceil(retry_after_seconds))
        title = provider_title(provider)
        super().__init__(
            provider,
            f"{title} rate limit reached; retry in {self.retry_after_seconds} seconds",
            status_code=status_code,
        )

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "retryAfterSeconds": self.retry_after_seconds}


# ---------------------------------------------------------------------------------------------------------
# URLs


# Values quoted in model-facing text are cut here: enough to recognise, never a wall of the caller's input.
_MAX_QUOTED_CHARS = 80


def quote_value(value: Any) -> str:
    """A value as model-facing text: JSON, cut short, never a Python repr."""
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= _MAX_QUOTED_CHARS else f"{text[:_MAX_QUOTED_CHARS]}…"


def provider_path(provider: str, *segments: str | int) -> str:
    """A path under a provider's API base, e.g. `provider_path("github", "repos", owner, repo, "issues")`.

    Each value becomes exactly one percent-encoded segment: `/`, `?`, `#` and `%` in a tool argument, a
    workspace's defaultProject or a provider's answer cannot add segments, end the path or smuggle an
    encoded `..`. Empty, `.` and `..` are refused: no encoding makes them harmless.
    """
    encoded = []
    for segment in segments:
        text = str(segment)
        if text in ("", ".", ".."):
            raise ProviderBadRequest(
                provider, f"{quote_value(text)} cannot be part of a {provider_title(provider)} API path"
            )
        encoded.append(quote(text, safe=""))
    return "/" + "/".join(encoded)


def _outside_base(url: httpx.URL, base: httpx.URL) -> bool:
    """Whether a request URL may reach anything but the API base: another origin, a path not under the base
    path, or a path a server could resolve elsewhere after this check (a dot segment, encoded or not, or an
    encoded separator, which is one segment here and two at a server that decodes before routing)."""
    if (url.scheme, url.host, url.port, url.userinfo) != (base.scheme, base.host, base.port, b""):
        return True
    return _outside_base_path(url.raw_path.split(b"?", 1)[0].decode("ascii"), url.path, base.path)


def _outside_base_path(raw_path: str, path: str, base_path: str) -> bool:
    """`_outside_base` for a URL of the base's origin, from its path as sent (`raw_path`) and decoded (`path`)."""
    if "%2f" in raw_path.lower() or "%5c" in raw_path.lower() or _has_dot_segment(path):
        return True
    prefix = base_path.rstrip("/") + "/"
    return not (path.startswith(prefix) and raw_path.startswith(prefix))


# A path httpx would merge with the base URL as it is: non-empty segments of characters it leaves alone in a path
# (unreserved, sub-delimiters, ":" and "@", and valid percent escapes). Every `provider_path` is one.
_PLAIN_PATH = re.compile(r"(?:/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+)+")
_PLAIN_VALUES = (str, int, float)


def _steered(path: str) -> bool:
    """Whether a caller's path would be changed on its way to a URL: httpx resolves dot segments (so the result
    alone cannot show that `/orgs/../user` was meant to be `/orgs/<org>/…`) and drops a fragment."""
    return "#" in path or _has_dot_segment(unquote(urlsplit(path).path))


def _has_dot_segment(path: str) -> bool:
    # A backslash is a separator to some servers.
    return any(segment in (".", "..") for segment in path.replace("\\", "/").split("/"))


# ---------------------------------------------------------------------------------------------------------
# Tokens


class TokenSource(Protocol):
    """Where a `ProviderClient` gets an integration's credentials (implemented in integrations/tokens.py)."""

    async def access_token(self) -> str:
        """A valid access token, refreshed beforehand when it is close to expiry."""
        ...

    async def refresh_after_unauthorized(self, user_token: bool = False) -> str:
        """The provider refused the token (the user token, with `user_token`): refresh now and return the new
        one, or raise IntegrationExpired."""
        ...

    async def user_access_token(self) -> str | None:
        """The user token where a provider has one besides the main token (Slack's xoxp-); else None."""
        ...

    async def rejected_after_refresh(self) -> None:
        """The provider refused the token it was just refreshed to: record that the grant is gone."""
        ...


class StaticTokenSource:
    """A fixed token that cannot be refreshed (personal access tokens, tests against the sandbox)."""

    def __init__(self, provider: str, token: str, user_token: str | None = None) -> None:
        self._provider = provider
        self._token = token
        self._user_token = user_token

    async def access_token(self) -> str:
        return self._token

    async def refresh_after_unauthorized(self, user_token: bool = False) -> str:
        raise IntegrationExpired(self._provider)

    async def rejected_after_refresh(self) -> None:
        return None

    async def user_access_token(self) -> str | None:
        return self._user_token


# ---------------------------------------------------------------------------------------------------------
# Responses and retry policy


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff_base_seconds: float = 0.25
    backoff_max_seconds: float = 4.0
    # Longer waits are not slept through: the caller (an agent, a sync job) gets the time to come back.
    max_rate_limit_wait_seconds: float = 10.0
    # Used when a 429 names no wait at all.
    default_rate_limit_wait_seconds: float = 1.0


@dataclass
class ProviderResponse:
    status_code: int
    headers: httpx.Headers
    data: Any
    url: str
    links: dict[str, dict[str, str]] = field(default_factory=dict)

    def next_link(self) -> str | None:
        return self.links.get("next", {}).get("url")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta seconds or an HTTP-date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


# ---------------------------------------------------------------------------------------------------------
# What the client needs to know about one provider


@dataclass
class Unauthorized:
    pass


@dataclass
class RateLimited:
    wait: float | None


@dataclass
class Transient:
    pass


@dataclass
class Failed:
    error: ProviderError


Verdict = Unauthorized | RateLimited | Transient | Failed


class ApiPolicy:
    """One provider's API as the shared client sees it: hosts, default headers, and how to read its errors and
    rate limits. Each provider package subclasses it (`<provider>/api.py`); the defaults describe a plain JSON
    REST API that signals rate limits with 429 (or 503 with `Retry-After`) and bad tokens with 401."""

    name: ClassVar[str]
    title: ClassVar[str]
    # The real hosts: "web" (OAuth, browser) and "api". In sandbox mode both map to the same prefix, and the
    # sandbox serves every path under it.
    hosts: ClassVar[Mapping[str, str]]
    default_headers: ClassVar[Mapping[str, str]] = {"Accept": "application/json"}
    rate_limit_statuses: ClassVar[frozenset[int]] = frozenset({429})

    def classify_body(self, response: ProviderResponse, attempt: int) -> Verdict | None:
        """A verdict the body decides whatever the status (Slack's `ok: false`, GraphQL errors); None lets the
        status decide."""
        return None

    def is_unauthorized(self, response: ProviderResponse) -> bool:
        """The provider refused the token itself (a refresh may help), not the request."""
        return response.status_code == 401

    def is_rate_limited(self, response: ProviderResponse) -> bool:
        status = response.status_code
        return status in self.rate_limit_statuses or (status == 503 and "retry-after" in response.headers)

    def rate_limit_wait(self, response: ProviderResponse, attempt: int) -> float | None:
        """Seconds to wait before trying again after the `attempt`th try was limited; None lets the client's
        default backoff decide."""
        after = parse_retry_after(response.headers.get("retry-after"))
        if after is not None:
            return after
        return self.reset_after(response.headers)

    def reset_after(self, headers: httpx.Headers, now: float | None = None) -> float | None:
        """Seconds until the provider's rate-limit window resets, from its own reset header."""
        return None

    def error_message(self, data: Any) -> str | None:
        """The provider's own words for a failure, from its error body."""
        if not isinstance(data, dict):
            return None
        return str(data.get("message") or data.get("error") or "") or None


def seconds_until_epoch(value: str | None, now: float, *, scale: float) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value) / scale - now)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------------------
# The bound client


class ProviderClient:
    """Calls one provider on behalf of one integration."""

    def __init__(
        self,
        api: ApiPolicy,
        http: httpx.AsyncClient,
        tokens: TokenSource,
        *,
        context: Mapping[str, Any] | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wire: ProviderWire | None = None,
    ) -> None:
        self.api = api
        self.provider = api.name
        self.title = api.title
        self.http = http
        # How requests reach `http`'s base: by default through `http` itself.
        self.wire = wire or ProviderWire(http)
        self.tokens = tokens
        # Per-integration facts an API call needs, e.g. Jira's {"cloudId", "siteUrl"}.
        self.context: Mapping[str, Any] = context or {}
        self.policy = policy or RetryPolicy()
        self._sleep = sleep

    async def get(self, path: str, *, params: Mapping[str, Any] | None = None, **kwargs: Any) -> ProviderResponse:
        return await self.request("GET", path, params=params, **kwargs)

    async def post(self, path: str, *, json: Any = None, **kwargs: Any) -> ProviderResponse:
        return await self.request("POST", path, json=json, **kwargs)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
        user_token: bool = False,
    ) -> ProviderResponse:
        """Send a request with the integration's token; see the module docstring for the retry rules.

        `path` is relative to the API base (build it with `path()`), or a full URL the provider gave (a next
        page link); either way a URL outside the base raises `OutsideProviderApi` and nothing is sent.
        `idempotent` defaults from the method (GET/PUT/DELETE/HEAD); pass True for read-only POSTs such as
        search endpoints and GraphQL queries. `user_token` sends the provider's user token (Slack search).
        """
        method = method.upper()
        safe_to_repeat = method in _IDEMPOTENT_METHODS if idempotent is None else idempotent
        content = orjson.dumps(json) if json is not None else None
        request = self._build(method, path, _clean_params(params), content, data)
        token = await self._token(user_token)
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            # Set here and nowhere else, on a request checked when it was built: this is the only token a 401 can
            # refuse.
            request.headers["Authorization"] = f"Bearer {token}"
            try:
                # Never followed: a redirect's target is another URL, which the check has not seen.
                response = await self.wire.send(request)
            except httpx.TimeoutException as exc:
                if safe_to_repeat and attempt < self.policy.max_attempts:
                    await self._backoff(attempt)
                    continue
                raise ProviderUnavailable(
                    self.provider,
                    f"{self.title} did not answer in time ({method} {path}); try again later"
                    + ("" if safe_to_repeat else "; check whether the change was made before repeating it"),
                ) from exc
            except AnswerTooLarge as exc:
                # The same request would get the same answer: not asked again.
                raise ProviderUnavailable(
                    self.provider,
                    f"{self.title} answered {method} {path} with more than {exc.limit} bytes, more than this server "
                    "takes (PROVIDER_MAX_RESPONSE_BYTES); ask for less, e.g. a smaller page",
                ) from exc
            except httpx.TransportError as exc:
                if safe_to_repeat and attempt < self.policy.max_attempts:
                    await self._backoff(attempt)
                    continue
                raise ProviderUnavailable(
                    self.provider,
                    f"{self.title} could not be reached ({type(exc).__name__}); try again later",
                ) from exc

            result = _to_provider_response(response, request.url)
            verdict = self._classify(result, attempt)
            if verdict is None:
                return result
            if isinstance(verdict, Unauthorized):
                if refreshed:
                    await self.tokens.rejected_after_refresh()
                    raise IntegrationExpired(self.provider)
                await self.tokens.refresh_after_unauthorized(user_token)
                token = await self._token(user_token)
                refreshed = True
                continue
            if isinstance(verdict, RateLimited):
                wait = verdict.wait if verdict.wait is not None else self._default_rate_limit_wait(attempt)
                if wait > self.policy.max_rate_limit_wait_seconds or attempt >= self.policy.max_attempts:
                    raise ProviderRateLimited(self.provider, wait, status_code=result.status_code)
                await self._sleep(wait + _jitter(wait))
                continue
            if isinstance(verdict, Transient):
                if safe_to_repeat and attempt < self.policy.max_attempts:
                    await self._backoff(attempt)
                    continue
                raise ProviderUnavailable(
                    self.provider,
                    f"{self.title} failed with HTTP {result.status_code} ({method} {path}); try again later"
                    + ("" if safe_to_repeat else "; check whether the change was made before repeating it"),
                    status_code=result.status_code,
                )
            raise verdict.error

    def _build(
        self, method: str, path: str, params: dict[str, Any] | None, content: bytes | None, data: Any
    ) -> WireRequest:
        """The request for `path` (relative to the API base, or a full URL) and `params`, as httpx would build it,
        once its URL is known to be under the API base (else `OutsideProviderApi`, nothing sent)."""
        headers = {"Content-Type": "application/json"} if content is not None else {}
        # The usual request (a `provider_path`, plain parameters) is built here; the final URL is the one httpx
        # would make of it (a test compares them), without parsing it again.
        if (
            data is None
            and _PLAIN_PATH.fullmatch(path)
            and (params is None or all(type(value) in _PLAIN_VALUES for value in params.values()))
        ):
            wire = self.wire
            raw_path = wire.base_raw_path + path
            if not _outside_base_path(raw_path, unquote(raw_path), wire.base_path):
                query = f"?{urlencode(list(params.items()))}" if params else ""
                return WireRequest(method, wire.base_url + path + query, raw_path + query, headers, content or b"")
        built = self.http.build_request(method, path, params=params, content=content, data=data)
        if _steered(path) or _outside_base(built.url, self.http.base_url):
            raise OutsideProviderApi(
                self.provider,
                f"Refused to call {built.url}: it is not under the {self.title} API ({self.http.base_url}); "
                "check the identifiers in the arguments",
            )
        if content is None and "content-type" in built.headers:
            headers["Content-Type"] = built.headers["content-type"]
        return WireRequest(method, str(built.url), built.url.raw_path.decode("ascii"), headers, built.read())

    def path(self, *segments: str | int) -> str:
        """`provider_path` for this client's provider."""
        return provider_path(self.provider, *segments)

    async def graphql(self, query: str, variables: Mapping[str, Any] | None = None, *, mutation: bool = False) -> Any:
        """Run a GraphQL operation (Linear) and return its `data`; errors raise typed ProviderErrors."""
        response = await self.request(
            "POST",
            "/graphql",
            json={"query": query, "variables": dict(variables or {})},
            idempotent=not mutation,
        )
        return response.data.get("data") if isinstance(response.data, dict) else None

    async def _token(self, user_token: bool) -> str:
        if not user_token:
            return await self.tokens.access_token()
        token = await self.tokens.user_access_token()
        if token is None:
            raise ProviderForbidden(
                self.provider,
                f"This {self.title} action needs a user token; reconnect {self.title} and grant the user scopes",
            )
        return token

    async def _backoff(self, attempt: int) -> None:
        delay = min(self.policy.backoff_max_seconds, self.policy.backoff_base_seconds * 2 ** (attempt - 1))
        await self._sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not security

    def _default_rate_limit_wait(self, attempt: int) -> float:
        return min(
            self.policy.max_rate_limit_wait_seconds,
            self.policy.default_rate_limit_wait_seconds * float(2 ** (attempt - 1)),
        )

    def _classify(self, response: ProviderResponse, attempt: int) -> Verdict | None:
        status = response.status_code
        decided = self.api.classify_body(response, attempt)
        if decided is not None:
            return decided
        if status < 300:
            return None
        if status < 400:
            return Failed(
                ProviderBadRequest(
                    self.provider,
                    f"{self.title} answered HTTP {status} (a redirect to {response.headers.get('location')}), "
                    "which is not followed; check the identifiers",
                    status_code=status,
                )
            )
        if self.api.is_unauthorized(response):
            return Unauthorized()
        if self.api.is_rate_limited(response):
            return RateLimited(self.api.rate_limit_wait(response, attempt))
        if status >= 500:
            return Transient()
        message = self.api.error_message(response.data) or f"HTTP {status}"
        # The path as the provider documents it: the base URL's own path (the sandbox's mount) is ours.
        path = urlsplit(response.url).path.removeprefix(self.http.base_url.path.rstrip("/"))
        if status == 404:
            return Failed(
                ProviderNotFound(
                    self.provider,
                    f"{self.title} found nothing at {path}: {message}. Check the identifiers, and that the "
                    f"connected {self.title} account can see the resource",
                    status_code=status,
                )
            )
        if status == 403:
            return Failed(
                ProviderForbidden(
                    self.provider,
                    f"{self.title} refused access: {message}. The connected account may lack permission or a "
                    f"scope; reconnect with the needed scopes",
                    status_code=status,
                )
            )
        return Failed(
            ProviderBadRequest(self.provider, f"{self.title} rejected the request: {message}", status_code=status)
        )


def _jitter(wait: float) -> float:
    return random.uniform(0, 0.1 * wait + 0.05)  # noqa: S311 - jitter, not security


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    cleaned: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        cleaned[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return cleaned


def _to_provider_response(response: WireResponse, url: str) -> ProviderResponse:
    data: Any = None
    body = response.content
    headers = response.headers
    if body and "json" in headers.get("content-type", ""):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
    links: dict[str, dict[str, str]] = {}
    if "link" in headers:
        # httpx's reading of the header (relative URLs stay as given).
        links = {str(rel): link for rel, link in httpx.Response(response.status_code, headers=headers).links.items()}
    return ProviderResponse(response.status_code, headers, data, url, links)


# ---------------------------------------------------------------------------------------------------------
# The per-app registry


class InProcessTransport(httpx.AsyncBaseTransport):
    """Serves requests for one origin with the app itself (ASGI), and sends the rest over the network."""

    def __init__(self, app: ASGIApp, origin: str, network: httpx.AsyncBaseTransport | None = None) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        parts = urlsplit(origin)
        self._scheme, self._netloc = parts.scheme, parts.netloc
        self._network = network or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == self._scheme and request.url.netloc.decode() == self._netloc:
            # A task of its own gives the served request a copy of the context, so the middleware's
            # per-request log bindings (request id) do not overwrite the caller's.
            return await asyncio.create_task(
                self._asgi.handle_async_request(request), context=contextvars.copy_context()
            )
        return await self._network.handle_async_request(request)

    async def aclose(self) -> None:
        await self._network.aclose()


def _no_cookies() -> CookieJar:
    """Provider APIs authenticate by token. One pooled client serves every team, so a cookie a provider sets
    on one team's call must never ride along on another team's: the jar accepts none. (A jar, not
    `httpx.Cookies`: the client copies the cookies of the latter into a jar of its own, policy lost.)"""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


@cache
def _tls_context() -> ssl.SSLContext:
    """Loading the CA bundle takes tens of milliseconds, once per context: every provider client of the process
    shares one (an SSL context is made to be shared by many connections)."""
    return httpx.create_ssl_context()


class ProviderHttp:
    """One pooled `httpx.AsyncClient` per provider; lives on `app.state.provider_http`."""

    def __init__(
        self,
        settings: Settings,
        apis: Iterable[ApiPolicy],
        *,
        app: ASGIApp | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        # Set only in sandbox mode with SANDBOX_IN_PROCESS: requests to PUBLIC_BASE_URL stay in the process.
        self._app = app
        self.timeout = httpx.Timeout(settings.PROVIDER_TIMEOUT_SECONDS)
        self._apis = {api.name: api for api in apis}
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._wires: dict[str, ProviderWire] = {}
        for name, api in self._apis.items():
            # One pool per provider, shared by its httpx client and its wire.
            pool = provider_pool(_tls_context, max_response_bytes=settings.PROVIDER_MAX_RESPONSE_BYTES)
            network = Http1Transport(pool)
            self._clients[name] = httpx.AsyncClient(
                base_url=provider_host(settings, api, "api"),
                headers=dict(api.default_headers),
                cookies=_no_cookies(),
                # With a transport given, httpx takes no proxy from the environment; the context is the
                # transport's own anyway.
                verify=_tls_context(),
                timeout=self.timeout,
                transport=network if app is None else InProcessTransport(app, settings.PUBLIC_BASE_URL, network),
            )
            # Requests served in process need httpx's client (its ASGI transport).
            self._wires[name] = ProviderWire(self._clients[name], pool if app is None else None)

    def transport(self) -> httpx.AsyncBaseTransport | None:
        """A transport for any other client that talks to providers (e.g. the OAuth token exchange).

        None means httpx's default (the network). Close the client that uses it.
        """
        if self._app is None:
            return None
        return InProcessTransport(self._app, self.settings.PUBLIC_BASE_URL)

    def http(self, provider: str) -> httpx.AsyncClient:
        """The raw pooled client for a provider's API host (base URL already set; no auth, no retries)."""
        return self._clients[provider]

    def wire(self, provider: str) -> ProviderWire:
        """Where every `ProviderClient` of a provider sends its requests."""
        return self._wires[provider]

    def instrument(self, tracer_provider: "TracerProvider") -> None:
        """A client span per provider request, by OpenTelemetry's httpx instrumentation: its spans, attributes
        and propagation headers are made from httpx's request objects, so the wires send through httpx from now
        on."""
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        for name, client in self._clients.items():
            HTTPXClientInstrumentor.instrument_client(client, tracer_provider=tracer_provider)
            self._wires[name].through_httpx()

    def client(
        self,
        provider: str,
        tokens: TokenSource,
        *,
        context: Mapping[str, Any] | None = None,
        policy: RetryPolicy | None = None,
    ) -> ProviderClient:
        return ProviderClient(
            self._apis[provider],
            self._clients[provider],
            tokens,
            context=context,
            policy=policy or self.policy,
            sleep=self._sleep,
            wire=self._wires[provider],
        )

    async def aclose(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self._clients.values()))
