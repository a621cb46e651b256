/** The in-process llama.cpp backend on the real (tiny) stories260K model. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import { labelMassFromTokens, labelOfToken, renormalise } from "../../src/models/extract.js";
import { LlamaClient, llamaSpec } from "../../src/models/llama.js";
import { parseModelSpec } from "../../src/models/spec.js";
import type { OptionAnswer } from "../../src/models/types.js";
import { MODEL } from "../helpers/paths.js";

const PROMPT =
  "Question: How safe, if at all, would you say your local community is from crime? Would you say it is\n" +
  "A. Very safe\nB. Somewhat safe\nC. Not too safe\nD. Not at all safe\nE. Refused\nAnswer:";
const LABELS = ["A", "B", "C", "D", "E"];

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
  it("evaluates several prompts at once and agrees with one sequence to 1e-6", async () => {
    const one = (await (await llamaSpec(MODEL, { threads: 1, parallel: 1 })).open()) as LlamaClient;
    const four = (await (await llamaSpec(MODEL, { threads: 1, parallel: 4 })).open()) as LlamaClient;
    try {
      assert.equal(four.concurrency, 4);
      const prompts = ["cats", "dogs", "rain", "school", "cake", "trees"].map((w) => `Question: Do you like ${w}?\nA. Yes\nB. No\nC. Maybe\nAnswer:`);
      const seq: OptionAnswer[] = [];
      for (const p of prompts) seq.push(await one.optionProbabilities({ prompt: p, labels: ["A", "B", "C"] }));
      const par = await Promise.all(prompts.map((p) => four.optionProbabilities({ prompt: p, labels: ["A", "B", "C"] })));
      // Batched float arithmetic may differ in the last digits (seen: ~1e-8), never more.
      par.forEach((a, i) => a.labelMass.forEach((m, k) => assert.ok(Math.abs(m - seq[i]!.labelMass[k]!) < 1e-6)));
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
