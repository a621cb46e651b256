/**
 * OpenAI-compatible servers as people run them, over real HTTP against the real-model test server
 * (test/helpers/llama-openai-server.ts): the completions endpoint (labels and option texts from
 * echoed prompt log-probabilities), reasoning models (max_completion_tokens, no log-probabilities)
 * and what a server reports running.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { CivitasError } from "../../src/errors.js";
import { completionSeed } from "../../src/models/completion.js";
import { labelMassFromTokens } from "../../src/models/extract.js";
import { llamaSpec } from "../../src/models/llama.js";
import type { LlamaClient } from "../../src/models/llama-client.js";
import { openaiSpec, type OpenAIOptions } from "../../src/models/openai.js";
import type { ModelClient, OptionQuery } from "../../src/models/types.js";
import { startLlamaOpenAIServer, STORIES_MODEL, type LlamaOpenAIServer } from "../helpers/llama-openai-server.js";

const MODEL = "stories260K";
const KEY = "sk-servers-SECRET456";

const QUERIES: OptionQuery[] = [
  { prompt: "Question: Is it good to share toys?\nA. Yes\nB. No\nC. Don't know\nAnswer:", labels: ["A", "B", "C"], continuations: ["Yes", "No", "Don't know"] },
  {
    prompt: "Question: How much do you trust your neighbours?\nA. A lot\nB. Somewhat\nC. Not much\nAnswer: ",
    labels: ["A", "B", "C"],
    continuations: ["A lot", "Somewhat", "Not much"],
  },
];

/**
 * How far the server's option-text probabilities may be from the in-process ones. The server
 * evaluates prompt and text as one batch (its own llama.cpp context); the llama backend evaluates
 * the prompt, then the text's tokens as a second batch. With flash attention off on both, a split
 * and a whole evaluation agree within 1e-2 relative on every option-text probability on any CPU
 * (docs/design.md, Reproducibility; BATCH_TOLERANCE in test/models/llama.test.ts, measured over
 * 60 prompts). Each probability here is a product of up to 4 token probabilities, each within that
 * bound of its own, which the 1e-2 measured on whole option texts already covers.
 */
const TEXT_TOLERANCE = 1e-2;
const near = (x: number, y: number, tol: number) => Math.abs(x - y) <= tol * Math.max(Math.abs(x), Math.abs(y));

let server: LlamaOpenAIServer;
let inProcess: LlamaClient;

function spec(opts: OpenAIOptions = {}) {
  return openaiSpec("vllm", MODEL, { baseURL: server.url, apiKey: KEY, retries: 2, retryBaseMs: 1, retryMaxMs: 2, timeoutMs: 5000, env: {}, ...opts });
}

async function withClient<T>(opts: OpenAIOptions, fn: (c: ModelClient) => Promise<T>): Promise<T> {
  const client = await spec(opts).open();
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
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

before(async () => {
  server = await startLlamaOpenAIServer({ apiKey: KEY, models: [MODEL] });
  inProcess = (await (await llamaSpec(STORIES_MODEL, { threads: 1, parallel: 1, gpu: false, flashAttention: false })).open()) as LlamaClient;
});

after(async () => {
  await inProcess?.close();
  await server?.close();
});

beforeEach(() => server.reset());

describe("the completions endpoint (--api completions)", () => {
  test("labels: the first generated position's top 20, read as in-process from the same 20 tokens", async () => {
    await withClient({ api: "completions" }, async (client) => {
      for (const q of QUERIES) {
        const { labels, prompt } = q;
        const answer = await client.optionProbabilities({ prompt, labels });
        // Independently: the model's own distribution after the prompt, its 20 likeliest tokens.
        const { probs } = await server.llama.nextTokenProbabilities(prompt);
        const top = [...probs].slice(0, 20).map(([t, prob]) => ({ token: server.llama.tokenText(t), prob }));
        const direct = labelMassFromTokens(top, labels);
        // The same floats through JSON and Math.log/exp: equal up to the last bits.
        answer.labelMass.forEach((m, i) => assert.ok(Math.abs(m - direct.labelMass[i]!) <= 1e-12, `${labels[i]}: ${m} vs ${direct.labelMass[i]}`));
        assert.ok(answer.labelMass.some((m) => m > 0));
      }
    });
    assert.deepEqual(
      server.requests.map((r) => [r.path, { ...(r.body as Record<string, unknown>), prompt: undefined }]),
      QUERIES.map(() => ["/v1/completions", { model: MODEL, prompt: undefined, logprobs: 20, max_tokens: 1, temperature: 0 }]),
    );
    assert.deepEqual(
      server.requests.map((r) => (r.body as { prompt: string }).prompt),
      QUERIES.map((q) => q.prompt),
    );
  });

  test("option texts: P(text | prompt) from the echoed prompt agrees with the in-process llama within TEXT_TOLERANCE", async () => {
    await withClient({ api: "completions" }, async (client) => {
      for (const q of QUERIES) {
        const http = await client.optionProbabilities(q);
        // A prompt ending in a space: the space is scored with the text (as lm-evaluation-harness
        // does over HTTP), so the in-process equivalent is the trimmed prompt and " " + text.
        const trimmed = q.prompt.trimEnd();
        const local = await inProcess.optionProbabilities(trimmed === q.prompt ? q : { ...q, prompt: trimmed, continuations: q.continuations!.map((c) => ` ${c}`) });
        assert.equal(http.labelMass.length, q.continuations!.length);
        http.labelMass.forEach((m, k) => {
          assert.ok(m > 0 && m < 1, `${q.continuations![k]}: ${m}`);
          assert.ok(near(m, local.labelMass[k]!, TEXT_TOLERANCE), `${q.continuations![k]}: over HTTP ${m}, in-process ${local.labelMass[k]}`);
        });
        assert.ok(near(http.coverage, local.coverage, TEXT_TOLERANCE));
        // The prompt's tokens as the server counted them (BOS included), as in-process.
        assert.equal(http.promptTokens, local.promptTokens);
      }
    });
    // One request per option: the prompt and the text (a space between them only where the prompt
    // ends without one), echoed, the top 20 with the first option's (its `top`), 1 with the others.
    const bodies = server.requests.map((r) => r.body as Record<string, unknown>);
    assert.deepEqual(
      bodies.map((b) => [b["prompt"], b["echo"], b["logprobs"], b["max_tokens"]]),
      QUERIES.flatMap((q) => q.continuations!.map((c, k) => [`${q.prompt.trimEnd()} ${c}`, true, k === 0 ? 20 : 1, 1])),
    );
  });

  test("a text's probability is the sum of its tokens' echoed log-probabilities, read by hand from the raw response", async () => {
    const q = QUERIES[0]!;
    const full = `${q.prompt} ${q.continuations![1]!}`;
    const res = await fetch(`${server.url}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: MODEL, prompt: full, echo: true, logprobs: 1, max_tokens: 1, temperature: 0 }),
    });
    const body = (await res.json()) as { choices: [{ logprobs: { text_offset: number[]; token_logprobs: (number | null)[] } }] };
    const { text_offset: offsets, token_logprobs: lps } = body.choices[0].logprobs;
    // The tokens that start at or after the prompt's end and before the text's end.
    let sum = 0;
    offsets.forEach((o, i) => {
      if (o >= [...q.prompt].length && o < [...full].length) sum += lps[i]!;
    });
    server.reset();
    const answer = await withClient({ api: "completions" }, (c) => c.optionProbabilities({ ...q, continuations: [q.continuations![1]!] }));
    assert.ok(Math.abs(answer.labelMass[0]! - Math.exp(sum)) <= 1e-12 * Math.exp(sum), `${answer.labelMass[0]} vs ${Math.exp(sum)}`);
  });

  test("a server that does not echo prompt log-probabilities (llama-server): fails at once, never a silent zero, and is remembered", async () => {
    server.configure({ echo: false });
    await withClient({ api: "completions" }, async (client) => {
      const e = await rejection(client.optionProbabilities(QUERIES[0]!));
      assert.equal(e.kind, "model");
      assert.match(e.message, /option texts.*vllm:stories260K.*not for the echoed prompt/su);
      assert.match(e.hint ?? "", /vLLM/u);
      assert.match(e.hint ?? "", /llama-server/u);
      assert.equal(server.requests.length, 1, "not retried");
      await rejection(client.optionProbabilities(QUERIES[1]!));
      assert.equal(server.requests.length, 1, "the second query is refused without asking");
      // Labels still work there.
      const labels = await client.optionProbabilities({ prompt: QUERIES[1]!.prompt, labels: QUERIES[1]!.labels });
      assert.ok(labels.coverage > 0);
    });
  });

  test("the chat API cannot score option texts: refused before asking, and the spec says so", async () => {
    const chat = spec();
    assert.match(chat.unsupported?.("text_logprobs") ?? "", /chat API/u);
    assert.equal(chat.unsupported?.("label_logprobs"), undefined);
    assert.equal(spec({ api: "completions" }).unsupported?.("text_logprobs"), undefined);
    const e = await rejection(withClient({}, (c) => c.optionProbabilities(QUERIES[0]!)));
    assert.match(e.hint ?? "", /--api completions/u);
    assert.equal(server.requests.length, 0);
  });

  test("params and keys: the API is part of the request parameters, the URL is not", () => {
    assert.deepEqual(spec().params, { api: "chat", top_logprobs: 20, max_tokens: 1, temperature: 0 });
    assert.deepEqual(spec({ api: "completions" }).params, { api: "completions", logprobs: 20, max_tokens: 1, temperature: 0 });
  });

  test("sampled completions over /v1/completions: the model's own texts, n and seed sent", async () => {
    const query = { prompt: "Once upon a time", n: 3, temperature: 1, maxTokens: 6, seed: 11 };
    const http = await withClient({ api: "completions" }, (c) => c.complete(query));
    // The client sends completion 0's seed; the server draws completion k with (that seed, k).
    const local = await server.llama.complete({ ...query, seed: completionSeed(query.seed, 0) });
    assert.deepEqual(http.texts, local.texts);
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0]!.path, "/v1/completions");
    assert.deepEqual({ ...(server.requests[0]!.body as Record<string, unknown>), seed: undefined }, { model: MODEL, prompt: query.prompt, n: 3, temperature: 1, max_tokens: 6, seed: undefined });
  });
});

describe("reasoning models", () => {
  const VERBALIZE = { prompt: "Question: Is it good to share toys?\nAnswer:", n: 1, temperature: 0, maxTokens: 5, seed: 3 };

  test("max_tokens rejected: asked once more with max_completion_tokens, which the client then keeps", async () => {
    server.configure({ reasoning: true });
    await withClient({}, async (client) => {
      const first = await client.complete(VERBALIZE);
      const second = await client.complete(VERBALIZE);
      assert.deepEqual(first.texts, second.texts);
    });
    assert.deepEqual(
      server.requests.map((r) => [r.outcome, "max_tokens" in (r.body as object), (r.body as { max_completion_tokens?: number }).max_completion_tokens]),
      [
        ["400", true, undefined],
        ["ok", false, 5],
        ["ok", false, 5],
      ],
    );
  });

  test("an ordinary server that rejects max_completion_tokens: back to max_tokens", async () => {
    const s = await import("node:http");
    // A server of the other kind (older vLLM with strict parameters), over real HTTP.
    const seen: Record<string, unknown>[] = [];
    const srv = s.createServer((req, res) => {
      let raw = "";
      req.on("data", (d: Buffer) => (raw += d.toString()));
      req.on("end", () => {
        const body = JSON.parse(raw) as Record<string, unknown>;
        seen.push(body);
        const bad = "max_completion_tokens" in body;
        res.writeHead(bad ? 400 : 200, { "content-type": "application/json" });
        res.end(
          JSON.stringify(
            bad
              ? { error: { message: "[{'type': 'extra_forbidden', 'loc': ('body', 'max_completion_tokens'), 'msg': 'Extra inputs are not permitted'}]", type: "BadRequestError" } }
              : { choices: [{ index: 0, message: { role: "assistant", content: "A" } }], model: "m" },
          ),
        );
      });
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    try {
      const port = (srv.address() as { port: number }).port;
      const client = await openaiSpec("vllm", "m", { baseURL: `http://127.0.0.1:${port}/v1`, reasoning: true, retries: 0, env: {} }).open();
      assert.deepEqual((await client.complete(VERBALIZE)).texts, ["A"]);
      assert.deepEqual(
        seen.map((b) => ("max_tokens" in b ? "max_tokens" : "max_completion_tokens")),
        ["max_completion_tokens", "max_tokens"],
      );
    } finally {
      srv.close();
    }
  });

  test("log-probabilities rejected by the server: an error naming the method and the model, remembered without asking again", async () => {
    server.configure({ reasoning: true });
    let retries = 0;
    await withClient({ onRetry: () => retries++ }, async (client) => {
      const e = await rejection(client.optionProbabilities({ prompt: QUERIES[0]!.prompt, labels: QUERIES[0]!.labels }));
      assert.equal(e.kind, "model");
      assert.match(e.message, /^--method logprobs cannot ask vllm:stories260K /u);
      assert.match(e.message, /'logprobs' is not supported with this model/u);
      assert.match(e.hint ?? "", /--method sample or --method verbalize/u);
      assert.ok(!`${e.message}${e.hint}`.includes(KEY));
      const asked = server.requests.length;
      // The first 400 names max_tokens (switched), the second logprobs.
      assert.deepEqual(
        server.requests.map((r) => r.outcome),
        ["400", "400"],
      );
      const again = await rejection(client.optionProbabilities({ prompt: QUERIES[1]!.prompt, labels: QUERIES[1]!.labels }));
      assert.equal(again.message, e.message);
      assert.equal(server.requests.length, asked, "not asked again");
      // Text methods still work, with the field it takes.
      assert.equal((await client.complete(VERBALIZE)).texts.length, 1);
    });
    assert.equal(retries, 0);
  });

  test("--reasoning: log-probabilities refused before any request; max_completion_tokens from the start", async () => {
    server.configure({ reasoning: true });
    const s = spec({ reasoning: true });
    assert.match(s.unsupported?.("label_logprobs") ?? "", /vllm:stories260K .*reasoning model/u);
    await withClient({ reasoning: true }, async (client) => {
      const e = await rejection(client.optionProbabilities({ prompt: QUERIES[0]!.prompt, labels: QUERIES[0]!.labels }));
      assert.match(e.message, /^--method logprobs cannot ask vllm:stories260K/u);
      assert.equal(server.requests.length, 0);
      await client.complete(VERBALIZE);
    });
    assert.deepEqual(
      server.requests.map((r) => r.outcome),
      ["ok"],
    );
  });
});

describe("what the server reports running", () => {
  test("model and system_fingerprint come back with every answer, null when the server does not say", async () => {
    server.configure({ served: { model: "stories260K-2025-06-01", fingerprint: "fp_abc" } });
    await withClient({}, async (client) => {
      const a = await client.optionProbabilities({ prompt: QUERIES[0]!.prompt, labels: QUERIES[0]!.labels });
      assert.deepEqual(a.served, { model: "stories260K-2025-06-01", fingerprint: "fp_abc" });
      const c = await client.complete({ prompt: "Once", n: 1, temperature: 1, maxTokens: 2, seed: 1 });
      assert.deepEqual(c.served, { model: "stories260K-2025-06-01", fingerprint: "fp_abc" });
    });
    await withClient({ api: "completions" }, async (client) => {
      const a = await client.optionProbabilities(QUERIES[0]!);
      assert.deepEqual(a.served, { model: "stories260K-2025-06-01", fingerprint: "fp_abc" });
    });
    server.configure({ served: {} });
    await withClient({}, async (client) => {
      const a = await client.optionProbabilities({ prompt: QUERIES[0]!.prompt, labels: QUERIES[0]!.labels });
      // The test server names the model asked for when not told otherwise, and sends no fingerprint.
      assert.deepEqual(a.served, { model: MODEL, fingerprint: null });
    });
  });
});
