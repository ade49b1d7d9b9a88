/**
 * @platform/api-client: the Platform API for Node 18+ and browsers, over fetch, with no runtime dependency.
 *
 *   const client = new PlatformClient({ apiKey: process.env.PLATFORM_API_KEY });
 *   const features = await client.features.list({ workspace_id: "..." });
 */

import { type ClientOptions, type QueryValue, type ResponseInfo, Transport } from "./core.js";
import type * as T from "./types.js";

export {
  type ClientOptions,
  DEFAULT_BASE_URL,
  PlatformError,
  type QueryValue,
  type RateLimit,
  type ResponseInfo,
  VERSION,
} from "./core.js";
export type * from "./types.js";
export type { components, operations, paths } from "./generated/openapi.js";

const PAGE_SIZE = 100;

function path(template: TemplateStringsArray, ...ids: string[]): string {
  return template.reduce((out, part, index) => out + part + (index < ids.length ? encodeURIComponent(ids[index]!) : ""), "");
}

type Query = Record<string, QueryValue>;

abstract class Resource {
  constructor(protected readonly api: Transport) {}
}

export class Features extends Resource {
  list(query: T.QueryOf<"listFeatures"> = {}): Promise<T.FeatureList> {
    return this.api.request("GET", "/api/features", { query });
  }
  iterate(query: T.IterateOf<"listFeatures"> = {}): AsyncGenerator<T.Feature, void, undefined> {
    return this.api.pages("/api/features", "data", { limit: PAGE_SIZE, ...query });
  }
  create(body: T.FeatureCreate): Promise<T.Feature> {
    return this.api.request("POST", "/api/features", { body });
  }
  get(featureId: string): Promise<T.Feature> {
    return this.api.request("GET", path`/api/features/${featureId}`);
  }
  update(featureId: string, body: T.FeatureUpdate): Promise<T.Feature> {
    return this.api.request("PATCH", path`/api/features/${featureId}`, { body });
  }
  delete(featureId: string): Promise<T.Message> {
    return this.api.request("DELETE", path`/api/features/${featureId}`);
  }
}

export class WorkItems extends Resource {
  list(query: T.QueryOf<"listWorkItems"> = {}): Promise<T.WorkItemList> {
    return this.api.request("GET", "/api/work-items", { query });
  }
  iterate(query: T.IterateOf<"listWorkItems"> = {}): AsyncGenerator<T.WorkItem, void, undefined> {
    return this.api.pages("/api/work-items", "data", { limit: PAGE_SIZE, ...query });
  }
  create(body: T.WorkItemCreate): Promise<T.WorkItem> {
    return this.api.request("POST", "/api/work-items", { body });
  }
  get(workItemId: string): Promise<T.WorkItem> {
    return this.api.request("GET", path`/api/work-items/${workItemId}`);
  }
  update(workItemId: string, body: T.WorkItemUpdate): Promise<T.WorkItem> {
    return this.api.request("PATCH", path`/api/work-items/${workItemId}`, { body });
  }
  delete(workItemId: string): Promise<T.Message> {
    return this.api.request("DELETE", path`/api/work-items/${workItemId}`);
  }
}

export class Workspaces extends Resource {
  list(query: T.QueryOf<"listWorkspaces"> = {}): Promise<T.WorkspaceList> {
    return this.api.request("GET", "/api/workspaces", { query });
  }
  iterate(query: T.IterateOf<"listWorkspaces"> = {}): AsyncGenerator<T.Workspace, void, undefined> {
    return this.api.pages("/api/workspaces", "data", { limit: PAGE_SIZE, ...query });
  }
  create(body: T.WorkspaceCreate): Promise<T.Workspace> {
    return this.api.request("POST", "/api/workspaces", { body });
  }
  get(workspaceId: string): Promise<T.Workspace> {
    return this.api.request("GET", path`/api/workspaces/${workspaceId}`);
  }
  update(workspaceId: string, body: T.WorkspaceUpdate): Promise<T.Workspace> {
    return this.api.request("PATCH", path`/api/workspaces/${workspaceId}`, { body });
  }
  delete(workspaceId: string): Promise<T.Message> {
    return this.api.request("DELETE", path`/api/workspaces/${workspaceId}`);
  }
}

export class ApiKeys extends Resource {
  list(query: T.QueryOf<"listApiKeys"> = {}): Promise<T.ApiKeyList> {
    return this.api.request("GET", "/api/api-keys", { query });
  }
  iterate(query: T.IterateOf<"listApiKeys"> = {}): AsyncGenerator<T.ApiKey, void, undefined> {
    return this.api.pages("/api/api-keys", "data", { limit: PAGE_SIZE, ...query });
  }
  /** The answer holds the new key in `key`, the only time it is shown. */
  create(body: T.ApiKeyCreate): Promise<T.ApiKeyCreated> {
    return this.api.request("POST", "/api/api-keys", { body });
  }
  revoke(apiKeyId: string): Promise<T.ApiKey> {
    return this.api.request("DELETE", path`/api/api-keys/${apiKeyId}`);
  }
}

export class Users extends Resource {
  list(query: T.QueryOf<"listUsers"> = {}): Promise<T.UserList> {
    return this.api.request("GET", "/api/users", { query });
  }
  iterate(query: T.IterateOf<"listUsers"> = {}): AsyncGenerator<T.User, void, undefined> {
    return this.api.pages("/api/users", "data", { limit: PAGE_SIZE, ...query });
  }
  create(body: T.UserCreate): Promise<T.UserCreated> {
    return this.api.request("POST", "/api/users", { body });
  }
}

export class MeResource extends Resource {
  get(): Promise<T.Me> {
    return this.api.request("GET", "/api/me");
  }
}

export class UsageResource extends Resource {
  get(): Promise<T.Usage> {
    return this.api.request("GET", "/api/usage");
  }
}

export class BillingResource extends Resource {
  get(): Promise<T.Billing> {
    return this.api.request("GET", "/api/billing");
  }
}

export class Integrations extends Resource {
  list(query: T.QueryOf<"listIntegrations"> = {}): Promise<T.IntegrationList> {
    return this.api.request("GET", "/api/integrations", { query });
  }
  iterate(query: T.IterateOf<"listIntegrations"> = {}): AsyncGenerator<T.Integration, void, undefined> {
    return this.api.pages("/api/integrations", "integrations", { limit: PAGE_SIZE, ...query });
  }
  /** Starts the OAuth flow: the integration stays `pending` until the user approves at `oauthUrl`. */
  create(body: T.IntegrationCreate): Promise<T.IntegrationCreated> {
    return this.api.request("POST", "/api/integrations", { body });
  }
  get(integrationId: string): Promise<T.IntegrationDetail> {
    return this.api.request("GET", path`/api/integrations/${integrationId}`);
  }
  delete(integrationId: string): Promise<T.Message> {
    return this.api.request("DELETE", path`/api/integrations/${integrationId}`);
  }
  /** Imports now (SyncResult), or in the background with `async: true` (SyncStarted). */
  sync(integrationId: string, body: T.SyncRequest): Promise<T.SyncResult | T.SyncStarted> {
    return this.api.request("POST", path`/api/integrations/${integrationId}/sync`, { body });
  }
  providers(): Promise<T.ProviderCatalog> {
    return this.api.request("GET", "/api/integrations/providers");
  }
}

export class WorkspaceIntegrations extends Resource {
  list(workspaceId: string, query: T.QueryOf<"listWorkspaceIntegrations"> = {}): Promise<T.WorkspaceIntegrationList> {
    return this.api.request("GET", path`/api/workspaces/${workspaceId}/integrations`, { query });
  }
  iterate(
    workspaceId: string,
    query: T.IterateOf<"listWorkspaceIntegrations"> = {},
  ): AsyncGenerator<T.WorkspaceIntegration, void, undefined> {
    const route = path`/api/workspaces/${workspaceId}/integrations`;
    return this.api.pages(route, "integrations", { limit: PAGE_SIZE, ...query });
  }
  enable(workspaceId: string, body: T.WorkspaceIntegrationEnable): Promise<T.WorkspaceIntegrationEnabled> {
    return this.api.request("POST", path`/api/workspaces/${workspaceId}/integrations`, { body });
  }
  update(
    workspaceId: string,
    integrationId: string,
    body: T.WorkspaceIntegrationUpdate,
  ): Promise<T.WorkspaceIntegration> {
    return this.api.request("PATCH", path`/api/workspaces/${workspaceId}/integrations/${integrationId}`, { body });
  }
  disable(workspaceId: string, integrationId: string): Promise<T.Message> {
    return this.api.request("DELETE", path`/api/workspaces/${workspaceId}/integrations/${integrationId}`);
  }
}

/** The REST form of the MCP gateway: call a workspace's tools and read their audit trail. */
export class Tools extends Resource {
  call(workspaceId: string, toolName: string, args: Record<string, unknown> = {}): Promise<T.ToolCallResult> {
    return this.api.request("POST", path`/api/workspaces/${workspaceId}/tools/${toolName}`, { body: args });
  }
  listCalls(workspaceId: string, query: T.QueryOf<"listToolCalls"> = {}): Promise<T.ToolCallList> {
    return this.api.request("GET", path`/api/workspaces/${workspaceId}/tool-calls`, { query });
  }
  iterateCalls(
    workspaceId: string,
    query: T.IterateOf<"listToolCalls"> = {},
  ): AsyncGenerator<T.ToolCall, void, undefined> {
    return this.api.pages(path`/api/workspaces/${workspaceId}/tool-calls`, "data", { limit: PAGE_SIZE, ...query });
  }
}

/** A workspace's AI assistant: each message counts against the plan's monthly AI messages. */
export class Assistant extends Resource {
  send(workspaceId: string, body: T.AiMessageCreate): Promise<T.AiReply> {
    return this.api.request("POST", path`/api/workspaces/${workspaceId}/ai/messages`, { body });
  }
  listConversations(workspaceId: string, query: T.QueryOf<"listAiConversations"> = {}): Promise<T.AiConversationList> {
    return this.api.request("GET", path`/api/workspaces/${workspaceId}/ai/conversations`, { query });
  }
  iterateConversations(
    workspaceId: string,
    query: T.IterateOf<"listAiConversations"> = {},
  ): AsyncGenerator<T.AiConversation, void, undefined> {
    const route = path`/api/workspaces/${workspaceId}/ai/conversations`;
    return this.api.pages(route, "data", { limit: PAGE_SIZE, ...query });
  }
  listMessages(
    workspaceId: string,
    conversationId: string,
    query: T.QueryOf<"listAiMessages"> = {},
  ): Promise<T.AiMessageList> {
    const route = path`/api/workspaces/${workspaceId}/ai/conversations/${conversationId}/messages`;
    return this.api.request("GET", route, { query });
  }
  iterateMessages(
    workspaceId: string,
    conversationId: string,
    query: T.IterateOf<"listAiMessages"> = {},
  ): AsyncGenerator<T.AiMessage, void, undefined> {
    const route = path`/api/workspaces/${workspaceId}/ai/conversations/${conversationId}/messages`;
    return this.api.pages(route, "data", { limit: PAGE_SIZE, ...query });
  }
}

/**
 * The Platform API. Every method resolves to the response body, typed from the server's OpenAPI document, and
 * rejects with a PlatformError. `lastResponse` and the `onResponse` option expose each response's status,
 * request id and rate limit.
 */
export class PlatformClient {
  readonly features: Features;
  readonly workItems: WorkItems;
  readonly workspaces: Workspaces;
  readonly apiKeys: ApiKeys;
  readonly users: Users;
  readonly me: MeResource;
  readonly usage: UsageResource;
  readonly billing: BillingResource;
  readonly integrations: Integrations;
  readonly workspaceIntegrations: WorkspaceIntegrations;
  readonly tools: Tools;
  readonly assistant: Assistant;
  private readonly api: Transport;

  constructor(options: ClientOptions = {}) {
    this.api = new Transport(options);
    this.features = new Features(this.api);
    this.workItems = new WorkItems(this.api);
    this.workspaces = new Workspaces(this.api);
    this.apiKeys = new ApiKeys(this.api);
    this.users = new Users(this.api);
    this.me = new MeResource(this.api);
    this.usage = new UsageResource(this.api);
    this.billing = new BillingResource(this.api);
    this.integrations = new Integrations(this.api);
    this.workspaceIntegrations = new WorkspaceIntegrations(this.api);
    this.tools = new Tools(this.api);
    this.assistant = new Assistant(this.api);
  }

  get baseUrl(): string {
    return this.api.baseUrl;
  }

  /** The last response of this client; with concurrent calls, prefer the onResponse option. */
  get lastResponse(): ResponseInfo | null {
    return this.api.lastResponse;
  }

  /** Any route, with the same auth, retries and errors as the typed methods. */
  request<R = unknown>(method: string, route: string, options: { query?: Query; body?: unknown } = {}): Promise<R> {
    return this.api.request<R>(method, route, options);
  }
}
