/** Reading sampled labels and verbalized distributions from completion texts: known answers. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { extractJsonObject, parseLabelAnswer, parseVerbalized } from "../../src/models/parse.js";

const LABELS = ["A", "B", "C", "D", "E"];
const OPTIONS = ["Very safe", "Somewhat safe", "Not too safe", "Not at all safe", "Refused"];

describe("parseLabelAnswer", () => {
  it("reads the usual forms of a label", () => {
    const b = [
      "B",
      " B",
      "B\n",
      "b",
      "B.",
      "B)",
      "(B)",
      "(B",
      "[B]",
      "B:",
      "**B**",
      '"B"',
      "B) Somewhat safe",
      "B. Somewhat safe.",
      "(b) somewhat safe",
      "B - Somewhat safe",
      "Answer: B",
      "answer: (B) Somewhat safe",
      "The answer is B",
      "The answer is B.",
      "The answer is: B",
      "I think the answer is B",
      "Final answer: B",
      "Option B",
      "The answer is option B",
      "I choose B.",
      "Answer:\nB",
      '{"answer":"B"}',
      '{ "answer": "B" }',
      '{ "answer": "B"\n}',
      '{"answer": "Somewhat safe"}',
      '```json\n{"answer": "B"}\n```',
      "```\nB\n```",
      "Somewhat safe",
      "somewhat  safe.",
      "Somewhat safe!",
      "B) because it is safer than most places",
      // A base model goes on writing after its answer: the first line decides.
      " B\n\nQuestion: Do you like cats?\nA. Yes\nB. No",
    ];
    for (const t of b) assert.equal(parseLabelAnswer(t, LABELS, OPTIONS), 1, JSON.stringify(t));
    assert.equal(parseLabelAnswer("E", LABELS, OPTIONS), 4);
    assert.equal(parseLabelAnswer("Not at all safe", LABELS, OPTIONS), 3);
    assert.equal(parseLabelAnswer("not too safe", LABELS, OPTIONS), 2);
  });

  it("gives null for anything else, and for answers naming two options", () => {
    const none = [
      "",
      "   ",
      "\n\n",
      "F",
      "AB",
      "Bob went home",
      "A or B",
      "A and B",
      "A, B",
      "A/B",
      "B and C are both fine",
      // B's text is "Somewhat safe": a label with another option's text contradicts itself.
      "B) Very safe",
      "I think it is B",
      "Somewhat",
      "Somewhat safe, I guess",
      "a safe place", // the article, not option A
      '{"answer": "F"}',
      '{"choice": "B"}',
      '{"A": 0.2, "B": 0.8}',
      '{"answer": ',
      "Answer:",
      "The answer is",
      "one day a little girl",
    ];
    for (const t of none) assert.equal(parseLabelAnswer(t, LABELS, OPTIONS), null, JSON.stringify(t));
  });

  it("works without option texts, and with number labels", () => {
    assert.equal(parseLabelAnswer("B) Very safe", LABELS), 1);
    assert.equal(parseLabelAnswer("Somewhat safe", LABELS), null);
    assert.equal(parseLabelAnswer("C.", LABELS), 2);
    const nums = ["1", "2", "10", "11"];
    assert.equal(parseLabelAnswer("1", nums), 0);
    assert.equal(parseLabelAnswer("10", nums), 2);
    assert.equal(parseLabelAnswer("10.", nums), 2);
    assert.equal(parseLabelAnswer("(11)", nums), 3);
    assert.equal(parseLabelAnswer("1.5", nums), null);
    assert.equal(parseLabelAnswer("1 or 2", nums), null);
    assert.equal(parseLabelAnswer('{"answer": 2}', nums), 1);
    assert.equal(parseLabelAnswer("Answer: 2", nums), 1);
  });

  it("prefers an exact option text to a label reading of the same words", () => {
    // "A lot" is option B's text here, not label A followed by "lot".
    const labels = ["A", "B", "C"];
    const options = ["Not much", "A lot", "Somewhat"];
    assert.equal(parseLabelAnswer("A lot", labels, options), 1);
    assert.equal(parseLabelAnswer("A", labels, options), 0);
    assert.equal(parseLabelAnswer("B) A lot", labels, options), 1);
    assert.equal(parseLabelAnswer("A) A lot", labels, options), null);
  });

  it("treats duplicate option texts as ambiguous", () => {
    assert.equal(parseLabelAnswer("Other", ["A", "B", "C"], ["Other", "Yes", "Other"]), null);
  });
});

describe("parseVerbalized", () => {
  const ok = (text: string, labels = LABELS, options = OPTIONS): number[] => {
    const r = parseVerbalized(text, labels, options);
    assert.ok(r.ok, `${JSON.stringify(text)}: ${r.ok ? "" : r.error}`);
    return r.distribution.map((p) => +p.toFixed(12));
  };
  const err = (text: string, labels = LABELS, options = OPTIONS): string => {
    const r = parseVerbalized(text, labels, options);
    assert.ok(!r.ok, `${JSON.stringify(text)} should be rejected`);
    return r.error;
  };

  it("reads probabilities and percentages, in the order of the labels", () => {
    assert.deepEqual(ok('{"A": 0.1, "B": 0.2, "C": 0.3, "D": 0.4, "E": 0}'), [0.1, 0.2, 0.3, 0.4, 0]);
    // Keys in any order; renormalised.
    assert.deepEqual(ok('{"E": 0, "D": 40, "C": 30, "B": 20, "A": 10}'), [0.1, 0.2, 0.3, 0.4, 0]);
    // Rounded thirds (sum 0.99) and percentages (sum 99) are renormalised.
    assert.deepEqual(ok('{"A": 0.33, "B": 0.33, "C": 0.33}', ["A", "B", "C"], ["x", "y", "z"]), [1 / 3, 1 / 3, 1 / 3].map((p) => +p.toFixed(12)));
    assert.deepEqual(ok('{"A": 33, "B": 33, "C": 33}', ["A", "B", "C"], ["x", "y", "z"]), [1 / 3, 1 / 3, 1 / 3].map((p) => +p.toFixed(12)));
    assert.deepEqual(ok('{"A": 1, "B": 0, "C": 0, "D": 0, "E": 0}'), [1, 0, 0, 0, 0]);
    assert.deepEqual(ok('{"A": 100}'), [1, 0, 0, 0, 0]);
  });

  it("counts options left out as 0", () => {
    assert.deepEqual(ok('{"B": 0.5, "D": 0.5}'), [0, 0.5, 0, 0.5, 0]);
  });

  it("accepts option texts, marked labels and label-with-text as keys, and numeric strings", () => {
    assert.deepEqual(ok('{"Very safe": 0.5, "Somewhat safe": 0.25, "not too safe": 0.25}'), [0.5, 0.25, 0.25, 0, 0]);
    assert.deepEqual(ok('{"(A)": 0.5, "b.": 0.5}'), [0.5, 0.5, 0, 0, 0]);
    assert.deepEqual(ok('{"A. Very safe": 0.6, "B) Somewhat safe": 0.4}'), [0.6, 0.4, 0, 0, 0]);
    assert.deepEqual(ok('{"Option A": 0.6, "Option B": 0.4}'), [0.6, 0.4, 0, 0, 0]);
    assert.deepEqual(ok('{"A": "60%", "B": "40 %"}'), [0.6, 0.4, 0, 0, 0]);
    assert.deepEqual(ok('{"A": "0.6", "B": 0.4}'), [0.6, 0.4, 0, 0, 0]);
    assert.deepEqual(ok('{"A": 6e-1, "B": 4E-1}'), [0.6, 0.4, 0, 0, 0]);
  });

  it("finds the JSON object inside fences and prose", () => {
    const fenced = 'Here is my estimate:\n```json\n{\n  "A": 0.7,\n  "B": 0.3\n}\n```\nI hope this helps {really}.';
    assert.deepEqual(ok(fenced), [0.7, 0.3, 0, 0, 0]);
    assert.deepEqual(ok('Sure! {"A": 0.5, "B": 0.5} and {"A": 1}'), [0.5, 0.5, 0, 0, 0]);
    // Braces inside strings do not confuse it; a first brace that is not JSON is skipped.
    assert.deepEqual(ok('I {think} so: {"A": 0.5, "Not too safe": 0.5}'), [0.5, 0, 0.5, 0, 0]);
    const x = extractJsonObject('prefix {"a": "}{", "b": {"c": 1}} suffix');
    assert.ok(x.ok);
    assert.deepEqual(x.value, { a: "}{", b: { c: 1 } });
  });

  it("rejects what is not a valid distribution, with a short reason", () => {
    assert.match(err("I would say mostly A."), /no JSON object/u);
    assert.match(err('{"A": 0.5, "B": 0.5'), /not closed/u);
    assert.match(err("{'A': 0.5, 'B': 0.5}"), /invalid JSON/u);
    assert.match(err('{"A": 0.5, "B": 0.5,}'), /invalid JSON/u);
    assert.match(err("[0.5, 0.5]"), /no JSON object/u);
    assert.match(err("{}"), /empty/u);
    assert.match(err('{"A": 0.5, "F": 0.5}'), /unknown key "F"/u);
    assert.match(err('{"distribution": {"A": 1}}'), /unknown key "distribution"/u);
    assert.match(err('{"A": 0.5, "a": 0.5}'), /"A" given twice/u);
    assert.match(err('{"A": 0.5, "Very safe": 0.5}'), /"A" given twice/u);
    assert.match(err('{"A": "half", "B": 0.5}'), /value of "A" is not a number/u);
    assert.match(err('{"A": null, "B": 1}'), /value of "A" is not a number/u);
    assert.match(err('{"A": [0.5], "B": 0.5}'), /not a number/u);
    assert.match(err('{"A": true, "B": 1}'), /not a number/u);
    assert.match(err('{"A": -0.2, "B": 1.2}'), /negative value for "A"/u);
    assert.match(err('{"A": "-20%", "B": "120%"}'), /negative value for "A"/u);
    assert.match(err('{"A": 0, "B": 0}'), /all values are 0/u);
    assert.match(err('{"A": 0.5, "B": 0.2}'), /sum to 0\.7/u);
    assert.match(err('{"A": 1, "B": 1, "C": 1}'), /sum to 3,/u);
    assert.match(err('{"A": 60, "B": 60}'), /sum to 120/u);
    assert.match(err('{"A": 1e400}'), /value of "A" is not a number/u);
    assert.match(err('{"A": 1e308, "B": 1e308}'), /too large/u);
    // The key is shortened in the message.
    assert.ok(err(`{"${"x".repeat(500)}": 1}`).length < 80);
  });

  it("takes sums within 10% of 1 or 100", () => {
    ok('{"A": 0.5, "B": 0.41}');
    ok('{"A": 0.6, "B": 0.5}');
    ok('{"A": 50, "B": 41}');
    err('{"A": 0.5, "B": 0.39}');
    err('{"A": 50, "B": 61}');
  });
});
