"""The application factory: settings in, a configured FastAPI app out."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from platform_server.assistant.client import build_chat_client
from platform_server.assistant.router import router as assistant_router
from platform_server.auth.router import router as api_keys_router
from platform_server.auth.service import PrincipalCache
from platform_server.billing.router import router as billing_router
from platform_server.config import Settings, get_settings
from platform_server.email.router import router as email_webhooks_router
from platform_server.exception_handlers import register_exception_handlers
from platform_server.features.router import router as features_router
from platform_server.gateway.audit import AuditWriter
from platform_server.gateway.router import router as gateway_router
from platform_server.gateway.server import McpGateway
from platform_server.health.router import router as health_router
from platform_server.integrations.push.router import router as push_webhooks_router
from platform_server.integrations.push.router import setup_router as push_setup_router
from platform_server.integrations.remote_mcp.catalog_router import router as remote_mcp_catalog_router
from platform_server.integrations.remote_mcp.metadata_router import router as remote_mcp_metadata_router
from platform_server.integrations.remote_mcp.router import router as remote_mcp_router
from platform_server.integrations.remote_mcp.upstream import aclose_upstreams
from platform_server.integrations.router import router as integrations_router
from platform_server.integrations.sync.router import router as sync_router
from platform_server.integrations.workspace_router import router as workspace_integrations_router
from platform_server.jobs.engine import jobs_in_serve
from platform_server.jobs.resources import open_resources
from platform_server.limits.limiter import RequestLimiter
from platform_server.limits.middleware import RateLimitHeadersMiddleware
from platform_server.limits.router import router as usage_router
from platform_server.log import configure_logging
from platform_server.metrics.registry import RequestMetrics
from platform_server.metrics.router import router as metrics_router
from platform_server.metrics.service import MetricsExporter, job_queue_source
from platform_server.metrics.tracing import start_tracing
from platform_server.middleware import BodySizeLimitMiddleware, RequestContextMiddleware, TextGuardMiddleware
from platform_server.oauth_server.router import router as oauth_server_router
from platform_server.security import Encryptor
from platform_server.teams.router import router as me_router
from platform_server.web.csrf import CsrfSigner
from platform_server.web.router import STATIC_PATH, static_files
from platform_server.web.router import router as settings_page_router
from platform_server.webhook_events.intake import WEBHOOK_PATH_PREFIX
from platform_server.work_items.router import router as work_items_router
from platform_server.workspaces.router import router as workspaces_router

API_DESCRIPTION = """
The Platform API: workspaces, features and work items, with integrations to GitHub, Jira, Linear, Notion,
Slack and Figma.

Authenticate with an API key: `Authorization: Bearer plat_…`. Errors always have the shape
`{"error": {"code", "message", "details"}}`, and every response carries `X-Request-ID`.
"""


DOCS_PATH = "/docs"
DOCS_ASSETS_PATH = "/docs/assets"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
SETTINGS_PAGE_PATH = "/settings"


def _operation_id(route: APIRoute) -> str:
    return route.name


def _install_docs(app: FastAPI) -> None:
    """Swagger UI from the pinned swagger-ui-bundle-v2 package, not a CDN: /docs works offline too."""
    openapi_url = app.openapi_url or "/openapi.json"

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - docs",
            swagger_js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_PATH}/favicon-32x32.png",
            oauth2_redirect_url=OAUTH2_REDIRECT_PATH,
        )

    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def home() -> RedirectResponse:
        # A browser opening the server's address wants a page, not a JSON 404.
        return RedirectResponse(SETTINGS_PAGE_PATH)

    app.add_api_route(DOCS_PATH, swagger_ui, include_in_schema=False)
    app.add_api_route(OAUTH2_REDIRECT_PATH, oauth2_redirect, include_in_schema=False)
    app.add_api_route("/", home, include_in_schema=False)
    app.mount(DOCS_ASSETS_PATH, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.LOG_LEVEL, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # In sandbox mode provider calls to PUBLIC_BASE_URL are answered by this app itself (no network).
        in_process = settings.PLATFORM_SANDBOX and settings.SANDBOX_IN_PROCESS
        async with open_resources(settings, app.state.encryptor, sandbox_app=app if in_process else None) as resources:
            app.state.resources = resources
            app.state.engine = resources.engine
            app.state.provider_http = resources.provider_http
            app.state.sessionmaker = resources.sessionmaker
            app.state.redis = resources.redis
            app.state.token_manager = resources.token_manager
            app.state.email_sender = resources.email_sender
            app.state.metrics.register_queue_stats(job_queue_source(resources.sessionmaker))
            if tracing is not None:
                tracing.instrument(resources.engine, resources.provider_http)
            app.state.limiter = RequestLimiter(settings, app.state.sessionmaker)
            # None when no model is configured: the assistant then answers 503 AI_NOT_CONFIGURED.
            app.state.ai_client = build_chat_client(settings, app.state.provider_http.transport())
            app.state.mcp_gateway = McpGateway(settings)
            app.state.audit_writer = AuditWriter(app.state.engine)
            try:
                async with jobs_in_serve(resources) as runner, app.state.mcp_gateway.run():
                    app.state.job_runner = runner
                    yield
            finally:
                await app.state.audit_writer.aclose()
                if app.state.ai_client is not None:
                    await app.state.ai_client.aclose()
                await app.state.limiter.aclose()
                await aclose_upstreams()
                if tracing is not None:
                    await tracing.aclose()

    app = FastAPI(
        title="Platform API",
        version=version("platform-server"),
        description=API_DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        # Served by _install_docs from local assets; ReDoc would need a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.principal_cache = PrincipalCache(
        settings.API_KEY_CACHE_TTL_SECONDS, settings.API_KEY_LAST_USED_INTERVAL_SECONDS
    )
    app.state.encryptor = Encryptor(settings.secret_keys())
    app.state.csrf_signer = CsrfSigner(settings.secret_keys()[0])
    app.state.metrics = MetricsExporter(settings)
    tracing = start_tracing(app, settings)

    register_exception_handlers(app)
    if settings.PLATFORM_SANDBOX:
        # Imported here: the simulated providers are a development tool, never loaded in production.
        from platform_server.sandbox import install_sandbox

        install_sandbox(app, settings)
    # Routers are matched in order: the MCP endpoint, the busiest route, comes right after the probes.
    for router in (
        health_router,
        metrics_router,
        gateway_router,
        me_router,
        api_keys_router,
        workspaces_router,
        features_router,
        work_items_router,
        assistant_router,
        # Before the integrations router, whose `/{integration_id}` would otherwise take `mcp`.
        remote_mcp_catalog_router,
        integrations_router,
        remote_mcp_router,
        sync_router,
        workspace_integrations_router,
        billing_router,
        email_webhooks_router,
        push_webhooks_router,
        push_setup_router,
        usage_router,
        oauth_server_router,
        remote_mcp_metadata_router,
        settings_page_router,
    ):
        app.include_router(router)
    app.mount(STATIC_PATH, static_files(), name="settings-static")
    _install_docs(app)

    # Inside the size limit: it reads the body before any route does.
    app.add_middleware(TextGuardMiddleware, raw_body_prefixes=(WEBHOOK_PATH_PREFIX,))
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.MAX_BODY_BYTES)
    app.add_middleware(RequestContextMiddleware, observe=RequestMetrics() if settings.METRICS_ENABLED else None)
    # Outermost: the headers also reach the 500 that RequestContextMiddleware renders.
    app.add_middleware(RateLimitHeadersMiddleware)
    return app
