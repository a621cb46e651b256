/**
 * The OpenAI-compatible backend over real HTTP, against a server that answers with the real
 * next-token distribution of stories260K (test/helpers/llama-openai-server.ts).
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { CivitasError } from "../../src/errors.js";
import { labelMassFromTokens } from "../../src/models/extract.js";
import { completionSeed } from "../../src/models/completion.js";
import { openaiSpec, type OpenAIOptions, type OpenAIRetryInfo } from "../../src/models/openai.js";
import { parseLabelAnswer } from "../../src/models/parse.js";
import type { CompletionQuery, ModelClient, OptionAnswer, OptionQuery } from "../../src/models/types.js";
import { startLlamaOpenAIServer, type LlamaOpenAIServer } from "../helpers/llama-openai-server.js";

const KEY = "sk-test-SECRET123";
const MODEL = "stories260K";

const QUERIES: OptionQuery[] = [
  { prompt: "Question: What color is the sky?\nA. Blue\nB. Green\nC. Red\nAnswer:", labels: ["A", "B", "C"] },
  {
    prompt: "Question: How much do you trust your neighbours?\nA. A lot\nB. Somewhat\nC. Not much\nD. Not at all\nAnswer:",
    labels: ["A", "B", "C", "D"],
  },
  { prompt: "Question: Is it good to share toys?\nA. Yes\nB. No\nC. Don't know\nAnswer: ", labels: ["A", "B", "C"] },
];

let server: LlamaOpenAIServer;

function spec(opts: OpenAIOptions = {}) {
  return openaiSpec("vllm", MODEL, {
    baseURL: server.url,
    apiKey: KEY,
    retries: 5,
    retryBaseMs: 5,
    retryMaxMs: 20,
    timeoutMs: 1500,
    env: {},
    ...opts,
  });
}

async function withClient<T>(opts: OpenAIOptions, fn: (c: ModelClient) => Promise<T>): Promise<T> {
  const client = await spec(opts).open();
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/**
 * What the healthy server answers to each query, asked through a client of its own before a test
 * injects faults (each test asks for itself: none depends on another having run). The requests
 * are then forgotten.
 */
async function healthyAnswers(): Promise<OptionAnswer[]> {
  const answers = await withClient({}, async (client) => {
    const out: OptionAnswer[] = [];
    for (const q of QUERIES) out.push(await client.optionProbabilities(q));
    return out;
  });
  assert.deepEqual(
    server.requests.map((r) => r.outcome),
    QUERIES.map(() => "ok"),
  );
  server.reset();
  return answers;
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

/** Everything a user could see of an error. */
function visible(e: CivitasError): string {
  return `${e.message}\n${e.hint ?? ""}\n${String(e)}\n${e.stack ?? ""}`;
}

before(async () => {
  server = await startLlamaOpenAIServer({ apiKey: KEY, models: [MODEL] });
});

after(async () => {
  await server?.close();
});

beforeEach(() => server.reset());

describe("openaiSpec settings", () => {
  test("base URL: flag, else OPENAI_BASE_URL, else the kind's default; the identity is the model id, not the URL", async () => {
    const url = async (s: ReturnType<typeof openaiSpec>) => {
      const c = await s.open();
      return (c as unknown as { s: { url: string } }).s.url;
    };
    assert.equal(await url(openaiSpec("ollama", "llama3.2", { env: {} })), "http://localhost:11434/v1");
    assert.equal(await url(openaiSpec("vllm", "m", { env: {} })), "http://localhost:8000/v1");
    assert.equal(await url(openaiSpec("openai", "gpt-4o-mini", { env: { OPENAI_API_KEY: KEY } })), "https://api.openai.com/v1");
    assert.equal(await url(openaiSpec("ollama", "m", { env: { OPENAI_BASE_URL: "http://gpu-box:9000/v1/" } })), "http://gpu-box:9000/v1");
    assert.equal(await url(openaiSpec("ollama", "m", { baseURL: "http://flag:1/v1", env: { OPENAI_BASE_URL: "http://env:2/v1" } })), "http://flag:1/v1");
    // The same model behind two URLs is one model; --model-id names it otherwise.
    assert.equal(openaiSpec("vllm", "m", { baseURL: "http://replica-1:8000/v1", env: {} }).identity, "openai:m");
    assert.equal(openaiSpec("vllm", "m", { baseURL: "http://replica-2:9000/v1", env: {} }).identity, "openai:m");
    assert.equal(openaiSpec("vllm", "m", { modelId: "qwen2.5-7b@2025-06", env: {} }).identity, "openai:qwen2.5-7b@2025-06");
    assert.throws(() => openaiSpec("vllm", "m", { modelId: " ", env: {} }), (e: unknown) => e instanceof CivitasError && e.kind === "usage" && /--model-id/u.test(e.message));
  });

  test("identity, display and params; no credentials or query string in the identity", () => {
    const s = openaiSpec("vllm", "m", { baseURL: "http://user:hunter22@host:8000/v1?api-key=abc#x", apiKey: KEY, env: {} });
    assert.equal(s.identity, "openai:m");
    assert.equal(s.display, "vllm:m");
    assert.equal(s.backend, "openai");
    assert.deepEqual(s.params, { api: "chat", top_logprobs: 20, max_tokens: 1, temperature: 0 });
    assert.ok(!JSON.stringify(s).includes(KEY));
  });

  test("api.openai.com without a key is a usage error naming OPENAI_API_KEY; local servers need none", () => {
    assert.throws(
      () => openaiSpec("openai", "gpt-4o-mini", { env: {} }),
      (e: unknown) => e instanceof CivitasError && e.kind === "usage" && /OPENAI_API_KEY/u.test(e.message),
    );
    assert.doesNotThrow(() => openaiSpec("ollama", "m", { env: {} }));
    assert.doesNotThrow(() => openaiSpec("openai", "m", { env: { OPENAI_BASE_URL: "http://127.0.0.1:1/v1" } }));
  });

  test("a base URL that is not a URL is a usage error", () => {
    assert.throws(
      () => openaiSpec("vllm", "m", { baseURL: "localhost 8000", env: {} }),
      (e: unknown) => e instanceof CivitasError && e.kind === "usage" && /not a URL/u.test(e.message),
    );
  });
});

describe("a healthy server", () => {
  test("answers equal labelMassFromTokens on the same top-20 tokens computed in-process", async () => {
    const healthy: OptionAnswer[] = [];
    await withClient({}, async (client) => {
      assert.equal(client.identity, `openai:${MODEL}`);
      assert.equal(client.concurrency, 4);
      for (const q of QUERIES) {
        const answer = await client.optionProbabilities(q);
        const { probs, promptTokens } = await server.llama.nextTokenProbabilities(q.prompt);
        const top = [...probs].slice(0, 20).map(([t, prob]) => ({ token: server.llama.tokenText(t), prob }));
        const direct = labelMassFromTokens(top, q.labels);

        assert.equal(answer.labelMass.length, q.labels.length);
        assert.ok(answer.coverage > 0 && answer.coverage <= 1, `coverage ${answer.coverage}`);
        for (let i = 0; i < q.labels.length; i++) {
          assert.ok(Math.abs(answer.labelMass[i]! - direct.labelMass[i]!) <= 1e-12, `label ${q.labels[i]}: ${answer.labelMass[i]} vs ${direct.labelMass[i]}`);
        }
        assert.ok(Math.abs(answer.coverage - direct.coverage) <= 1e-12);
        assert.deepEqual(
          answer.top.map((t) => t.token),
          top.map((t) => t.token),
        );
        for (let i = 0; i < top.length; i++) assert.ok(Math.abs(answer.top[i]!.prob - top[i]!.prob) <= 1e-12);
        assert.equal(answer.promptTokens, promptTokens);
        healthy.push(answer);
      }
    });
    assert.equal(server.requests.length, QUERIES.length);
    for (const r of server.requests) {
      assert.equal(r.authorization, `Bearer ${KEY}`);
      assert.equal(r.path, "/v1/chat/completions");
      assert.deepEqual(
        { ...(r.body as Record<string, unknown>), messages: undefined },
        { model: MODEL, messages: undefined, logprobs: true, top_logprobs: 20, max_tokens: 1, temperature: 0 },
      );
    }
    // Not every label form lies in the top 20 of this tiny model, but some do.
    assert.ok(healthy.some((a) => a.labelMass.filter((m) => m > 0).length >= 2));
  });
});

describe("faults are retried and change nothing", () => {
  test("429 (Retry-After: 1), 500, hang and malformed JSON, then the same answers", async () => {
    const healthy = await healthyAnswers();
    const retries: OpenAIRetryInfo[] = [];
    server.inject({ kind: "429", retryAfterSeconds: 1 }, { kind: "500" }, { kind: "hang" }, { kind: "malformed" });
    const answers = await withClient({ onRetry: (i) => retries.push(i) }, async (client) => {
      const out: OptionAnswer[] = [];
      for (const q of QUERIES) out.push(await client.optionProbabilities(q));
      return out;
    });
    assert.deepEqual(answers, healthy);
    assert.equal(server.pendingFaults(), 0);
    assert.deepEqual(
      server.requests.map((r) => r.outcome),
      ["429", "500", "hang", "malformed", "ok", "ok", "ok"],
    );
    // The retry after the 429 honoured Retry-After: 1 (loosely: the only timing check here).
    const gap = server.requests[1]!.receivedAt - server.requests[0]!.receivedAt;
    assert.ok(gap >= 900, `retry came ${gap} ms after the 429`);
    assert.deepEqual(
      retries.map((r) => [r.attempt, r.status]),
      [
        [0, 429],
        [1, 500],
        [2, undefined],
        [3, undefined],
      ],
    );
    assert.ok(retries[0]!.delayMs >= 1000);
    assert.match(retries[2]!.reason, /no response within 1500 ms/u);
    assert.match(retries[3]!.reason, /not valid JSON/u);
    for (const r of retries) assert.equal(r.url, server.url);
  });

  test("faults hitting parallel requests still give the same answers", async () => {
    const healthy = await healthyAnswers();
    server.inject({ kind: "500" }, { kind: "malformed" }, { kind: "500" }, { kind: "429" });
    const answers = await withClient({}, (client) => Promise.all(QUERIES.map((q) => client.optionProbabilities(q))));
    assert.deepEqual(answers, healthy);
    assert.equal(server.requests.length, QUERIES.length + 4);
  });
});

describe("failures", () => {
  test("after the last retry: a model error naming the URL, the failure and the attempts; the key nowhere", async () => {
    server.inject({ kind: "500" }, { kind: "500" }, { kind: "500" }, { kind: "500" });
    const s = spec({ retries: 2 });
    const client = await s.open();
    const e = await rejection(client.optionProbabilities(QUERIES[0]!));
    assert.equal(e.kind, "model");
    assert.ok(e.message.includes(server.url), e.message);
    assert.match(e.message, /HTTP 500/u);
    assert.match(e.message, /3 attempts/u);
    assert.equal(server.requests.length, 3);
    assert.equal(server.pendingFaults(), 1);
    for (const r of server.requests) assert.equal(r.authorization, `Bearer ${KEY}`);
    for (const text of [visible(e), s.identity, s.display, JSON.stringify(s.params), client.identity]) {
      assert.ok(!text.includes(KEY), `key leaked into: ${text}`);
    }
  });

  test("exhausted on timeouts, malformed bodies and rate limits: each says what happened", async () => {
    server.inject({ kind: "hang" }, { kind: "hang" });
    let e = await rejection(withClient({ retries: 1, timeoutMs: 300 }, (c) => c.optionProbabilities(QUERIES[0]!)));
    assert.equal(e.kind, "model");
    assert.match(e.message, /2 attempts: no response within 300 ms/u);

    server.inject({ kind: "malformed" }, { kind: "malformed" });
    e = await rejection(withClient({ retries: 1 }, (c) => c.optionProbabilities(QUERIES[0]!)));
    assert.match(e.message, /2 attempts: the response body was not valid JSON/u);

    server.inject({ kind: "429" }, { kind: "429" });
    e = await rejection(withClient({ retries: 1 }, (c) => c.optionProbabilities(QUERIES[0]!)));
    assert.match(e.message, /2 attempts: HTTP 429/u);
    assert.match(e.hint ?? "", /concurrency/u);
    assert.equal(server.requests.length, 6);
  });

  test("a server that is not there: one quick retry shared by the requests in flight, then one error naming it", async () => {
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const url = `http://127.0.0.1:${port}/v1`;
    const retries: OpenAIRetryInfo[] = [];
    const errors = await withClient({ baseURL: url, retries: 6, onRetry: (i) => retries.push(i) }, async (c) => {
      const settled = await Promise.allSettled([...QUERIES, QUERIES[0]!].map((q) => c.optionProbabilities(q)));
      // A request made after the server was found unreachable fails at once, without a retry.
      const later = await rejection(c.optionProbabilities(QUERIES[1]!));
      return [...settled.map((r) => (r.status === "rejected" ? (r.reason as CivitasError) : assert.fail("answered"))), later];
    });
    for (const e of errors) {
      assert.ok(e instanceof CivitasError);
      assert.equal(e.kind, "network");
      assert.equal(e.message, `cannot connect to ${url}: connection refused; is the server running, on that host and port?`);
    }
    assert.equal(retries.length, 1, "one retry for all four requests in flight, not six each");
    assert.match(retries[0]!.reason, /connection refused/u);

    // --retries 0: not even the quick retry.
    retries.length = 0;
    const e = await rejection(withClient({ baseURL: url, retries: 0, onRetry: (i) => retries.push(i) }, (c) => c.optionProbabilities(QUERIES[0]!)));
    assert.equal(e.kind, "network");
    assert.equal(retries.length, 0);
  });

  test("401: fails at once, says the key was refused, and never repeats the key the server echoed", async () => {
    const wrong = "sk-wrong-KEY456";
    let retried = 0;
    const s = spec({ apiKey: wrong, onRetry: () => retried++ });
    const e = await rejection(withClient({ apiKey: wrong, onRetry: () => retried++ }, (c) => c.optionProbabilities(QUERIES[0]!)));
    assert.equal(e.kind, "usage");
    assert.match(e.message, /refused the API key/u);
    assert.match(e.message, /HTTP 401/u);
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0]!.authorization, `Bearer ${wrong}`);
    assert.equal(retried, 0);
    assert.ok(!visible(e).includes(wrong), visible(e));
    assert.ok(!s.identity.includes(wrong));
  });

  test("404 for an unknown model, and for a wrong URL: fails at once", async () => {
    let e = await rejection(
      (async () => {
        const c = await openaiSpec("vllm", "no-such-model", { baseURL: server.url, apiKey: KEY, retries: 5, retryBaseMs: 5, env: {} }).open();
        return c.optionProbabilities(QUERIES[0]!);
      })(),
    );
    assert.equal(e.kind, "usage");
    assert.match(e.message, /model name or the URL is wrong/u);
    assert.match(e.message, /no-such-model/u);
    assert.equal(server.requests.length, 1);

    server.reset();
    const wrongURL = server.url.replace(/\/v1$/u, "/api");
    e = await rejection(withClient({ baseURL: wrongURL }, (c) => c.optionProbabilities(QUERIES[0]!)));
    assert.equal(e.kind, "usage");
    assert.ok(e.message.includes(wrongURL));
    assert.match(e.message, /HTTP 404/u);
    assert.equal(server.requests.length, 1);
  });

  test("a server that returns no logprobs: fails at once and names servers that do", async () => {
    server.inject({ kind: "nologprobs" });
    const e = await rejection(withClient({}, (c) => c.optionProbabilities(QUERIES[0]!)));
    assert.equal(e.kind, "model");
    assert.match(e.message, /--method logprobs cannot ask vllm:stories260K .*no log-probabilities/u);
    assert.match(e.hint ?? "", /--method sample/u);
    assert.match(e.hint ?? "", /vLLM/u);
    assert.match(e.hint ?? "", /llama-server/u);
    assert.equal(server.requests.length, 1);
  });

  test("aborting a hanging request rejects with the abort reason, without retrying", async () => {
    server.inject({ kind: "hang" });
    const ctl = new AbortController();
    const reason = new Error("run cancelled");
    await withClient({ timeoutMs: 60_000 }, async (client) => {
      const p = client.optionProbabilities(QUERIES[0]!, ctl.signal);
      while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
      ctl.abort(reason);
      await assert.rejects(p, (e: unknown) => e === reason);
    });
    assert.equal(server.requests.length, 1);
  });
});

describe("what a server returns is validated", () => {
  type Top = { token: string; logprob: number; bytes?: number[] };
  /** The real answer's top_logprobs, changed by `f`. */
  const rewriteTop = (f: (top: Top[]) => Top[]) => ({
    kind: "rewrite" as const,
    rewrite: (body: Record<string, unknown>) => {
      const c = (body as { choices: { logprobs: { content: { top_logprobs: Top[] }[] } }[] }).choices[0]!.logprobs.content[0]!;
      c.top_logprobs = f(c.top_logprobs);
      return body;
    },
  });
  const positive = rewriteTop((top) => top.map((t, i) => (i === 0 ? { ...t, logprob: 2.3 } : t)));
  const duplicate = rewriteTop((top) => [top[0]!, ...top.slice(0, -1)]);
  const overOne = rewriteTop((top) => top.map((t, i) => ({ ...t, logprob: Math.log(0.2 - 0.001 * i) })));

  test("a positive logprob, a token listed twice, probabilities summing above 1: retried as malformed, then an error naming the server and the fault", async () => {
    for (const [fault, what] of [
      [positive, /logprob 2\.3 > 0, a probability above 1/u],
      [duplicate, /is listed twice in top_logprobs/u],
      [overOne, /the 20 top_logprobs probabilities sum to 3\.81 > 1/u],
    ] as const) {
      server.reset();
      server.inject(fault, fault);
      const retries: OpenAIRetryInfo[] = [];
      const e = await rejection(withClient({ retries: 1, onRetry: (r) => retries.push(r) }, (c) => c.optionProbabilities(QUERIES[0]!)));
      assert.equal(e.kind, "model");
      assert.ok(e.message.includes(server.url), e.message);
      assert.match(e.message, /2 attempts: impossible log-probabilities: /u);
      assert.match(e.message, what);
      assert.match(e.hint ?? "", /not a probability distribution/u);
      assert.equal(retries.length, 1);
      assert.equal(server.requests.length, 2);
    }
  });

  test("an impossible answer followed by a good one gives the healthy answer; float rounding just above 0 is read as 0", async () => {
    const healthy = await healthyAnswers();
    server.inject(positive, duplicate);
    const a = await withClient({}, (c) => c.optionProbabilities(QUERIES[0]!));
    assert.deepEqual(a, healthy[0]);
    assert.equal(server.requests.length, 3);
    // A near-certain token whose float32 log-softmax came out at +3e-5 (see LOGPROB_EPSILON).
    server.inject(rewriteTop((top) => top.map((t, i) => ({ ...t, logprob: i === 0 ? 3e-5 : -30 - i }))));
    const b = await withClient({}, (c) => c.optionProbabilities(QUERIES[0]!));
    assert.equal(b.top[0]!.prob, 1);
    assert.ok(b.coverage <= 1);
    assert.equal(server.requests.length, 4, "accepted at once");
  });
});

describe("sampled completions (complete) over HTTP", () => {
  const LABELS = ["A", "B", "C"];
  const PROMPT = QUERIES[0]!.prompt;
  const SAMPLE: CompletionQuery = { prompt: PROMPT, n: 5, temperature: 1, maxTokens: 8, seed: 11 };
  const SHARES = {
    type: "object",
    properties: Object.fromEntries(LABELS.map((l) => [l, { type: "number", minimum: 0, maximum: 1 }])),
    required: LABELS,
    additionalProperties: false,
  };
  const bodies = () => server.requests.map((r) => r.body as Record<string, unknown>);

  test("n honoured: one request with n, temperature, max_tokens and seed; the model's own texts; reproducible", async () => {
    const a = await withClient({}, (c) => c.complete(SAMPLE));
    assert.equal(a.mode, "none");
    assert.equal(a.texts.length, 5);
    assert.ok(new Set(a.texts).size >= 3, JSON.stringify(a.texts));
    assert.equal(server.requests.length, 1);
    const body = bodies()[0]!;
    assert.deepEqual(
      { ...body, messages: undefined },
      { model: MODEL, messages: undefined, n: 5, temperature: 1, max_tokens: 8, seed: completionSeed(11, 0) },
    );
    assert.deepEqual(body["messages"], [{ role: "user", content: PROMPT }]);
    // Exactly what the model behind the server samples with that seed.
    const direct = await server.llama.complete({ ...SAMPLE, seed: completionSeed(11, 0) });
    assert.deepEqual(a.texts, direct.texts);
    assert.equal(a.promptTokens, direct.promptTokens);
    assert.deepEqual(await withClient({}, (c) => c.complete(SAMPLE)), a);
    assert.notDeepEqual((await withClient({}, (c) => c.complete({ ...SAMPLE, seed: 12 }))).texts, a.texts);
  });

  test("n emulated when the server answers one choice (llama-server): completion k asked alone with seed (seed, k)", async () => {
    const honoured = await withClient({}, (c) => c.complete(SAMPLE));
    server.reset();
    server.configure({ ignoreN: true });
    const a = await withClient({}, (c) => c.complete(SAMPLE));
    assert.equal(a.texts.length, 5);
    assert.deepEqual(
      bodies().map((b) => [b["n"], b["seed"]]),
      [0, 1, 2, 3, 4].map((k) => [k === 0 ? 5 : 1, completionSeed(11, k)]),
    );
    // The first request is the same as when n is honoured; the others are completions of their own seeds.
    assert.equal(a.texts[0], honoured.texts[0]);
    for (let k = 1; k < 5; k++) {
      const direct = await server.llama.complete({ ...SAMPLE, n: 1, seed: completionSeed(11, k) });
      assert.equal(a.texts[k], direct.texts[0]);
    }
    assert.ok(new Set(a.texts).size >= 3, JSON.stringify(a.texts));
    assert.deepEqual(await withClient({}, (c) => c.complete(SAMPLE)), a);
    // Faults in the middle of the emulation are retried and change nothing.
    server.reset();
    server.configure({ ignoreN: true });
    server.inject({ kind: "ok" }, { kind: "500" }, { kind: "ok" }, { kind: "malformed" });
    assert.deepEqual(await withClient({}, (c) => c.complete(SAMPLE)), a);
    assert.equal(server.requests.length, 7);
  });

  test("a choice constraint: response_format with the {answer: enum} schema; every text names one of the choices", async () => {
    const a = await withClient({}, (c) =>
      c.complete({ ...SAMPLE, n: 12, maxTokens: 40, constrain: { kind: "choice", choices: LABELS } }),
    );
    assert.equal(a.mode, "json_schema");
    assert.deepEqual(bodies()[0]!["response_format"], {
      type: "json_schema",
      json_schema: {
        name: "answer",
        schema: {
          type: "object",
          properties: { answer: { type: "string", enum: LABELS } },
          required: ["answer"],
          additionalProperties: false,
        },
        strict: true,
      },
    });
    const seen = new Set<number>();
    for (const t of a.texts) {
      const v = JSON.parse(t) as Record<string, unknown>;
      assert.deepEqual(Object.keys(v), ["answer"], t);
      assert.ok(LABELS.includes(v["answer"] as string), t);
      const k = parseLabelAnswer(t, LABELS);
      assert.equal(k, LABELS.indexOf(v["answer"] as string), t);
      seen.add(k!);
    }
    assert.ok(seen.size >= 2, JSON.stringify(a.texts));
  });

  test("a json constraint: the schema sent as is; every text is JSON that matches it", async () => {
    const free = await withClient({}, (c) => c.complete({ ...SAMPLE, n: 4, maxTokens: 30 }));
    // (A text may happen to be a JSON string: "...". Never an object.)
    for (const t of free.texts) assert.ok(!isJsonObject(t), t);
    server.reset();
    const a = await withClient({}, (c) => c.complete({ ...SAMPLE, n: 4, maxTokens: 200, constrain: { kind: "json", schema: SHARES } }));
    assert.equal(a.mode, "json_schema");
    assert.deepEqual(bodies()[0]!["response_format"], { type: "json_schema", json_schema: { name: "answer", schema: SHARES, strict: true } });
    for (const t of a.texts) {
      const v = JSON.parse(t) as Record<string, unknown>;
      assert.deepEqual(Object.keys(v), LABELS, t);
      for (const x of Object.values(v)) assert.ok(typeof x === "number" && x >= 0 && x <= 1, t);
    }
  });

  test("faults are retried and change nothing; exhausted retries name the failure, never the key", async () => {
    const healthyTexts = await withClient({}, (c) => c.complete(SAMPLE));
    server.reset();
    const retries: OpenAIRetryInfo[] = [];
    server.inject({ kind: "429" }, { kind: "500" }, { kind: "hang" }, { kind: "malformed" }, { kind: "nologprobs" });
    assert.deepEqual(await withClient({ onRetry: (i) => retries.push(i) }, (c) => c.complete(SAMPLE)), healthyTexts);
    assert.deepEqual(
      server.requests.map((r) => r.outcome),
      ["429", "500", "hang", "malformed", "nologprobs"],
    );
    assert.deepEqual(
      retries.map((r) => r.status),
      [429, 500, undefined, undefined],
    );
    for (const r of retries) assert.ok(!JSON.stringify(r).includes(KEY));

    server.reset();
    server.inject({ kind: "500" }, { kind: "500" }, { kind: "500" });
    const e = await rejection(withClient({ retries: 2 }, (c) => c.complete(SAMPLE)));
    assert.equal(e.kind, "model");
    assert.match(e.message, /3 attempts: HTTP 500/u);
    assert.ok(e.message.includes(server.url));
    assert.ok(!visible(e).includes(KEY), visible(e));

    server.reset();
    const wrong = "sk-wrong-COMPLETE789";
    const e401 = await rejection(withClient({ apiKey: wrong }, (c) => c.complete(SAMPLE)));
    assert.equal(e401.kind, "usage");
    assert.match(e401.message, /refused the API key/u);
    assert.ok(!visible(e401).includes(wrong), visible(e401));
    assert.equal(server.requests.length, 1);
  });

  test("a server that rejects response_format: fails at once and suggests dropping --constrain", async () => {
    server.configure({ rejectResponseFormat: true });
    let retried = 0;
    const e = await rejection(
      withClient({ onRetry: () => retried++ }, (c) => c.complete({ ...SAMPLE, constrain: { kind: "choice", choices: LABELS } })),
    );
    assert.equal(e.kind, "model");
    assert.match(e.message, /rejected the constrained request \(HTTP 400: response_format is not supported/u);
    assert.match(e.hint ?? "", /drop --constrain/u);
    assert.match(e.hint ?? "", /vLLM/u);
    assert.equal(server.requests.length, 1);
    assert.equal(retried, 0);
    assert.ok(!visible(e).includes(KEY));
    // Unconstrained sampling still works there.
    assert.equal((await withClient({}, (c) => c.complete(SAMPLE))).texts.length, 5);
    // reset() puts the switches back.
    server.reset();
    assert.deepEqual({ ignoreN: server.switches().ignoreN, rejectResponseFormat: server.switches().rejectResponseFormat }, { ignoreN: false, rejectResponseFormat: false });
  });

  test("aborting a hanging completion rejects with the abort reason", async () => {
    server.inject({ kind: "hang" });
    const ctl = new AbortController();
    const reason = new Error("run cancelled");
    await withClient({ timeoutMs: 60_000 }, async (client) => {
      const p = client.complete(SAMPLE, ctl.signal);
      while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
      ctl.abort(reason);
      await assert.rejects(p, (e: unknown) => e === reason);
    });
    assert.equal(server.requests.length, 1);
  });
});

describe("completion bodies from other servers", () => {
  /** A server that answers each request with the next of the given bodies. */
  async function scripted(replies: readonly unknown[]): Promise<{ url: string; bodies: unknown[]; close(): Promise<void> }> {
    const bodies: unknown[] = [];
    let i = 0;
    const srv = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        bodies.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        const text = JSON.stringify(replies[Math.min(i++, replies.length - 1)]);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(text);
      });
    });
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    const port = (srv.address() as AddressInfo).port;
    return {
      url: `http://127.0.0.1:${port}/v1`,
      bodies,
      close: () => new Promise<void>((resolve) => srv.close(() => resolve())),
    };
  }
  const choice = (index: number | undefined, content: string | null, refusal?: string) => ({
    ...(index === undefined ? {} : { index }),
    message: { role: "assistant", content, ...(refusal === undefined ? {} : { refusal }) },
    finish_reason: "stop",
  });

  test("a body of the wrong shape is retried; choices are taken in index order; a refusal is kept as the text", async () => {
    const s = await scripted([
      { choices: [] },
      { choices: [{ text: "B" }] },
      { choices: [choice(1, "B"), choice(0, "A")], usage: { prompt_tokens: 17 } },
      { choices: [choice(undefined, null, "I cannot answer that")] },
    ]);
    try {
      const retries: OpenAIRetryInfo[] = [];
      const client = await openaiSpec("vllm", MODEL, { baseURL: s.url, retries: 3, retryBaseMs: 1, retryMaxMs: 2, env: {}, onRetry: (r) => retries.push(r) }).open();
      const a = await client.complete({ prompt: "p", n: 3, temperature: 1, maxTokens: 4, seed: 5 });
      // No `model` or `system_fingerprint` in these bodies: the server said nothing of what it ran.
      assert.deepEqual(a, { texts: ["A", "B", "I cannot answer that"], mode: "none", promptTokens: 17, served: { model: null, fingerprint: null } });
      assert.deepEqual(
        retries.map((r) => r.reason),
        [
          "the response is malformed at choices (expected choices[].message.content)",
          "the response is malformed at choices[0].message (expected choices[].message.content)",
        ],
      );
      assert.deepEqual(
        s.bodies.map((b) => [(b as { n: number }).n, (b as { seed: number }).seed]),
        [
          [3, completionSeed(5, 0)],
          [3, completionSeed(5, 0)],
          [3, completionSeed(5, 0)],
          [1, completionSeed(5, 2)],
        ],
      );
    } finally {
      await s.close();
    }
  });

  test("more choices than asked for: the first n are kept", async () => {
    const s = await scripted([{ choices: [choice(0, "A"), choice(1, "B"), choice(2, "C")] }]);
    try {
      const client = await openaiSpec("vllm", MODEL, { baseURL: s.url, env: {} }).open();
      assert.deepEqual((await client.complete({ prompt: "p", n: 2, temperature: 1, maxTokens: 4, seed: 5 })).texts, ["A", "B"]);
    } finally {
      await s.close();
    }
  });
});

function isJsonObject(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}
