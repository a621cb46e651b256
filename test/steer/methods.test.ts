/** Each steering method's post-processing against a hand computation on stored distributions. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyOffsets,
  CALIBRATE,
  calibrationOffsets,
  FEWSHOT,
  LINEAR,
  linearAlign,
  mostSimilar,
  parseSteerMethods,
  PERSONA,
  steerMethods,
  tfIdf,
  type SteerContext,
} from "../../src/steer/index.js";
import { isCivitasError } from "../../src/errors.js";
import { pop, question, storedOf, suiteOf } from "./synthetic.js";

// Sums of a few products of shares in [0, 1]: a few ulps of 1e-16 each; 1e-12 leaves room and
// still catches any wrong formula (those differ in the second decimal).
const close = (a: readonly number[] | undefined, b: readonly number[], tol = 1e-12) => {
  assert.ok(a, "expected a distribution");
  assert.equal(a.length, b.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) < tol, `index ${i}: ${x} vs ${b[i]}`));
};

const A = pop("a");
const B = pop("b");

function context(over: Partial<SteerContext> & Pick<SteerContext, "suite" | "answers" | "train">): SteerContext {
  return {
    conventions: { refusals: "drop" },
    targets: [A, B],
    variants: ["standard"],
    personas: new Map([
      [A.id, { id: A.id, text: "Answer as a." }],
      [B.id, { id: B.id, text: "Answer as b." }],
    ]),
    ask: () => Promise.reject(new Error("no model in this test")),
    grids: {},
    ...over,
  };
}

describe("linear (Linear Alignment over labels)", () => {
  it("p ∝ p_persona^(1+a) p_plain^(-a), by hand", () => {
    // a = 1: persona^2 / plain = [0.25/0.25, 0.09/0.5, 0.04/0.25] = [1, 0.18, 0.16], sum 1.34.
    close(linearAlign([0.5, 0.3, 0.2], [0.25, 0.5, 0.25], 1), [1 / 1.34, 0.18 / 1.34, 0.16 / 1.34]);
    // a = 0 is the persona itself.
    close(linearAlign([0.5, 0.3, 0.2], [0.25, 0.5, 0.25], 0), [0.5, 0.3, 0.2]);
    // a = 0.5: persona^1.5 / plain^0.5.
    const w = [0.5 ** 1.5 / 0.25 ** 0.5, 0.3 ** 1.5 / 0.5 ** 0.5, 0.2 ** 1.5 / 0.25 ** 0.5];
    const s = w[0]! + w[1]! + w[2]!;
    close(linearAlign([0.5, 0.3, 0.2], [0.25, 0.5, 0.25], 0.5), w.map((x) => x / s));
  });

  it("keeps an option the persona gives 0 at 0, and floors the plain prompt's 0", () => {
    const p = linearAlign([0, 0.5, 0.5], [0.5, 0.5, 0], 1)!;
    assert.equal(p[0], 0);
    // 0.25 / 0.5 = 0.5 against 0.25 / 1e-6 = 250000: nearly all the mass on the third option.
    close(p, [0, 0.5 / 250000.5, 250000 / 250000.5], 1e-9);
    assert.equal(linearAlign([0, 0], [0.5, 0.5], 1), undefined);
  });

  it("steers from the stored persona and plain answers, its tokens both prompts'", async () => {
    const q = question("q1", 3);
    const { suite } = suiteOf([q], [A, B], {});
    const answers = storedOf({ q1: [0.25, 0.5, 0.25] }, { [A.id]: { q1: [0.5, 0.3, 0.2] } });
    const s = await LINEAR.fit(context({ suite, answers, train: [] }));
    const got = (await s.steer(1, A, [q]))(q)[0]!;
    close(got.dist, [1 / 1.34, 0.18 / 1.34, 0.16 / 1.34]);
    assert.equal(got.tokens, 30);
    // No persona answer for B: nothing steered.
    assert.equal((await s.steer(1, B, [q]))(q)[0], undefined);
  });
});

describe("persona", () => {
  it("gives the stored persona answers", async () => {
    const q = question("q1");
    const { suite } = suiteOf([q], [A, B], {});
    const s = await PERSONA.fit(context({ suite, answers: storedOf({ q1: [0.5, 0.5] }, { [B.id]: { q1: [0.1, 0.9] } }), train: [] }));
    assert.deepEqual(s.grid, []);
    assert.deepEqual((await s.steer(null, B, [q]))(q)[0], { dist: [0.1, 0.9], tokens: 20 });
  });
});

describe("calibrate (the baseline)", () => {
  const eps = 0.01;
  // Train: q1 human A [0.6, 0.4], model [0.5, 0.5]; q2 human A [0.2, 0.8], model [0.4, 0.6].
  const c0 = (Math.log((0.6 + eps) / (0.5 + eps)) + Math.log((0.2 + eps) / (0.4 + eps))) / 2;
  const c1 = (Math.log((0.4 + eps) / (0.5 + eps)) + Math.log((0.8 + eps) / (0.6 + eps))) / 2;

  it("offsets: the mean log ratio of smoothed human and model shares per option position, by hand", () => {
    close(
      calibrationOffsets([
        { human: [0.6, 0.4], model: [0.5, 0.5] },
        { human: [0.2, 0.8], model: [0.4, 0.6] },
      ]),
      [c0, c1],
    );
    // A third position only one question has: its offset is that question's.
    close(calibrationOffsets([{ human: [0.5, 0.5], model: [0.5, 0.5] }, { human: [0.2, 0.3, 0.5], model: [0.2, 0.3, 0.5] }]), [0, 0, 0]);
  });

  it("applies them to the unsteered answer with strength λ: p_j exp(λ c_j), renormalised", () => {
    const w = [0.3 * Math.exp(c0), 0.7 * Math.exp(c1)];
    close(applyOffsets([0.3, 0.7], [c0, c1], 1), [w[0]! / (w[0]! + w[1]!), w[1]! / (w[0]! + w[1]!)]);
    close(applyOffsets([0.3, 0.7], [c0, c1], 0), [0.3, 0.7]);
  });

  it("is fitted on train only, per target, and steers the unsteered answers (refusals stay out)", async () => {
    const q1 = question("q1");
    const q2 = question("q2");
    // q3 has a refusal option ("Refused", third): it is not scored, and calibrated to 0.
    const q3 = { ...question("q3", 3), refusal: [false, false, true], ordinals: [1, 2] };
    const { suite } = suiteOf([q1, q2, q3], [A, B], {
      q1: { [A.id]: [0.6, 0.4], [B.id]: [0.5, 0.5] },
      q2: { [A.id]: [0.2, 0.8], [B.id]: [0.5, 0.5] },
      q3: { [A.id]: [0.99, 0.01], [B.id]: [0.01, 0.99] },
    });
    const answers = storedOf({ q1: [0.5, 0.5], q2: [0.4, 0.6], q3: [0.24, 0.56, 0.2] }, {});
    const s = await CALIBRATE.fit(context({ suite, answers, train: [q1, q2] }));
    const got = (await s.steer(1, A, [q3]))(q3)[0]!;
    // The plain view of q3 is [0.3, 0.7] (0.24 and 0.56 renormalised without the refusal).
    const w = [0.3 * Math.exp(c0), 0.7 * Math.exp(c1)];
    close(got.dist, [w[0]! / (w[0]! + w[1]!), w[1]! / (w[0]! + w[1]!), 0]);
    assert.equal(got.tokens, 10);
    // B's human shares on train are the plain prompt's on q1 only: offsets differ from A's.
    const b = (await s.steer(1, B, [q3]))(q3)[0]!;
    const b0 = (Math.log(0.51 / 0.51) + Math.log(0.51 / 0.41)) / 2;
    const b1 = (Math.log(0.51 / 0.51) + Math.log(0.51 / 0.61)) / 2;
    const wb = [0.3 * Math.exp(b0), 0.7 * Math.exp(b1)];
    close(b.dist, [wb[0]! / (wb[0]! + wb[1]!), wb[1]! / (wb[0]! + wb[1]!), 0]);
  });
});

describe("fewshot (the population's answers on the most similar train questions)", () => {
  it("TF-IDF retrieval: idf is ln((1 + N) / (1 + df)) + 1 and the closest text comes first", () => {
    const docs = ["cats and dogs", "the economy and jobs", "dogs bark loudly"];
    const v = tfIdf(docs).vector("dogs dogs economy");
    // "dogs" in 2 of 3 documents, counted twice; "economy" in 1.
    assert.ok(Math.abs(v.get("dogs")! - 2 * (Math.log(4 / 3) + 1)) < 1e-12);
    assert.ok(Math.abs(v.get("economy")! - (Math.log(4 / 2) + 1)) < 1e-12);
    assert.deepEqual(mostSimilar(docs, "why do dogs bark", 2), [2, 0]);
    assert.deepEqual(mostSimilar(docs, "jobs in the economy", 1), [1]);
  });

  it("asks each question with the target's shares on its k most similar train questions, then the persona", async () => {
    const train = [question("t1", 2, "W1", "Do you own a dog?"), question("t2", 2, "W1", "Is the economy doing well?"), question("t3", 2, "W1", "Do you like dogs or cats?")];
    const dev = question("d1", 2, "W1", "Would you adopt a dog?");
    const { suite } = suiteOf([...train, dev], [A, B], {
      t1: { [A.id]: [0.7, 0.3], [B.id]: [0.1, 0.9] },
      t2: { [A.id]: [0.25, 0.75], [B.id]: [0.5, 0.5] },
      t3: { [A.id]: [0.4, 0.6], [B.id]: [0.4, 0.6] },
    });
    const asked: { tag: string; target: string; texts: string[] }[] = [];
    const s = await FEWSHOT.fit(
      context({
        suite,
        answers: storedOf({}, {}),
        train,
        ask: async (tag, target, items) => {
          asked.push({ tag, target: target.id, texts: items.map((i) => i.text) });
          return () => [undefined];
        },
      }),
    );
    // k = 8 and 4 need more train questions than the 3 there are.
    assert.deepEqual(s.grid, [1, 2]);
    await s.steer(1, A, [dev]);
    assert.equal(asked[0]!.tag, "fewshot:k=1");
    assert.equal(
      asked[0]!.texts[0],
      "How this group answered similar survey questions:\n\nQuestion: Do you own a dog?\nAnswers: option 1 70%, option 2 30%\n\nAnswer as a.\nWould you adopt a dog?",
    );
    await s.steer(2, B, [dev]);
    assert.match(asked[1]!.texts[0]!, /^How this group answered similar survey questions:\n\nQuestion: Do you own a dog\?\nAnswers: option 1 10%, option 2 90%\n\nQuestion: Do you like dogs or cats\?\nAnswers: option 1 40%, option 2 60%\n\nAnswer as b\.\nWould you adopt a dog\?$/u);
  });

  it("refuses k values the train questions cannot fill", async () => {
    const { suite } = suiteOf([question("t1")], [A, B], { t1: { [A.id]: [0.5, 0.5], [B.id]: [0.5, 0.5] } });
    await assert.rejects(
      FEWSHOT.fit(context({ suite, answers: storedOf({}, {}), train: [question("t1")], grids: { fewshot: [2, 4] } })),
      (e: unknown) => isCivitasError(e) && /answered only 1 train question, fewer than the smallest k \(2, 4\)/u.test(e.message),
    );
  });
});

describe("the registry of steering methods", () => {
  it("holds the five methods; --methods parses names in any case, once each", () => {
    assert.deepEqual([...steerMethods.names], ["persona", "fewshot", "linear", "calibrate", "realign"]);
    assert.deepEqual(parseSteerMethods(["Linear,persona", "linear"]).map((m) => m.name), ["linear", "persona"]);
    assert.throws(() => parseSteerMethods(["vectors"]), (e: unknown) => isCivitasError(e) && e.kind === "usage" && /unknown steering method "vectors"/u.test(e.message));
  });
});
