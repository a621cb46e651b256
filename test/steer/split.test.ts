/** The split: deterministic for a seed, whatever the input order; train, dev and test never share a question. */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { limitQuestions, splitQuestions, stratumOf, type Split } from "../../src/steer/index.js";
import { loadOpinionQA, type Question, type Suite } from "../../src/surveys/index.js";
import { isCivitasError } from "../../src/errors.js";
import { OPINIONQA } from "../helpers/paths.js";
import { question } from "./synthetic.js";

const ids = (qs: readonly Question[]) => qs.map((q) => q.id);

function assertPartition(s: Split, all: readonly Question[]): void {
  const train = new Set(ids(s.train));
  const dev = new Set(ids(s.dev));
  const test = new Set(ids(s.test));
  for (const id of test) assert.ok(!train.has(id) && !dev.has(id), `test question ${id} leaked into train or dev`);
  for (const id of dev) assert.ok(!train.has(id), `dev question ${id} is in train`);
  assert.equal(train.size + dev.size + test.size, all.length, "every question in exactly one part");
  assert.deepEqual(new Set([...train, ...dev, ...test]), new Set(ids(all)));
}

describe("the split of the questions", () => {
  let suite: Suite;
  before(async () => {
    suite = await loadOpinionQA({ data: OPINIONQA });
  });

  it("stratified: about 60/20/20 within each wave, no question in two parts", () => {
    const qs = suite.questions;
    const s = splitQuestions(qs, "stratified", 7);
    assertPartition(s, qs);
    assert.ok(Math.abs(s.test.length - qs.length / 5) <= 1, `${s.test.length} of ${qs.length}`);
    assert.ok(Math.abs(s.dev.length - qs.length / 5) <= 1);
    // Each wave: its test share within one question of a fifth.
    const waves = new Set(qs.map(stratumOf));
    assert.ok(waves.size >= 10, `${waves.size} waves`);
    for (const w of waves) {
      const n = qs.filter((q) => stratumOf(q) === w).length;
      const t = s.test.filter((q) => stratumOf(q) === w).length;
      assert.ok(Math.abs(t - n / 5) <= 1, `wave ${w}: ${t} of ${n} in test`);
    }
  });

  it("is the same for the same seed whatever the order of the questions, and another for another seed", () => {
    const qs = suite.questions;
    const a = splitQuestions(qs, "stratified", 3);
    const b = splitQuestions([...qs].reverse(), "stratified", 3);
    assert.deepEqual(new Set(ids(a.test)), new Set(ids(b.test)));
    assert.deepEqual(new Set(ids(a.dev)), new Set(ids(b.dev)));
    const c = splitQuestions(qs, "stratified", 4);
    assert.notDeepEqual(new Set(ids(a.test)), new Set(ids(c.test)));
    const w1 = splitQuestions(qs, "wave", 3);
    const w2 = splitQuestions([...qs].reverse(), "wave", 3);
    assert.deepEqual(new Set(ids(w1.test)), new Set(ids(w2.test)));
  });

  it("wave: whole waves held out; test and dev each hold at least a fifth", () => {
    const qs = suite.questions;
    for (const seed of [0, 1, 2]) {
      const s = splitQuestions(qs, "wave", seed);
      assertPartition(s, qs);
      const wavesOf = (part: readonly Question[]) => new Set(part.map(stratumOf));
      const [tr, dv, te] = [wavesOf(s.train), wavesOf(s.dev), wavesOf(s.test)];
      for (const w of te) assert.ok(!tr.has(w) && !dv.has(w), `wave ${w} is in test and elsewhere`);
      for (const w of dv) assert.ok(!tr.has(w), `wave ${w} is in dev and train`);
      assert.ok(s.test.length >= qs.length / 5 && s.dev.length >= qs.length / 5);
      assert.ok(s.train.length > 0);
    }
  });

  it("wave needs three waves; a question twice is an error", () => {
    const qs = [question("a", 2, "W1"), question("b", 2, "W1"), question("c", 2, "W2")];
    assert.throws(() => splitQuestions(qs, "wave", 0), (e: unknown) => isCivitasError(e) && e.kind === "usage" && /needs at least 3 of them; these questions come from 2 \(W1, W2\)/u.test(e.message));
    assert.throws(() => splitQuestions([...qs, question("a")], "stratified", 0), /question a appears twice/u);
  });

  it("--limit takes questions from every wave in turn, the same for the same seed", () => {
    const qs = suite.questions;
    const waves = new Set(qs.map(stratumOf));
    const l = limitQuestions(qs, 2 * waves.size, 5);
    assert.equal(l.length, 2 * waves.size);
    // Twice as many questions as waves: two of each.
    for (const w of waves) assert.equal(l.filter((q) => stratumOf(q) === w).length, 2, w);
    assert.deepEqual(ids(limitQuestions([...qs].reverse(), 2 * waves.size, 5)), ids(l));
  });
});
