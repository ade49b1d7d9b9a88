"""The settings page: HTML routes under /settings, signed in with an API key, every form CSRF-protected.

Handlers stay thin: check the session and the CSRF token, call the owning service, then redirect (so a reload
never repeats an action) or, when the service refuses, render the page again with its message.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jinja2
from authlib.oauth2.rfc6749.errors import OAuth2Error
from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.staticfiles import StaticFiles

from platform_server.auth.dependencies import PrincipalCacheDep, admin_principal
from platform_server.config import Settings
from platform_server.db import SessionDep
from platform_server.errors import NotFound, PlatformError, ResourceNotFound, ValidationFailed
from platform_server.gateway.dependencies import AuditWritten
from platform_server.ids import is_valid_id
from platform_server.integrations.providers.base import resolve_url
from platform_server.integrations.push.manual import MANUAL_SETUP_PROVIDERS, push_setup_service
from platform_server.integrations.push.registration import follow_enablements
from platform_server.integrations.registry import PROVIDER_CLASSES
from platform_server.integrations.remote_mcp.service import remote_mcp_service
from platform_server.integrations.router import integration_deps
from platform_server.integrations.schemas import ProviderName, WorkspaceIntegrationEnable
from platform_server.integrations.service import (
    SETTINGS_CALLBACK_PATH,
    IntegrationDeps,
    integration_service,
)
from platform_server.integrations.states import STATE_LIFETIME
from platform_server.integrations.sync.responses import RunAfterCommit
from platform_server.integrations.sync.service import sync_service
from platform_server.limits.dependencies import PublicRateLimit
from platform_server.limits.limiter import request_limiter
from platform_server.oauth_server.service import (
    AUTHORIZE_PATH,
    AuthorizationRequest,
    PageError,
    error_redirect,
    mcp_url,
    oauth_server_service,
    redirect_origin,
)
from platform_server.routing import PrefixedRouter
from platform_server.security import random_token
from platform_server.web.csrf import CSRF_NONCE_COOKIE, CsrfSigner
from platform_server.web.messages import Banner, Tone, query_banners
from platform_server.web.service import IntegrationsPage, settings_page_service
from platform_server.web.session import (
    COOKIE_PATH,
    SESSION_COOKIE,
    SignedIn,
    clear_cookie,
    cookies_secure,
    set_session_cookie,
    web_session_service,
)

WEB_DIR = Path(__file__).parent
STATIC_PATH = "/settings/static"
SIGN_IN_PATH = "/settings/sign-in"
INTEGRATIONS_PATH = "/settings/integrations"
CONNECTED_APPS_PATH = "/settings/connected-apps"
MAX_QUERY_VALUE = 200
# Room for an OAuth authorization request (client id URL, redirect URI, resource, challenge, state).
MAX_NEXT_LENGTH = 4000
# An OAuth callback that arrives before sign-in waits here, in this browser only, until the sign-in is done.
OAUTH_CALLBACK_COOKIE = "platform_oauth_callback"

router = PrefixedRouter(prefix="/settings", include_in_schema=False)


def static_files() -> StaticFiles:
    return StaticFiles(directory=WEB_DIR / "static")


def _when(value: datetime | None) -> str:
    return f"{value.day} {value:%b %Y, %H:%M} UTC" if value is not None else ""


def _duration(milliseconds: int | None) -> str:
    if milliseconds is None:
        return ""
    return f"{milliseconds} ms" if milliseconds < 1000 else f"{milliseconds / 1000:.1f} s"


def _environment() -> jinja2.Environment:
    # Autoescape everywhere, whatever the template's extension: no value ever reaches the page as markup.
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(WEB_DIR / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["when"] = _when
    environment.filters["duration"] = _duration
    environment.globals["static"] = lambda name: f"{STATIC_PATH}/{name}"
    return environment


templates = Jinja2Templates(env=_environment())


def _security_headers(settings: Settings, extra_form_target: str | None = None) -> dict[str, str]:
    # Forms may only lead here or to a provider's consent page (connect redirects there after the POST), and
    # the OAuth consent form to the redirect URI of the app being authorized.
    form_targets = sorted(
        {_origin(resolve_url(settings, name, cls.oauth.authorize_url)) for name, cls in PROVIDER_CLASSES.items()}
        | ({extra_form_target} if extra_form_target else set())
    )
    policy = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
        f"base-uri 'none'; frame-ancestors 'none'; form-action 'self' {' '.join(form_targets)}"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _signer(request: Request) -> CsrfSigner:
    signer: CsrfSigner = request.app.state.csrf_signer
    return signer


def _headers(request: Request) -> dict[str, str]:
    return _security_headers(_settings(request))


def _render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    response: HTMLResponse = templates.TemplateResponse(
        request, template, context, status_code=status_code, headers=headers or _headers(request)
    )
    return response


def _redirect(request: Request, path: str, *, anchor: str | None = None, **query: str) -> RedirectResponse:
    location = f"{path}?{urlencode(query)}" if query else path
    if anchor is not None:
        location = f"{location}#{anchor}"
    return RedirectResponse(location, status_code=303, headers=_headers(request))


def _to_authorization(request: Request, web: SignedIn, name: str, oauth_url: str) -> Response:
    """On to an authorization server after a form's POST: redirected when it is a provider's (the page's
    `form-action` names those), else by a link, as a remote MCP server's can be anywhere and a form may not
    lead there."""
    headers = _headers(request)
    origin = _origin(oauth_url)
    if origin in headers["Content-Security-Policy"].split():
        return RedirectResponse(oauth_url, status_code=303, headers=headers)
    context = {
        "web": web,
        "title": f"Authorize {name}",
        "name": name,
        "origin": origin,
        "oauth_url": oauth_url,
        "csrf_token": _csrf_token(request, web),
    }
    return _render(request, "remote_authorize.html", context, headers={**headers, "Referrer-Policy": "no-referrer"})


def _query(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value[:MAX_QUERY_VALUE] if value else None


async def current_web_session(request: Request, session: SessionDep) -> SignedIn | None:
    return await web_session_service.resolve(session, request.cookies.get(SESSION_COOKIE))


WebSessionDep = Annotated[SignedIn | None, Depends(current_web_session)]
DepsDep = Annotated[IntegrationDeps, Depends(integration_deps)]
CsrfField = Annotated[str, Form()]


def _same_site_request(request: Request) -> bool:
    """Defence in depth beside the token: browsers say where a POST came from, and it must be here."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    allowed = {_origin(_settings(request).PUBLIC_BASE_URL), _origin(str(request.base_url))}
    return origin in allowed


def _csrf_refused(request: Request, web: SignedIn | None) -> HTMLResponse:
    context = {
        "web": web,
        "title": "This form has expired",
        "csrf_token": _csrf_token(request, web) if web else "",
    }
    return _render(request, "csrf_refused.html", context, status_code=403)


def _csrf_ok(request: Request, web: SignedIn, token: str) -> bool:
    return _same_site_request(request) and _signer(request).verify(web.token, token, signed_in=True)


def _csrf_token(request: Request, web: SignedIn) -> str:
    return _signer(request).token_for(web.token, signed_in=True)


def _to_sign_in(request: Request, *, notice: str | None = None, next_page: str | None = None) -> RedirectResponse:
    """To the sign-in form, which then leads to `next_page` or else to the page asked for (with its query, e.g.
    the banner of a connection that just finished)."""
    expired = request.cookies.get(SESSION_COOKIE) is not None
    query = {}
    if notice is not None or expired:
        query["notice"] = notice or "session_expired"
    if next_page is None and request.method == "GET":
        next_page = f"{request.url.path}?{request.url.query}" if request.url.query else request.url.path
    safe_next = _safe_next(next_page)
    if safe_next is not None and safe_next != INTEGRATIONS_PATH:
        query["next"] = safe_next
    response = _redirect(request, SIGN_IN_PATH, **query)
    if expired:
        clear_cookie(response, request, _settings(request), SESSION_COOKIE)
    return response


def _safe_next(value: str | None) -> str | None:
    """A page of this site's settings to go on to after sign-in, never anywhere else (no open redirect)."""
    if not value or len(value) > MAX_NEXT_LENGTH or not value.isprintable() or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/settings/") or parts.path == SIGN_IN_PATH:
        return None
    return value


@router.get("", response_class=RedirectResponse)
async def settings_home(request: Request) -> RedirectResponse:
    return _redirect(request, INTEGRATIONS_PATH)


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, web: WebSessionDep) -> Response:
    next_page = _safe_next(request.query_params.get("next"))
    if web is not None:
        return _redirect(request, next_page or INTEGRATIONS_PATH)
    banners = query_banners(None, None, _query(request, "notice"))
    return _sign_in_form(request, banners=banners, next_page=next_page)


def _sign_in_form(
    request: Request, *, banners: list[Banner], next_page: str | None, status_code: int = 200
) -> HTMLResponse:
    nonce = request.cookies.get(CSRF_NONCE_COOKIE) or ""
    fresh = not 16 <= len(nonce) <= 100
    if fresh:
        nonce = random_token()
    context = {
        "web": None,
        "title": "Sign in",
        "banners": banners,
        "csrf_token": _signer(request).token_for(nonce, signed_in=False),
        "next_page": next_page,
    }
    response = _render(request, "sign_in.html", context, status_code=status_code)
    if fresh:
        response.set_cookie(
            CSRF_NONCE_COOKIE,
            nonce,
            path=COOKIE_PATH,
            secure=cookies_secure(request, _settings(request)),
            httponly=True,
            samesite="lax",
        )
    return response


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    session: SessionDep,
    cache: PrincipalCacheDep,
    csrf_token: CsrfField = "",
    api_key: Annotated[str, Form()] = "",
    next_page: Annotated[str, Form(alias="next")] = "",
) -> Response:
    nonce = request.cookies.get(CSRF_NONCE_COOKIE)
    if not (_same_site_request(request) and _signer(request).verify(nonce, csrf_token, signed_in=False)):
        return _csrf_refused(request, None)
    settings = _settings(request)
    safe_next = _safe_next(next_page)
    try:
        guard = request_limiter(request.app.state).auth_failure_guard(request.scope)
        token = await web_session_service.sign_in(session, cache, settings, api_key, guard)
    except PlatformError as exc:
        await session.rollback()
        return _sign_in_form(
            request, banners=[Banner(Tone.error, exc.message)], next_page=safe_next, status_code=exc.status_code
        )
    response = _redirect(request, safe_next or INTEGRATIONS_PATH)
    set_session_cookie(response, request, settings, token)
    clear_cookie(response, request, settings, CSRF_NONCE_COOKIE)
    return response


@router.post("/sign-out", response_class=RedirectResponse)
async def sign_out(request: Request, session: SessionDep, web: WebSessionDep, csrf_token: CsrfField = "") -> Response:
    if web is None:
        return _to_sign_in(request)
    if not _csrf_ok(request, web, csrf_token):
        return _csrf_refused(request, web)
    await web_session_service.sign_out(session, web.token)
    response = _redirect(request, SIGN_IN_PATH, notice="signed_out")
    clear_cookie(response, request, _settings(request), SESSION_COOKIE)
    return response


@router.get(SETTINGS_CALLBACK_PATH.removeprefix(router.prefix), dependencies=[PublicRateLimit])
async def oauth_callback(
    request: Request,
    session: SessionDep,
    web: WebSessionDep,
    deps: DepsDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> Response:
    """Finishes an OAuth authorization (the API's callback sends the browser here): only for the user who
    started it, signed in. A browser without a session keeps the code and state in an HttpOnly cookie of this
    path, unused, and comes back here after sign-in; they never travel in the sign-in page's URL."""
    received = {name: value for name, value in (("code", code), ("state", state), ("error", error)) if value}
    settings = _settings(request)
    if web is None:
        response = _to_sign_in(request, notice="sign_in_to_connect", next_page=SETTINGS_CALLBACK_PATH)
        if received:
            response.set_cookie(
                OAUTH_CALLBACK_COOKIE,
                urlencode(received),
                max_age=int(STATE_LIFETIME.total_seconds()),
                path=SETTINGS_CALLBACK_PATH,
                secure=cookies_secure(request, settings),
                httponly=True,
                samesite="lax",
            )
        return response
    params = received or dict(parse_qsl(request.cookies.get(OAUTH_CALLBACK_COOKIE, "")))
    location = await integration_service.complete_oauth(
        session, deps, web.principal, code=params.get("code"), state=params.get("state"), error=params.get("error")
    )
    # The URL carried a code and a state: they go nowhere else, not even in a Referer.
    response = RedirectResponse(
        location, status_code=303, headers={**_headers(request), "Referrer-Policy": "no-referrer"}
    )
    if OAUTH_CALLBACK_COOKIE in request.cookies:
        clear_cookie(response, request, settings, OAUTH_CALLBACK_COOKIE, SETTINGS_CALLBACK_PATH)
    return response


@router.get("/integrations", response_class=HTMLResponse)
async def integrations_page(
    request: Request, _written: AuditWritten, session: SessionDep, web: WebSessionDep, deps: DepsDep
) -> Response:
    if web is None:
        return _to_sign_in(request)
    banners = query_banners(_query(request, "success"), _query(request, "error"), _query(request, "notice"))
    return await _integrations(request, session, web, deps, banners=banners)


async def _integrations(
    request: Request,
    session: AsyncSession,
    web: SignedIn,
    deps: IntegrationDeps,
    *,
    banners: list[Banner],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    page = await settings_page_service.integrations_page(session, web.principal, deps)
    sync_result = _sync_result(page, _query(request, "sync"))
    context = {
        "web": web,
        "title": "Integrations",
        "banners": [*banners, *([sync_result] if sync_result else [])],
        "page": page,
        "can_manage": web.principal.can_manage,
        "csrf_token": _csrf_token(request, web),
        "manual_setup_providers": MANUAL_SETUP_PROVIDERS,
    }
    return _render(request, "integrations.html", context, status_code=status_code, headers=headers)


def _sync_result(page: IntegrationsPage, sync_log_id: str | None) -> Banner | None:
    found = page.sync_log(sync_log_id) if sync_log_id else None
    if found is None:
        return None
    card, log = found
    name = card.integration.name
    if log.status == "completed":
        items = "1 item" if log.items_synced == 1 else f"{log.items_synced} items"
        took = f" in {_duration(log.duration_ms)}" if log.duration_ms is not None else ""
        return Banner(Tone.success, f"Sync of {name} completed: {items} synced{took}.")
    if log.status == "failed":
        return Banner(Tone.error, f"Sync of {name} failed.", detail=log.error)
    if log.status == "cancelled":
        return Banner(Tone.info, f"Sync of {name} was cancelled: {log.items_synced} items synced before it stopped.")
    return Banner(Tone.info, f"Sync of {name} is {log.status}: {log.items_synced} items so far.")


Action = Callable[[SignedIn], Awaitable[Response]]


@dataclass(frozen=True)
class PageAction:
    """What every form of the integrations page posts with, beside its own fields."""

    request: Request
    session: AsyncSession
    web: SignedIn | None
    deps: IntegrationDeps
    csrf_token: str


async def page_action(
    request: Request, session: SessionDep, web: WebSessionDep, deps: DepsDep, csrf_token: CsrfField = ""
) -> PageAction:
    return PageAction(request, session, web, deps, csrf_token)


PageActionDep = Annotated[PageAction, Depends(page_action)]


async def _act(page: PageAction, action: Action, *, managing: bool = True) -> Response:
    """Runs an action of the integrations page: signed in first, then CSRF, then the role (managing needs admin
    or owner, as in the API), then the action; a refusal changes nothing and renders the page again with the
    service's own message."""
    request, session, web, deps = page.request, page.session, page.web, page.deps
    if web is None:
        return _to_sign_in(request)
    if not _csrf_ok(request, web, page.csrf_token):
        return _csrf_refused(request, web)
    try:
        if managing:
            await admin_principal(web.principal)
        return await action(web)
    except PlatformError as exc:
        await session.rollback()
        banner = Banner(Tone.error, exc.message)
        return await _integrations(request, session, web, deps, banners=[banner], status_code=exc.status_code)
    except ValidationError as exc:
        await session.rollback()
        problems = "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors())
        banner = Banner(Tone.error, "Some values in the form are not valid.", detail=problems)
        return await _integrations(request, session, web, deps, banners=[banner], status_code=422)


@router.post("/integrations/connect", response_class=RedirectResponse)
async def connect(page: PageActionDep, provider: Annotated[str, Form()] = "") -> Response:
    async def start(web: SignedIn) -> Response:
        if provider not in PROVIDER_CLASSES:
            raise NotFound(f"There is no provider called {provider[:40]!r}", details={"provider": provider[:40]})
        oauth_url = await settings_page_service.connect(page.session, web.principal, page.deps, ProviderName(provider))
        return _redirect(page.request, oauth_url)

    return await _act(page, start)


@router.post("/integrations/mcp/connect", response_class=RedirectResponse)
async def connect_remote(
    page: PageActionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    url: Annotated[str, Form(max_length=2000)] = "",
    transport: Annotated[str, Form(max_length=40)] = "",
    auth_type: Annotated[str, Form(max_length=40)] = "",
    header_name: Annotated[str, Form(max_length=100)] = "",
    token: Annotated[str, Form(max_length=4096)] = "",
    client_id: Annotated[str, Form(max_length=2000)] = "",
    client_secret: Annotated[str, Form(max_length=4096)] = "",
    slug: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    form = {
        "name": name.strip(),
        "url": url.strip(),
        "transport": transport,
        "auth_type": auth_type,
        "header_name": header_name.strip(),
        "token": token,
        "client_id": client_id.strip(),
        "client_secret": client_secret,
        "slug": slug.strip(),
    }

    async def start(web: SignedIn) -> Response:
        integration, oauth_url = await settings_page_service.connect_remote(
            page.session, web.principal, page.deps, form
        )
        if oauth_url is not None:
            return _to_authorization(page.request, web, integration.name, oauth_url)
        return _redirect(page.request, INTEGRATIONS_PATH, anchor=f"remote-{integration.id}", notice="remote_connected")

    return await _act(page, start)


@router.post("/integrations/{integration_id}/tools/refresh", response_class=RedirectResponse)
async def refresh_remote_tools(page: PageActionDep, integration_id: str) -> Response:
    async def refresh(web: SignedIn) -> Response:
        await remote_mcp_service.refresh(
            page.session,
            web.principal,
            page.deps.settings,
            page.deps.encryptor,
            page.deps.token_manager,
            integration_id,
        )
        return _redirect(page.request, INTEGRATIONS_PATH, anchor=f"remote-{integration_id}", notice="tools_refreshed")

    return await _act(page, refresh)


@router.post("/integrations/{integration_id}/tools/approve", response_class=RedirectResponse)
async def approve_remote_tool(
    page: PageActionDep, integration_id: str, tool: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    async def approve(web: SignedIn) -> Response:
        await remote_mcp_service.approve(page.session, web.principal, integration_id, tool)
        return _redirect(page.request, INTEGRATIONS_PATH, anchor=f"remote-{integration_id}", notice="tool_approved")

    return await _act(page, approve)


@router.post("/integrations/{integration_id}/reconnect", response_class=RedirectResponse)
async def reconnect(page: PageActionDep, integration_id: str) -> Response:
    async def start(web: SignedIn) -> Response:
        oauth_url = await settings_page_service.reconnect(page.session, web.principal, page.deps, integration_id)
        integration = await integration_service.get(page.session, web.principal, integration_id)
        return _to_authorization(page.request, web, integration.name, oauth_url)

    return await _act(page, start)


@router.get("/integrations/{integration_id}/disconnect", response_class=HTMLResponse)
async def confirm_disconnect(
    request: Request,
    _written: AuditWritten,
    session: SessionDep,
    web: WebSessionDep,
    deps: DepsDep,
    integration_id: str,
) -> Response:
    if web is None:
        return _to_sign_in(request)
    try:
        integration = await integration_service.get(session, web.principal, integration_id)
    except PlatformError as exc:
        return await _integrations(
            request,
            session,
            web,
            deps,
            banners=[Banner(Tone.error, exc.message)],
            status_code=exc.status_code,
        )
    page = await settings_page_service.integrations_page(session, web.principal, deps)
    card = next((card for card in page.cards if card.integration.id == integration.id), None)
    context = {
        "web": web,
        "title": f"Disconnect {integration.name}",
        "integration": integration,
        "enabled_in": [row.workspace.name for row in card.workspaces if row.access] if card else [],
        "can_manage": web.principal.can_manage,
        "csrf_token": _csrf_token(request, web),
    }
    return _render(request, "disconnect.html", context)


@router.post("/integrations/{integration_id}/disconnect", response_class=RedirectResponse)
async def disconnect(page: PageActionDep, integration_id: str) -> Response:
    async def remove(web: SignedIn) -> Response:
        await integration_service.delete(page.session, web.principal, page.deps, integration_id)
        return _redirect(page.request, INTEGRATIONS_PATH, notice="disconnected")

    return await _act(page, remove)


@router.post("/workspaces/{workspace_id}/integrations/{integration_id}", response_class=RedirectResponse)
async def save_workspace_access(
    page: PageActionDep,
    workspace_id: str,
    integration_id: str,
    action: Annotated[str, Form()] = "save",
    tools: Annotated[list[str] | None, Form()] = None,
    default_project: Annotated[str, Form()] = "",
    sync_interval_minutes: Annotated[str, Form()] = "",
) -> Response:
    async def save(web: SignedIn) -> Response:
        if not is_valid_id(integration_id):
            raise ResourceNotFound("Integration", integration_id[:40])
        if action == "disable":
            await integration_service.disable(page.session, web.principal, workspace_id, integration_id)
            notice = "disabled"
        else:
            data = WorkspaceIntegrationEnable(
                integration_id=integration_id,
                # Nothing ticked sends no field at all: that means no tools, not "every tool".
                enabled_tools=tools or [],
                default_project=default_project.strip() or None,
                sync_interval_minutes=_interval(sync_interval_minutes),
            )
            await integration_service.enable(page.session, web.principal, workspace_id, data)
            notice = "enabled"
        state = page.request.app.state
        integration = await integration_service.get(page.session, web.principal, integration_id)
        await follow_enablements(page.session, state.settings, state.encryptor, state.token_manager, integration)
        return _redirect(page.request, INTEGRATIONS_PATH, anchor=f"integration-{integration_id}", notice=notice)

    return await _act(page, save)


def _interval(value: str) -> int | None:
    """The schedule field: empty is off; anything but whole minutes is refused with the page's message."""
    value = value.strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 6:
        raise ValidationFailed("Scheduled sync must be a whole number of minutes (5 to 10080), or empty for off")
    return int(value)


@router.post("/integrations/{integration_id}/sync", response_class=RedirectResponse)
async def run_sync(
    page: PageActionDep,
    integration_id: str,
    workspace_id: Annotated[str, Form()] = "",
    source_entity: Annotated[str, Form()] = "",
) -> Response:
    async def run(web: SignedIn) -> Response:
        plan, integration = await settings_page_service.plan_sync(
            page.session, web.principal, integration_id, workspace_id, source_entity
        )
        log = await sync_service.open_log_or_busy(page.session, plan)

        async def ran() -> Response:
            sync_log_id = await settings_page_service.run_sync(page.request.app.state, plan, log, integration)
            return _redirect(page.request, INTEGRATIONS_PATH, anchor=f"integration-{integration_id}", sync=sync_log_id)

        # Like the API's synchronous sync: the run's log commits with this request, the run follows it.
        return RunAfterCommit(ran)

    # Members may sync, as through the API.
    return await _act(page, run, managing=False)


@router.post("/integrations/{integration_id}/push-webhooks/{push_webhook_id}/manual-setup")
async def set_up_push_webhook(page: PageActionDep, integration_id: str, push_webhook_id: str) -> Response:
    async def set_up(web: SignedIn) -> Response:
        setup = await push_setup_service.set_up_manually(
            page.session,
            page.deps.settings,
            page.deps.encryptor,
            web.principal.team_id,
            integration_id,
            push_webhook_id,
        )
        where = (
            "the repository's Settings → Webhooks" if setup.webhook.provider == "github" else "Linear's API settings"
        )
        banner = Banner(
            Tone.success,
            f"Add the webhook for {setup.webhook.target} in {where}, with this secret. It is shown only now.",
            detail=f"URL {setup.url} · content type application/json · events {', '.join(setup.events)} · "
            f"secret {setup.secret}",
        )
        # Rendered, not redirected: the secret must not travel in a URL, and no cache may keep the page.
        headers = {**_headers(page.request), "Cache-Control": "no-store"}
        return await _integrations(page.request, page.session, web, page.deps, banners=[banner], headers=headers)

    return await _act(page, set_up)


@router.post("/integrations/{integration_id}/sync/{sync_log_id}/cancel", response_class=RedirectResponse)
async def cancel_sync(page: PageActionDep, integration_id: str, sync_log_id: str) -> Response:
    async def cancel(web: SignedIn) -> Response:
        await settings_page_service.cancel_sync(page.session, web.principal, integration_id, sync_log_id)
        return _redirect(page.request, INTEGRATIONS_PATH, anchor=f"integration-{integration_id}", sync=sync_log_id)

    # Admins, as through the API.
    return await _act(page, cancel)


def _to_client(request: Request, location: str) -> RedirectResponse:
    """Back to the app being authorized; the URL carries a code, so no Referer goes along."""
    return RedirectResponse(location, status_code=303, headers={**_headers(request), "Referrer-Policy": "no-referrer"})


def _authorization_error_page(request: Request, web: SignedIn | None, message: str) -> HTMLResponse:
    context = {"web": web, "title": "Authorization refused", "message": message, "csrf_token": ""}
    if web is not None:
        context["csrf_token"] = _csrf_token(request, web)
    return _render(request, "oauth_error.html", context, status_code=400)


async def _validated_authorization(
    request: Request, session: AsyncSession, web: SignedIn | None, params: dict[str, str]
) -> AuthorizationRequest | Response:
    """The request, or the response that refuses it: a page while the redirect URI is not trusted, else the
    error sent back to the app."""
    settings = _settings(request)
    try:
        return await oauth_server_service.validate_authorization(session, settings, params)
    except PageError as exc:
        return _authorization_error_page(request, web, exc.message)
    except OAuth2Error as exc:
        return _to_client(request, error_redirect(settings, exc, exc.redirect_uri, exc.state))


@router.get(AUTHORIZE_PATH.removeprefix(router.prefix), response_class=HTMLResponse, dependencies=[PublicRateLimit])
async def oauth_authorize(request: Request, session: SessionDep, web: WebSessionDep) -> Response:
    """The OAuth authorization endpoint for MCP clients: sign in, then approve or deny (remembered)."""
    params = dict(request.query_params)
    if len(params) != len(request.query_params.multi_items()):
        return _authorization_error_page(request, web, "The authorization request repeats a parameter.")
    authorization = await _validated_authorization(request, session, web, params)
    if isinstance(authorization, Response):
        return authorization
    if web is None:
        return _to_sign_in(request, notice="sign_in_to_authorize")
    settings = _settings(request)
    try:
        if await oauth_server_service.remembered(session, web.principal, authorization):
            return _to_client(
                request, await oauth_server_service.approve(session, settings, web.principal, authorization)
            )
        page = await oauth_server_service.consent_page(session, web.principal, authorization)
    except PageError as exc:
        return _authorization_error_page(request, web, exc.message)
    context = {
        "web": web,
        "title": f"Authorize {authorization.client.client_name}",
        "page": page,
        "fields": authorization.form_fields(),
        "csrf_token": _csrf_token(request, web),
    }
    headers = _security_headers(settings, redirect_origin(authorization.redirect_uri))
    return _render(request, "oauth_authorize.html", context, headers=headers)


@router.post(AUTHORIZE_PATH.removeprefix(router.prefix), response_class=RedirectResponse)
async def oauth_decide(
    request: Request,
    session: SessionDep,
    web: WebSessionDep,
    csrf_token: CsrfField = "",
    decision: Annotated[str, Form()] = "",
    access: Annotated[str, Form()] = "all",
) -> Response:
    if web is None:
        return _to_sign_in(request, notice="sign_in_to_authorize")
    if not _csrf_ok(request, web, csrf_token):
        return _csrf_refused(request, web)
    form = await request.form()
    params = {name: value for name, value in form.items() if isinstance(value, str)}
    authorization = await _validated_authorization(request, session, web, params)
    if isinstance(authorization, Response):
        return authorization
    settings = _settings(request)
    if decision != "approve":
        return _to_client(request, oauth_server_service.deny(settings, authorization))
    if access == "read":
        authorization = authorization.read_only_version()
    try:
        location = await oauth_server_service.approve(session, settings, web.principal, authorization)
    except PageError as exc:
        return _authorization_error_page(request, web, exc.message)
    return _to_client(request, location)


@router.get("/connected-apps", response_class=HTMLResponse)
async def connected_apps_page(request: Request, session: SessionDep, web: WebSessionDep) -> Response:
    if web is None:
        return _to_sign_in(request)
    return await _connected_apps(request, session, web, banners=query_banners(None, None, _query(request, "notice")))


async def _connected_apps(
    request: Request, session: AsyncSession, web: SignedIn, *, banners: list[Banner], status_code: int = 200
) -> HTMLResponse:
    context = {
        "web": web,
        "title": "Connected apps",
        "banners": banners,
        "apps": await oauth_server_service.connected_apps(session, web.principal),
        "example_url": mcp_url(_settings(request), "{workspaceId}"),
        "csrf_token": _csrf_token(request, web),
    }
    return _render(request, "connected_apps.html", context, status_code=status_code)


@router.post("/connected-apps/{consent_id}/revoke", response_class=RedirectResponse)
async def revoke_connected_app(
    request: Request, session: SessionDep, web: WebSessionDep, consent_id: str, csrf_token: CsrfField = ""
) -> Response:
    if web is None:
        return _to_sign_in(request)
    if not _csrf_ok(request, web, csrf_token):
        return _csrf_refused(request, web)
    try:
        await oauth_server_service.disconnect(session, web.principal, consent_id)
    except PlatformError as exc:
        await session.rollback()
        return await _connected_apps(
            request, session, web, banners=[Banner(Tone.error, exc.message)], status_code=exc.status_code
        )
    return _redirect(request, CONNECTED_APPS_PATH, notice="app_revoked")
