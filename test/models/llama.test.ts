/** The in-process llama.cpp backend on the real (tiny) stories260K model. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import { labelMassFromTokens, labelOfToken, renormalise } from "../../src/models/extract.js";
import { LlamaClient, llamaSpec } from "../../src/models/index.js";
import { boundNumbers, checkGrammarSchema, choiceGrammar } from "../../src/models/llama-grammar.js";
import { openaiSpec } from "../../src/models/openai.js";
import { parseModelSpec } from "../../src/models/spec.js";
import type { CompletionAnswer, CompletionQuery, OptionAnswer, OptionQuery } from "../../src/models/types.js";
import { MODEL, tempDir } from "../helpers/paths.js";

const PROMPT =
  "Question: How safe, if at all, would you say your local community is from crime? Would you say it is\n" +
  "A. Very safe\nB. Somewhat safe\nC. Not too safe\nD. Not at all safe\nE. Refused\nAnswer:";
const LABELS = ["A", "B", "C", "D", "E"];

/**
 * How far the same prompt evaluated in other batches may be from one evaluation of it alone, in
 * one batch: 1e-2, relative to each label mass or option-text probability. Other batches: split
 * in two (prefix, then rest), or evaluated together with other sequences' prompts (--parallel).
 * llama.cpp promises no equality across batch shapes (it picks kernels by batch size and
 * instruction set). Measured on stories260K with node-llama-cpp 3.21.1's x64, sse42, sandybridge,
 * haswell (AVX2) and sapphirerapids (AVX-512) CPU builds, with flash attention off (PINNED: the
 * tests of batch shapes pin it): 60 OpinionQA prompts, each split after 1, 8, 63 and 64 tokens, after its question
 * text, and before its last 2 and last token, differ not at all when both batches hold 2 tokens or
 * more, and by up to 2.6e-3 when one holds a single token (a one-row matrix product takes another
 * code path); 48 prompts four at a time on four sequences differ by up to 2e-6. 1e-2 leaves about
 * 4x the worst for builds not measured (arm64's kernels, which can accumulate in half floats).
 * Mistakes give far more, on this file's prompt: one stray token left between prefix and rest
 * 2.3e-2, the rest tokenized with a leading space 3.5e-2, the rest without its prefix 0.76, the
 * prefix without BOS 0.96. With flash attention on (node-llama-cpp's default, which civitas keeps)
 * the AVX2 and older builds take a tiled kernel for batches of 64 tokens or more and another for
 * smaller ones: 0.4% apart on this file's prompt, up to 2.4% over the 60 prompts; DEFAULT_TOLERANCE
 * (5e-2) holds that with 2x to spare. This is why the run engine records where a prompt is split
 * in its request key.
 */
const BATCH_TOLERANCE = 1e-2;
const DEFAULT_TOLERANCE = 5e-2;
/** The settings of the tests that compare batch shapes at BATCH_TOLERANCE. */
const PINNED = { threads: 1, flashAttention: false } as const;
const near = (x: number, y: number): boolean => Math.abs(x - y) <= BATCH_TOLERANCE * Math.max(Math.abs(x), Math.abs(y));

describe("label forms", () => {
  it("merges the usual forms of a label and ignores others", () => {
    for (const t of ["A", " A", "A.", "(A", "a", "\u2581A", "A)", " a."]) assert.equal(labelOfToken(t, LABELS), 0, t);
    assert.equal(labelOfToken(" E", LABELS), 4);
    for (const t of ["", " ", "F", "AB", "Answer", "."]) assert.equal(labelOfToken(t, LABELS), -1, t);
    assert.equal(labelOfToken("12", ["1", "12"]), 1);
  });
  it("sums the mass of all forms and reports coverage", () => {
    const m = labelMassFromTokens(
      [
        { token: " A", prob: 0.3 },
        { token: "A", prob: 0.1 },
        { token: "(B", prob: 0.2 },
        { token: " the", prob: 0.4 },
      ],
      ["A", "B", "C"],
    );
    assert.deepEqual(m.labelMass.map((x) => +x.toFixed(12)), [0.4, 0.2, 0]);
    assert.ok(Math.abs(m.coverage - 0.6) < 1e-12);
    assert.deepEqual(renormalise([0.4, 0.2, 0])!.map((x) => +x.toFixed(12)), [0.666666666667, 0.333333333333, 0]);
    assert.equal(renormalise([0, 0]), null);
  });
});

describe("llama backend on stories260K", () => {
  let client: LlamaClient;
  before(async () => {
    client = (await (await llamaSpec(MODEL, { threads: 1 })).open()) as LlamaClient;
  });
  after(async () => client.close());

  it("gives probabilities over the labels that renormalise to 1, with the coverage", async () => {
    const a = await client.optionProbabilities({ prompt: PROMPT, labels: LABELS });
    assert.equal(a.labelMass.length, 5);
    assert.ok(a.labelMass.every((m) => m >= 0));
    const total = a.labelMass.reduce((s, m) => s + m, 0);
    assert.ok(Math.abs(total - a.coverage) < 1e-9);
    // The tiny model puts a few percent of its mass on the labels (the issue expects ~5-10%).
    assert.ok(a.coverage > 0.005 && a.coverage < 0.5, `coverage ${a.coverage}`);
    const dist = renormalise(a.labelMass)!;
    assert.ok(Math.abs(dist.reduce((s, p) => s + p, 0) - 1) < 1e-12);
    // Its distribution is real, not uniform.
    assert.ok(Math.max(...dist) - Math.min(...dist) > 0.05);
    assert.equal(a.top.length, 20);
    assert.ok(a.promptTokens! > 50);
  });

  it("counts every form of a label: the mass equals the sum over the full vocabulary", async () => {
    const { probs } = await client.nextTokenProbabilities(PROMPT);
    const all = [...probs].map(([token, prob]) => ({ token: client.tokenText(token), prob }));
    const expected = labelMassFromTokens(all, LABELS);
    const a = await client.optionProbabilities({ prompt: PROMPT, labels: LABELS });
    a.labelMass.forEach((m, i) => assert.ok(Math.abs(m - expected.labelMass[i]!) < 1e-12));
    // The full distribution sums to 1.
    assert.ok(Math.abs(all.reduce((s, t) => s + t.prob, 0) - 1) < 1e-4);
  });

  it("gives exactly the same numbers for the same prompt, whatever came before", async () => {
    const a = await client.optionProbabilities({ prompt: PROMPT, labels: LABELS });
    await client.optionProbabilities({ prompt: "Question: Do you like rain?\nA. Yes\nB. No\nAnswer:", labels: ["A", "B"] });
    const b = await client.optionProbabilities({ prompt: PROMPT, labels: LABELS });
    assert.deepEqual(b.labelMass, a.labelMass);
  });

  it("works with number labels", async () => {
    const a = await client.optionProbabilities({ prompt: PROMPT.replace(/^([A-E])\./gmu, (_, l: string) => `${"ABCDE".indexOf(l) + 1}.`), labels: ["1", "2", "3", "4", "5"] });
    assert.ok(a.coverage > 0);
  });
});

describe("parallel sequences", () => {
  it("evaluates several prompts at once and agrees with one sequence within BATCH_TOLERANCE", async () => {
    const one = (await (await llamaSpec(MODEL, { ...PINNED, parallel: 1 })).open()) as LlamaClient;
    const four = (await (await llamaSpec(MODEL, { ...PINNED, parallel: 4 })).open()) as LlamaClient;
    try {
      assert.equal(four.concurrency, 4);
      const prompts = ["cats", "dogs", "rain", "school", "cake", "trees"].map((w) => `Question: Do you like ${w}?\nA. Yes\nB. No\nC. Maybe\nAnswer:`);
      const seq: OptionAnswer[] = [];
      for (const p of prompts) seq.push(await one.optionProbabilities({ prompt: p, labels: ["A", "B", "C"] }));
      const par = await Promise.all(prompts.map((p) => four.optionProbabilities({ prompt: p, labels: ["A", "B", "C"] })));
      par.forEach((a, i) => a.labelMass.forEach((m, k) => assert.ok(near(m, seq[i]!.labelMass[k]!), `${m} vs ${seq[i]!.labelMass[k]}`)));
    } finally {
      await one.close();
      await four.close();
    }
  });
});

describe("model names", () => {
  it("rejects a missing model file with its path", async () => {
    await assert.rejects(parseModelSpec("llama:/no/such/model.gguf"), (e: unknown) => {
      assert.ok(e instanceof CivitasError);
      assert.match(e.message, /model file not found: \/no\/such\/model\.gguf/);
      return true;
    });
  });
  it("rejects unknown forms and lists the valid ones", async () => {
    await assert.rejects(parseModelSpec("gpt4"), /cannot read the model "gpt4"/);
    await assert.rejects(parseModelSpec("llama:hf:just-a-name"), /llama:hf:<org>\/<repo>\/<file.gguf>/);
  });
  it("identifies a local model by content, not by path, and never loads it to do so", async () => {
    const spec = await parseModelSpec(`llama:${MODEL}`);
    assert.match(spec.identity, /^llama:stories260K\.gguf#1185376-[0-9a-f]{16}$/);
    const again = await parseModelSpec(`llama:${MODEL.replace("/models/", "/models/./")}`);
    assert.equal(again.identity, spec.identity);
  });
});

describe("sampled completions (complete) on stories260K", () => {
  let client: LlamaClient;
  before(async () => {
    client = (await (await llamaSpec(MODEL, { threads: 1 })).open()) as LlamaClient;
  });
  after(async () => client.close());

  const OPTIONS = ["Very safe", "Somewhat safe", "Not too safe", "Not at all safe", "Refused"];
  /** The verbalize schema: one share in [0, 1] per label. */
  const SHARES = {
    type: "object",
    properties: Object.fromEntries(LABELS.map((l) => [l, { type: "number", minimum: 0, maximum: 1 }])),
    required: LABELS,
    additionalProperties: false,
  };
  const sample = (over: Partial<CompletionQuery> = {}): Promise<CompletionAnswer> =>
    client.complete({ prompt: PROMPT, n: 8, temperature: 1, maxTokens: 8, seed: 42, ...over });

  it("gives the same texts for the same query, whatever came before; completion k differs across k and does not depend on n", async () => {
    const a = await sample();
    assert.equal(a.texts.length, 8);
    assert.equal(a.mode, "none");
    assert.equal(a.promptTokens, client.tokenize(PROMPT).length);
    await client.complete({ prompt: "Once upon a time", n: 2, temperature: 1, maxTokens: 5, seed: 1 });
    await client.optionProbabilities({ prompt: "Question: Do you like rain?\nA. Yes\nB. No\nAnswer:", labels: ["A", "B"] });
    const b = await sample();
    assert.deepEqual(b, a);
    // Each completion has its own seed: the texts differ (the tiny model writes nonsense).
    assert.ok(new Set(a.texts).size >= 6, JSON.stringify(a.texts));
    // Completion k is the same whether 3 or 8 were asked for.
    assert.deepEqual((await sample({ n: 3 })).texts, a.texts.slice(0, 3));
    // Another seed, other texts.
    const c = await sample({ seed: 43 });
    assert.notDeepEqual(c.texts, a.texts);
  });

  it("stops after maxTokens: shorter completions are prefixes of longer ones with the same seed", async () => {
    const long = await sample({ n: 4, maxTokens: 12 });
    const short = await sample({ n: 4, maxTokens: 3 });
    short.texts.forEach((t, k) => {
      assert.ok(t.length > 0 && t.length < long.texts[k]!.length, `${JSON.stringify(t)} vs ${JSON.stringify(long.texts[k])}`);
      assert.ok(long.texts[k]!.startsWith(t), `${JSON.stringify(t)} is not a prefix of ${JSON.stringify(long.texts[k])}`);
    });
  });

  it("is greedy at temperature 0: every completion the same", async () => {
    const a = await sample({ n: 3, temperature: 0 });
    assert.equal(new Set(a.texts).size, 1);
    assert.deepEqual((await sample({ n: 1, temperature: 0, seed: 7 })).texts, [a.texts[0]]);
  });

  it("a choice constraint always yields exactly one of the choices", async () => {
    const free = await sample({ n: 30, maxTokens: 4 });
    // Unconstrained, the tiny model rarely writes a bare label...
    assert.ok(free.texts.filter((t) => LABELS.includes(t)).length < 5, JSON.stringify(free.texts));
    // ...constrained, it always does, and the sampled labels vary.
    const a = await sample({ n: 30, maxTokens: 4, constrain: { kind: "choice", choices: LABELS } });
    assert.equal(a.mode, "grammar");
    for (const t of a.texts) assert.ok(LABELS.includes(t), JSON.stringify(t));
    assert.ok(new Set(a.texts).size >= 2, JSON.stringify(a.texts));
    assert.deepEqual((await sample({ n: 30, maxTokens: 4, constrain: { kind: "choice", choices: LABELS } })).texts, a.texts);
    // Long choices (many tokens each) are completed even with maxTokens 1; quotes and newlines are escaped.
    const choices = [...OPTIONS, 'say "maybe"', "back\\slash", "two\nlines"];
    const b = await sample({ n: 12, maxTokens: 1, constrain: { kind: "choice", choices } });
    for (const t of b.texts) assert.ok(choices.includes(t), JSON.stringify(t));
  });

  it("a json constraint always yields JSON that matches the schema", async () => {
    const free = await sample({ n: 6, maxTokens: 40 });
    // Unconstrained, the tiny model never writes a JSON object...
    for (const t of free.texts) assert.ok(!isJsonObject(t), t);
    // ...constrained, it always does: every label, in [0, 1] (the grammar enforces minimum 0 and maximum 1).
    const a = await sample({ n: 6, maxTokens: 300, constrain: { kind: "json", schema: SHARES } });
    assert.equal(a.mode, "grammar");
    for (const t of a.texts) {
      const v = JSON.parse(t) as Record<string, unknown>;
      assert.deepEqual(Object.keys(v), LABELS, t);
      for (const x of Object.values(v)) assert.ok(typeof x === "number" && x >= 0 && x <= 1, t);
    }
    assert.ok(new Set(a.texts).size >= 2, JSON.stringify(a.texts));
    // Numbers that must only be >= 0 have no minus sign; strings, booleans, arrays and enums as declared.
    const schema = {
      type: "object",
      properties: {
        answer: { type: "string", enum: LABELS },
        count: { type: "integer", minimum: 0 },
        weight: { type: "number", exclusiveMinimum: 0 },
        sure: { type: "boolean" },
        words: { type: "array", items: { type: "string", maxLength: 8 }, maxItems: 3 },
      },
      required: ["answer", "count", "weight", "sure", "words"],
      additionalProperties: false,
    };
    const b = await sample({ n: 6, maxTokens: 300, temperature: 1, constrain: { kind: "json", schema } });
    for (const t of b.texts) {
      const v = JSON.parse(t) as { answer: unknown; count: unknown; weight: unknown; sure: unknown; words: unknown };
      assert.ok(LABELS.includes(v.answer as string), t);
      assert.ok(Number.isInteger(v.count) && (v.count as number) >= 0, t);
      assert.ok(typeof v.weight === "number" && v.weight >= 0, t);
      assert.equal(typeof v.sure, "boolean", t);
      assert.ok(Array.isArray(v.words) && v.words.length <= 3 && v.words.every((w) => typeof w === "string" && w.length <= 8), t);
    }
  });

  it("refuses schemas a grammar cannot enforce (node-llama-cpp would silently allow only null)", async () => {
    for (const schema of [
      { anyOf: [{ type: "number" }, { type: "string" }] },
      { type: "object", properties: { A: { type: "string", pattern: "^a" } } },
      { type: "decimal" },
    ]) {
      await assert.rejects(sample({ n: 1, constrain: { kind: "json", schema } }), (e: unknown) => {
        assert.ok(e instanceof CivitasError && e.kind === "usage", String(e));
        assert.match(e.message, /cannot be enforced by a llama\.cpp grammar/u);
        return true;
      });
    }
    assert.equal(checkGrammarSchema(SHARES), "unit");
    assert.equal(checkGrammarSchema({ type: "object", properties: { A: { type: "number", minimum: 0 } } }), "nonnegative");
    assert.equal(checkGrammarSchema({ type: "object", properties: { A: { type: "number" } } }), "any");
  });

  it("builds GBNF literals and number rules", () => {
    assert.equal(choiceGrammar(["A", 'say "hi"', "a\\b", "x\ny", "A"]), 'root ::= "A" | "say \\"hi\\"" | "a\\\\b" | "x\\ny"');
    const rule = 'fractional-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?';
    assert.equal(boundNumbers(rule, "nonnegative"), rule.replace('"-"? ', ""));
    assert.equal(boundNumbers(rule, "unit"), 'fractional-number-rule ::= "0" ("." [0-9]{1,16})? | "1" ("." [0]{1,16})?');
  });

  it("rejects bad queries and honours an abort signal", async () => {
    await assert.rejects(sample({ n: 0 }), /whole number >= 1/u);
    await assert.rejects(sample({ maxTokens: 0 }), /maxTokens/u);
    await assert.rejects(sample({ constrain: { kind: "choice", choices: [] } }), /at least one choice/u);
    const reason = new Error("stop");
    await assert.rejects(client.complete({ prompt: PROMPT, n: 2, temperature: 1, maxTokens: 4, seed: 1 }, AbortSignal.abort(reason)), (e) => e === reason);
    const ctl = new AbortController();
    const p = client.complete({ prompt: PROMPT, n: 500, temperature: 1, maxTokens: 50, seed: 1 }, ctl.signal);
    setTimeout(() => ctl.abort(reason), 20);
    await assert.rejects(p, (e) => e === reason);
    // The sequence went back to the pool.
    assert.equal((await sample({ n: 1 })).texts.length, 1);
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

describe("shared prefixes and option texts (OptionQuery.prefix, .continuations) on stories260K", () => {
  const STEM = "Question: How safe, if at all, would you say your local community is from crime? Would you say it is\n";
  const OTHER_STEM = "Question: Do you like rain?\n";
  const OPTIONS = ["Very safe", "Somewhat safe", "Not too safe", "Not at all safe", "Refused"];
  const block = (options: readonly string[]) => options.map((o, k) => `${LABELS[k]}. ${o}\n`).join("");
  const Q = { prompt: `${STEM}${block(OPTIONS)}Answer:`, prefix: STEM, labels: LABELS };
  // The standard prompt split where the variants of a question start to differ.
  assert.equal(Q.prompt, PROMPT);

  let client: LlamaClient;
  before(async () => {
    client = (await (await llamaSpec(MODEL, { ...PINNED, parallel: 1 })).open()) as LlamaClient;
  });
  after(async () => client.close());

  /** The answer and how many tokens llama.cpp evaluated for it. */
  async function counted(q: OptionQuery): Promise<{ a: OptionAnswer; evaluated: number }> {
    const before = client.evaluatedTokens;
    const a = await client.optionProbabilities(q);
    return { a, evaluated: client.evaluatedTokens - before };
  }

  it("evaluates a shared prefix once, and gives bit-identical numbers whether it was reused or not", async () => {
    const n = client.tokenize(Q.prompt).length;
    const nPrefix = client.tokenize(STEM).length;
    // After a prompt with another prefix, the prefix is evaluated again: the whole prompt.
    await client.optionProbabilities({ prompt: `${OTHER_STEM}${block(["Yes", "No"])}Answer:`, prefix: OTHER_STEM, labels: ["A", "B"] });
    const fresh = await counted(Q);
    assert.equal(fresh.evaluated, n);
    assert.equal(fresh.a.promptTokens, n);
    // After a prompt with the same prefix (and a longer rest: more to erase), only the rest.
    await client.optionProbabilities({ prompt: `${STEM}${block([...OPTIONS].reverse().map((o) => `${o}, or so`))}Answer:`, prefix: STEM, labels: LABELS });
    const reused = await counted(Q);
    assert.equal(reused.evaluated, n - nPrefix);
    assert.deepEqual(reused.a, fresh.a);
    // After option texts were scored on the same prefix (tokens added after the prompt, then erased).
    await client.optionProbabilities({ ...Q, continuations: OPTIONS });
    assert.deepEqual((await counted(Q)).a, fresh.a);
    // Without a prefix: as before, the whole prompt from a cleared sequence...
    const whole = await counted({ prompt: Q.prompt, labels: LABELS });
    assert.equal(whole.evaluated, n);
    // ...the same tokens (the prefix ends on a token boundary), the same numbers within BATCH_TOLERANCE...
    assert.deepEqual([...client.tokenize(STEM), ...client.continuationTokens(STEM, Q.prompt.slice(STEM.length))], client.tokenize(Q.prompt));
    whole.a.labelMass.forEach((m, k) => assert.ok(near(m, fresh.a.labelMass[k]!), `${m} vs ${fresh.a.labelMass[k]}`));
    // ...and the prefix is gone: the next prompt with it evaluates it again, with the same result.
    const again = await counted(Q);
    assert.equal(again.evaluated, n);
    assert.deepEqual(again.a, fresh.a);
  });

  /**
   * Queries split in different ways: with a prefix, without, with option texts, short and long.
   * Neighbours share a prefix, so that asked one after the other the second reuses it.
   */
  const MIXED: OptionQuery[] = [
    Q,
    { ...Q, continuations: OPTIONS },
    { prompt: `${STEM}${block([...OPTIONS].reverse())}Answer:`, prefix: STEM, labels: LABELS },
    { prompt: Q.prompt, labels: LABELS },
    { prompt: Q.prompt, labels: LABELS, continuations: OPTIONS },
    { prompt: `${OTHER_STEM}${block(["Yes", "No"])}Answer:`, prefix: OTHER_STEM, labels: ["A", "B"] },
    { prompt: `${OTHER_STEM}${block(["Yes", "No"])}Answer:`, labels: ["A", "B"] },
    { prompt: "Once upon a time", labels: ["A"] },
  ];

  it("gives bit-identical numbers for the same query split the same way, in any order and after anything else", async () => {
    const first: OptionAnswer[] = [];
    for (const q of MIXED) first.push(await client.optionProbabilities(q));
    // Backwards, each after a completion and after its neighbour (which may leave its prefix to reuse).
    for (let k = MIXED.length - 1; k >= 0; k--) {
      await client.complete({ prompt: "Once upon a time", n: 1, temperature: 1, maxTokens: 3, seed: k });
      await client.optionProbabilities(MIXED[(k + 1) % MIXED.length]!);
      const before = client.evaluatedTokens;
      assert.deepEqual(await client.optionProbabilities(MIXED[k]!), first[k], `query ${k}`);
      // Q after the prompt with option texts on the same prefix: only the rest was evaluated.
      if (k === 0) assert.equal(client.evaluatedTokens - before, client.tokenize(Q.prompt).length - client.tokenize(STEM).length);
    }
    // On another client with two sequences, asked two at a time.
    const two = (await (await llamaSpec(MODEL, { ...PINNED, parallel: 2 })).open()) as LlamaClient;
    try {
      const again: OptionAnswer[] = [];
      for (let k = 0; k < MIXED.length; k += 2) again.push(...(await Promise.all(MIXED.slice(k, k + 2).map((q) => two.optionProbabilities(q)))));
      // Two sequences evaluated in one batch: another batch shape.
      again.forEach((a, k) => a.labelMass.forEach((m, i) => assert.ok(near(m, first[k]!.labelMass[i]!), `query ${k}: ${m} vs ${first[k]!.labelMass[i]}`)));
      // One at a time: bit-identical, whichever sequence each lands on.
      for (const [k, q] of [...MIXED.entries()].reverse()) assert.deepEqual(await two.optionProbabilities(q), first[k], `query ${k}`);
    } finally {
      await two.close();
    }
  });

  it("gives bit-identical numbers in another process", async () => {
    const here: OptionAnswer[] = [];
    for (const q of MIXED) here.push(await client.optionProbabilities(q));
    // A fresh process loads the model again and asks the same queries in reverse order.
    const code = `
      import { llamaSpec } from ${JSON.stringify(new URL("../../src/models/llama.ts", import.meta.url).href)};
      const queries = ${JSON.stringify(MIXED)};
      const client = await (await llamaSpec(${JSON.stringify(MODEL)}, { threads: 1, parallel: 1, flashAttention: false })).open();
      const out = [];
      for (const q of [...queries].reverse()) out.unshift(await client.optionProbabilities(q));
      await client.close();
      process.stdout.write(JSON.stringify(out));
    `;
    // A file, not --eval: node-llama-cpp tests its binary in a child process with the same node flags.
    const script = path.join(tempDir(), "ask.mts");
    writeFileSync(script, code);
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", script], { maxBuffer: 1 << 24 });
    // JSON keeps every bit of a double (shortest round-trip form).
    assert.deepEqual(JSON.parse(stdout), here);
  });

  it("with node-llama-cpp's defaults: a split and a whole evaluation agree within DEFAULT_TOLERANCE, the same split gives the same bits", async () => {
    const spec = await llamaSpec(MODEL, { threads: 1, parallel: 1 });
    // The default changes no cache key of earlier stores; a pinned setting is part of the keys.
    assert.deepEqual(spec.params, {});
    assert.deepEqual((await llamaSpec(MODEL, PINNED)).params, { flash_attention: false });
    const d = (await spec.open()) as LlamaClient;
    try {
      const split = await d.optionProbabilities(Q);
      const whole = await d.optionProbabilities({ prompt: Q.prompt, labels: LABELS });
      const within = (x: number, y: number) => Math.abs(x - y) <= DEFAULT_TOLERANCE * Math.max(Math.abs(x), Math.abs(y));
      split.labelMass.forEach((m, k) => assert.ok(within(m, whole.labelMass[k]!), `${m} vs ${whole.labelMass[k]}`));
      await d.optionProbabilities({ prompt: "Once upon a time", labels: ["A"] });
      assert.deepEqual(await d.optionProbabilities(Q), split);
      assert.deepEqual(await d.optionProbabilities({ prompt: Q.prompt, labels: LABELS }), whole);
    } finally {
      await d.close();
    }
  });

  it("treats an empty prefix or one that is the whole prompt as none, and rejects one that does not start the prompt", async () => {
    const plain = await client.optionProbabilities({ prompt: Q.prompt, labels: LABELS });
    for (const prefix of ["", Q.prompt]) {
      const { a, evaluated } = await counted({ ...Q, prefix });
      assert.equal(evaluated, client.tokenize(Q.prompt).length);
      assert.deepEqual(a, plain);
    }
    await assert.rejects(client.optionProbabilities({ ...Q, prefix: OTHER_STEM }), (e: unknown) => {
      assert.ok(e instanceof CivitasError && e.kind === "usage", String(e));
      assert.match(e.message, /not the start of its prompt/u);
      return true;
    });
  });

  it("sends a prompt to a free sequence that holds its prefix, and gives the same numbers on any sequence", async () => {
    const two = (await (await llamaSpec(MODEL, { ...PINNED, parallel: 2 })).open()) as LlamaClient;
    try {
      const stems = [STEM, OTHER_STEM, "Question: Is school fun?\n"];
      const q = (stem: string, options = OPTIONS) => ({ prompt: `${stem}${block(options)}Answer:`, prefix: stem, labels: LABELS });
      const ask = async (query: OptionQuery) => {
        const before = two.evaluatedTokens;
        const a = await two.optionProbabilities(query);
        return { a, evaluated: two.evaluatedTokens - before };
      };
      const rest = (stem: string) => two.tokenize(q(stem).prompt).length - two.tokenize(stem).length;
      const first = await ask(q(stems[0]!));
      await ask(q(stems[1]!));
      // Alternating prefixes on two sequences: each keeps its own.
      assert.equal((await ask(q(stems[0]!, [...OPTIONS].reverse()))).evaluated, rest(stems[0]!));
      assert.equal((await ask(q(stems[1]!, [...OPTIONS].reverse()))).evaluated, rest(stems[1]!));
      // A third prefix takes the sequence released longest ago (the first stem's)...
      await ask(q(stems[2]!));
      // ...so the first stem is evaluated again, on the other sequence, with the same numbers.
      const moved = await ask(q(stems[0]!));
      assert.equal(moved.evaluated, two.tokenize(q(stems[0]!).prompt).length);
      assert.deepEqual(moved.a, first.a);
      assert.deepEqual((await client.optionProbabilities(q(stems[0]!))).labelMass, first.a.labelMass);
    } finally {
      await two.close();
    }
  });

  it("scores option texts as P(text | prompt), the product of their tokens' probabilities", async () => {
    const { a, evaluated } = await counted({ ...Q, continuations: OPTIONS });
    assert.equal(a.labelMass.length, OPTIONS.length);
    for (const p of a.labelMass) assert.ok(p > 0 && p <= 1, String(p));
    assert.equal(a.coverage, Math.min(1, a.labelMass.reduce((s, p) => s + p, 0)));
    // The prompt (only its rest: the prefix is held from the test before), then each text but its last token.
    const texts = OPTIONS.map((o) => client.continuationTokens(Q.prompt, o));
    assert.equal(evaluated, client.tokenize(Q.prompt).length - client.tokenize(STEM).length + texts.reduce((s, t) => s + t.length - 1, 0));
    // `top` is the distribution after the prompt, as for labels.
    assert.deepEqual(a.top, (await client.optionProbabilities(Q)).top);
    // After "Answer:" a text is scored with a space before it, tokenized as in the whole text.
    const spaced = client.tokenize(`${Q.prompt} ${OPTIONS[2]}`);
    assert.deepEqual([...client.tokenize(Q.prompt), ...texts[2]!], spaced);
    // After whitespace no space is added; a one-token text's probability is the next-token probability after the prompt.
    const open = `${STEM}${block(OPTIONS)}`;
    const one = client.continuationTokens(open, "A");
    assert.equal(one.length, 1);
    const { probs } = await client.nextTokenProbabilities(open);
    assert.deepEqual((await client.optionProbabilities({ prompt: open, labels: ["A"], continuations: ["A"] })).labelMass, [probs.get(one[0]!)]);
    // The chain rule at a word boundary: P("Not too safe") = P("Not") * P("too safe" | ... " Not").
    assert.deepEqual([...texts[2]!], [...client.continuationTokens(Q.prompt, "Not"), ...client.continuationTokens(`${Q.prompt} Not`, "too safe")]);
    const [not] = (await client.optionProbabilities({ ...Q, continuations: ["Not"] })).labelMass;
    const [tooSafe] = (await client.optionProbabilities({ prompt: `${Q.prompt} Not`, labels: ["A"], continuations: ["too safe"] })).labelMass;
    const chained = not! * tooSafe!;
    // The two sides evaluate the prompt in different batches (prefix and rest, or whole with " Not").
    assert.ok(near(a.labelMass[2]!, chained), `${a.labelMass[2]} vs ${chained}`);
  });

  it("gives each text the same probability whatever the other texts and their order, every time", async () => {
    const a = await client.optionProbabilities({ ...Q, continuations: OPTIONS });
    const reversed = await client.optionProbabilities({ ...Q, continuations: [...OPTIONS].reverse() });
    assert.deepEqual([...reversed.labelMass].reverse(), a.labelMass);
    // Texts that share tokens ("Not too safe", "Not at all safe", and one twice) are scored each on its own.
    const alone = await client.optionProbabilities({ ...Q, continuations: [OPTIONS[3]!, OPTIONS[2]!, OPTIONS[3]!] });
    assert.deepEqual(alone.labelMass, [a.labelMass[3], a.labelMass[2], a.labelMass[3]]);
    // Without a prefix, after other prompts: the same within BATCH_TOLERANCE (the prompt splits on a token boundary).
    await client.optionProbabilities({ prompt: "Once upon a time", labels: ["A"] });
    const plain = await client.optionProbabilities({ prompt: Q.prompt, labels: LABELS, continuations: OPTIONS });
    plain.labelMass.forEach((p, k) => assert.ok(near(p, a.labelMass[k]!), `${p} vs ${a.labelMass[k]}`));
    assert.deepEqual((await client.optionProbabilities({ ...Q, continuations: OPTIONS })).labelMass, a.labelMass);
  });

  it("gives the text the model writes greedily a far higher probability than a random string", async () => {
    const [greedy] = (await client.complete({ prompt: Q.prompt, n: 1, temperature: 0, maxTokens: 4, seed: 1 })).texts;
    assert.ok(greedy !== undefined && greedy.trim() !== "", JSON.stringify(greedy));
    const [g, random] = (await client.optionProbabilities({ ...Q, continuations: [greedy.trimStart(), "zq xv kj wp"] })).labelMass;
    assert.ok(g! > 0.001 && g! > 1e6 * random!, `${JSON.stringify(greedy)}: ${g} vs random ${random}`);
  });

  it("rejects an empty text and texts that do not fit in the context", async () => {
    await assert.rejects(client.optionProbabilities({ ...Q, continuations: ["Very safe", ""] }), /continuation 2 of a query is empty/u);
    // A context of 256 tokens (node-llama-cpp rounds sizes up to a multiple of 256): the prompt fits, not with this text after it.
    const small = (await (await llamaSpec(MODEL, { threads: 1, parallel: 1, contextSize: 256 })).open()) as LlamaClient;
    try {
      const long = "and it is very safe ".repeat(30);
      assert.ok(small.tokenize(Q.prompt).length + small.continuationTokens(Q.prompt, long).length > 256);
      assert.ok((await small.optionProbabilities(Q)).coverage > 0);
      await assert.rejects(small.optionProbabilities({ ...Q, continuations: ["Very safe", long] }), /longest continuation have \d+ tokens, more than the context of 256/u);
      // The sequence went back to the pool.
      assert.ok((await small.optionProbabilities({ ...Q, continuations: OPTIONS })).coverage > 0);
    } finally {
      await small.close();
    }
  });

  it("an OpenAI-compatible server refuses option texts at once, before any request", async () => {
    const remote = await openaiSpec("vllm", "some-model", { baseURL: "http://127.0.0.1:9/v1", retries: 0, env: {} }).open();
    await assert.rejects(remote.optionProbabilities({ ...Q, continuations: OPTIONS }), (e: unknown) => {
      assert.ok(e instanceof CivitasError && e.kind === "usage", String(e));
      assert.match(e.message, /cannot score option texts/u);
      assert.match(e.hint ?? "", /answer=label.*--method sample/u);
      return true;
    });
    await remote.close();
  });
});
