/** Friendly names for the generated OpenAPI types (src/generated/openapi.ts, made by sdk/generate.py). */

import type { components, operations } from "./generated/openapi.js";

type Schemas = components["schemas"];

/** The query parameters of an operation, every one optional. */
export type QueryOf<Op extends keyof operations> = NonNullable<operations[Op]["parameters"]["query"]>;
/** List parameters without `page`: the iterators walk the pages themselves. */
export type IterateOf<Op extends keyof operations> = Omit<QueryOf<Op>, "page">;

export type Pagination = Schemas["Pagination"];
export type Message = Schemas["Message"];
export type ErrorResponse = Schemas["ErrorResponse"];

export type Me = Schemas["MeRead"];
export type User = Schemas["UserRead"];
export type UserCreate = Schemas["UserCreate"];
export type UserCreated = Schemas["UserCreated"];
export type UserList = Schemas["Paginated_UserRead_"];
export type Usage = Schemas["UsageRead"];
export type Billing = Schemas["BillingRead"];

export type ApiKey = Schemas["ApiKeyRead"];
export type ApiKeyCreate = Schemas["ApiKeyCreate"];
export type ApiKeyCreated = Schemas["ApiKeyCreated"];
export type ApiKeyList = Schemas["Paginated_ApiKeyRead_"];

export type Workspace = Schemas["WorkspaceRead"];
export type WorkspaceCreate = Schemas["WorkspaceCreate"];
export type WorkspaceUpdate = Schemas["WorkspaceUpdate"];
export type WorkspaceList = Schemas["Paginated_WorkspaceRead_"];

export type Feature = Schemas["FeatureRead"];
export type FeatureCreate = Schemas["FeatureCreate"];
export type FeatureUpdate = Schemas["FeatureUpdate"];
export type FeatureList = Schemas["Paginated_FeatureRead_"];
export type FeatureStatus = Schemas["FeatureStatus"];
export type Priority = Schemas["Priority"];

export type WorkItem = Schemas["WorkItemRead"];
export type WorkItemCreate = Schemas["WorkItemCreate"];
export type WorkItemUpdate = Schemas["WorkItemUpdate"];
export type WorkItemList = Schemas["Paginated_WorkItemRead_"];
export type WorkItemStatus = Schemas["WorkItemStatus"];

export type Integration = Schemas["IntegrationRead"];
export type IntegrationCreate = Schemas["IntegrationCreate"];
export type IntegrationCreated = Schemas["IntegrationCreated"];
export type IntegrationDetail = Schemas["IntegrationDetail"];
export type IntegrationList = Schemas["IntegrationList"];
export type IntegrationStatus = Schemas["IntegrationStatus"];
export type ProviderName = Schemas["ProviderName"];
export type ProviderCatalog = Schemas["ProviderCatalog"];
export type SyncRequest = Schemas["SyncRequest"];
export type SyncResult = Schemas["SyncResult"];
export type SyncStarted = Schemas["SyncStarted"];

export type WorkspaceIntegration = Schemas["WorkspaceIntegrationRead"];
export type WorkspaceIntegrationEnable = Schemas["WorkspaceIntegrationEnable"];
export type WorkspaceIntegrationEnabled = Schemas["WorkspaceIntegrationEnabled"];
export type WorkspaceIntegrationUpdate = Schemas["WorkspaceIntegrationUpdate"];
export type WorkspaceIntegrationList = Schemas["WorkspaceIntegrationList"];

export type ToolCallResult = Schemas["ToolCallResult"];
export type ToolCall = Schemas["ToolCallRead"];
export type ToolCallList = Schemas["Paginated_ToolCallRead_"];
export type ToolCallOutcome = Schemas["ToolCallOutcome"];

export type AiMessageCreate = Schemas["AiMessageCreate"];
export type AiReply = Schemas["AiReplyRead"];
export type AiConversation = Schemas["AiConversationRead"];
export type AiConversationList = Schemas["Paginated_AiConversationRead_"];
export type AiMessage = Schemas["AiMessageRead"];
export type AiMessageList = Schemas["Paginated_AiMessageRead_"];
