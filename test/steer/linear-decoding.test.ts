/**
 * Linear Alignment for generated text (`civitas steer --method sample`): linear's answers come
 * from the run engine's sample method on a client that decodes through the two-sequence loop of
 * src/steer/decode.ts, persona prompt against the same question's plain prompt. On stories260K
 * (one thread) and 10 OpinionQA questions: the stored texts are what the loop gives for the stored
 * persona prompt against the plain prompt the unsteered run stored (so each side got the right
 * prompt), each a is a run of its own whose model identity names a, and tuning asks only dev.
 *
 * The texts are compared exactly: the independent decoder is opened the same way (both sequences
 * in one context, the same batches), and sampling is civitas's seeded generator over float64
 * arithmetic on the same llama.cpp numbers, which test/steer/decode.test.ts shows repeat exactly.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { llamaSpec, type LlamaClient } from "../../src/models/index.js";
import { linearComplete, openLinearDecoder } from "../../src/steer/decode.js";
import { LINEAR, PERSONA, runSteer } from "../../src/steer/index.js";
import { Store } from "../../src/store/index.js";
import { loadOpinionQA, resolvePopulations } from "../../src/surveys/index.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

/** The texts a stored answer holds: sample's completions, verbalize's and sequence's one text. */
const textsOf = (raw: unknown): string[] => {
  const r = raw as { texts?: string[]; text?: string };
  return r.texts ?? [r.text!];
};

describe("linear over generated text (--method sample, verbalize, sequence) on stories260K", () => {
  for (const method of ["sample", "verbalize", "sequence"] as const) it(`${method}: decodes persona against plain prompt per a (a run each, tuned on dev only); the stored texts are the loop's`, async () => {
    const suite = await loadOpinionQA({ data: OPINIONQA });
    const spec = await llamaSpec(MODEL, { threads: 1, flashAttention: false });
    const store = await Store.open(path.join(tempDir(), "s.duckdb"));
    try {
      const result = await runSteer(store, {
        suite,
        model: spec,
        populations: resolvePopulations(suite, ["POLPARTY=Democrat"]),
        methods: [PERSONA, LINEAR],
        split: "stratified",
        seed: 0,
        limit: 10,
        minCoverage: 0,
        resamples: 20,
        grids: { linear: [0, 1] },
        method,
        samples: 4,
        command: "test",
      });
      const linear = result.methods.find((m) => m.method === "linear")!;
      assert.deepEqual(linear.knob!.grid, [0, 1]);
      // The unsteered and persona run, then linear: one run per a on dev, one at the chosen a on test.
      assert.equal(result.eval_runs.length, 4);
      const [main, dev0, dev1, test] = result.eval_runs as [string, string, string, string];
      const questionsOf = async (run: string) => new Set((await store.answers(run, { method })).map((a) => a.questionId));
      assert.deepEqual([...(await questionsOf(dev0))].sort(), [...result.split.dev].sort());
      assert.deepEqual([...(await questionsOf(dev1))].sort(), [...result.split.dev].sort());
      assert.deepEqual([...(await questionsOf(test))].sort(), [...result.split.test].sort());

      // The a = 1 run's persona answers against the loop, given the prompts the store holds.
      const a = 1;
      const persona = (await store.answers(dev1, { method })).filter((x) => x.persona !== "none");
      const plain = (await store.answers(main, { method })).filter((x) => x.persona === "none");
      assert.equal(persona.length, result.split.dev.length);
      const requests = await store.lookupRequests([...persona, ...plain].map((x) => x.requestKey));
      const client = (await spec.open()) as LlamaClient;
      const decoder = await openLinearDecoder(client);
      try {
        let differs = 0;
        for (const answer of persona) {
          const req = requests.get(answer.requestKey)!;
          assert.match(req.model, /\+linear-decoding:a=1$/);
          const plainReq = requests.get(plain.find((x) => x.questionId === answer.questionId && x.variant === answer.variant)!.requestKey)!;
          assert.notEqual(req.prompt, plainReq.prompt);
          const p = req.params as { n: number; temperature: number; max_tokens: number; seed: number };
          const want = await linearComplete(decoder, { personaPrompt: req.prompt, plainPrompt: plainReq.prompt, a, n: p.n, temperature: p.temperature, maxTokens: p.max_tokens, seed: p.seed });
          assert.deepEqual(textsOf(req.raw), want.texts, answer.questionId);
          // The prompt tokens count both sides.
          assert.equal(req.promptTokens, client.tokenize(req.prompt).length + client.tokenize(plainReq.prompt).length);
          // The persona prompt alone samples other texts (else this check could not fail).
          const alone = await linearComplete(decoder, { personaPrompt: req.prompt, plainPrompt: req.prompt, a, n: p.n, temperature: p.temperature, maxTokens: p.max_tokens, seed: p.seed });
          if (JSON.stringify(alone.texts) !== JSON.stringify(want.texts)) differs++;
        }
        assert.ok(differs > 0, "the plain prompt changed no text");
      } finally {
        await decoder.close();
        await client.close();
      }
    } finally {
      await store.close();
    }
  });
});
