/**
 * Which prompts the engine asks with their prefix, and in what order: on real parts (OpinionQA
 * from ../shared/data, stories260K through llama.cpp, a real DuckDB file). The client is the real
 * llama client behind a wrapper that records each query and the tokens llama.cpp evaluated.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import { LlamaClient, llamaSpec } from "../../src/models/index.js";
import type { ModelClient, ModelSpec, OptionQuery } from "../../src/models/types.js";
import { runEval, type EvalPlan } from "../../src/runs/engine.js";
import { Store } from "../../src/store/store.js";
import { loadOpinionQA } from "../../src/surveys/opinionqa.js";
import { resolvePopulations } from "../../src/surveys/populations.js";
import { NO_PERSONA, parseVariant, personasFor, renderPrompt, STANDARD_VARIANT } from "../../src/surveys/index.js";
import type { Suite } from "../../src/surveys/types.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

/** The real llama spec; every query asked and the tokens evaluated are recorded (also through the spec it gives for shared prefixes). */
function recording(spec: ModelSpec, into?: { asked: OptionQuery[]; tokens: number }): ModelSpec & { asked: OptionQuery[]; tokens: number } {
  const tally = into ?? { asked: [] as OptionQuery[], tokens: 0 };
  const w: ModelSpec & { asked: OptionQuery[]; tokens: number } = {
    ...spec,
    get asked() {
      return tally.asked;
    },
    get tokens() {
      return tally.tokens;
    },
    ...(spec.forSharedPrefixes ? { forSharedPrefixes: () => recording(spec.forSharedPrefixes!(), tally) } : {}),
    open: async (): Promise<ModelClient> => {
      const client = (await spec.open()) as LlamaClient;
      return {
        backend: client.backend,
        identity: client.identity,
        concurrency: client.concurrency,
        optionProbabilities: (q, signal) => {
          tally.asked.push(q);
          return client.optionProbabilities(q, signal);
        },
        complete: (q, signal) => client.complete(q, signal),
        close: async () => {
          tally.tokens += client.evaluatedTokens;
          await client.close();
        },
      };
    },
  };
  return w;
}

let suite: Suite;
let dir: string;
let tokenizer: LlamaClient;
before(async () => {
  suite = await loadOpinionQA({ data: OPINIONQA });
  dir = tempDir();
  tokenizer = (await (await llamaSpec(MODEL, { threads: 1 })).open()) as LlamaClient;
});
after(async () => tokenizer.close());

const VARIANTS = [STANDARD_VARIANT, parseVariant("order=reversed")];

function plan(model: ModelSpec, overrides: Partial<EvalPlan> = {}): EvalPlan {
  return {
    suite,
    questions: suite.questions.slice(0, 6),
    populations: resolvePopulations(suite, ["POLPARTY"]),
    model,
    metric: "wasserstein",
    minCoverage: 0,
    seed: 0,
    resamples: 100,
    command: "test",
    ...overrides,
  };
}

/** Tokens of the text after a prefix, as the llama client evaluates it after the prefix. */
const restTokens = (prompt: string, prefix: string) => tokenizer.continuationTokens(prefix, prompt.slice(prefix.length)).length;

describe("prefixes in the run engine", () => {
  it("asks every prompt whole when no other prompt of the plan shares its prefix", async () => {
    const store = await Store.open(path.join(dir, "whole.duckdb"));
    try {
      const spec = recording(await llamaSpec(MODEL, { threads: 1, parallel: 1 }));
      await runEval(store, plan(spec));
      assert.equal(spec.asked.length, 6);
      for (const q of spec.asked) assert.ok(!q.prefix, `asked with the prefix ${JSON.stringify(q.prefix)}`);
      // One evaluation of each whole prompt, nothing more.
      assert.equal(spec.tokens, spec.asked.reduce((s, q) => s + tokenizer.tokenize(q.prompt).length, 0));
    } finally {
      await store.close();
    }
  });

  it("passes the prefix when the plan shares it, asks the prompts that share it one after the other, and evaluates it once", async () => {
    const store = await Store.open(path.join(dir, "shared.duckdb"));
    try {
      const spec = recording(await llamaSpec(MODEL, { threads: 1, parallel: 1 }));
      const p = plan(spec, { variants: VARIANTS, persona: true });
      await runEval(store, p);
      // 6 questions x 2 presentations x (no persona + 4 POLPARTY personas).
      assert.equal(spec.asked.length, 60);
      // What the plan holds, computed here from the prompts: each (question, persona) prefix is shared by the two presentations.
      const personas = [NO_PERSONA, ...personasFor(suite, p.populations).values()];
      const prompts = p.questions.flatMap((q) => VARIANTS.flatMap((v) => personas.map((persona) => renderPrompt(q, v, persona, "logprobs"))));
      assert.equal(new Set(prompts.map((r) => r.prefix)).size, 30);
      const prefixOf = new Map(prompts.map((r) => [r.text, r.prefix]));
      for (const q of spec.asked) assert.equal(q.prefix, prefixOf.get(q.prompt));
      // Each prefix's prompts come one after the other, so it is evaluated once.
      const runs = spec.asked.map((q) => q.prefix).filter((x, i, all) => i === 0 || x !== all[i - 1]);
      assert.equal(runs.length, 30);
      const expected = [...new Set(runs)].reduce((s, prefix) => s + tokenizer.tokenize(prefix!).length, 0) + spec.asked.reduce((s, q) => s + restTokens(q.prompt, q.prefix!), 0);
      assert.equal(spec.tokens, expected);
    } finally {
      await store.close();
    }
  });

  it("keys a prompt by where it is split: a whole evaluation in the cache never answers a split one", async () => {
    const store = await Store.open(path.join(dir, "keys.duckdb"));
    try {
      const spec = recording(await llamaSpec(MODEL, { threads: 1, parallel: 1 }));
      // Each standard prompt whole...
      const whole = await runEval(store, plan(spec));
      assert.equal(whole.answers.model_calls, 6);
      // ...then split, with the reversed presentation sharing its prefix: asked again, not taken from the cache.
      const split = await runEval(store, plan(spec, { variants: VARIANTS }));
      assert.equal(split.answers.cache_hits, 0);
      assert.equal(split.answers.model_calls, 12);
      const rows = await store.query("SELECT prompt, params::VARCHAR AS params FROM requests");
      const standard = suite.questions.slice(0, 6).map((q) => renderPrompt(q, STANDARD_VARIANT, NO_PERSONA, "logprobs"));
      for (const r of standard) {
        const params = rows.filter((row) => row.prompt === r.text).map((row) => JSON.parse(String(row.params)) as { prefix_chars?: number; flash_attention?: boolean });
        assert.deepEqual(params.map((x) => x.prefix_chars ?? null).sort(), [r.prefix.length, null].sort(), r.text);
        // A plan that shares prefixes is asked with the llama settings for it (ModelSpec.forSharedPrefixes), in the key too.
        assert.deepEqual(params.map((x) => x.flash_attention ?? null).sort(), [false, null].sort(), r.text);
      }
      // The same split again: every answer from the cache.
      const again = await runEval(store, plan(spec, { variants: VARIANTS, seed: 1 }));
      assert.equal(again.answers.model_calls, 0);
      assert.equal(again.answers.cache_hits, 12);
    } finally {
      await store.close();
    }
  });

  it("asks a resumed run's prompts as a fresh run asks them, with bit-identical answers", async () => {
    const fresh = recording(await llamaSpec(MODEL, { threads: 1, parallel: 1 }));
    const freshStore = await Store.open(path.join(dir, "fresh.duckdb"));
    const resumed = recording(await llamaSpec(MODEL, { threads: 1, parallel: 1 }));
    const resumedStore = await Store.open(path.join(dir, "resumed.duckdb"));
    try {
      const overrides = { variants: VARIANTS, persona: true };
      const a = await runEval(freshStore, plan(fresh, overrides));
      // Stopped after the first answers: the prompts left include some whose prefix-sharing partner is stored.
      const stop = new AbortController();
      await assert.rejects(
        runEval(resumedStore, plan(resumed, overrides), { signal: stop.signal, onProgress: (pr) => void (pr.done >= 7 && stop.abort()) }),
        (e: unknown) => e instanceof CivitasError && /interrupted/u.test(e.message),
      );
      const firstPart = resumed.asked.length;
      assert.ok(firstPart >= 7 && firstPart < 60, String(firstPart));
      const before = new Set(resumed.asked.map((q) => q.prefix));
      const b = await runEval(resumedStore, plan(resumed, overrides));
      // Some prompt left to ask shares its prefix only with a prompt answered before the stop.
      assert.ok(resumed.asked.slice(firstPart).some((q) => before.has(q.prefix)));
      assert.equal(b.run, a.run);
      assert.equal(b.answers.resumed, 60 - b.answers.model_calls);
      // Every prompt was asked with the same prefix (or none) as in the fresh run.
      const freshPrefix = new Map(fresh.asked.map((q) => [q.prompt, q.prefix]));
      for (const q of resumed.asked) assert.equal(q.prefix, freshPrefix.get(q.prompt), q.prompt);
      const rows = async (store: Store) =>
        (await store.answers(a.run)).map((r) => [r.questionId, r.variant, r.persona, r.distribution, r.coverage]).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
      assert.deepEqual(await rows(resumedStore), await rows(freshStore));
    } finally {
      await freshStore.close();
      await resumedStore.close();
    }
  });
});
