/**
 * An UNSTABLE verdict says what it is unstable under (issue 19): rewording (the variants disagree)
 * or resampling the questions (every variant agrees, but too few questions to tell).
 *
 * The first case needs a model whose answers depend only on the options' content, whatever their
 * label or position: no real model can be made to show that, so a small OpenAI-compatible server
 * over real HTTP plays it (it puts 0.7 on the alphabetically first option text and spreads the
 * rest evenly over the others, as the issue's reproduction did). The second uses stories260K,
 * whose answers follow the position shown, not the content.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../helpers/cli.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

/** Label -> probability for a prompt's option lines ("A. text" / "1. text"): 0.7 on the alphabetically first text. */
export function contentOnlyAnswer(prompt: string): Map<string, number> {
  const options = [...prompt.matchAll(/^([A-Z]|\d+)\. (.*)$/gmu)].map((m) => ({ label: m[1]!, text: m[2]! }));
  if (options.length < 2) throw new Error(`no options in the prompt: ${prompt}`);
  const first = [...options].sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0))[0]!;
  return new Map(options.map((o) => [o.label, o === first ? 0.7 : 0.3 / (options.length - 1)]));
}

async function contentOnlyServer(): Promise<{ url: string; close: () => Promise<void>; requests: () => number }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      requests++;
      const json = JSON.parse(body) as { messages: { content: string }[] };
      const prompt = json.messages.map((m) => m.content).join("\n");
      const top = [...contentOnlyAnswer(prompt)].map(([token, p]) => ({ token, logprob: Math.log(p), bytes: null }));
      const answer = {
        id: `c${requests}`,
        object: "chat.completion",
        created: 0,
        model: "content-only",
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: top[0]!.token },
            logprobs: { content: [{ token: top[0]!.token, logprob: top[0]!.logprob, bytes: null, top_logprobs: top }] },
            finish_reason: "length",
          },
        ],
        usage: { prompt_tokens: 10, completion_tokens: 1, total_tokens: 11 },
      };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(answer));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface Conclusion {
  top: string;
  top_share: number;
  rewording_share: number;
  resampling_share: number;
  cause: string | null;
  questions: number;
  stable: boolean;
  per_variant_top: { variant: string; top: string; resampling_share: number }[];
}

const VARIANTS = "standard;order=reversed;labels=numbers;order=reversed,labels=numbers";

describe("the cause of an UNSTABLE verdict", () => {
  let server: Awaited<ReturnType<typeof contentOnlyServer>>;
  let dir: string;
  before(async () => {
    server = await contentOnlyServer();
    dir = tempDir();
  });
  after(async () => server.close());

  it("a model that follows the options' content: stable under rewording, too few questions to tell under resampling", async () => {
    const store = path.join(dir, "content.duckdb");
    const args = ["eval", "opinionqa", "--model", "openai:content-only", "--base-url", server.url, "--data", OPINIONQA, "--populations", "POLPARTY", "--limit", "20", "--variants", VARIANTS, "--store", store, "--progress", "none"];
    const r = await runCli([...args, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(server.requests(), 80, "20 questions x 4 variants");
    const s = (JSON.parse(r.stdout) as { stability: { spread: { mean: number }; conclusion: Conclusion } }).stability;
    // Every variant maps back to the same answers in survey order: no spread, one closest population.
    assert.ok(Math.abs(s.spread.mean) < 1e-12, `spread ${s.spread.mean}`);
    const c = s.conclusion;
    assert.equal(c.rewording_share, 1);
    assert.deepEqual(new Set(c.per_variant_top.map((v) => v.top)), new Set([c.top]));
    // The same answers under every variant: each variant's share of draws is the same.
    for (const v of c.per_variant_top) assert.equal(v.resampling_share, c.resampling_share);
    // With every variant agreeing, the pooled share is the resampling share (same draws for every variant).
    assert.equal(c.top_share, c.resampling_share);
    assert.equal(c.questions, 20);
    // The reproduction: 86% of draws on these 20 questions (seeded, integer RNG: the same on every machine).
    assert.ok(c.resampling_share < 0.95, `resampling share ${c.resampling_share}`);
    assert.equal(c.stable, false);
    assert.equal(c.cause, "resampling");
    // The words say so, in the terminal and the warnings.
    const text = await runCli(args);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout + text.stderr, /too few questions to tell: unstable under resampling/u);
    assert.doesNotMatch(text.stdout + text.stderr, /unstable under rewording/u);
    // The report says it too.
    const runs = JSON.parse((await runCli(["runs", "list", "--store", store, "--json"])).stdout) as { id: string }[];
    const html = path.join(dir, "content.html");
    const rep = await runCli(["report", runs[0]!.id, "-o", html, "--store", store, "--data", OPINIONQA]);
    assert.equal(rep.code, 0, rep.stderr);
    const { readFileSync } = await import("node:fs");
    const doc = readFileSync(html, "utf8");
    assert.match(doc, /too few questions to tell: unstable under resampling/u);
  });

  it("stories260K, whose answers follow the position shown: unstable under rewording", async () => {
    const store = path.join(dir, "stories.duckdb");
    const r = await runCli([
      "eval", "opinionqa", "--model", `llama:${MODEL}`, "--threads", "1", "--data", OPINIONQA, "--populations", "POLPARTY",
      "--limit", "20", "--variants", "rnr8", "--store", store, "--progress", "none", "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const c = (JSON.parse(r.stdout) as { stability: { conclusion: Conclusion } }).stability.conclusion;
    const tops = new Set(c.per_variant_top.map((v) => v.top));
    assert.ok(tops.size >= 2, `the variants disagree: ${JSON.stringify(c.per_variant_top)}`);
    assert.ok(c.rewording_share < 0.95);
    assert.equal(c.stable, false);
    assert.ok(c.cause === "rewording" || c.cause === "both", `cause ${c.cause}`);
  });
});
