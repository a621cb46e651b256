/**
 * The suh2025 protocol (SubPOP, Suh et al. 2025): label probabilities as run_inference.py reads
 * them ("X" and " X" among the top 128 added up), ordinal_emd, the mean over (question, group)
 * pairs, and the five questions near the fine-tuning set left out.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { topKSumLabelMass } from "../../src/models/index.js";
import { findProtocol, parsePredictions, scorePredictions, SUH_EXCLUDED } from "../../src/runs/index.js";
import { Store } from "../../src/store/index.js";
import { renormalise } from "../../src/models/index.js";
import { loadSubPop, type Suite } from "../../src/surveys/index.js";
import { runCli } from "../helpers/cli.js";
import { MODEL, SHARED, tempDir } from "../helpers/paths.js";
import { ordinalEmd } from "../helpers/subpop.js";

const DATA = path.join(SHARED, "data/subpop");
let suite: Suite;
let dir: string;
before(async () => {
  suite = await loadSubPop({ data: DATA });
  dir = tempDir();
});
after(() => undefined);

describe("suh2025: the label reading of run_inference.py", () => {
  it("adds up \"X\" and \" X\" among the listed tokens; a label not listed gets 0", () => {
    const top = [
      { token: "A", prob: 0.3 },
      { token: " A", prob: 0.1 },
      { token: "B", prob: 0.2 },
      { token: "xyz", prob: 0.2 },
      { token: " C", prob: 0.05 },
      { token: "a", prob: 0.1 },
      { token: "B.", prob: 0.04 },
    ];
    const r = topKSumLabelMass(top, ["A", "B", "C", "D"]);
    // A: .3 + .1; B: .2 ("B." is not a form); C: .05 (" C"); D: not listed, 0; lower case "a" is not A.
    assert.deepEqual(r.labelMass.map((x) => Math.round(x * 1e12) / 1e12), [0.4, 0.2, 0.05, 0]);
    assert.ok(Math.abs(r.coverage - 0.65) < 1e-12);
    // Two listed tokens that print the same text are the paper's two ids: added, not the larger.
    assert.deepEqual(topKSumLabelMass([{ token: "B", prob: 0.3 }, { token: "B", prob: 0.2 }], ["A", "B"]).labelMass, [0, 0.5]);
  });

  it("is the protocol's convention, with ordinal Wasserstein, pairs and the five questions left out", () => {
    const c = findProtocol("suh2025").conventions;
    assert.deepEqual(c.labelReading, { kind: "top-k-sum", k: 128 });
    assert.equal(c.metric, "wasserstein");
    assert.equal(c.average, "pairs");
    assert.deepEqual([...(c.excludeQuestions ?? [])], ["marital", "satjob", "attend", "relpersn", "othlang"]);
    assert.deepEqual([...SUH_EXCLUDED], [...(c.excludeQuestions ?? [])]);
  });
});

describe("suh2025: scores as the paper's analysis does", () => {
  it("1 - the mean ordinal_emd over every (question, group) pair, the five questions left out", () => {
    // Predictions: a fixed skew on every option (more on the first), for 12 questions and 4 groups,
    // including two of the excluded questions.
    const qs = ["marital", "satjob", ...suite.questions.filter((q) => !(SUH_EXCLUDED as readonly string[]).includes(q.id)).slice(0, 10).map((q) => q.id)];
    const groups = ["POLPARTY=Democrat", "POLPARTY=Republican", "RELIG=Hindu", "SEX=Female"];
    const lines: string[] = [];
    const expected: number[] = [];
    for (const id of qs) {
      const q = suite.questions.find((x) => x.id === id)!;
      const d = q.options.map((_, i) => 1 / (i + 1));
      const dist = renormalise(d)!;
      for (const g of groups) {
        lines.push(JSON.stringify({ question: id, population: g, distribution: dist }));
        if ((SUH_EXCLUDED as readonly string[]).includes(id)) continue;
        const h = suite.human(id, g)!;
        // The paper's model distribution is over the ordinal options (len(ordinal)), Refused not read;
        // ordinal_emd drops the negative ordinals and renormalises both.
        const k = q.options.length - 1;
        const ordinal = [...Array(k).keys()].map((i) => (q.refusal[i] ? -1 : q.ordinals![q.refusal.slice(0, i).filter((r) => !r).length]!));
        const human = [...Array(k).keys()].map((i) => (q.refusal[i] ? 0 : h.probs[q.refusal.slice(0, i).filter((r) => !r).length]!));
        expected.push(ordinalEmd(dist.slice(0, k), human, ordinal));
      }
    }
    const p = parsePredictions(lines.join("\n"), "p.jsonl", suite);
    const r = scorePredictions(suite, p, { ...findProtocol("suh2025").conventions, protocol: "suh2025" }, 0);
    const want = 1 - expected.reduce((a, b) => a + b, 0) / expected.length;
    assert.equal(expected.length, 40);
    assert.ok(Math.abs(r.overall.mean - want) < 1e-12, `${r.overall.mean} vs ${want}`);
    for (const pop of r.populations) assert.equal(pop.n, 10, `${pop.population}: the excluded questions are not scored`);
  });
});

describe("suh2025 end to end (stories260K proves the machinery, not a result)", () => {
  it("asks for the top 128, stores them, and reads the label mass from them as the paper does", async () => {
    const store = path.join(dir, "s.duckdb");
    const r = await runCli(["eval", "subpop", "--model", `llama:${MODEL}`, "--threads", "1", "--data", DATA, "--populations", "POLPARTY", "--protocol", "suh2025", "--limit", "3", "--store", store, "--progress", "none", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { run: string; protocol: string; answers: { model_calls: number } };
    assert.equal(j.protocol, "suh2025");
    assert.equal(j.answers.model_calls, 3);
    const s = await Store.open(store);
    try {
      const rows = (await s.query("SELECT prompt, labels, label_mass, params, raw FROM requests")) as { labels: string[]; label_mass: number[]; params: unknown; raw: unknown }[];
      assert.equal(rows.length, 3);
      for (const row of rows) {
        const params = (typeof row.params === "string" ? JSON.parse(row.params) : row.params) as Record<string, unknown>;
        assert.equal(params["label_reading"], "top-k-sum");
        assert.equal(params["top_k"], 128);
        const raw = (typeof row.raw === "string" ? JSON.parse(row.raw) : row.raw) as { top: { token: string; prob: number }[] };
        assert.equal(raw.top.length, 128);
        const again = topKSumLabelMass(raw.top, row.labels);
        row.label_mass.forEach((m, i) => assert.ok(Math.abs(m - again.labelMass[i]!) < 1e-12));
      }
      const config = (await s.query(`SELECT config FROM runs WHERE id = '${j.run}'`)) as { config: unknown }[];
      const cfg = (typeof config[0]!.config === "string" ? JSON.parse(config[0]!.config as string) : config[0]!.config) as Record<string, unknown>;
      assert.deepEqual(cfg["exclude_questions"], ["marital", "satjob", "attend", "relpersn", "othlang"]);
    } finally {
      await s.close();
    }
  });
});
