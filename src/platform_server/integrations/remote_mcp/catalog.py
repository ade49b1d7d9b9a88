"""The curated catalog: remote MCP servers their vendors host, ready to connect as integrations of kind "mcp".

Static data, checked by tests at import (unique ids, https URLs, known categories). Each URL is the one its
vendor publishes in its own documentation (the comment names where); where a vendor serves both Streamable HTTP
and the legacy SSE transport, the entry is the Streamable HTTP endpoint. Any other URL can still be connected:
the catalog is a starting point, not an allowlist.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Transport(StrEnum):
    streamable_http = "streamable_http"
    sse = "sse"


class AuthKind(StrEnum):
    """How the server authorizes its callers: OAuth per the MCP authorization spec, a static bearer token (an API
    key or personal access token the admin pastes), or nothing."""

    oauth = "oauth"
    bearer = "bearer"
    none = "none"


class CatalogCategory(StrEnum):
    development = "Development"
    project_management = "Project Management"
    documentation = "Documentation"
    design = "Design"
    monitoring = "Monitoring"
    payments = "Payments"
    crm = "CRM"
    databases = "Databases"
    cloud = "Cloud"
    files = "Files"
    ai = "AI"


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    id: str
    name: str
    url: str
    category: CatalogCategory
    auth_kind: AuthKind
    transport: Transport
    docs_url: str
    description: str

    def matches(self, search: str) -> bool:
        """Case-insensitive substring match on the id, name and description."""
        needle = search.casefold()
        return any(needle in text.casefold() for text in (self.id, self.name, self.description))


_HTTP, _SSE = Transport.streamable_http, Transport.sse
_OAUTH, _BEARER, _NONE = AuthKind.oauth, AuthKind.bearer, AuthKind.none
_C = CatalogCategory

CATALOG: tuple[CatalogEntry, ...] = (
    # docs.github.com "Using the GitHub MCP Server"; github.blog changelog 2025-06-12
    CatalogEntry(
        "github",
        "GitHub",
        "https://api.githubcopilot.com/mcp/",
        _C.development,
        _OAUTH,
        _HTTP,
        "https://github.com/github/github-mcp-server",
        "Repositories, issues, pull requests, Actions runs and code security alerts, hosted by GitHub.",
    ),
    # linear.app/docs/mcp: "HTTP: https://mcp.linear.app/mcp", OAuth 2.1 with dynamic client registration
    CatalogEntry(
        "linear",
        "Linear",
        "https://mcp.linear.app/mcp",
        _C.project_management,
        _OAUTH,
        _HTTP,
        "https://linear.app/docs/mcp",
        "Find, create and update Linear issues, projects and comments.",
    ),
    # developers.notion.com/guides/mcp/overview: remote MCP server hosted by Notion, OAuth
    CatalogEntry(
        "notion",
        "Notion",
        "https://mcp.notion.com/mcp",
        _C.documentation,
        _OAUTH,
        _HTTP,
        "https://developers.notion.com/guides/mcp/overview",
        "Search, read, create and update Notion pages and databases.",
    ),
    # support.atlassian.com Rovo MCP Server: /v1/sse unsupported after 2026-06-30, use /v1/mcp/authv2
    CatalogEntry(
        "atlassian",
        "Atlassian Rovo (Jira, Confluence, Compass)",
        "https://mcp.atlassian.com/v1/mcp/authv2",
        _C.project_management,
        _OAUTH,
        _HTTP,
        "https://support.atlassian.com/atlassian-rovo-mcp-server/docs/using-with-other-supported-mcp-clients/",
        "Search and summarize Jira, Confluence and Compass content; create and update issues and pages.",
    ),
    # docs.asana.com "Using Asana's MCP Server": "available at: https://mcp.asana.com/v2/mcp"
    CatalogEntry(
        "asana",
        "Asana",
        "https://mcp.asana.com/v2/mcp",
        _C.project_management,
        _OAUTH,
        _HTTP,
        "https://developers.asana.com/docs/using-asanas-mcp-server",
        "Tasks, projects, portfolios and status updates of one Asana workspace.",
    ),
    # developer.monday.com "Platform MCP overview": hosted at https://mcp.monday.com/mcp
    CatalogEntry(
        "monday",
        "monday.com",
        "https://mcp.monday.com/mcp",
        _C.project_management,
        _OAUTH,
        _HTTP,
        "https://developer.monday.com/api-reference/docs/mondaycom-mcp",
        "Read and write monday.com boards, items and columns.",
    ),
    # docs.sentry.io/product/sentry-mcp: remote hosted, OAuth, Streamable HTTP with SSE fallback
    CatalogEntry(
        "sentry",
        "Sentry",
        "https://mcp.sentry.dev/mcp",
        _C.monitoring,
        _OAUTH,
        _HTTP,
        "https://docs.sentry.io/product/sentry-mcp",
        "Sentry issues, errors and events, projects and DSNs; Seer issue fixes.",
    ),
    # docs.stripe.com/mcp: Stripe hosts a remote MCP server, OAuth (or a restricted key as bearer)
    CatalogEntry(
        "stripe",
        "Stripe",
        "https://mcp.stripe.com",
        _C.payments,
        _OAUTH,
        _HTTP,
        "https://docs.stripe.com/mcp",
        "Customers, payments, subscriptions, invoices and refunds; search of Stripe's documentation.",
    ),
    # keycard.ai catalog and developer.paypal.com/ai-tools/mcp-server (sandbox: mcp.sandbox.paypal.com)
    CatalogEntry(
        "paypal",
        "PayPal",
        "https://mcp.paypal.com/mcp",
        _C.payments,
        _OAUTH,
        _HTTP,
        "https://developer.paypal.com/ai-tools/mcp-server",
        "Invoices, orders, refunds, disputes, subscriptions and transactions of a PayPal business account.",
    ),
    # github.com/square/square-mcp-server README: "hosted remote MCP server at https://mcp.squareup.com/sse"
    CatalogEntry(
        "square",
        "Square",
        "https://mcp.squareup.com/sse",
        _C.payments,
        _OAUTH,
        _SSE,
        "https://github.com/square/square-mcp-server",
        "The Square API (catalog, orders, payments, customers, invoices) through discover-then-call tools.",
    ),
    # developers.hubspot.com "Integrate with the remote HubSpot MCP server": https://mcp.hubspot.com with an
    # MCP auth app's OAuth credentials
    CatalogEntry(
        "hubspot",
        "HubSpot",
        "https://mcp.hubspot.com",
        _C.crm,
        _OAUTH,
        _HTTP,
        "https://developers.hubspot.com/mcp",
        "HubSpot CRM records, activities and marketing content.",
    ),
    # help.figma.com "How to set up the Figma remote MCP server"
    CatalogEntry(
        "figma",
        "Figma",
        "https://mcp.figma.com/mcp",
        _C.design,
        _OAUTH,
        _HTTP,
        "https://help.figma.com/hc/en-us/articles/35281350665623-Figma-MCP-collection-How-to-set-up-the-Figma-remote-MCP-server",
        "Design context from Figma files and Dev Mode for implementation work.",
    ),
    # developers.webflow.com/mcp/reference/how-it-works: "runs remotely at https://mcp.webflow.com/sse"
    CatalogEntry(
        "webflow",
        "Webflow",
        "https://mcp.webflow.com/sse",
        _C.design,
        _OAUTH,
        _SSE,
        "https://developers.webflow.com/mcp/reference/how-it-works",
        "Webflow sites, pages and CMS collections; publishing.",
    ),
    # github.com/box/mcp-server-box-remote: "Endpoint: https://mcp.box.com", OAuth; developer.box.com guide
    CatalogEntry(
        "box",
        "Box",
        "https://mcp.box.com",
        _C.files,
        _OAUTH,
        _HTTP,
        "https://github.com/box/mcp-server-box-remote",
        "Box files and folders, search and Box AI, within the user's Box permissions.",
    ),
    # supabase.com/changelog/39434-supabase-remote-mcp-server
    CatalogEntry(
        "supabase",
        "Supabase",
        "https://mcp.supabase.com/mcp",
        _C.databases,
        _OAUTH,
        _HTTP,
        "https://supabase.com/changelog/39434-supabase-remote-mcp-server",
        "Supabase projects: SQL, migrations, logs, edge functions and branches.",
    ),
    # developers.cloudflare.com/agents/model-context-protocol/mcp-servers-for-cloudflare (the four below)
    CatalogEntry(
        "cloudflare-docs",
        "Cloudflare Documentation",
        "https://docs.mcp.cloudflare.com/mcp",
        _C.cloud,
        _NONE,
        _HTTP,
        "https://developers.cloudflare.com/agents/model-context-protocol/mcp-servers-for-cloudflare",
        "Up-to-date reference information on Cloudflare; no account needed.",
    ),
    CatalogEntry(
        "cloudflare-bindings",
        "Cloudflare Workers Bindings",
        "https://bindings.mcp.cloudflare.com/mcp",
        _C.cloud,
        _OAUTH,
        _HTTP,
        "https://developers.cloudflare.com/agents/model-context-protocol/mcp-servers-for-cloudflare",
        "Build Workers applications with storage, AI and compute primitives.",
    ),
    CatalogEntry(
        "cloudflare-builds",
        "Cloudflare Workers Builds",
        "https://builds.mcp.cloudflare.com/mcp",
        _C.cloud,
        _OAUTH,
        _HTTP,
        "https://developers.cloudflare.com/agents/model-context-protocol/mcp-servers-for-cloudflare",
        "Insight into and management of Cloudflare Workers Builds.",
    ),
    CatalogEntry(
        "cloudflare-observability",
        "Cloudflare Observability",
        "https://observability.mcp.cloudflare.com/mcp",
        _C.monitoring,
        _OAUTH,
        _HTTP,
        "https://developers.cloudflare.com/agents/model-context-protocol/mcp-servers-for-cloudflare",
        "Logs and analytics of Cloudflare Workers applications, for debugging.",
    ),
    # huggingface.co/learn/mcp-course/unit1/hf-mcp-server; the official server's README sends the token as
    # `Authorization: Bearer <HF token>`
    CatalogEntry(
        "hugging-face",
        "Hugging Face",
        "https://huggingface.co/mcp",
        _C.ai,
        _BEARER,
        _HTTP,
        "https://huggingface.co/settings/mcp",
        "Search models, datasets, Spaces and papers on the Hugging Face Hub; Gradio Space tools.",
    ),
)


def find_entries(
    category: CatalogCategory | None = None, search: str | None = None, entries: Iterable[CatalogEntry] = CATALOG
) -> list[CatalogEntry]:
    """The entries of `category` whose id, name or description contains `search`, in catalog order."""
    return [
        entry
        for entry in entries
        if (category is None or entry.category is category) and (not search or entry.matches(search))
    ]
