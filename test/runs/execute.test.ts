/**
 * The execute stage on real parts: the in-process executor over the real llama client
 * (stories260K), and over real HTTP against the test server when a request must fail.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import { llamaSpec } from "../../src/models/llama.js";
import { openaiSpec } from "../../src/models/openai.js";
import type { ModelSpec } from "../../src/models/types.js";
import { inProcessExecutor, type ModelRequest } from "../../src/runs/stages/execute.js";
import type { RequestRow } from "../../src/store/index.js";
import { startLlamaOpenAIServer, type LlamaOpenAIServer } from "../helpers/llama-openai-server.js";
import { MODEL } from "../helpers/paths.js";

const LABELS = ["A", "B", "C"];
const prompt = (k: number) => `Question: Is the number ${k} small?\nA. Yes\nB. No\nC. Refused\nAnswer:`;

function request(k: number, spec: ModelSpec): ModelRequest {
  return {
    kind: "elicit",
    key: `key-${k}`,
    method: "logprobs",
    prompt: prompt(k),
    labels: LABELS,
    params: { ...spec.params, method: "logprobs" },
    rendered: { text: prompt(k), prefix: "", labels: LABELS, shown: ["Yes", "No", "Refused"], answer: "label" },
    settings: { samples: 30, constrain: false, seed: 0 },
  };
}

/** A spec whose opening is counted. */
function counted(spec: ModelSpec): ModelSpec & { opened: number } {
  const w = { ...spec, opened: 0, open: () => (w.opened++, spec.open()) };
  return w;
}

describe("the in-process executor", () => {
  // One sequence: answers are compared bit for bit with the client's (several sequences evaluated
  // in one batch may differ in the last digits). The concurrency test uses two.
  let spec: ModelSpec;
  let two: ModelSpec;
  before(async () => {
    spec = await llamaSpec(MODEL, { threads: 1, parallel: 1 });
    two = await llamaSpec(MODEL, { threads: 1, parallel: 2 });
  });

  it("never opens the model for no requests, and answers each request as the model does, as a request row", async () => {
    const s = counted(spec);
    const ex = inProcessExecutor(s);
    await ex.askAll([], () => assert.fail("no answer"));
    assert.equal(s.opened, 0);
    const rows: RequestRow[] = [];
    const reqs = [0, 1, 2, 3, 4].map((k) => request(k, s));
    await ex.askAll(reqs, (_r, row) => rows.push(row));
    await ex.close();
    assert.equal(s.opened, 1, "opened once, lazily");
    assert.equal(ex.modelCalls, 5);
    // The same as asking the client directly.
    const client = await spec.open();
    try {
      for (const row of rows) {
        const k = Number(row.key.slice(4));
        const direct = await client.optionProbabilities({ prompt: prompt(k), labels: LABELS });
        assert.deepEqual(row.labelMass, direct.labelMass);
        assert.equal(row.coverage, direct.coverage);
        assert.equal(row.prompt, prompt(k));
        assert.deepEqual(row.labels, LABELS);
        assert.equal(row.method, "logprobs");
        assert.equal(row.model, spec.identity);
      }
    } finally {
      await client.close();
    }
  });

  it("keeps at most `concurrency` requests in flight, calls the hooks around each, and lets a hook refuse one", async () => {
    const ex = inProcessExecutor(two);
    let inFlight = 0;
    let peak = 0;
    const order: string[] = [];
    const refused: string[] = [];
    const all = [0, 1, 2, 3, 4, 5].map((k) =>
      ex
        .ask(request(k, two), {
          hooks: {
            beforeAsk: (r) => {
              if (r.key === "key-3") throw new CivitasError("model", "budget spent");
              inFlight++;
              peak = Math.max(peak, inFlight);
              order.push(r.key);
            },
            afterAsk: () => void inFlight--,
          },
        })
        .catch((e: unknown) => void refused.push((e as Error).message)),
    );
    await Promise.all(all);
    await ex.close();
    assert.equal(peak, 2);
    assert.equal(inFlight, 0);
    assert.deepEqual(order, ["key-0", "key-1", "key-2", "key-4", "key-5"], "asked in the order given");
    assert.deepEqual(refused, ["budget spent"]);
    assert.equal(ex.modelCalls, 5);
  });

  it("stops starting requests when interrupted, delivers what was answered, and says interrupted", async () => {
    const ex = inProcessExecutor(spec, { concurrency: 1 });
    const stop = new AbortController();
    const got: string[] = [];
    await assert.rejects(
      ex.askAll(
        [0, 1, 2, 3, 4, 5].map((k) => request(k, spec)),
        (r) => {
          got.push(r.key);
          if (got.length === 2) stop.abort();
        },
        stop.signal,
      ),
      (e: unknown) => e instanceof CivitasError && e.message === "interrupted",
    );
    await ex.close();
    // The answer that stopped the run is handed over before the next request starts.
    assert.deepEqual(got, ["key-0", "key-1"]);
    assert.equal(ex.modelCalls, 2);
  });

  it("after a failure asks nothing more, lets the requests in flight finish, and rejects with the failure", async () => {
    const ex = inProcessExecutor(spec, { concurrency: 1 });
    const got: string[] = [];
    await assert.rejects(
      ex.askAll(
        [0, 1, 2, 3].map((k) => request(k, spec)),
        (r) => {
          got.push(r.key);
          if (r.key === "key-1") throw new Error("the store is full");
        },
      ),
      /the store is full/u,
    );
    await ex.close();
    assert.deepEqual(got, ["key-0", "key-1"]);
  });
});

describe("the in-process executor over HTTP", () => {
  let server: LlamaOpenAIServer;
  before(async () => {
    server = await startLlamaOpenAIServer();
  });
  after(async () => server.close());

  it("rejects with the backend's failure after its retries, and asks no request after it", async () => {
    const spec = openaiSpec("openai", "stories", { baseURL: server.url, apiKey: "k", retries: 0, concurrency: 1 });
    server.inject({ kind: "ok" }, { kind: "500" });
    const ex = inProcessExecutor(spec);
    const got: string[] = [];
    await assert.rejects(
      ex.askAll(
        [0, 1, 2, 3].map((k) => request(k, spec)),
        (r) => got.push(r.key),
      ),
      (e: unknown) => e instanceof CivitasError && /500/u.test(e.message),
    );
    await ex.close();
    assert.deepEqual(got, ["key-0"]);
    assert.equal(server.requests.length, 2, "nothing was asked after the failure");
  });
});
