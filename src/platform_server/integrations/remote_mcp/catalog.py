"""The curated catalog: remote MCP servers their vendors host, ready to connect as integrations of kind "mcp".

Static data, checked by tests at import (unique ids, https URLs, known categories). Each URL is the one its
vendor publishes in its own documentation (the comment names where); where a vendor serves both Streamable HTTP
and the legacy SSE transport, the entry is the Streamable HTTP endpoint. Any other URL can still be connected:
the catalog is a starting point, not an allowlist.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from platform_server.integrations.remote_mcp.upstream import Transport


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


CATALOG: tuple[CatalogEntry, ...] = (
    # docs.github.com "Using the GitHub MCP Server"; github.blog changelog 2025-06-12
    CatalogEntry(
        id="github",
        name="GitHub",
        url="https://api.githubcopilot.com/mcp/",
        category=CatalogCategory.development,
        auth_kind=AuthKind.oauth,
        transport=Transport.streamable_http,
        docs_url="https://github.com/github/github-mcp-server",
        description="Repositories, issues, pull requests, Actions runs and code security alerts, hosted by GitHub.",
    ),
    # linear.app/docs/mcp: "HTTP: https://mcp.linear.app/mcp", OAuth 2.1 with dynamic client registration
    CatalogEntry(
        id="linear",
        name="Linear",
        url="https://mcp.linear.app/mcp",
        category=CatalogCategory.project_management,
        auth_kind=AuthKind.oauth,
        transport=Transport.streamable_http,
        docs_url="https://linear.app/docs/mcp",
        description="Find, create and update Linear issues, projects and comments.",
    ),
    # developers.notion.com/guides/mcp/overview: remote MCP server hosted by Notion, OAuth
    CatalogEntry(
        id="notion",
        name="Notion",
        url="https://mcp.notion.com/mcp",
        category=CatalogCategory.documentation,
        auth_kind=AuthKind.oauth,
        transport=Transport.streamable_http,
        docs_url="https://developers.notion.com/guides/mcp/overview",
        description="Search, read, create and update Notion pages and databases.",
    ),
    # support.atlassian.com Rovo MCP Server: /v1/sse unsupported after 2026-06-30, use /v1/mcp/authv2
    CatalogEntry(
        id="atlassian",
        name="Atlassian Rovo (Jira, Confluence, Compass)",
        url="https://mcp.atlassian.com/v1/mcp/authv2",
        category=CatalogCategory.project_management,
        auth_kind=AuthKind.oauth,
        transport=Transport.streamable_http,
        docs_url="https://support.atlassian.com/atlassian-rovo-mcp-server/docs/using-with-other-supported-mcp-clients/",
        description="Search and summarize Jira, Confluence and Compass content; create and update issues and pages.",
    ),
    # docs.asana.com "Using Asana's MCP Server": "available at: https://mcp.asana.com/v2/mcp"
    CatalogEntry(
        id="asana",
        name="Asana",
        url="https://mcp.asana.com/v2/mcp",
        category=CatalogCategory.project_management,
        auth_kind=AuthKind.oauth,
        transport=Transport.streamable_http,
        docs_url="https://developers.asana.com/docs/using-asanas-mcp-server",
        description="Tasks, projects, portfolios and status updates of one Asana workspace.",
    ),
    # developer.monday.com "Platform MCP overview": hosted at https://mcp.monday.com/mcp
    CatalogEntry(
        id="monday",
        name="monday.com",
        url="https://mcp.monday.com/mcp",
        category=CatalogCategory.project_management,
        auth_kind=AuthKind.oauth,
        transport=Transport.streamable_http,
        docs_url="https://developer.monday.com/api-reference/docs/mondaycom-mcp",
        description="Read and write monday.com boards, items and columns.",
    ),
    # docs.sentry.io/product/sentry-mcp: remote hosted, OAuth, Streamable HTTP with SSE fallback
    CatalogEntry(
        id="sentry",
        name="Sentry",
        url="https://mcp.sentry.dev/mcp",
        category=CatalogCategory.monitoring,
        auth_kind=AuthKind.oauth,
        transport=Transport.streamable_http,
        docs_url="https://docs.sentry.io/product/sentry-mcp",
        description="Sentry issues, errors and events, projects and DSNs; Seer issue fixes.",
    ),
    # docs.stripe.com/mcp: Stripe hosts a remote MCP server, OAuth (or a restricted key as bearer)
    CatalogEntry(
        id="stripe",
        name="Stripe",
        url="https://mcp.stripe.com",
        category=CatalogCategory.payments,
        auth_kind=AuthKind.oauth,
        transport=Transport.streamable_http,
        docs_url="https://docs.stripe.com/mcp",
        description="Customers, payments, subscriptions, invoices and refunds; search of Stripe's documentation.",
    ),
    # keycard.ai catalog and developer.paypal.com/ai-tools/mcp-server (sandbox: mcp.sandbox.paypal.com)
    CatalogEntry(
        id="paypal",
        name="PayPal",
        url="https://mcp.paypal.com/mcp",
        category=CatalogCategory.payments,
        auth_kind=AuthKind.oauth,
        transport=Transport.streamable_http,
        docs_url="https://developer.paypal.com/ai-tools/mcp-server",
        description="Invoices, orders, refunds, disputes, subscriptions and transactions of a PayPal business account.",
    ),
    # github.com/square/square-mcp-server README: "hosted remote MCP server at https://mcp.squareup.com/sse"
    CatalogEntry(
        id="square",
        name="Square",
        url="https://mcp.squareup.com/sse",
        category=CatalogCategory.payments,
        auth_kind=AuthKind.oauth,
        transport=Transport.sse,
        docs_url="https://github.com/square/square-mcp-server",
        description="The Square API (catalog, orders, payments, customers, invoices) through discover-then-call tools.",
    ),
    # developers.hubspot.com "Integrate with the remote HubSpot MCP server": https://mcp.hubspot.com with an
    # MCP auth app's OAuth credentials
    CatalogEntry(
        id="hubspot",
        name="HubSpot",
        url="https://mcp.hubspot.com",
        category=CatalogCategory.crm,
        auth_kind=AuthKind.oauth,
        transport=Transport.streamable_http,
        docs_url="https://developers.hubspot.com/mcp",
        description="HubSpot CRM records, activities and marketing content.",
    ),
    # help.figma.com "How to set up the Figma remote MCP server"
    CatalogEntry(
        id="figma",
        name="Figma",
        url="https://mcp.figma.com/mcp",
        category=CatalogCategory.design,
        auth_kind=AuthKind.oauth,
        transport=Transport.streamable_http,
        docs_url="https://help.figma.com/hc/en-us/articles/35281350665623-Figma-MCP-collection-How-to-set-up-the-Figma-remote-MCP-server",
        description="Design context from Figma files and Dev Mode for implementation work.",
    ),
    # developers.webflow.com/mcp/reference/how-it-works: "runs remotely at https://mcp.webflow.com/sse"
    CatalogEntry(
        id="webflow",
        name="Webflow",
        url="https://mcp.webflow.com/sse",
        category=CatalogCategory.design,
        auth_kind=AuthKind.oauth,
        transport=Transport.sse,
        docs_url="https://developers.webflow.com/mcp/reference/how-it-works",
        description="Webflow sites, pages and CMS collections; publishing.",
    ),
    # github.com/box/mcp-server-box-remote: "Endpoint: https://mcp.box.com", OAuth; developer.box.com guide
    CatalogEntry(
        id="box",
        name="Box",
        url="https://mcp.box.com",
        category=CatalogCategory.files,
        auth_kind=AuthKind.oauth,
        transport=Transport.streamable_http,
        docs_url="https://github.com/box/mcp-server-box-remote",
        description="Box files and folders, search and Box AI, within the user's Box permissions.",
    ),
    # supabase.com/changelog/39434-supabase-remote-mcp-server
    CatalogEntry(
        id="supabase",
        name="Supabase",
        url="https://mcp.supabase.com/mcp",
        category=CatalogCategory.databases,
        auth_kind=AuthKind.oauth,
        transport=Transport.streamable_http,
        docs_url="https://supabase.com/changelog/39434-supabase-remote-mcp-server",
        description="Supabase projects: SQL, migrations, logs, edge functions and branches.",
    ),
    # developers.cloudflare.com/agents/model-context-protocol/mcp-servers-for-cloudflare (the four below)
    CatalogEntry(
        id="cloudflare-docs",
        name="Cloudflare Documentation",
        url="https://docs.mcp.cloudflare.com/mcp",
        category=CatalogCategory.cloud,
        auth_kind=AuthKind.none,
        transport=Transport.streamable_http,
        docs_url="https://developers.cloudflare.com/agents/model-context-protocol/mcp-servers-for-cloudflare",
        description="Up-to-date reference information on Cloudflare; no account needed.",
    ),
    CatalogEntry(
        id="cloudflare-bindings",
        name="Cloudflare Workers Bindings",
        url="https://bindings.mcp.cloudflare.com/mcp",
        category=CatalogCategory.cloud,
        auth_kind=AuthKind.oauth,
        transport=Transport.streamable_http,
        docs_url="https://developers.cloudflare.com/agents/model-context-protocol/mcp-servers-for-cloudflare",
        description="Build Workers applications with storage, AI and compute primitives.",
    ),
    CatalogEntry(
        id="cloudflare-builds",
        name="Cloudflare Workers Builds",
        url="https://builds.mcp.cloudflare.com/mcp",
        category=CatalogCategory.cloud,
        auth_kind=AuthKind.oauth,
        transport=Transport.streamable_http,
        docs_url="https://developers.cloudflare.com/agents/model-context-protocol/mcp-servers-for-cloudflare",
        description="Insight into and management of Cloudflare Workers Builds.",
    ),
    CatalogEntry(
        id="cloudflare-observability",
        name="Cloudflare Observability",
        url="https://observability.mcp.cloudflare.com/mcp",
        category=CatalogCategory.monitoring,
        auth_kind=AuthKind.oauth,
        transport=Transport.streamable_http,
        docs_url="https://developers.cloudflare.com/agents/model-context-protocol/mcp-servers-for-cloudflare",
        description="Logs and analytics of Cloudflare Workers applications, for debugging.",
    ),
    # huggingface.co/learn/mcp-course/unit1/hf-mcp-server; the official server's README sends the token as
    # `Authorization: Bearer <HF token>`
    CatalogEntry(
        id="hugging-face",
        name="Hugging Face",
        url="https://huggingface.co/mcp",
        category=CatalogCategory.ai,
        auth_kind=AuthKind.bearer,
        transport=Transport.streamable_http,
        docs_url="https://huggingface.co/settings/mcp",
        description="Search models, datasets, Spaces and papers on the Hugging Face Hub; Gradio Space tools.",
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
