/** The library's public surface (docs/library.md) and its example, run as a user runs it. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { REPO, SHARED, tempDir } from "../helpers/paths.js";

describe("the library", () => {
  it("exports exactly the values docs/library.md lists", async () => {
    const doc = readFileSync(path.join(REPO, "docs/library.md"), "utf8");
    const table = doc.slice(doc.indexOf("| area | exports |"), doc.indexOf("`test/extending/library.test.ts`"));
    const documented = [...table.matchAll(/`([A-Za-z_]+)`/gu)].map((m) => m[1]!).sort();
    const exported = Object.keys(await import("../../src/index.js")).sort();
    assert.deepEqual(exported, documented);
  });

  it("runs an evaluation and an aggregation from TypeScript (examples/library.ts)", async () => {
    const store = path.join(tempDir(), "lib.duckdb");
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "examples/library.ts", "--store", store, "--shared", SHARED], { cwd: REPO });
    const lines = stdout.trim().split("\n");
    for (const p of ["Republican", "Democrat", "Independent", "Other"]) {
      assert.ok(lines.some((l) => new RegExp(`^POLPARTY=${p}: alignment 0\\.\\d{3} \\[0\\.\\d{3}, 0\\.\\d{3}\\]`, "u").test(l)), p);
    }
    // The Debian 2002 leader election (PrefLib 00002-00000001) was won by Bdale Garbee (shared/data README); plurality and IRV agree on it.
    for (const rule of ["schulze", "irv", "plurality"]) assert.ok(lines.includes(`${rule}: Bdale Garbee`), rule);
    assert.equal(lines.filter((l) => l.startsWith("stored: ")).length, 2);
    assert.ok(lines.some((l) => /^stored: [0-9a-f]{12} eval done, 20 questions scored$/u.test(l)));
  });
});
