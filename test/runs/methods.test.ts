/**
 * Issue 3's engine features end to end on real parts (stories260K, real suites, a real store):
 * elicitation methods, constrained decoding, personas and steerability, the knowledge-to-simulation
 * gap, knowledge questions, MoCa's scores, the meister2024 protocol's conventions, and stores
 * written by the first release.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DuckDBInstance } from "@duckdb/node-api";
import { mocaScores } from "../../src/metrics/index.js";
import { llamaSpec, type ModelSpec } from "../../src/models/index.js";
import { runConfig, runEval, runId, type EvalPlan } from "../../src/runs/index.js";
import { Store } from "../../src/store/index.js";
import { loadCustom, loadDistAlign, loadMoCa, loadOpinionQA, resolvePopulations, type Suite } from "../../src/surveys/index.js";
import { MODEL, OPINIONQA, REPO, SHARED, tempDir } from "../helpers/paths.js";

let dir: string;
let spec: ModelSpec;
let opinionqa: Suite;
let store: Store;
before(async () => {
  dir = tempDir();
  spec = await llamaSpec(MODEL, { threads: 1, parallel: 1 });
  opinionqa = await loadOpinionQA({ data: OPINIONQA });
  store = await Store.open(path.join(dir, "m.duckdb"));
});
after(async () => store.close());

const plan = (suite: Suite, overrides: Partial<EvalPlan>): EvalPlan => ({
  suite,
  questions: suite.questions.slice(0, 6),
  populations: overrides.populations ?? resolvePopulations(suite, ["POLPARTY=Democrat", "POLPARTY=Republican"]),
  model: spec,
  minCoverage: 0,
  seed: 0,
  resamples: 300,
  command: "test",
  ...overrides,
});

describe("elicitation methods", () => {
  it("sample: K constrained completions become counts; verbalize: invalid statements are counted", async () => {
    const r = await runEval(store, plan(opinionqa, { methods: ["sample", "verbalize"], samples: 12, constrain: true }));
    assert.equal(r.method, "sample");
    assert.deepEqual(r.by_method?.map((m) => m.method), ["sample", "verbalize"]);
    const answers = await store.answers(r.run);
    const sample = answers.filter((a) => a.method === "sample");
    assert.equal(sample.length, 6);
    for (const a of sample) {
      assert.equal(a.mode, "grammar");
      // With the labels as the only possible outputs, every completion names one: counts / 12.
      assert.equal(a.coverage, 1);
      for (const p of a.distribution!) assert.ok(Math.abs(p * 12 - Math.round(p * 12)) < 1e-9, `${p} is not k/12`);
    }
    const verbal = answers.filter((a) => a.method === "verbalize");
    assert.equal(verbal.length, 6);
    // The tiny model writes JSON of the right shape, but not shares that sum to 1: recorded as invalid.
    const invalid = verbal.filter((a) => a.status === "off_format").length;
    assert.equal(r.set_aside.invalid_statements, invalid);
    assert.equal(r.set_aside.unparsed_samples, 0);
    // No knowledge-to-simulation gap: Meister et al. compare the sequence format, which this run
    // did not ask, with verbalize; sample does not stand in for it.
    assert.equal(r.gap, undefined);
    assert.equal(r.answers.modes.grammar, 12);
  });

  it("the same command gives the same samples (seeded), and another seed others", async () => {
    const p = plan(opinionqa, { methods: ["sample"], samples: 8, constrain: true, questions: opinionqa.questions.slice(0, 3) });
    const a = await runEval(store, p);
    const dists = async (id: string) => (await store.answers(id)).map((x) => x.distribution);
    const fresh = await Store.open(path.join(dir, "fresh.duckdb"));
    try {
      const b = await runEval(fresh, p);
      assert.equal(b.answers.model_calls, 3, "asked again in a new store");
      assert.deepEqual(await dists(a.run), (await fresh.answers(b.run)).map((x) => x.distribution));
    } finally {
      await fresh.close();
    }
    const c = await runEval(store, { ...p, seed: 1 });
    assert.notDeepEqual(await dists(c.run), await dists(a.run));
  });
});

describe("steering personas", () => {
  it("asks each population's persona, and steerability is steered minus unsteered alignment", async () => {
    const r = await runEval(store, plan(opinionqa, { persona: true }));
    const answers = await store.answers(r.run);
    assert.deepEqual([...new Set(answers.map((a) => a.persona))].sort(), ["POLPARTY=Democrat", "POLPARTY=Republican", "none"]);
    const req = await store.lookupRequests([answers.find((a) => a.persona === "POLPARTY=Democrat")!.requestKey]);
    assert.match([...req.values()][0]!.prompt, /^Answer the following question as if in politics today you considered yourself a Democrat\.\n\nQuestion: /);
    assert.ok(r.steerability && r.unsteered);
    for (const p of r.populations) {
      const plain = r.unsteered.populations.find((x) => x.population === p.population)!;
      const steer = r.steerability.populations.find((x) => x.population === p.population)!;
      assert.ok(Math.abs(steer.mean - (p.mean - plain.mean)) < 1e-12, p.population);
      assert.ok(steer.ci[0] <= steer.mean && steer.mean <= steer.ci[1]);
    }
    // The steered score rows are stored beside the unsteered ones.
    const rows = await store.query("SELECT steered, count(*) AS n FROM scores WHERE run_id = $1 GROUP BY steered ORDER BY steered", [r.run]);
    assert.deepEqual(rows.map((x) => [x.steered, Number(x.n)]), [[false, 12], [true, 12]]);
  });

  it("takes user templates for an attribute", async () => {
    const r = await runEval(store, plan(opinionqa, { persona: true, personaTemplates: { POLPARTY: "You vote {value}." }, questions: opinionqa.questions.slice(0, 2) }));
    const answers = await store.answers(r.run);
    const req = await store.lookupRequests([answers.find((a) => a.persona === "POLPARTY=Republican")!.requestKey]);
    assert.match([...req.values()][0]!.prompt, /^You vote Republican\.\n\nQuestion: /);
  });
});

describe("knowledge questions", () => {
  it("are scored by accuracy and the probability of the correct option", async () => {
    const quiz = await loadCustom({ data: path.join(REPO, "examples/custom/town-quiz.csv") });
    const r = await runEval(store, plan(quiz, { questions: quiz.questions, populations: [] }));
    assert.ok(r.knowledge);
    const answers = await store.answers(r.run);
    const byId = new Map(answers.map((a) => [a.questionId, a.distribution!]));
    const expected = quiz.questions.map((q) => {
      const d = byId.get(q.id)!;
      return { hit: d.indexOf(Math.max(...d)) === q.correct ? 1 : 0, p: d[q.correct!]! };
    });
    assert.equal(r.knowledge.n, quiz.questions.length);
    assert.ok(Math.abs(r.knowledge.accuracy.mean - expected.reduce((s, e) => s + e.hit, 0) / expected.length) < 1e-12);
    assert.ok(Math.abs(r.knowledge.p_correct.mean - expected.reduce((s, e) => s + e.p, 0) / expected.length) < 1e-12);
  });
});

describe("MoCa", () => {
  it("reports agreement, AuROC and accuracy from the model's P(yes) and the human shares", async () => {
    const moca = await loadMoCa({ data: path.join(SHARED, "data/moca") });
    const qs = [...moca.questions.filter((q) => q.dataset === "moral").slice(0, 8), ...moca.questions.filter((q) => q.dataset === "causal").slice(0, 8)];
    const r = await runEval(store, plan(moca, { questions: qs, populations: resolvePopulations(moca, ["overall"]) }));
    assert.equal(r.datasets?.length, 2);
    const answers = await store.answers(r.run);
    const items = qs.map((q) => {
      const d = answers.find((a) => a.questionId === q.id)!.distribution!;
      // Stories asked with several questions are resampled whole (the clustered bootstrap).
      return { id: q.id, humanYes: moca.human(q.id, "overall")!.probs[0]!, modelYes: d[0]! / (d[0]! + d[1]!), cluster: q.cluster! };
    });
    const expected = mocaScores(items, { seed: 0, resamples: 300 });
    const m = r.moca as { n: number; agreement: unknown; auroc: unknown; accuracy: unknown };
    assert.equal(m.n, 16);
    assert.deepEqual(m.agreement, expected.agreement);
    assert.deepEqual(m.auroc, expected.auroc);
    assert.deepEqual(m.accuracy, expected.accuracy);
    // The MoCa prompt names the labels.
    const req = await store.lookupRequests([answers[0]!.requestKey]);
    assert.match([...req.values()][0]!.prompt, / Please choose A or B\.\nA\. Yes\nB\. No\n\nAnswer:$/);
  });
});

describe("meister2024 in eval", () => {
  it("shows options alphabetically, keeps refusals and weights the datasets equally", async () => {
    const distalign = await loadDistAlign({ data: path.join(SHARED, "data/distalign") });
    const qs = (distalign.datasets ?? []).flatMap((d) => distalign.questions.filter((q) => q.dataset === d).slice(0, 4));
    const r = await runEval(store, plan(distalign, { questions: qs, populations: resolvePopulations(distalign, ["POLPARTY", "SEX"]), protocol: "meister2024" }));
    assert.equal(r.protocol, "meister2024");
    assert.equal(r.metric, "tv");
    const answers = await store.answers(r.run);
    assert.ok(answers.every((a) => a.variant === "order=alphabetical"));
    const withRefusal = qs.find((q) => q.refusal.some(Boolean))!;
    const req = [...(await store.lookupRequests([answers.find((a) => a.questionId === withRefusal.id)!.requestKey])).values()][0]!;
    const shown = req.prompt.split("\n").filter((l) => /^[A-Z]\. /u.test(l)).map((l) => l.slice(3));
    assert.deepEqual(shown, [...withRefusal.options].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    // Equal weighting: the headline is the mean of the datasets that have these populations.
    const ds = r.datasets!.filter((d) => d.n > 0);
    assert.ok(ds.length >= 2);
    assert.ok(Math.abs(r.overall.mean - ds.reduce((s, d) => s + d.overall.mean, 0) / ds.length) < 1e-12);
  });
});

describe("stores written by the first release", () => {
  it("are upgraded in place, and its runs keep their ids", async () => {
    const file = path.join(dir, "v1.duckdb");
    const db = await DuckDBInstance.create(file);
    const con = await db.connect();
    // The schema of version 1, as the first release wrote it.
    await con.run(`
      CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR); INSERT INTO meta VALUES ('schema_version', '1');
      CREATE TABLE runs (id VARCHAR PRIMARY KEY, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, command VARCHAR NOT NULL,
        suite VARCHAR NOT NULL, model VARCHAR NOT NULL, metric VARCHAR NOT NULL, status VARCHAR NOT NULL, config JSON NOT NULL, summary JSON, error VARCHAR);
      CREATE TABLE requests (key VARCHAR PRIMARY KEY, model VARCHAR NOT NULL, prompt VARCHAR NOT NULL, labels VARCHAR[] NOT NULL, params JSON NOT NULL,
        label_mass DOUBLE[] NOT NULL, coverage DOUBLE NOT NULL, top JSON NOT NULL, prompt_tokens INTEGER, latency_ms DOUBLE NOT NULL, created_at TIMESTAMP NOT NULL);
      CREATE TABLE answers (run_id VARCHAR NOT NULL, question_id VARCHAR NOT NULL, variant VARCHAR NOT NULL, persona VARCHAR NOT NULL,
        request_key VARCHAR NOT NULL, options VARCHAR[] NOT NULL, distribution DOUBLE[], coverage DOUBLE NOT NULL, status VARCHAR NOT NULL,
        cache_hit BOOLEAN NOT NULL, created_at TIMESTAMP NOT NULL, PRIMARY KEY (run_id, question_id, variant, persona));
      CREATE TABLE scores (run_id VARCHAR NOT NULL, question_id VARCHAR NOT NULL, population VARCHAR NOT NULL, metric VARCHAR NOT NULL,
        model_distance DOUBLE NOT NULL, uniform_distance DOUBLE NOT NULL, human_distance DOUBLE, human_n INTEGER, PRIMARY KEY (run_id, question_id, population));
      INSERT INTO runs VALUES ('521451fbcac6', now(), now(), 'civitas eval ...', 'opinionqa', 'llama:stories260K.gguf', 'wasserstein', 'done', '{}', NULL, NULL);
      INSERT INTO requests VALUES ('k1', 'm', 'Question: x\nA. a\nB. b\nAnswer:', ['A', 'B'], '{}', [0.02, 0.03], 0.05, '[]', 10, 7.5, now());
      INSERT INTO answers VALUES ('521451fbcac6', 'SAFECRIME_W26', 'standard', 'none', 'k1', ['a', 'b'], [0.4, 0.6], 0.05, 'scored', false, now());
    `);
    con.closeSync();
    db.closeSync();

    const s = await Store.open(file);
    try {
      const answers = await s.answers("521451fbcac6");
      assert.equal(answers.length, 1);
      assert.equal(answers[0]!.method, "logprobs");
      assert.equal(answers[0]!.mode, "none");
      assert.deepEqual(answers[0]!.distribution, [0.4, 0.6]);
      const req = (await s.lookupRequests(["k1"])).get("k1")!;
      assert.equal(req.method, "logprobs");
      assert.deepEqual(req.labelMass, [0.02, 0.03]);
    } finally {
      await s.close();
    }
    // The README's command made run 521451fbcac6 in the first release: the same command must find it again.
    const readme = plan(opinionqa, {
      questions: opinionqa.questions.slice(0, 100),
      populations: resolvePopulations(opinionqa, ["POLPARTY", "SEX"]),
      resamples: 1000,
      metric: "wasserstein",
    });
    assert.equal(runId(runConfig(readme)), "521451fbcac6");
  });
});
