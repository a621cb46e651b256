/**
 * Several base URLs for one model (`--base-url a,b`), over real HTTP against two real-model test
 * servers (test/helpers/llama-openai-server.ts, stories260K each): attempts go to the server with
 * the fewest outstanding, at most --concurrency at each; the identity and the request keys do not
 * depend on the set of URLs, nor the answers on the server that gave them; a server that is not
 * there is left out with one report, and errors name the servers that failed.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { redactedCommand } from "../../src/cli/common.js";
import { CivitasError } from "../../src/errors.js";
import { OpenAIClient, openaiSpec, type OpenAIOptions, type OpenAIRetryInfo } from "../../src/models/openai.js";
import { parseModelSpec } from "../../src/models/spec.js";
import { redactCommandLine, redactUrls } from "../../src/redact.js";
import type { OptionAnswer, OptionQuery } from "../../src/models/types.js";
import { requestKey } from "../../src/runs/stages/plan.js";
import { startLlamaOpenAIServer, type LlamaOpenAIServer } from "../helpers/llama-openai-server.js";

const KEY = "sk-balance-SECRET789";
const MODEL = "stories260K";

const QUERIES: OptionQuery[] = [
  { prompt: "Question: What color is the sky?\nA. Blue\nB. Green\nC. Red\nAnswer:", labels: ["A", "B", "C"] },
  { prompt: "Question: How much do you trust your neighbours?\nA. A lot\nB. Somewhat\nC. Not much\nD. Not at all\nAnswer:", labels: ["A", "B", "C", "D"] },
  { prompt: "Question: Is it good to share toys?\nA. Yes\nB. No\nC. Don't know\nAnswer: ", labels: ["A", "B", "C"] },
  { prompt: "Once upon a time there was a little", labels: ["girl", "boy", "dog"] },
];

let a: LlamaOpenAIServer;
let b: LlamaOpenAIServer;
/** A URL where nothing listens (a port taken and released). */
let dead: string;
let dead2: string;

async function freeUrl(): Promise<string> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}/v1`;
}

function open(baseURL: string, opts: OpenAIOptions = {}): Promise<OpenAIClient> {
  const spec = openaiSpec("vllm", MODEL, { baseURL, apiKey: KEY, retries: 3, retryBaseMs: 1, retryMaxMs: 5, timeoutMs: 30_000, env: {}, ...opts });
  return spec.open() as Promise<OpenAIClient>;
}

async function rejection(p: Promise<unknown>): Promise<CivitasError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CivitasError, `expected a CivitasError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected the call to fail");
}

/** Waits until `cond` holds (it depends on requests reaching a server, which takes a moment). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

before(async () => {
  [a, b] = await Promise.all([startLlamaOpenAIServer({ apiKey: KEY, models: [MODEL] }), startLlamaOpenAIServer({ apiKey: KEY, models: [MODEL] })]);
  dead = await freeUrl();
  dead2 = await freeUrl();
});

after(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

beforeEach(() => {
  a.reset();
  b.reset();
});

describe("--base-url a,b: settings", () => {
  test("one identity, display, params and request key whatever the set of URLs; concurrency is per URL", async () => {
    const one = await parseModelSpec(`vllm:${MODEL}`, { baseURL: a.url, env: {} });
    const both = await parseModelSpec(`vllm:${MODEL}`, { baseURL: `${a.url}, ${b.url}`, env: {} });
    const swapped = await parseModelSpec(`vllm:${MODEL}`, { baseURL: `${b.url},${a.url}`, env: {} });
    for (const s of [both, swapped]) {
      assert.equal(s.identity, one.identity);
      assert.equal(s.identity, `openai:${MODEL}`);
      assert.equal(s.display, one.display);
      assert.deepEqual(s.params, one.params);
      // What a run records of the model: no URL, so the same in each.
      assert.deepEqual(s.component, one.component);
      for (const q of QUERIES) assert.equal(requestKey(s, "logprobs", {}, q.prompt, q.labels), requestKey(one, "logprobs", {}, q.prompt, q.labels));
    }
    const c = await open(`${a.url},${b.url}`, { concurrency: 3 });
    assert.equal(c.concurrency, 6, "3 per URL, 2 URLs: the engine may keep 6 requests in flight");
    assert.deepEqual(c.outstanding(), { [a.url]: 0, [b.url]: 0 });
  });

  test("an empty entry, a URL given twice, or one that is not a URL: usage errors naming it, never its credentials", () => {
    const usage = (baseURL: string, pattern: RegExp) =>
      assert.throws(
        () => openaiSpec("vllm", MODEL, { baseURL, env: {} }),
        (e: unknown) => e instanceof CivitasError && e.kind === "usage" && pattern.test(e.message) && !e.message.includes("pw-SECRET"),
      );
    usage(`${a.url},,${b.url}`, /an empty URL in the list/u);
    usage(`${a.url},`, /an empty URL in the list/u);
    usage(`${a.url},${a.url}/`, new RegExp(`base URL ${a.url.replace(/[./]/gu, "\\$&")} is given twice`, "u"));
    usage(`${a.url},gpu-2:8000`, /base URL "gpu-2:8000" is not (a|an http\(s\)) URL/u);
    usage(`http://u:pw-SECRET@h1/v1,http://u:pw-SECRET@h1/v1`, /is given twice/u);
  });
  test("the credentials of every URL of a list are hidden in the stored command line and in texts", () => {
    assert.equal(
      redactedCommand(["eval", "x", "--base-url", "http://u:pw1-SECRET@a:1/v1,http://v:pw2-SECRET@b:2/v1?key=sk-9-SECRET", "--base-url", "http://a:1,http://x:pw3-SECRET@b/v1"]),
      "civitas eval x --base-url http://***@a:1/v1,http://***@b:2/v1?key=*** --base-url http://a:1,http://***@b/v1",
    );
    assert.equal(
      redactedCommand(["eval", "x", "--base-url=me:sk-1-SECRET@h/v1,you:sk-2-SECRET@h2/v1", "--base-url", "h0/v1,you:sk-3-SECRET@h3/v1"]),
      "civitas eval x --base-url=***@h/v1,***@h2/v1 --base-url h0/v1,***@h3/v1",
    );
    assert.equal(redactUrls("at http://a/v1,https://k:sk-4-SECRET@b/v1 now"), "at http://a/v1,https://***@b/v1 now");
    assert.equal(redactCommandLine("civitas eval x --base-url http://a/v1,http://k:sk-5-SECRET@b/v1"), "civitas eval x --base-url http://a/v1,http://***@b/v1");
  });
});

describe("--base-url a,b: balancing", () => {
  test("each attempt goes to the server with the fewest outstanding; ties go round", async () => {
    const c = await open(`${a.url},${b.url}`);
    // Ties go round: requests one after another alternate.
    for (const q of QUERIES) await c.optionProbabilities(q);
    assert.equal(a.requests.length, 2);
    assert.equal(b.requests.length, 2);
    a.reset();
    b.reset();

    // A request hangs at one server: while it is outstanding, every other request goes to the other
    // (round robin would send every second one to the busy server).
    a.inject({ kind: "hang" });
    b.inject({ kind: "hang" });
    const ctl = new AbortController();
    const stuck = c.optionProbabilities(QUERIES[0]!, ctl.signal);
    await until(() => a.requests.length + b.requests.length === 1);
    const [busy, free] = a.requests.length > 0 ? [a, b] : [b, a];
    free.reset();
    for (let i = 0; i < 6; i++) await c.optionProbabilities(QUERIES[i % QUERIES.length]!);
    assert.equal(busy.requests.length, 1, "no request went to the server with one outstanding");
    assert.equal(free.requests.length, 6);
    assert.deepEqual(c.outstanding(), { [busy.url]: 1, [free.url]: 0 });
    const reason = new Error("stop");
    ctl.abort(reason);
    await assert.rejects(stuck, (e: unknown) => e === reason);
    assert.deepEqual(c.outstanding(), { [a.url]: 0, [b.url]: 0 });
  });

  test("at most --concurrency outstanding at each server; a request beyond that waits for the first free slot", async () => {
    const c = await open(`${a.url},${b.url}`, { concurrency: 2 });
    a.inject({ kind: "hang" }, { kind: "hang" });
    b.inject({ kind: "hang" }, { kind: "hang" });
    const ctls = [0, 1, 2, 3].map(() => new AbortController());
    const hung = ctls.map((ctl, i) => c.optionProbabilities(QUERIES[i]!, ctl.signal).catch((e: unknown) => e));
    await until(() => a.requests.length === 2 && b.requests.length === 2);
    // The fifth: both servers are full, so it is sent nowhere until a slot frees.
    const fifth = c.optionProbabilities(QUERIES[0]!);
    assert.deepEqual(c.outstanding(), { [a.url]: 2, [b.url]: 2 });
    // Free a slot at b (the hung requests at b are those whose prompts it received).
    const atB = QUERIES.findIndex((q) => b.requests.some((r) => JSON.stringify(r.body).includes(JSON.stringify(q.prompt).slice(1, -1))));
    ctls[atB]!.abort(new Error("freed"));
    await fifth;
    assert.equal(b.requests.length, 3, "the fifth went to the server that had room");
    assert.equal(a.requests.length, 2);
    for (const ctl of ctls) ctl.abort(new Error("done"));
    await Promise.all(hung);
  });
});

describe("--base-url a,b: answers", () => {
  test("the same answers whichever server gives them", async () => {
    // Each server runs stories260K with 1 thread and 1 sequence, and a request carries the whole
    // prompt (no prefix over HTTP): the same computation on the same CPU, so the same floats; JSON
    // carries doubles exactly. Requests one after another alternate between the servers, so
    // each query is answered by one server in the first pass and by the other in the second.
    const c = await open(`${a.url},${b.url}`);
    const first: OptionAnswer[] = [];
    for (const q of QUERIES) first.push(await c.optionProbabilities(q));
    await c.optionProbabilities(QUERIES[0]!); // shift the turn by one
    const second: OptionAnswer[] = [];
    for (const q of QUERIES) second.push(await c.optionProbabilities(q));
    const prompts = (s: LlamaOpenAIServer) => s.requests.map((r) => JSON.stringify(r.body));
    for (const q of QUERIES) {
      const p = JSON.stringify(q.prompt).slice(1, -1);
      assert.ok(prompts(a).some((x) => x.includes(p)) && prompts(b).some((x) => x.includes(p)), `both servers answered ${q.prompt}`);
    }
    assert.deepEqual(second, first);
    // And as a client of one server alone answers.
    const single = await open(a.url);
    for (const [i, q] of QUERIES.entries()) assert.deepEqual(await single.optionProbabilities(q), first[i]);
  });
});

describe("--base-url a,b: failures name the server", () => {
  test("a server that is not there: one report naming it, then the other answers everything", async () => {
    const retries: OpenAIRetryInfo[] = [];
    const c = await open(`${dead},${a.url}`, { onRetry: (r) => retries.push(r) });
    const answers = await Promise.all([...QUERIES, ...QUERIES].map((q) => c.optionProbabilities(q)));
    const single = await open(a.url);
    for (const [i, q] of QUERIES.entries()) assert.deepEqual(answers[i], await single.optionProbabilities(q));
    assert.equal(retries.length, 1, "one report for the dead server, not one per request");
    assert.equal(retries[0]!.url, dead);
    assert.match(retries[0]!.reason, /connection refused; the other servers take its requests meanwhile/u);
    // Once it is down, nothing is sent its way and nothing more is reported.
    await c.optionProbabilities(QUERIES[0]!);
    assert.equal(retries.length, 1);
    assert.deepEqual(c.outstanding(), { [dead]: 0, [a.url]: 0 });
  });

  test("every server not there: one error naming each", async () => {
    const c = await open(`${dead},${dead2}`);
    const errors = await Promise.all(QUERIES.map((q) => rejection(c.optionProbabilities(q))));
    for (const e of errors) {
      assert.equal(e.kind, "network");
      assert.equal(e.message, `cannot connect to any of the 2 servers: ${dead} (connection refused), ${dead2} (connection refused); are they running, on those hosts and ports?`);
    }
  });

  test("5xx after the last retry: the error names the servers the attempts failed at", async () => {
    const c = await open(`${a.url},${b.url}`, { retries: 3 });
    a.inject(...Array.from({ length: 4 }, () => ({ kind: "500" as const })));
    b.inject(...Array.from({ length: 4 }, () => ({ kind: "500" as const })));
    const e = await rejection(c.optionProbabilities(QUERIES[0]!));
    assert.equal(e.kind, "model");
    // A retry goes to the other server: 4 attempts, 2 at each.
    assert.equal(a.requests.length, 2);
    assert.equal(b.requests.length, 2);
    assert.ok(e.message.startsWith(`model "${MODEL}" at ${a.url}, ${b.url} failed after 4 attempts: HTTP 500`), e.message);
    assert.ok(!e.message.includes(KEY));

    // Only the server that failed is named.
    a.reset();
    b.reset();
    const once = await open(`${a.url},${b.url}`, { retries: 0 });
    a.inject({ kind: "500" });
    const e1 = await rejection(once.optionProbabilities(QUERIES[0]!));
    assert.ok(e1.message.startsWith(`model "${MODEL}" at ${a.url} failed after 1 attempt: HTTP 500`), e1.message);
    assert.ok(!e1.message.includes(b.url), e1.message);
  });

  test("a 5xx at one server: the retry goes to another, even one busier, when it has room", async () => {
    const retries: OpenAIRetryInfo[] = [];
    const c = await open(`${a.url},${b.url}`, { onRetry: (r) => retries.push(r) });
    // a is busier (a request hangs there: a new client's first request goes to the first URL) ...
    a.inject({ kind: "hang" });
    const ctl = new AbortController();
    const stuck = c.optionProbabilities(QUERIES[0]!, ctl.signal).catch((e: unknown) => e);
    await until(() => a.requests.length === 1);
    // ... so the next request goes to b, which fails; fewest outstanding alone would retry at b.
    b.inject({ kind: "500" });
    const answer = await c.optionProbabilities(QUERIES[1]!);
    assert.deepEqual(a.requests.map((r) => r.outcome), ["hang", "ok"], "the retry went to the other server");
    assert.deepEqual(b.requests.map((r) => r.outcome), ["500"]);
    assert.equal(retries.length, 1);
    assert.equal(retries[0]!.url, b.url);
    assert.match(retries[0]!.reason, /HTTP 500/u);
    assert.deepEqual(answer, await (await open(b.url)).optionProbabilities(QUERIES[1]!));
    ctl.abort(new Error("done"));
    await stuck;
  });
});
