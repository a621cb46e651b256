/**
 * The durmus2023 protocol on hand-computed cases: Durmus et al. 2023's similarity of a model to a
 * country is the mean over questions of 1 - Jensen-Shannon distance between the model's and the
 * country's answer distributions (scipy.spatial.distance.jensenshannon: the square root of the
 * divergence, natural log).
 *
 * No number printed in the paper can be rebuilt from data on this machine: its similarities need
 * the model's answer distributions (Anthropic's models, not released), and the paper publishes no
 * worked example. So each step is checked on a case computed by hand (and by scipy 1.17.1, quoted).
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { parsePredictions, scorePredictions } from "../../src/runs/predictions.js";
import { resolveConventions } from "../../src/runs/protocols.js";
import { loadCustom } from "../../src/surveys/custom.js";
import { tempDir } from "../helpers/paths.js";

describe("durmus2023, by hand", () => {
  it("1 - JSD (natural log, square root) per question, DK/Refused dropped and the rest renormalised, averaged over questions", async () => {
    const file = path.join(tempDir(), "global.jsonl");
    const q1 = { question_id: "Q1", question: "Is it good?", options: ["Yes", "No", "DK/Refused"] };
    const q2 = { question_id: "Q2", question: "Is it bad?", options: ["Yes", "No"] };
    writeFileSync(
      file,
      [
        { ...q1, population: "country=Japan", shares: { Yes: 0.4, No: 0.4, "DK/Refused": 0.2 } },
        { ...q2, population: "country=Japan", shares: { Yes: 0.6, No: 0.4 } },
      ]
        .map((o) => JSON.stringify(o))
        .join("\n") + "\n",
    );
    const suite = await loadCustom({ data: file });
    const preds = parsePredictions(
      [
        { question: "Q1", population: "country=Japan", distribution: { Yes: 1, No: 0, "DK/Refused": 0 } },
        { question: "Q2", population: "country=Japan", distribution: { Yes: 0.2, No: 0.8 } },
      ]
        .map((o) => JSON.stringify(o))
        .join("\n") + "\n",
      "p.jsonl",
      suite,
    );
    const r = scorePredictions(suite, preds, resolveConventions(suite, { protocol: "durmus2023" }), 0);
    // Q1: Japan [0.4, 0.4] renormalised to [0.5, 0.5]; model [1, 0]; M = [0.75, 0.25]:
    //   KL(P || M) = ln(1 / 0.75) = 0.287682; KL(Q || M) = 0.5 ln(0.5 / 0.75) + 0.5 ln(0.5 / 0.25) = 0.143841;
    //   divergence 0.215762, distance sqrt = 0.464501 (scipy: jensenshannon([1, 0], [0.5, 0.5]) = 0.464501404022459).
    const d1 = Math.sqrt(0.5 * Math.log(1 / 0.75) + 0.5 * (0.5 * Math.log(0.5 / 0.75) + 0.5 * Math.log(0.5 / 0.25)));
    assert.ok(Math.abs(d1 - 0.464501404022459) < 1e-12);
    // Q2: model [0.2, 0.8], Japan [0.6, 0.4]; M = [0.4, 0.6]:
    //   0.5 (0.2 ln(0.2 / 0.4) + 0.8 ln(0.8 / 0.6)) + 0.5 (0.6 ln(0.6 / 0.4) + 0.4 ln(0.4 / 0.6)), square root
    //   (scipy: jensenshannon([0.2, 0.8], [0.6, 0.4]) = 0.29377648261141365).
    const d2 = Math.sqrt(0.5 * (0.2 * Math.log(0.5) + 0.8 * Math.log(0.8 / 0.6)) + 0.5 * (0.6 * Math.log(1.5) + 0.4 * Math.log(0.4 / 0.6)));
    assert.ok(Math.abs(d2 - 0.29377648261141365) < 1e-12);
    // Similarity to Japan: 1 - (d1 + d2) / 2 = 0.6208610566830637.
    const japan = r.populations.find((p) => p.population === "country=Japan")!;
    assert.equal(r.metric, "jsd");
    assert.equal(r.protocol, "durmus2023");
    assert.ok(Math.abs(japan.mean - (1 - (d1 + d2) / 2)) < 1e-12, String(japan.mean));
    assert.ok(Math.abs(japan.mean - 0.6208610566830637) < 1e-12);
    assert.equal(japan.n, 2);
  });
});
