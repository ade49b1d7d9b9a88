/** Transport: fetch, the auth header, timeouts, retries, errors and response metadata. */

export const DEFAULT_BASE_URL = "http://127.0.0.1:8000";
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RETRIES = 2;
export const DEFAULT_MAX_RETRY_DELAY_MS = 30_000;
export const VERSION = "0.1.0";

// A 5xx or a dropped connection may hide a write that happened; only these are safe to send twice.
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
const RETRYABLE_STATUSES = new Set([429, 500, 502, 503, 504]);

/** The X-RateLimit-* headers of one response (null when the response carried none). */
export interface RateLimit {
  limit: number | null;
  remaining: number | null;
  /** Unix seconds when the window resets. */
  reset: number | null;
}

/** Status, headers, request id and rate limit of one HTTP response. */
export interface ResponseInfo {
  status: number;
  headers: Headers;
  requestId: string | null;
  rateLimit: RateLimit;
}

export interface ClientOptions {
  /** Defaults to the PLATFORM_API_KEY environment variable (Node). */
  apiKey?: string | undefined;
  /** Defaults to PLATFORM_BASE_URL, then http://127.0.0.1:8000. */
  baseUrl?: string | undefined;
  /** Milliseconds per attempt; default 30000. */
  timeout?: number;
  /** Retries of a 429 (any method) or a 5xx / network failure (idempotent methods); default 2. */
  maxRetries?: number;
  /** A Retry-After longer than this (ms, default 30000) is not waited for: the error is thrown at once. */
  maxRetryDelay?: number;
  /** Called with every response, errors included; the safe way to read rate limits of concurrent calls. */
  onResponse?: (info: ResponseInfo) => void;
  /** A fetch implementation; defaults to the global one (Node 18+, browsers). */
  fetch?: typeof fetch;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
}

/** An error answer of the API, or a failure to reach it (status 0, code CONNECTION_ERROR). */
export class PlatformError extends Error {
  override readonly name = "PlatformError";
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  readonly requestId: string | null;
  readonly response: ResponseInfo | null;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    details?: Record<string, unknown>;
    requestId?: string | null;
    response?: ResponseInfo | null;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? {};
    this.requestId = init.requestId ?? null;
    this.response = init.response ?? null;
  }

  get rateLimit(): RateLimit | null {
    return this.response?.rateLimit ?? null;
  }
}

const HTTP_CODES: Record<number, string> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  409: "CONFLICT",
  422: "VALIDATION_ERROR",
  429: "RATE_LIMITED",
  500: "INTERNAL_ERROR",
};

export type QueryValue = string | number | boolean | null | undefined;

export interface RequestOptions {
  query?: Record<string, QueryValue> | undefined;
  body?: unknown;
}

interface Paginated {
  pagination: { page: number; total_pages: number };
}

function environment(name: string): string | undefined {
  const process = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return process?.env?.[name] || undefined;
}

function toInt(value: string | null): number | null {
  if (value === null || value.trim() === "") return null;
  const parsed = Number(value);
  return Number.isInteger(parsed) ? parsed : null;
}

function responseInfo(response: Response): ResponseInfo {
  const headers = response.headers;
  return {
    status: response.status,
    headers,
    requestId: headers.get("x-request-id"),
    rateLimit: {
      limit: toInt(headers.get("x-ratelimit-limit")),
      remaining: toInt(headers.get("x-ratelimit-remaining")),
      reset: toInt(headers.get("x-ratelimit-reset")),
    },
  };
}

/** Seconds or an HTTP date, in milliseconds from now; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null || value.trim() === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

async function errorFrom(response: Response, info: ResponseInfo): Promise<PlatformError> {
  let code = HTTP_CODES[response.status] ?? "HTTP_ERROR";
  let message = response.statusText || `HTTP ${response.status}`;
  let details: Record<string, unknown> = {};
  const text = await response.text();
  try {
    const error = (JSON.parse(text) as { error?: unknown }).error;
    if (error && typeof error === "object") {
      const body = error as { code?: unknown; message?: unknown; details?: unknown };
      if (typeof body.code === "string") code = body.code;
      if (typeof body.message === "string") message = body.message;
      if (body.details && typeof body.details === "object") details = body.details as Record<string, unknown>;
    }
  } catch {
    // Not our error format (a proxy's page, say): the status alone speaks.
  }
  const requestId = info.requestId ?? (typeof details.requestId === "string" ? details.requestId : null);
  return new PlatformError({ status: response.status, code, message, details, requestId, response: info });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Transport {
  readonly baseUrl: string;
  lastResponse: ResponseInfo | null = null;
  private readonly headers: Record<string, string>;
  private readonly timeout: number;
  private readonly maxRetries: number;
  private readonly maxRetryDelay: number;
  private readonly onResponse: ((info: ResponseInfo) => void) | undefined;
  private readonly fetch: typeof fetch;

  constructor(options: ClientOptions) {
    const apiKey = options.apiKey || environment("PLATFORM_API_KEY");
    if (!apiKey) throw new TypeError("No API key: pass { apiKey } or set PLATFORM_API_KEY");
    this.baseUrl = (options.baseUrl || environment("PLATFORM_BASE_URL") || DEFAULT_BASE_URL).replace(/\/+$/, "");
    this.timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
    this.maxRetries = Math.max(0, options.maxRetries ?? DEFAULT_MAX_RETRIES);
    this.maxRetryDelay = options.maxRetryDelay ?? DEFAULT_MAX_RETRY_DELAY_MS;
    this.onResponse = options.onResponse;
    const fetcher = options.fetch ?? globalThis.fetch;
    if (typeof fetcher !== "function") throw new TypeError("No fetch: pass { fetch } on runtimes without one");
    this.fetch = fetcher;
    this.headers = {
      Accept: "application/json",
      ...options.headers,
      Authorization: `Bearer ${apiKey}`,
    };
  }

  url(path: string, query?: Record<string, QueryValue>): string {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = this.url(path, options.query);
    const headers: Record<string, string> = { ...this.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.timeout) });
      } catch (cause) {
        const delay = this.retryDelay(method, null, null, attempt);
        if (delay === null) {
          throw new PlatformError({
            status: 0,
            code: "CONNECTION_ERROR",
            message: `${method} ${url} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
            cause,
          });
        }
        await sleep(delay);
        continue;
      }
      const info = responseInfo(response);
      this.lastResponse = info;
      this.onResponse?.(info);
      if (response.ok) return (await response.json()) as T;
      const delay = this.retryDelay(method, response.status, response.headers.get("retry-after"), attempt);
      if (delay === null) throw await errorFrom(response, info);
      await response.body?.cancel();
      await sleep(delay);
    }
  }

  /** Every item of a paginated list, page after page, until the last page. */
  async *pages<T>(path: string, key: string, query: Record<string, QueryValue>): AsyncGenerator<T, void, undefined> {
    for (let page = 1; ; page++) {
      const body = await this.request<Paginated & Record<string, unknown>>("GET", path, {
        query: { ...query, page },
      });
      const items = (body[key] ?? []) as T[];
      yield* items;
      if (items.length === 0 || page >= body.pagination.total_pages) return;
    }
  }

  /**
   * Milliseconds to wait before the next attempt, or null when this outcome must not be retried.
   * status null means the request never got an answer. A 429 is retried for every method because the server
   * refused the request before doing anything; a 5xx or a lost connection only for idempotent methods.
   */
  private retryDelay(method: string, status: number | null, retryAfter: string | null, attempt: number): number | null {
    if (attempt >= this.maxRetries) return null;
    if (status !== 429) {
      if (status !== null && !RETRYABLE_STATUSES.has(status)) return null;
      if (!IDEMPOTENT_METHODS.has(method.toUpperCase())) return null;
    }
    const announced = parseRetryAfter(retryAfter);
    if (announced !== null) return announced <= this.maxRetryDelay ? announced : null;
    const backoff = Math.min(this.maxRetryDelay, 500 * 2 ** attempt);
    return backoff * (0.75 + Math.random() / 2);
  }
}
