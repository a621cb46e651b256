/**
 * The `sequence` method (Meister et al. 2024's "Seq" output format): the parser on answers written
 * by hand, the distribution a known completion becomes (served over real HTTP), and `--method
 * sequence` end to end on stories260K, in-process (llama grammar) and over the OpenAI-compatible
 * path (JSON-schema response_format), beside verbalize with the knowledge-to-simulation gap.
 * stories260K proves the machinery only: its answers are not opinions.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { llamaSpec, openaiSpec, type ModelSpec } from "../../src/models/index.js";
import { parseSequence, runEval, sequenceSchema, type EvalPlan } from "../../src/runs/index.js";
import { Store } from "../../src/store/index.js";
import { loadOpinionQA, renderPrompt, resolvePopulations, type Suite } from "../../src/surveys/index.js";
import { formatScores, runPage } from "../../src/report/index.js";
import { v1Result } from "../helpers/fixtures.js";
import { startLlamaOpenAIServer, type LlamaOpenAIServer } from "../helpers/llama-openai-server.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

const ABCD = ["A", "B", "C", "D"];

describe("parseSequence: answers written by hand", () => {
  const read = (text: string, labels = ABCD) => {
    const p = parseSequence(text, labels);
    return [p.counts, p.answers, p.unparsed];
  };

  it("reads letters separated by spaces, commas or nothing, in any case", () => {
    // The paper's own example answer (inputs/globalvalues/sequence/prompt_task1.txt, first example):
    // 30 answers, A x 19, B x 1, C x 10.
    assert.deepEqual(read(" A C C A A C A A A B A C C A A A A C A A A C C A A C A A C A"), [[19, 1, 10, 0], 30, 0]);
    assert.deepEqual(read("ACCAB"), [[2, 1, 2, 0], 5, 0]);
    assert.deepEqual(read("A, C, c; d/ b | a"), [[2, 1, 2, 1], 6, 0]);
    assert.deepEqual(read("'A' \"B\" (C) [D]. A."), [[2, 1, 1, 1], 5, 0]);
  });

  it("strips a repeated lead-in and reads the first line only", () => {
    assert.deepEqual(read("Answer: A B B\nQuestion: what next?\nAnswer: C C C"), [[1, 2, 0, 0], 3, 0]);
    assert.deepEqual(read("\n\nanswers: D D\n"), [[0, 0, 0, 2], 2, 0]);
  });

  it("counts what is no answer as unparsed, never as an option", () => {
    // "E" is no label here; "AXB" is not a run of labels; words are not answers.
    assert.deepEqual(read("A B E AXB the end"), [[1, 1, 0, 0], 2, 4]);
    assert.deepEqual(read(""), [[0, 0, 0, 0], 0, 0]);
    assert.deepEqual(read("Once upon the time"), [[0, 0, 0, 0], 0, 4]);
    // "a" alone is a label (the paper counts lower case, even inside words); inside a word it is not.
    assert.deepEqual(read("Once upon a time"), [[1, 0, 0, 0], 1, 3]);
  });

  it("numbers as labels: whole tokens only, no runs", () => {
    const labels = Array.from({ length: 12 }, (_, i) => String(i + 1));
    assert.deepEqual(parseSequence("1 12 3 12 10", labels).counts, [1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 2]);
    // "123" could be 1,2,3 or 12,3: not read.
    assert.deepEqual([parseSequence("123", labels).answers, parseSequence("123", labels).unparsed], [0, 1]);
  });

  it("reads the JSON that constrained decoding writes", () => {
    assert.deepEqual(read('{"answers": ["A", "C", "C", "D"]}'), [[1, 0, 2, 1], 4, 0]);
    assert.deepEqual(read('{"answers": ["A", "Z"]}'), [[1, 0, 0, 0], 1, 1]);
    assert.deepEqual(read('{"answer": "A"}'), [[0, 0, 0, 0], 0, 1]);
    assert.deepEqual(sequenceSchema(["A", "B"], 3), {
      type: "object",
      properties: { answers: { type: "array", items: { type: "string", enum: ["A", "B"] }, minItems: 3, maxItems: 3 } },
      required: ["answers"],
      additionalProperties: false,
    });
  });
});

describe("the sequence prompt", () => {
  it("is the question, its options and the paper's instruction with N, then Answer:", async () => {
    const suite = await loadOpinionQA({ data: OPINIONQA });
    const q = suite.questions[0]!;
    const r = renderPrompt(q, undefined, undefined, "sequence", { answers: 12 });
    const plain = renderPrompt(q);
    // The same question and options as the logprobs prompt, another ending.
    assert.equal(r.prefix, plain.prefix);
    assert.ok(r.text.startsWith(plain.text.slice(0, plain.text.lastIndexOf("\n") + 1)));
    assert.ok(
      r.text.endsWith(
        "Please simulate 12 samples for the question asked. Please only respond with 12 multiple choice answers, no extra spaces, characters, " +
          "quotes or text. Please only produce 12 characters. Answers with more than 12 characters will not be accepted.\nAnswer:",
      ),
      r.text,
    );
  });
});

let dir: string;
let opinionqa: Suite;
let store: Store;
let server: LlamaOpenAIServer;
before(async () => {
  dir = tempDir();
  opinionqa = await loadOpinionQA({ data: OPINIONQA });
  store = await Store.open(path.join(dir, "s.duckdb"));
  server = await startLlamaOpenAIServer({ apiKey: "test-key", models: ["stories"] });
});
after(async () => {
  await store.close();
  await server.close();
});

const plan = (model: ModelSpec, overrides: Partial<EvalPlan>): EvalPlan => ({
  suite: opinionqa,
  questions: opinionqa.questions.slice(0, 4),
  populations: resolvePopulations(opinionqa, ["POLPARTY=Democrat", "POLPARTY=Republican"]),
  model,
  minCoverage: 0,
  seed: 0,
  resamples: 200,
  command: "test",
  ...overrides,
});

const http = () => openaiSpec("vllm", "stories", { baseURL: server.url, apiKey: "test-key", retries: 1, retryBaseMs: 5, env: {} });

describe("the distribution a known completion becomes", () => {
  it("counts / answers, what is no answer recorded and counted (a completion rewritten over real HTTP)", async () => {
    // The server answers with the real model, then the text is replaced by a known sequence: 10
    // tokens, 8 answers (A x 4, B x 1, C x 3, D x 0), "x" and "42" no answers.
    const text = "A C A B x C A 42 C A";
    server.inject({
      kind: "rewrite",
      rewrite: (body) => ({ ...body, choices: (body.choices as Record<string, unknown>[]).map((c) => ({ ...c, message: { role: "assistant", content: text } })) }),
    });
    const q = opinionqa.questions.slice(0, 1);
    const r = await runEval(store, plan(http(), { methods: ["sequence"], samples: 8, questions: q }));
    const [a] = await store.answers(r.run);
    assert.ok(a);
    const shown = renderPrompt(q[0]!, undefined, undefined, "sequence", { answers: 8 });
    // Back in survey order: the labels' counts divided by the 8 answers read.
    const byLabel = [4, 1, 3, 0, 0, 0, 0, 0].slice(0, shown.labels.length).map((c) => c / 8);
    const want = new Array<number>(q[0]!.options.length).fill(0);
    shown.order.forEach((surveyIndex, k) => (want[surveyIndex] = byLabel[k]!));
    assert.deepEqual(a.distribution, want);
    assert.equal(a.coverage, 0.8);
    assert.equal(r.set_aside.unparsed_sequence_tokens, 2);
    const req = [...(await store.lookupRequests([a.requestKey])).values()][0]!;
    assert.deepEqual(req.raw, { text, answers: 8, unparsed: 2, asked: 8 });
    // One completion asked, not K.
    const body = server.requests.at(-1)!.body as { n?: number; max_tokens?: number; temperature?: number };
    assert.deepEqual([body.n ?? 1, body.temperature], [1, 1]);
  });
});

describe("--method sequence end to end on stories260K", () => {
  it("in-process: one constrained completion per prompt writes exactly N labels; beside verbalize, the gap", async () => {
    const spec = await llamaSpec(MODEL, { threads: 1, parallel: 1 });
    const r = await runEval(store, plan(spec, { methods: ["sequence", "verbalize"], samples: 10, constrain: true }));
    assert.equal(r.method, "sequence");
    const answers = (await store.answers(r.run)).filter((a) => a.method === "sequence");
    assert.equal(answers.length, 4);
    for (const a of answers) {
      assert.equal(a.mode, "grammar");
      assert.equal(a.coverage, 1);
      // Exactly 10 answers: every share is k/10.
      for (const p of a.distribution!) assert.ok(Math.abs(p * 10 - Math.round(p * 10)) < 1e-9, `${p} is not k/10`);
      const req = [...(await store.lookupRequests([a.requestKey])).values()][0]!;
      assert.match(req.prompt, /Please simulate 10 samples for the question asked\..*\nAnswer:$/su);
      assert.equal((req.raw as { answers: number }).answers, 10);
    }
    assert.equal(r.set_aside.unparsed_sequence_tokens, 0);
    // The gap compares the two formats the run asked: both shown, their difference and ratio consistent.
    const g = r.gap!;
    assert.deepEqual(g.formats.map((f) => f.method), ["sequence", "verbalize"]);
    if (g.pairs > 0) {
      assert.ok(Math.abs(g.difference.mean - (g.formats[0]!.tv.mean - g.formats[1]!.tv.mean)) < 1e-9 || g.formats.some((f) => f.pairs !== g.pairs));
      assert.ok(g.difference.ci[0] <= g.difference.mean && g.difference.mean <= g.difference.ci[1]);
    }
  });

  it("unconstrained: the tiny model's text is read as it is, what is no answer counted", async () => {
    const spec = await llamaSpec(MODEL, { threads: 1, parallel: 1 });
    const r = await runEval(store, plan(spec, { methods: ["sequence"], samples: 6, questions: opinionqa.questions.slice(0, 3) }));
    const answers = await store.answers(r.run);
    const reqs = await store.lookupRequests(answers.map((a) => a.requestKey));
    let unparsed = 0;
    for (const a of answers) {
      const raw = reqs.get(a.requestKey)!.raw as { text: string; answers: number; unparsed: number };
      assert.equal(a.mode, "none");
      // The stored reading is the parser's reading of the stored text.
      const p = parseSequence(raw.text, renderPrompt(opinionqa.questions.find((q) => q.id === a.questionId)!, undefined, undefined, "sequence", { answers: 6 }).labels);
      assert.deepEqual([raw.answers, raw.unparsed], [p.answers, p.unparsed]);
      assert.equal(a.coverage, p.answers + p.unparsed > 0 ? p.answers / (p.answers + p.unparsed) : 0);
      unparsed += p.unparsed;
    }
    assert.equal(r.set_aside.unparsed_sequence_tokens, unparsed);
  });

  it("over the OpenAI-compatible path: a JSON-schema response_format, exactly N labels", async () => {
    server.reset();
    const r = await runEval(store, plan(http(), { methods: ["sequence"], samples: 5, constrain: true, questions: opinionqa.questions.slice(1, 3) }));
    const answers = await store.answers(r.run);
    assert.equal(answers.length, 2);
    for (const a of answers) {
      assert.equal(a.mode, "json_schema");
      assert.equal(a.coverage, 1);
      for (const p of a.distribution!) assert.ok(Math.abs(p * 5 - Math.round(p * 5)) < 1e-9, `${p} is not k/5`);
    }
    const body = server.requests.at(-1)!.body as { response_format?: { json_schema?: { schema?: unknown } } };
    assert.deepEqual((body.response_format?.json_schema?.schema as { properties: { answers: { minItems: number } } }).properties.answers.minItems, 5);
  });
});

describe("the knowledge-to-simulation gap as printed", () => {
  const base = v1Result("eval", "eval-full");
  const gap = {
    formats: [
      { method: "sequence", tv: { mean: 0.3773, ci: [0.35, 0.41] as const }, pairs: 300 },
      { method: "verbalize", tv: { mean: 0.3196, ci: [0.3, 0.34] as const }, pairs: 300 },
    ],
    sequence_method: "sequence",
    verbalize_method: "verbalize",
    difference: { mean: 0.0578, ci: [0.031, 0.084] as const },
    pairs: 300,
    relative: 0.1808,
  };

  it("terminal: each format's mean TV, the difference with its interval, the ratio beside it", () => {
    const { gap_v2: _old, ...rest } = base;
    const text = formatScores({ ...rest, gap });
    assert.match(text, /knowledge-to-simulation gap \(Meister et al\. 2024\): mean total variation of each output format/u);
    assert.match(text, /sequence\s+0\.377\s+\[0\.350, 0\.410\]\s+300/u);
    assert.match(text, /verbalize\s+0\.320\s+\[0\.300, 0\.340\]\s+300/u);
    assert.match(text, /TV\(sequence\) - TV\(verbalize\) = 0\.058 \[0\.031, 0\.084\] \(paired bootstrap over questions, 300 question-population pairs; TV\(sequence\) \/ TV\(verbalize\) - 1 = 0\.181\)/u);
    assert.doesNotMatch(text, /earlier civitas/u);
  });

  it("a gap an earlier civitas stored is shown as what it was, not as Meister et al.'s", () => {
    assert.ok(base.gap_v2);
    assert.match(formatScores(base), /stored by an earlier civitas: TV\(logprobs\) \/ TV\(verbalize\) - 1 = .* \(logprobs standing in for the sequence: not Meister et al\.'s statistic\)/u);
  });
});

describe("the gap end to end, on answers known in advance (completions rewritten over real HTTP)", () => {
  it("each format's TV, their difference and ratio are those computed by hand from the human shares; the report shows them", async () => {
    // Two questions, Democrats and Republicans, no personas. Every sequence reads A x 3, B x 2,
    // C x 5 (10 answers); every statement is {"A": 0.5, "B": 0.5}. The run's server answers one
    // request at a time (concurrency 1), so the request being answered is the last one received.
    server.reset();
    const seqText = "A A A B B C C C C C";
    const verbText = '{"A": 0.5, "B": 0.5}';
    const isVerbalize = () => JSON.stringify(server.requests.at(-1)!.body).includes("JSON:");
    const rewrite = (body: Record<string, unknown>) => ({
      ...body,
      choices: (body.choices as Record<string, unknown>[]).map((c) => ({ ...c, message: { role: "assistant", content: isVerbalize() ? verbText : seqText } })),
    });
    server.inject(...Array.from({ length: 4 }, () => ({ kind: "rewrite" as const, rewrite })));
    const spec = openaiSpec("vllm", "stories", { baseURL: server.url, apiKey: "test-key", retries: 1, retryBaseMs: 5, concurrency: 1, env: {} });
    const questions = opinionqa.questions.slice(0, 2);
    const pops = resolvePopulations(opinionqa, ["POLPARTY=Democrat", "POLPARTY=Republican"]);
    const r = await runEval(store, plan(spec, { methods: ["sequence", "verbalize"], samples: 10, questions, populations: pops, seed: 5 }));
    assert.equal(server.pendingFaults(), 0);

    // By hand: the model's shares in survey order over the scored options (refusals dropped, the
    // rest renormalised), TV against each population's shares.
    const tv = (a: readonly number[], b: readonly number[]) => 0.5 * a.reduce((s, x, i) => s + Math.abs(x - b[i]!), 0);
    const model = (q: (typeof questions)[number], byLabel: number[]) => {
      const shown = renderPrompt(q, undefined, undefined, "sequence", { answers: 10 });
      const all = new Array<number>(q.options.length).fill(0);
      shown.order.forEach((surveyIndex, k) => (all[surveyIndex] = byLabel[k] ?? 0));
      const scored = all.filter((_, i) => !q.refusal[i]);
      const total = scored.reduce((a, b) => a + b, 0);
      return scored.map((x) => x / total);
    };
    const tvs = (byLabel: number[]) => questions.flatMap((q) => pops.map((p) => tv(model(q, byLabel), opinionqa.human(q.id, p.id)!.probs)));
    const seqTVs = tvs([0.3, 0.2, 0.5]);
    const verbTVs = tvs([0.5, 0.5]);
    const mean = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;
    const g = r.gap!;
    assert.equal(g.pairs, 4);
    assert.deepEqual(g.formats.map((f) => [f.method, f.pairs]), [["sequence", 4], ["verbalize", 4]]);
    // Means of 4 numbers in another order: 1e-12 is far above rounding, far below any mistake.
    assert.ok(Math.abs(g.formats[0]!.tv.mean - mean(seqTVs)) < 1e-12, `${g.formats[0]!.tv.mean} vs ${mean(seqTVs)}`);
    assert.ok(Math.abs(g.formats[1]!.tv.mean - mean(verbTVs)) < 1e-12);
    assert.ok(Math.abs(g.difference.mean - (mean(seqTVs) - mean(verbTVs))) < 1e-12);
    assert.ok(Math.abs(g.relative - (mean(seqTVs) / mean(verbTVs) - 1)) < 1e-12);

    const page = await runPage(store, r.run);
    const body = String(page.body);
    assert.match(body, /Knowledge-to-simulation gap \(Meister et al\. 2024\)/u);
    assert.ok(body.includes(g.formats[0]!.tv.mean.toFixed(3)), "the sequence's mean TV");
    assert.ok(body.includes(`TV(sequence) - TV(verbalize), paired bootstrap over questions`));
  });
});
