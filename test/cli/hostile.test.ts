/**
 * What a hostile or careless user can do, end to end: each gets a clear error or safe output,
 * and nothing stored is lost. Real parts throughout: the command line as a child process, the
 * OpenAI-compatible path over real HTTP (stories260K behind test/helpers/llama-openai-server.ts),
 * real DuckDB files, the viewer on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { startViewer } from "../../src/view/index.js";
import { runCli } from "../helpers/cli.js";
import { startLlamaOpenAIServer, type LlamaOpenAIServer } from "../helpers/llama-openai-server.js";
import { OPINIONQA, tempDir } from "../helpers/paths.js";

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Every byte of every file in a folder, as latin1 text (a DuckDB file included), with the file's name. */
function filesIn(dir: string): { name: string; text: string }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => ({ name: path.join(d.parentPath, d.name), text: readFileSync(path.join(d.parentPath, d.name)).toString("latin1") }));
}

describe("credentials in a base URL never reach the store, the output, the report or the viewer", () => {
  let server: LlamaOpenAIServer;
  before(async () => {
    server = await startLlamaOpenAIServer();
  });
  after(async () => server.close());

  it("userinfo and ?key= in --base-url, --base-url= and OPENAI_BASE_URL; a failing server too", async () => {
    const dir = tempDir();
    const store = path.join(dir, "s.duckdb");
    const base = server.url.replace("http://", "http://alice:sk-USERINFO-1111@");
    const withQuery = `${server.url}?api-version=2024-06&key=sk-QUERY-2222`;
    const common = ["eval", "opinionqa", "--model", "openai:stories", "--data", OPINIONQA, "--limit", "2", "--store", store, "--progress", "lines"];
    const a = await runCli([...common, "--base-url", base, "--populations", "SEX"]);
    assert.equal(a.code, 0, a.stderr);
    const b = await runCli([...common, `--base-url=${withQuery}`, "--populations", "POLPARTY", "--json"]);
    assert.equal(b.code, 0, b.stderr);
    const c = await runCli([...common, "--populations", "RACE"], { env: { OPENAI_BASE_URL: `${server.url}?access_token=sk-ENV-3333` } });
    assert.equal(c.code, 0, c.stderr);
    // The credentials did work: HTTP Basic from the userinfo, the query sent with every request.
    assert.ok(server.requests.some((r) => r.authorization === `Basic ${Buffer.from("alice:sk-USERINFO-1111").toString("base64")}`));
    // A server that is not there: the error names the server, without the credentials.
    const port = await closedPort();
    const d = await runCli([...common, "--base-url", `http://bob:sk-DOWN-4444@127.0.0.1:${port}/v1?api_key=sk-DOWN-5555`, "--populations", "SEX=Male"]);
    assert.equal(d.code, 1, d.stderr);
    assert.match(d.stderr, new RegExp(`127\\.0\\.0\\.1:${port}/v1`, "u"));

    const list = await runCli(["runs", "list", "--store", store, "--json"]);
    const runs = JSON.parse(list.stdout) as { id: string; command: string; status: string }[];
    assert.equal(runs.length, 4);
    assert.ok(runs.some((r) => r.command.includes("--base-url http://***@127.0.0.1:")), list.stdout);
    assert.ok(runs.some((r) => r.command.includes("?api-version=2024-06&key=***")), list.stdout);
    // A finished run and the failed one.
    const shows = await Promise.all(runs.slice(0, 2).map((r) => runCli(["runs", "show", r.id, "--store", store])));
    const report = path.join(dir, "r.html");
    const rep = await runCli(["report", ...runs.filter((r) => r.status === "done").map((r) => r.id), "-o", report, "--store", store, "--data", OPINIONQA]);
    assert.equal(rep.code, 0, rep.stderr);

    const viewer = await startViewer({ file: store, port: 0, idleMs: 50 });
    const pages: string[] = [];
    try {
      for (const p of ["/", "/?q=sk-", ...runs.map((r) => `/runs/${r.id}`)]) {
        const res = await fetch(new URL(p, viewer.url));
        assert.equal(res.status, 200, p);
        pages.push(await res.text());
      }
    } finally {
      await viewer.close();
    }
    assert.ok(pages.some((p) => p.includes("http://***@127.0.0.1")), "the viewer shows the redacted command");

    const secrets = /USERINFO|alice|QUERY-2222|sk-ENV|DOWN-4444|DOWN-5555|\bbob\b/u;
    const texts = [a, b, c, d, list, rep, ...shows].flatMap((r) => [r.stdout, r.stderr]);
    for (const t of [...texts, ...pages]) assert.doesNotMatch(t, secrets);
    for (const f of filesIn(dir)) assert.doesNotMatch(f.text, secrets, `${f.name} holds a credential`);
  });
});
