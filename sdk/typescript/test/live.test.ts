/** Every resource against a live `platform-server serve --sandbox`, and the READMEs' examples run as written
 * against the packed, installed package. */

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";

import { PlatformClient, PlatformError, type ResponseInfo } from "@platform/api-client";

import { approve, type LiveServer, PACKAGE_DIR, RATE_LIMIT, REPO, startServer } from "./server.js";

const run = promisify(execFile);
let server: LiveServer;
let client: PlatformClient;

before(async () => {
  server = await startServer();
  client = new PlatformClient({ apiKey: server.apiKey, baseUrl: server.baseUrl });
});

after(async () => {
  await server?.stop();
});

async function rejection(promise: Promise<unknown>): Promise<PlatformError> {
  const error = await promise.then(
    () => assert.fail("expected a PlatformError"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof PlatformError, String(error));
  return error;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function scratchWorkspace(): Promise<string> {
  return (await client.workspaces.create({ name: "SDK test" })).id;
}

describe("resources", () => {
  it("features: create, get, update, list, iterate, delete", async () => {
    const workspace_id = await scratchWorkspace();
    const created = [];
    for (let n = 0; n < 5; n++) created.push(await client.features.create({ workspaceId: workspace_id, title: `F${n}` }));
    assert.equal(created[0]!.status, "backlog");
    assert.equal((await client.features.get(created[0]!.id)).title, "F0");
    const updated = await client.features.update(created[0]!.id, { status: "done", priority: "high" });
    assert.deepEqual([updated.status, updated.priority], ["done", "high"]);
    const first = await client.features.list({ workspace_id, limit: 2 });
    assert.deepEqual(first.pagination, { page: 1, limit: 2, total: 5, total_pages: 3 });
    const all = await collect(client.features.iterate({ workspace_id, limit: 2 }));
    assert.deepEqual(all.map((f) => f.id).sort(), created.map((f) => f.id).sort());
    const done = await collect(client.features.iterate({ workspace_id, status: "done" }));
    assert.deepEqual(done.map((f) => f.id), [created[0]!.id]);
    assert.ok((await client.features.delete(created[1]!.id)).message);
    assert.equal((await rejection(client.features.get(created[1]!.id))).status, 404);
    await client.workspaces.delete(workspace_id);
  });

  it("work items", async () => {
    const workspaceId = await scratchWorkspace();
    const item = await client.workItems.create({ workspaceId, title: "Bug", labels: ["ui"], status: "todo" });
    assert.equal((await client.workItems.update(item.id, { status: "in_review" })).status, "in_review");
    assert.deepEqual((await client.workItems.get(item.id)).labels, ["ui"]);
    const listed = await client.workItems.list({ workspace_id: workspaceId, status: "in_review" });
    assert.deepEqual(listed.data.map((row) => row.id), [item.id]);
    assert.deepEqual((await collect(client.workItems.iterate({ workspace_id: workspaceId }))).map((row) => row.id), [item.id]);
    assert.ok((await client.workItems.delete(item.id)).message);
    await client.workspaces.delete(workspaceId);
  });

  it("workspaces", async () => {
    const workspace = await client.workspaces.create({ name: "Scratch", description: "for the test" });
    assert.equal((await client.workspaces.update(workspace.id, { name: "Renamed" })).name, "Renamed");
    assert.equal((await client.workspaces.get(workspace.id)).description, "for the test");
    const ids = (await collect(client.workspaces.iterate({ limit: 1 }))).map((row) => row.id);
    assert.ok(ids.includes(workspace.id) && ids.includes(server.workspaceId));
    assert.equal(ids.length, (await client.workspaces.list()).pagination.total);
    await client.workspaces.delete(workspace.id);
    const gone = await rejection(client.workspaces.get(workspace.id));
    assert.deepEqual([gone.status, gone.code], [404, "NOT_FOUND"]);
  });

  it("api keys: create, use, revoke", async () => {
    const created = await client.apiKeys.create({ name: "ci" });
    assert.ok(created.key.startsWith("plat_"));
    const second = new PlatformClient({ apiKey: created.key, baseUrl: server.baseUrl });
    assert.equal((await second.me.get()).user.email, "sdk@example.com");
    assert.ok((await collect(client.apiKeys.iterate({ limit: 1 }))).some((key) => key.id === created.apiKey.id));
    assert.ok((await client.apiKeys.revoke(created.apiKey.id)).revokedAt);
    const refused = await rejection(second.me.get());
    assert.deepEqual([refused.status, refused.code], [401, "UNAUTHORIZED"]);
  });

  it("me, usage, billing, users, providers", async () => {
    const me = await client.me.get();
    assert.deepEqual([me.team.id, me.user.role, me.plan.name], [server.teamId, "owner", "free"]);
    const usage = await client.usage.get();
    assert.equal(usage.rateLimit.limit, RATE_LIMIT);
    assert.equal((await client.billing.get()).plan, "free");
    const invited = await client.users.create({ email: "member@example.com", name: "Member" });
    assert.equal(invited.user.role, "member");
    assert.ok((await collect(client.users.iterate())).some((user) => user.email === "member@example.com"));
    const catalog = await client.integrations.providers();
    for (const name of ["github", "jira", "linear"]) assert.ok(catalog.providers.some((p) => p.provider === name));
  });

  it("integrations, workspace integrations, tool calls and their audit", async () => {
    const workspaceId = await scratchWorkspace();
    const created = await client.integrations.create({ provider: "github" });
    assert.equal(created.integration.status, "pending");
    assert.ok(created.oauthUrl, "a provider integration starts with an authorization URL");
    await approve(server.baseUrl, server.apiKey, created.oauthUrl, "github");
    const integrationId = created.integration.id;
    const listed = await client.integrations.list({ provider: "github", status: "connected" });
    assert.ok(listed.integrations.some((row) => row.id === integrationId));
    assert.ok((await collect(client.integrations.iterate({ limit: 1 }))).some((row) => row.id === integrationId));
    assert.equal((await client.integrations.get(integrationId)).status, "connected");

    const enabled = await client.workspaceIntegrations.enable(workspaceId, { integrationId, defaultProject: "acme/mobile" });
    assert.ok(enabled.accessId);
    const [access] = (await client.workspaceIntegrations.list(workspaceId)).integrations;
    assert.deepEqual([access?.id, access?.enabled], [integrationId, true]);
    const updated = await client.workspaceIntegrations.update(workspaceId, integrationId, {
      enabledTools: ["github_list_repos"],
    });
    assert.deepEqual(updated.enabledTools, ["github_list_repos"]);
    assert.deepEqual((await collect(client.workspaceIntegrations.iterate(workspaceId))).map((row) => row.id), [integrationId]);

    const result = await client.tools.call(workspaceId, "github_list_repos", {});
    assert.equal(result.tool, "github_list_repos");
    const refused = await rejection(client.tools.call(workspaceId, "github_list_issues", { repo: "acme/product" }));
    assert.ok([403, 404].includes(refused.status));
    const audit = await client.tools.listCalls(workspaceId, { tool: "github_list_repos" });
    assert.deepEqual(audit.data.map((row) => row.id), [result.toolCallId]);
    assert.equal((await collect(client.tools.iterateCalls(workspaceId, { limit: 1 }))).length, 2);

    const synced = await client.integrations.sync(integrationId, {
      syncType: "import",
      workspaceId,
      sourceEntity: "issues",
      targetEntity: "work_items",
    });
    assert.equal(synced.status, "completed");
    const imported = await collect(client.workItems.iterate({ workspace_id: workspaceId, source_provider: "github", limit: 5 }));
    assert.ok("itemsSynced" in synced);
    assert.equal(imported.length, synced.itemsSynced);

    assert.ok((await client.workspaceIntegrations.disable(workspaceId, integrationId)).message);
    assert.equal((await client.workspaceIntegrations.list(workspaceId)).count, 0);
    assert.ok((await client.integrations.delete(integrationId)).message);
    assert.equal((await rejection(client.integrations.get(integrationId))).status, 404);
    await client.workspaces.delete(workspaceId);
  });
});

describe("assistant", () => {
  it("messages and conversations", async () => {
    const workspaceId = await scratchWorkspace();
    const reply = await client.assistant.send(workspaceId, { message: "Which issues are open?" });
    assert.ok(reply.reply);
    const { conversationId } = reply;
    const followUp = await client.assistant.send(workspaceId, { message: "And closed ones?", conversationId });
    assert.equal(followUp.conversationId, conversationId);
    const listed = await client.assistant.listConversations(workspaceId);
    assert.deepEqual(listed.data.map((row) => row.id), [conversationId]);
    const iterated = await collect(client.assistant.iterateConversations(workspaceId, { limit: 1 }));
    assert.deepEqual(iterated.map((row) => row.id), [conversationId]);
    const messages = await collect(client.assistant.iterateMessages(workspaceId, conversationId, { limit: 1 }));
    assert.deepEqual(messages.map((message) => message.role), ["user", "assistant", "user", "assistant"]);
    const page = await client.assistant.listMessages(workspaceId, conversationId, { limit: 1 });
    assert.equal(page.pagination.total, messages.length);
    await client.workspaces.delete(workspaceId);
  });
});

describe("errors and responses", () => {
  it("an error carries status, code, message, details, requestId and the rate limit", async () => {
    const error = await rejection(client.features.create({ workspaceId: "1", title: "" }));
    assert.deepEqual([error.status, error.code], [422, "VALIDATION_ERROR"]);
    assert.ok(error.message);
    assert.ok(Object.keys(error.details).length > 0);
    assert.ok(error.requestId);
    assert.equal(error.response?.requestId, error.requestId);
    assert.equal(error.rateLimit?.limit, RATE_LIMIT);
  });

  it("rate-limit headers are readable from every response", async () => {
    const seen: ResponseInfo[] = [];
    const watched = new PlatformClient({ apiKey: server.apiKey, baseUrl: server.baseUrl, onResponse: (info) => seen.push(info) });
    await watched.me.get();
    await rejection(watched.features.get("1"));
    assert.equal(watched.lastResponse, seen.at(-1));
    assert.deepEqual(seen.map((info) => info.status), [200, 404]);
    for (const info of seen) {
      assert.equal(info.rateLimit.limit, RATE_LIMIT);
      assert.ok(info.rateLimit.remaining !== null && info.rateLimit.remaining < RATE_LIMIT);
      assert.ok(info.rateLimit.reset);
      assert.ok(info.requestId);
    }
  });

  it("a wrong key is unauthorized", async () => {
    const error = await rejection(new PlatformClient({ apiKey: "plat_wrong", baseUrl: server.baseUrl }).me.get());
    assert.deepEqual([error.status, error.code], [401, "UNAUTHORIZED"]);
  });
});

function typescriptBlocks(file: string, section?: string): string[] {
  let text = readFileSync(file, "utf8");
  if (section !== undefined) {
    const start = text.indexOf(`\n${section}\n`);
    assert.ok(start >= 0, `${file} has no ${section} section`);
    const next = text.indexOf("\n## ", start + 1);
    text = text.slice(start, next < 0 ? undefined : next);
  }
  return [...text.matchAll(/```typescript\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

describe("the package and its READMEs", () => {
  const examples = [
    ...typescriptBlocks(join(PACKAGE_DIR, "README.md")).map((code, n) => ({ name: `sdk/typescript/README.md#${n}`, code })),
    ...typescriptBlocks(join(REPO, "README.md"), "## SDKs").map((code, n) => ({ name: `README.md ## SDKs#${n}`, code })),
  ];
  let project: string;

  before(async () => {
    // npm pack, then install the tarball into an empty project: exactly what a user of the README does.
    project = mkdtempSync(join(tmpdir(), "platform-sdk-app-"));
    await run("npm", ["pack", "--ignore-scripts", "--pack-destination", project], { cwd: PACKAGE_DIR });
    const tarball = readdirSync(project).find((name) => name.endsWith(".tgz"));
    assert.ok(tarball, "npm pack wrote no tarball");
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    await run("npm", ["install", "--offline", "--no-audit", "--no-fund", join(project, tarball)], { cwd: project });
    examples.forEach(({ code }, n) => {
      // The spec's example names its workspace 'workspace_id'; a reader puts theirs there, and so does the test.
      writeFileSync(join(project, `example${n}.mts`), code.replace("workspace_id: 'workspace_id'", `workspace_id: '${server.workspaceId}'`));
    });
  });

  after(() => rmSync(project, { recursive: true, force: true }));

  it("the READMEs have examples, the spec's among them", () => {
    assert.ok(examples.length >= 4);
    assert.ok(examples[0]!.code.includes("const features = await client.features.list({\n  workspace_id: 'workspace_id'\n});"));
  });

  it("the examples type-check against the installed package (strict)", async () => {
    const files = examples.map((_, n) => `example${n}.mts`);
    const tsc = join(PACKAGE_DIR, "node_modules", ".bin", "tsc");
    const options = ["--strict", "--noEmit", "--target", "ES2022", "--module", "NodeNext", "--moduleResolution", "NodeNext"];
    const types = ["--types", "node", "--typeRoots", join(PACKAGE_DIR, "node_modules", "@types")];
    const result = await run(tsc, [...options, ...types, ...files], { cwd: project }).catch((e: { stdout: string }) => e);
    assert.ok(!("stdout" in result) || result.stdout === "", "stdout" in result ? result.stdout : "");
  });

  for (const [n, example] of examples.entries()) {
    it(`${example.name} runs against the live server`, async () => {
      const env = {
        ...process.env,
        PLATFORM_API_KEY: server.apiKey,
        PLATFORM_BASE_URL: server.baseUrl,
        PLATFORM_WORKSPACE_ID: server.workspaceId,
      };
      // Node runs the examples as JavaScript: they are written without type annotations that need erasing.
      const script = join(project, `example${n}.mjs`);
      writeFileSync(script, readFileSync(join(project, `example${n}.mts`), "utf8"));
      await run(process.execPath, [script], { cwd: project, env, timeout: 60_000 }).catch((error: { stderr?: string }) => {
        assert.fail(`${example.name} failed:\n${example.code}\n${error.stderr ?? error}`);
      });
    });
  }
});
