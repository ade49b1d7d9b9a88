/** The committed types are what openapi-typescript makes of the committed OpenAPI document (sdk/openapi.json);
 * tests/sdk/test_openapi_drift.py checks that document against the server's. */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";

import { PACKAGE_DIR } from "./server.js";

it("src/generated/openapi.ts matches sdk/openapi.json (run python3 sdk/generate.py)", () => {
  const generated = execFileSync(
    join(PACKAGE_DIR, "node_modules", ".bin", "openapi-typescript"),
    // The flags of sdk/generate.py.
    [join(PACKAGE_DIR, "..", "openapi.json"), "--default-non-nullable", "false"],
    { encoding: "utf8", cwd: PACKAGE_DIR },
  );
  assert.equal(readFileSync(join(PACKAGE_DIR, "src", "generated", "openapi.ts"), "utf8"), generated);
});
