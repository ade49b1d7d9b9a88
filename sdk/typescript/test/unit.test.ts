/** Retry policy, errors and configuration, against a scripted HTTP server on a free port. */

import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { after, before, beforeEach, describe, it } from "node:test";

import { PlatformClient, PlatformError } from "@platform/api-client";

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

let server: Server;
let baseUrl: string;
let script: Answer[] = [];
let seen: { method: string; url: string; authorization: string | undefined; body: string }[] = [];

async function read(request: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of request) text += String(chunk);
  return text;
}

before(async () => {
  server = createServer(async (request, response) => {
    seen.push({
      method: request.method!,
      url: request.url!,
      authorization: request.headers.authorization,
      body: await read(request),
    });
    const answer = script[Math.min(seen.length, script.length) - 1] ?? { status: 500 };
    const isText = typeof answer.body === "string";
    response.writeHead(answer.status, {
      "content-type": isText ? "text/html" : "application/json",
      ...answer.headers,
    });
    response.end(isText ? answer.body : JSON.stringify(answer.body ?? {}));
  });
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  const address = server.address();
  baseUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});

after(() => new Promise<void>((closed) => server.close(() => closed())));

beforeEach(() => {
  script = [];
  seen = [];
});

const ME = { user: {}, team: {}, plan: {} };
const LIMITED = { error: { code: "RATE_LIMITED", message: "Too many requests", details: {} } };
const client = (options: Partial<ConstructorParameters<typeof PlatformClient>[0]> = {}) =>
  new PlatformClient({ apiKey: "plat_test", baseUrl, ...options });

describe("retries", () => {
  it("retries a 429 after Retry-After, then succeeds", async () => {
    script = [{ status: 429, body: LIMITED, headers: { "retry-after": "0" } }, { status: 200, body: ME }];
    assert.deepEqual(await client().me.get(), ME);
    assert.equal(seen.length, 2);
    assert.equal(seen[0]!.authorization, "Bearer plat_test");
  });

  it("retries a 429 on a write too: the server refused it before doing anything", async () => {
    script = [{ status: 429, body: LIMITED, headers: { "retry-after": "0" } }, { status: 201, body: { id: "1" } }];
    const created = await client().workspaces.create({ name: "w" });
    assert.equal(created.id, "1");
    assert.deepEqual(seen.map((request) => [request.method, request.body]), [
      ["POST", '{"name":"w"}'],
      ["POST", '{"name":"w"}'],
    ]);
  });

  it("retries a 5xx on a read up to maxRetries", async () => {
    script = [{ status: 503, body: { error: { code: "UNAVAILABLE", message: "down" } } }];
    const error = await client({ maxRetries: 3, maxRetryDelay: 10 }).features.list().catch((e: unknown) => e);
    assert.ok(error instanceof PlatformError);
    assert.deepEqual([error.status, error.code, error.message], [503, "UNAVAILABLE", "down"]);
    assert.equal(seen.length, 4);
  });

  it("does not retry a 5xx on a write", async () => {
    script = [{ status: 500, body: { error: { code: "INTERNAL_ERROR", message: "x", details: { requestId: "r1" } } } }];
    const error = await client({ maxRetryDelay: 10 })
      .features.create({ workspaceId: "1", title: "t" })
      .catch((e: unknown) => e);
    assert.ok(error instanceof PlatformError);
    assert.equal(error.requestId, "r1");
    assert.equal(seen.length, 1);
  });

  it("fails at once when Retry-After exceeds maxRetryDelay", async () => {
    script = [{ status: 429, body: LIMITED, headers: { "retry-after": "3600", "x-ratelimit-limit": "100" } }];
    const error = await client({ maxRetryDelay: 5000 }).me.get().catch((e: unknown) => e);
    assert.ok(error instanceof PlatformError);
    assert.equal(error.code, "RATE_LIMITED");
    assert.equal(error.response?.headers.get("retry-after"), "3600");
    assert.equal(error.rateLimit?.limit, 100);
    assert.equal(seen.length, 1);
  });

  it("turns a page that is not our error format into a status code", async () => {
    script = [{ status: 502, body: "<html>bad gateway</html>" }];
    const error = await client({ maxRetries: 0 }).me.get().catch((e: unknown) => e);
    assert.ok(error instanceof PlatformError);
    assert.deepEqual([error.status, error.code, error.details], [502, "HTTP_ERROR", {}]);
  });
});

describe("requests", () => {
  it("escapes ids in paths and drops unset query parameters", async () => {
    script = [{ status: 200, body: { message: "ok" } }, { status: 200, body: { data: [], pagination: {} } }];
    await client().features.delete("../api-keys/1");
    await client().features.list({ workspace_id: "7", status: null, limit: 5 });
    assert.deepEqual(
      seen.map((request) => request.url),
      ["/api/features/..%2Fapi-keys%2F1", "/api/features?workspace_id=7&limit=5"],
    );
  });

  it("iterates every page", async () => {
    const page = (n: number, ids: string[]) => ({
      status: 200,
      body: { data: ids.map((id) => ({ id })), pagination: { page: n, limit: 2, total: 5, total_pages: 3 } },
    });
    script = [page(1, ["a", "b"]), page(2, ["c", "d"]), page(3, ["e"])];
    const ids: string[] = [];
    for await (const feature of client().features.iterate({ limit: 2 })) ids.push(feature.id);
    assert.deepEqual(ids, ["a", "b", "c", "d", "e"]);
    assert.deepEqual(
      seen.map((request) => new URL(request.url, baseUrl).searchParams.get("page")),
      ["1", "2", "3"],
    );
  });

  it("reports a server that never answers as CONNECTION_ERROR after the timeout", async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((listening) => silent.listen(0, "127.0.0.1", listening));
    const address = silent.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      const error = await new PlatformClient({
        apiKey: "k",
        baseUrl: `http://127.0.0.1:${port}`,
        timeout: 200,
        maxRetries: 0,
      })
        .me.get()
        .catch((e: unknown) => e);
      assert.ok(error instanceof PlatformError);
      assert.deepEqual([error.status, error.code], [0, "CONNECTION_ERROR"]);
    } finally {
      silent.closeAllConnections();
      await new Promise((closed) => silent.close(closed));
    }
  });
});

describe("configuration", () => {
  it("reads the key and the base URL from the environment", async () => {
    const saved = { ...process.env };
    try {
      process.env.PLATFORM_API_KEY = "plat_env";
      process.env.PLATFORM_BASE_URL = `${baseUrl}/`;
      script = [{ status: 200, body: ME }];
      const fromEnv = new PlatformClient();
      assert.equal(fromEnv.baseUrl, baseUrl);
      await fromEnv.me.get();
      assert.equal(seen[0]!.authorization, "Bearer plat_env");
      delete process.env.PLATFORM_API_KEY;
      assert.throws(() => new PlatformClient(), /PLATFORM_API_KEY/);
    } finally {
      process.env = saved;
    }
  });

  it("defaults to the local server", () => {
    const saved = process.env.PLATFORM_BASE_URL;
    delete process.env.PLATFORM_BASE_URL;
    try {
      assert.equal(new PlatformClient({ apiKey: "k" }).baseUrl, "http://127.0.0.1:8000");
    } finally {
      if (saved !== undefined) process.env.PLATFORM_BASE_URL = saved;
    }
  });
});
