/** Starts `platform-server serve --sandbox` on a free port with a fresh SQLite database, as a user would. */

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

/** sdk/typescript, wherever the compiled test runs from. */
export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const REPO = resolve(PACKAGE_DIR, "..", "..");
const SERVER_BIN = process.env.PLATFORM_SERVER_BIN || join(REPO, ".venv", "bin", "platform-server");
/** High enough that the suite never meets it; the headers still carry it, which the tests read back. */
export const RATE_LIMIT = 5000;

export interface LiveServer {
  baseUrl: string;
  apiKey: string;
  workspaceId: string;
  teamId: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port"))));
    });
  });
}

export async function startServer(): Promise<LiveServer> {
  const folder = mkdtempSync(join(tmpdir(), "platform-sdk-ts-"));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(PLATFORM_|REDIS_|DATABASE_)/.test(key)),
  );
  Object.assign(env, {
    DATABASE_URL: `sqlite+aiosqlite:///${join(folder, "platform.db")}`,
    SECRET_KEY_FILE: join(folder, "secret"),
    PUBLIC_BASE_URL: baseUrl,
    PLATFORM_ENV: "development",
    LOG_LEVEL: "WARNING",
    RATE_LIMIT_FREE_PER_MINUTE: String(RATE_LIMIT),
  });
  const boot = await run(SERVER_BIN, ["bootstrap", "--team", "SDK", "--email", "sdk@example.com"], {
    env,
    cwd: folder,
    timeout: 120_000,
  });
  const identity = JSON.parse(boot.stdout.trim().split("\n").at(-1)!) as Record<string, string>;
  const logPath = join(folder, "server.log");
  const log = openSync(logPath, "w");
  const child: ChildProcess = spawn(SERVER_BIN, ["serve", "--sandbox", "--host", "127.0.0.1", "--port", String(port)], {
    env,
    cwd: folder,
    stdio: ["ignore", log, log],
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((done) => child.once("exit", done));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(folder, { recursive: true, force: true });
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited: ${readFileSync(logPath, "utf8")}`);
    try {
      if ((await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) })).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      const output = readFileSync(logPath, "utf8");
      await stop();
      throw new Error(`the server did not start: ${output}`);
    }
    await new Promise((wait) => setTimeout(wait, 200));
  }
  return {
    baseUrl,
    apiKey: identity.api_key!,
    workspaceId: identity.workspace_id!,
    teamId: identity.team_id!,
    stop,
  };
}

/**
 * Approves an integration's OAuth request as a person would: in a browser signed in to the settings page with
 * the API key of the user who started it (the server finishes an authorization only for that user).
 */
export async function approve(baseUrl: string, apiKey: string, oauthUrl: string, provider: string): Promise<void> {
  const signInPage = await fetch(`${baseUrl}/settings/sign-in`);
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(await signInPage.text());
  if (!csrf?.[1]) throw new Error("the sign-in page has no CSRF token");
  let cookies = sessionCookies(signInPage, "");
  const signedIn = await fetch(`${baseUrl}/settings/sign-in`, {
    method: "POST",
    body: new URLSearchParams({ csrf_token: csrf[1], api_key: apiKey }),
    headers: { cookie: cookies },
    redirect: "manual",
  });
  if (signedIn.status !== 303) throw new Error(`sign-in answered ${signedIn.status}: ${await signedIn.text()}`);
  cookies = sessionCookies(signedIn, cookies);
  const url = new URL(oauthUrl);
  const form = new URLSearchParams(url.searchParams);
  form.set("decision", "approve");
  const decided = await fetch(url.origin + url.pathname, { method: "POST", body: form, redirect: "manual" });
  if (decided.status !== 302) throw new Error(`consent answered ${decided.status}: ${await decided.text()}`);
  let location = decided.headers.get("location") ?? "";
  // The API's callback hands over to the settings page's, which finishes in the signed-in browser.
  for (let hop = 0; hop < 2; hop++) {
    const answered = await fetch(location, { headers: { cookie: cookies }, redirect: "manual" });
    cookies = sessionCookies(answered, cookies);
    location = answered.headers.get("location") ?? "";
  }
  if (!location.endsWith(`success=${provider}`)) throw new Error(`the callback led to ${location}`);
}

/** The cookies a browser would send next: those it had, updated by the response's Set-Cookie headers. */
function sessionCookies(response: Response, previous: string): string {
  const jar = new Map(previous.split("; ").filter(Boolean).map((pair) => pair.split("=", 2) as [string, string]));
  for (const header of response.headers.getSetCookie()) {
    const [name = "", value = ""] = (header.split(";")[0] ?? "").split("=", 2);
    if (value === "" || /max-age=0/i.test(header)) jar.delete(name);
    else jar.set(name, value);
  }
  return [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
}
