/** Prompts and presentation variants: exact texts, parsing, presets, and the mapping back to survey order. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  NO_PERSONA,
  parseVariant,
  parseVariants,
  renderPrompt,
  RNR_VARIATIONS,
  STANDARD_VARIANT,
  toSurveyOrder,
  type Question,
} from "../../src/surveys/index.js";

const Q: Question = {
  id: "SAFE",
  text: "How safe is your community?",
  options: ["Very safe", "Somewhat safe", "Not too safe", "Not at all safe", "Refused"],
  refusal: [false, false, false, false, true],
  ordinals: [1, 2, 3, 4],
};

describe("prompts", () => {
  it("renders OpinionQA's prompt exactly", () => {
    const r = renderPrompt(Q);
    assert.equal(r.text, "Question: How safe is your community?\nA. Very safe\nB. Somewhat safe\nC. Not too safe\nD. Not at all safe\nE. Refused\nAnswer:");
    assert.equal(r.prefix, "Question: How safe is your community?\n");
    assert.deepEqual(r.labels, ["A", "B", "C", "D", "E"]);
    assert.deepEqual(r.order, [0, 1, 2, 3, 4]);
  });

  it("puts the persona first, in the prefix", () => {
    const r = renderPrompt(Q, STANDARD_VARIANT, { id: "p", text: "Answer as a farmer." });
    assert.ok(r.text.startsWith("Answer as a farmer.\n\nQuestion: How safe"));
    assert.equal(r.prefix, "Answer as a farmer.\n\nQuestion: How safe is your community?\n");
  });

  it("makes turns: a system turn from --system and, with --persona-in system, the persona", () => {
    const farmer = { id: "p", text: "Answer as a farmer." };
    const body = "Question: How safe is your community?\nA. Very safe\nB. Somewhat safe\nC. Not too safe\nD. Not at all safe\nE. Refused\nAnswer:";
    const plain = renderPrompt(Q, STANDARD_VARIANT, farmer);
    assert.deepEqual(plain.turns, { system: null, user: `Answer as a farmer.\n\n${body}`, userPrefix: "Answer as a farmer.\n\nQuestion: How safe is your community?\n" });
    const inSystem = renderPrompt(Q, STANDARD_VARIANT, farmer, "logprobs", { system: "Be brief.", personaIn: "system" });
    assert.deepEqual(inSystem.turns, { system: "Be brief.\n\nAnswer as a farmer.", user: body, userPrefix: "Question: How safe is your community?\n" });
    // As plain text the system turn comes first, a blank line before the user's.
    assert.equal(inSystem.text, `Be brief.\n\nAnswer as a farmer.\n\n${body}`);
    assert.equal(inSystem.prefix, "Be brief.\n\nAnswer as a farmer.\n\nQuestion: How safe is your community?\n");
    const inUser = renderPrompt(Q, STANDARD_VARIANT, farmer, "logprobs", { system: "Be brief.", personaIn: "user" });
    assert.deepEqual(inUser.turns, { system: "Be brief.", user: `Answer as a farmer.\n\n${body}`, userPrefix: "Answer as a farmer.\n\nQuestion: How safe is your community?\n" });
    // No persona and no --system: no system turn, whatever --persona-in says.
    assert.equal(renderPrompt(Q, STANDARD_VARIANT, NO_PERSONA, "logprobs", { personaIn: "system" }).turns.system, null);
  });

  it("shares the prefix between variants of one template, and every prefix starts its prompt", () => {
    const variants = parseVariants("robust");
    for (const v of variants) {
      const r = renderPrompt(Q, v);
      assert.ok(r.text.startsWith(r.prefix), v.id);
    }
    const prefixes = new Set(variants.filter((v) => v.template === "opinionqa").map((v) => renderPrompt(Q, v).prefix));
    assert.equal(prefixes.size, 1);
  });

  it("orders options as asked: reversed, alphabetical, seeded shuffles", () => {
    assert.deepEqual(renderPrompt(Q, parseVariant("order=reversed")).order, [4, 3, 2, 1, 0]);
    // Code-point order: "Not at all safe" < "Not too safe" < "Refused" < "Somewhat safe" < "Very safe".
    assert.deepEqual(renderPrompt(Q, parseVariant("order=alphabetical")).shown, ["Not at all safe", "Not too safe", "Refused", "Somewhat safe", "Very safe"]);
    const s1 = renderPrompt(Q, parseVariant("order=shuffle1")).order;
    assert.deepEqual(renderPrompt(Q, parseVariant("order=shuffle1")).order, s1);
    assert.notDeepEqual(renderPrompt(Q, parseVariant("order=shuffle2")).order, s1);
    assert.deepEqual([...s1].sort(), [0, 1, 2, 3, 4]);
    const n = renderPrompt(Q, parseVariant("labels=numbers"));
    assert.deepEqual(n.labels, ["1", "2", "3", "4", "5"]);
    assert.match(n.text, /\n1\. Very safe\n2\. Somewhat safe/);
  });

  it("maps a content preference back to the same survey-order distribution under every variant", () => {
    // A "model" that prefers by content: mass proportional to a fixed weight of each option's text.
    const weight: Record<string, number> = { "Very safe": 5, "Somewhat safe": 3, "Not too safe": 1, "Not at all safe": 0.5, Refused: 0.5 };
    const expected = Q.options.map((o) => weight[o]! / 10);
    for (const v of parseVariants("robust")) {
      const r = renderPrompt(Q, v);
      const massShown = r.shown.map((o) => weight[o]! / 10);
      assert.deepEqual(toSurveyOrder(massShown, r.order), expected, v.id);
    }
  });
});

describe("variant names", () => {
  it("are canonical and parse back", () => {
    assert.equal(parseVariant("standard").id, "standard");
    assert.equal(parseVariant("labels=numbers,order=reversed").id, "order=reversed,labels=numbers");
    assert.equal(parseVariant("answer=text,template=survey").id, "template=survey,answer=text");
    for (const v of parseVariants("robust")) assert.equal(parseVariant(v.id).id, v.id);
  });
  it("rnr8 is the paper's design, in its order", () => {
    const v = parseVariants("rnr8");
    assert.equal(v.length, 8);
    assert.deepEqual(
      v.map((x) => ({ labels: x.labels, order: x.order.kind, answer: x.answer })),
      RNR_VARIATIONS.map((x) => ({ labels: x.labels, order: x.order, answer: x.answer })),
    );
  });
  it("robust adds three paraphrases and two shuffles; lists are split on ;", () => {
    const robust = parseVariants("robust");
    assert.equal(robust.length, 13);
    assert.deepEqual(new Set(robust.map((v) => v.template)), new Set(["opinionqa", "survey", "choose", "respond"]));
    assert.deepEqual(parseVariants("standard;order=reversed;order=reversed").map((v) => v.id), ["standard", "order=reversed"]);
  });
  it("takes the suite's template", () => {
    assert.ok(parseVariants("rnr8", "rnr").every((v) => v.template === "rnr"));
    assert.match(renderPrompt(Q, parseVariant("answer=text", "rnr"), NO_PERSONA).text, /^Your task is .*full text of the most appropriate option/);
  });
  it("rejects bad specs with the valid keys", () => {
    assert.throws(() => parseVariant("order=sideways"), /unknown order "sideways"/);
    assert.throws(() => parseVariant("colour=red"), /unknown key "colour"/);
    assert.throws(() => parseVariant("template=nope"), /unknown template "nope"/);
    assert.throws(() => parseVariant("answer=both"), /unknown answer format "both"/);
  });
});
