// Connects to the gateway with the official TypeScript SDK client and prints what it got, as one JSON line.
// Usage: node call_tools.mjs <mcp url> <api key>
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, key] = process.argv.slice(2);

async function call(client, name, args) {
  // A client-side exception (e.g. "Structured content does not match the tool's output schema") is the
  // failure this test exists for: report it rather than crash.
  try {
    const result = await client.callTool({ name, arguments: args });
    return { isError: result.isError ?? false, text: result.content?.[0]?.text, structured: result.structuredContent ?? null };
  } catch (error) {
    return { exception: String(error?.message ?? error) };
  }
}

const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${key}` } },
});
const client = new Client({ name: "ts-client-test", version: "1.0.0" });
await client.connect(transport);
const tools = (await client.listTools()).tools.map((tool) => tool.name);
const report = {
  protocolVersion: transport.protocolVersion ?? null,
  tools,
  notFound: await call(client, "github_list_issues", { repo: "acme/does-not-exist" }),
  invalid: await call(client, "github_list_issues", { repo: "acme/product", state: "sideways" }),
  notEnabled: await call(client, "github_create_issue", { repo: "acme/product", title: "x" }),
  success: await call(client, "github_list_issues", { repo: "acme/product", perPage: 2 }),
};
await client.close();
console.log(JSON.stringify(report));
