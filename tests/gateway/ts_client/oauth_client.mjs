// Connects to the gateway by URL alone with the official TypeScript SDK's OAuth support: registers (dynamically,
// or, given the https URL of its Client ID Metadata Document, by naming that URL as its client id), asks the
// person (the test's browser) to approve, then lists and calls tools, refreshes, and reports the refusal after
// revocation. Talks to the test as JSON lines: events on stdout, "go" lines on stdin between the steps.
// Usage: node oauth_client.mjs <mcp url> [client metadata document url]
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, clientMetadataUrl] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const emit = (event) => console.log(JSON.stringify(event));
const nextLine = async () => (await lines.next()).value;

// The loopback listener a native app opens for the authorization response (RFC 8252).
let resolveCode;
const codes = new Promise((resolve) => (resolveCode = resolve));
const listener = createServer((request, response) => {
  const query = new URL(request.url, "http://127.0.0.1").searchParams;
  response.end("You can close this window.");
  resolveCode(Object.fromEntries(query));
});
await new Promise((resolve) => listener.listen(0, "127.0.0.1", resolve));
const redirectUrl = `http://127.0.0.1:${listener.address().port}/callback`;

// The path of every request the SDK sends, so the test can tell whether it called the registration endpoint.
const requested = [];
const recordingFetch = (input, init) => {
  requested.push(new URL(input instanceof Request ? input.url : input).pathname);
  return fetch(input, init);
};

const store = { tokens: undefined, client: undefined, verifier: undefined, authorizations: 0 };
const authProvider = {
  clientMetadataUrl,
  get redirectUrl() {
    return redirectUrl;
  },
  get clientMetadata() {
    return {
      client_name: "TS SDK test agent",
      redirect_uris: [redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  },
  clientInformation: () => store.client,
  saveClientInformation: (info) => (store.client = info),
  tokens: () => store.tokens,
  saveTokens: (tokens) => (store.tokens = tokens),
  saveCodeVerifier: (verifier) => (store.verifier = verifier),
  codeVerifier: () => store.verifier,
  redirectToAuthorization: (authorizationUrl) => {
    store.authorizations += 1;
    if (store.authorizations === 1) emit({ event: "authorize", url: authorizationUrl.href });
  },
};

async function connect() {
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider, fetch: recordingFetch });
  const client = new Client({ name: "ts-oauth-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

async function call(client) {
  try {
    const result = await client.callTool({ name: "github_list_issues", arguments: { perPage: 1 } });
    return { isError: result.isError ?? false };
  } catch (error) {
    return { exception: String(error?.message ?? error) };
  }
}

try {
  await connect();
  emit({ event: "error", message: "connected without authorization" });
} catch (error) {
  const callback = await codes;
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider, fetch: recordingFetch });
  await transport.finishAuth(callback.code);
}
const { client } = await connect();
const tools = (await client.listTools()).tools.map((tool) => tool.name);
emit({ event: "connected", tools, call: await call(client), clientId: store.client.client_id, requested });

await nextLine(); // the test has expired the access token
const before = store.tokens;
emit({
  event: "refreshed",
  call: await call(client),
  accessChanged: store.tokens?.access_token !== before.access_token,
  refreshChanged: store.tokens?.refresh_token !== before.refresh_token,
});

await nextLine(); // the person has revoked the app
emit({ event: "revoked", call: await call(client) });
listener.close();
process.exit(0);
