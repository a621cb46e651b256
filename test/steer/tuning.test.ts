/** Methods are fitted on train and tuned on dev: what they read, and that test answers never move a knob. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveConventions } from "../../src/runs/index.js";
import { CALIBRATE, LINEAR, splitQuestions, tuneMethod, type SteerContext, type SteerMethod } from "../../src/steer/index.js";
import type { Question } from "../../src/surveys/index.js";
import { pop, question, storedOf, suiteOf } from "./synthetic.js";

const A = pop("a");
const B = pop("b");
const questions = Array.from({ length: 20 }, (_, i) => question(`q${i}`, 2, `W${i % 4}`));
const split = splitQuestions(questions, "stratified", 0);
const plain = Object.fromEntries(questions.map((q) => [q.id, [0.5, 0.5]]));
const persona = { [A.id]: Object.fromEntries(questions.map((q) => [q.id, [0.6, 0.4]])), [B.id]: Object.fromEntries(questions.map((q) => [q.id, [0.45, 0.55]])) };

/** Humans: A leans to option 1 and B to option 2, except where `override` says. */
function humansWith(override: (q: Question) => number[] | undefined) {
  return Object.fromEntries(questions.map((q) => [q.id, { [A.id]: override(q) ?? [0.9, 0.1], [B.id]: override(q) ?? [0.2, 0.8] }]));
}

async function fitAndTune(method: SteerMethod, humans: ReturnType<typeof humansWith>) {
  const { suite, reads } = suiteOf(questions, [A, B], humans);
  const ctx: SteerContext = {
    suite,
    conventions: { refusals: "drop" },
    targets: [A, B],
    variants: ["standard"],
    train: split.train,
    answers: storedOf(plain, persona),
    personas: new Map(),
    ask: () => Promise.reject(new Error("no model here")),
    grids: {},
  };
  const steerer = await method.fit(ctx);
  const fitReads = new Set(reads.splice(0));
  const tuned = await tuneMethod(steerer, { suite, conventions: resolveConventions(suite), seed: 0, targets: [A, B], dev: split.dev });
  const tuneReads = new Set(reads.splice(0));
  return { tuned, fitReads, tuneReads };
}

const idsOf = (qs: readonly Question[]) => new Set(qs.map((q) => q.id));
const subset = (a: Set<string>, b: Set<string>) => [...a].every((x) => b.has(x));

describe("tuning reads only dev", () => {
  for (const method of [LINEAR, CALIBRATE]) {
    it(`${method.name}: fitted from train's human answers only, tuned from dev's only`, async () => {
      const { fitReads, tuneReads, tuned } = await fitAndTune(method, humansWith(() => undefined));
      assert.ok(subset(fitReads, idsOf(split.train)), `fit read ${[...fitReads].filter((q) => !idsOf(split.train).has(q)).join(", ")}`);
      assert.ok(subset(tuneReads, idsOf(split.dev)), `tuning read ${[...tuneReads].filter((q) => !idsOf(split.dev).has(q)).join(", ")}`);
      assert.ok(tuneReads.size > 0);
      assert.equal(tuned.dev.length, method.knob!.grid.length);
    });

    it(`${method.name}: test answers turned around move no knob; dev answers turned around do`, async () => {
      const base = await fitAndTune(method, humansWith(() => undefined));
      const test = idsOf(split.test);
      const dev = idsOf(split.dev);
      const poisonedTest = await fitAndTune(method, humansWith((q) => (test.has(q.id) ? [0.01, 0.99] : undefined)));
      assert.deepEqual(poisonedTest.tuned, base.tuned);
      // The same change on dev changes what tuning sees (so the check above can fail).
      const poisonedDev = await fitAndTune(method, humansWith((q) => (dev.has(q.id) ? [0.5, 0.5] : undefined)));
      assert.notDeepEqual(poisonedDev.tuned.dev, base.tuned.dev);
    });
  }

  it("linear picks the largest a where the humans are beyond the persona, a = 0 where the persona overshoots", async () => {
    // Persona A [0.6, 0.4] vs humans [0.9, 0.1]: each step of a moves closer; B's persona [0.45, 0.55]
    // vs [0.2, 0.8] likewise. Humans at [0.5, 0.5] on dev: the plain answer is exact, any a overshoots.
    assert.equal((await fitAndTune(LINEAR, humansWith(() => undefined))).tuned.value, 2);
    const dev = idsOf(split.dev);
    assert.equal((await fitAndTune(LINEAR, humansWith((q) => (dev.has(q.id) ? [0.5, 0.5] : undefined)))).tuned.value, 0);
  });
});
