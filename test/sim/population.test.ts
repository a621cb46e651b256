/**
 * Populations drawn from surveys (src/sim/population.ts): quotas by the largest remainder on a
 * small constructed file (seats worked out by hand), OpinionQA's crossed counts against the JSON
 * files read independently here (and one cell summed by hand), the conditional chain over three
 * attributes, SubPOP's equal shares, a real file of individual records (NYT annotators), the
 * personas (one attribute: exactly `civitas eval --persona`'s), and clear errors.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { before, describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import { AGENT_SCENARIOS, type OpinionDynamics } from "../../src/sim/agents/index.js";
import { simulate } from "../../src/sim/engine.js";
import { completeGraph } from "../../src/sim/graph.js";
import { drawCells, drawPopulation, joinPersonas, largestRemainder, planPopulation, profilePersona } from "../../src/sim/population.js";
import { loadScenario, parseScenario } from "../../src/sim/scenario.js";
import { loadOpinionQA, personasFor, resolvePopulations, type Suite } from "../../src/surveys/index.js";
import { loadSubPop } from "../../src/surveys/subpop.js";
import { OPINIONQA, REPO, SHARED, tempDir } from "../helpers/paths.js";

const WAVE_DIR = path.join(OPINIONQA, "human_resp", "American_Trends_Panel_W26");
let suite: Suite;
let dir: string;

before(async () => {
  dir = tempDir("civitas-population-");
  suite = await loadOpinionQA({ data: OPINIONQA, waves: ["W26"] });
});

const civitasError = (pattern: RegExp) => (e: unknown) => {
  assert.ok(e instanceof CivitasError, `expected a CivitasError, got ${String(e)}`);
  assert.match(e.message, pattern);
  return true;
};

describe("drawing agents", () => {
  it("gives each cell its largest-remainder quota (worked by hand) and shuffles them with the seed", async () => {
    // party x sex with weights: (D,F) 2.3 + 2.3 (two people), (D,M) 2.2, (R,F) 1.9, (R,M) 1.3; total 10.
    // N = 10: quotas 4.6, 2.2, 1.9, 1.3 -> floors 4, 2, 1, 1 (8 seats); the 2 left go to the largest
    // remainders .9 (R,F) and .6 (D,F): 5, 2, 2, 1.
    const file = path.join(dir, "people.csv");
    writeFileSync(
      file,
      [
        "respondent_id,party,sex,weight,question_id,answer",
        "p1,Democrat,Female,2.3,Q1,Yes",
        "p1,Democrat,Female,2.3,Q2,No", // the same person again: counted once
        "p2,Democrat,Female,2.3,Q1,No",
        "p3,Democrat,Male,2.2,Q1,Yes",
        "p4,Republican,Female,1.9,Q1,Yes",
        "p5,Republican,Male,1.3,Q1,No",
      ].join("\n"),
    );
    const plan = await planPopulation({ attributes: ["party", "sex"], file }, { suite: undefined, where: "test.yaml" });
    assert.deepEqual(plan.cells, [
      ["Democrat", "Female"],
      ["Democrat", "Male"],
      ["Republican", "Female"],
      ["Republican", "Male"],
    ]);
    assert.deepEqual(largestRemainder(10, plan.probs), [5, 2, 2, 1]);
    const counts = (cells: Int32Array) => [0, 1, 2, 3].map((c) => cells.filter((x) => x === c).length);
    const a = drawCells(plan, 10, 7);
    assert.deepEqual(counts(a), [5, 2, 2, 1]);
    assert.deepEqual(drawCells(plan, 10, 7), a, "same seed, same placement");
    const b = drawCells(plan, 10, 8);
    assert.deepEqual(counts(b), [5, 2, 2, 1], "another seed places the same quotas");
    assert.notDeepEqual([...b], [...a], "another seed, another placement");
    // i.i.d. draws: seeded, and not held to the quotas
    const iid = { ...plan, draw: "iid" as const };
    assert.deepEqual(drawCells(iid, 1000, 3), drawCells(iid, 1000, 3));
    const share = counts(drawCells(iid, 1000, 3)).map((c) => c / 1000);
    share.forEach((s, c) => assert.ok(Math.abs(s - plan.probs[c]!) < 0.06, `cell ${c}: ${s} vs ${plan.probs[c]}`)); // 4 sd of a share at n = 1000 is < 0.064
    assert.match(plan.source, /people\.csv: 5 records, weighted by weight/u);
    // profiles carry the attributes and a persona naming both
    const pop = drawPopulation(plan, 10, 7);
    assert.equal(pop.agents.length, 10);
    assert.deepEqual(pop.agents[0]!.attributes, { party: plan.cells[a[0]!]![0], sex: plan.cells[a[0]!]![1] });
  });

  /** Independently: every question's respondents (all options) over the cells whose groups are populations; the most-answered question's. */
  function crossedCells(file: string, outer: readonly string[], inner: readonly string[]) {
    const json = JSON.parse(readFileSync(path.join(WAVE_DIR, file), "utf8")) as Record<string, Record<string, unknown>>;
    let best = { q: "", total: -1, cells: new Map<string, number>() };
    for (const [q, entry] of Object.entries(json)) {
      const cells = new Map<string, number>();
      let total = 0;
      for (const p of outer) {
        for (const s of inner) {
          const counts = ((entry[p] as Record<string, Record<string, number>> | undefined)?.[s] ?? {}) as Record<string, number>;
          const n = Object.values(counts).reduce((a, b) => a + b, 0);
          cells.set(`${p}/${s}`, n);
          total += n;
        }
      }
      if (total > best.total) best = { q, total, cells };
    }
    return best;
  }
  const PARTIES = ["Republican", "Democrat", "Independent", "Other"];
  const SEXES = ["Male", "Female"];

  it("OpinionQA: the POLPARTY x SEX joint is the cells of the wave's most-answered question in POLPARTY_SEX_data.json", async () => {
    const plan = await planPopulation({ attributes: ["POLPARTY", "SEX"], wave: "W26" }, { suite, where: "test.yaml" });
    const best = crossedCells("POLPARTY_SEX_data.json", PARTIES, SEXES);
    assert.equal(best.q, "SAFECRIME_W26");
    // By hand from the file: Democrat/Female answered 27 + 123 + 2 + 523 + 193 = 868 of the 4,140
    // respondents in the eight cells (868 + 624 + 508 + 670 + 160 + 216 + 555 + 539).
    assert.equal(best.cells.get("Democrat/Female"), 868);
    assert.equal(best.total, 4140);
    for (let c = 0; c < plan.cells.length; c++) {
      const [p, s] = plan.cells[c]!;
      assert.ok(Math.abs(plan.probs[c]! - best.cells.get(`${p}/${s}`)! / best.total) < 1e-12, `${p}/${s}`);
    }
    assert.equal(plan.cells.length, 8);
    assert.match(plan.source, /^opinionqa W26: POLPARTY x SEX joint \(POLPARTY_SEX_data\.json, respondents of SAFECRIME_W26\)$/u);
  });

  it("OpinionQA: cell sizes come from the most-answered question (a constructed wave where questions differ)", async () => {
    // In the released files every question of a wave counts all its respondents (a skipped one as
    // "Refused"), so any question gives the same sizes; this copy makes them differ.
    const root = path.join(dir, "constructed");
    mkdirSync(path.join(root, "American_Trends_Panel_W26"), { recursive: true });
    const cell = (n: number) => ({ Yes: n - 1, Refused: 1 });
    writeFileSync(
      path.join(root, "American_Trends_Panel_W26", "POLPARTY_SEX_data.json"),
      JSON.stringify({
        FEW_W26: { MC_options: ["Yes", "Refused"], question_text: "?", Democrat: { Female: cell(5), Male: cell(5) }, Republican: { Female: cell(5), Male: cell(5) } },
        MANY_W26: { MC_options: ["Yes", "Refused"], question_text: "?", Democrat: { Female: cell(30), Male: cell(10) }, Republican: { Female: cell(20), Male: cell(40) }, Refused: { Male: cell(99) } },
      }),
    );
    const plan = await planPopulation({ attributes: ["POLPARTY", "SEX"], wave: "W26" }, { suite: { ...suite, location: root }, where: "test.yaml" });
    assert.match(plan.source, /respondents of MANY_W26/u);
    // 100 respondents in the population cells (POLPARTY "Refused" is not a population): 30, 10, 20, 40
    const p = new Map(plan.cells.map((c, k) => [c.join("/"), plan.probs[k]!]));
    assert.deepEqual([p.get("Democrat/Female"), p.get("Democrat/Male"), p.get("Republican/Female"), p.get("Republican/Male")], [0.3, 0.1, 0.2, 0.4]);
  });

  it("OpinionQA, three attributes: a later one is drawn given a placed one (crossed file), or independently (marginal), and source says which", async () => {
    const chain = await planPopulation({ attributes: ["SEX", "RACE", "POLPARTY"], wave: "W26" }, { suite, where: "test.yaml" });
    assert.match(chain.source, /SEX x RACE joint \(RACE_SEX_data\.json/u);
    assert.match(chain.source, /POLPARTY given SEX \(POLPARTY_SEX_data\.json, respondents of SAFECRIME_W26\)/u);
    // P(POLPARTY = Democrat | SEX = Female) over the race cells = 868 / (868 + 508 + 160 + 555) (hand-summed cells)
    let female = 0;
    let femaleDem = 0;
    chain.cells.forEach(([sex, , party], c) => {
      if (sex !== "Female") return;
      female += chain.probs[c]!;
      if (party === "Democrat") femaleDem += chain.probs[c]!;
    });
    assert.ok(Math.abs(femaleDem / female - 868 / 2091) < 1e-12);
    // and SEX x RACE keeps the RACE_SEX cells' joint (summed over party)
    const races = ["White", "Black", "Asian", "Hispanic", "Other"];
    const rs = crossedCells("RACE_SEX_data.json", races, SEXES);
    for (const r of races) {
      for (const s of SEXES) {
        const p = chain.cells.reduce((a, cell, c) => a + (cell[0] === s && cell[1] === r ? chain.probs[c]! : 0), 0);
        assert.ok(Math.abs(p - rs.cells.get(`${r}/${s}`)! / rs.total) < 1e-12, `${s}/${r}`);
      }
    }

    const indep = await planPopulation({ attributes: ["POLPARTY", "AGE"], wave: "W26" }, { suite, where: "test.yaml" });
    assert.match(indep.source, /POLPARTY from its marginal \(POLPARTY_data\.json, respondents of \w+\), drawn independently; AGE from its marginal \(AGE_data\.json/u);
    // independent: the joint is the product of its margins
    const margin = (k: number, v: string) => indep.cells.reduce((a, cell, c) => a + (cell[k] === v ? indep.probs[c]! : 0), 0);
    indep.cells.forEach(([p, a], c) => assert.ok(Math.abs(indep.probs[c]! - margin(0, p!) * margin(1, a!)) < 1e-12));
  });

  it("SubPOP: groups without sizes get equal shares, and source says so", async () => {
    const subpop = await loadSubPop({ data: path.join(SHARED, "data/subpop") });
    const plan = await planPopulation({ attributes: ["POLPARTY"] }, { suite: subpop, where: "test.yaml" });
    const values = subpop.populations.filter((p) => p.attribute === "POLPARTY").map((p) => p.value);
    assert.deepEqual(plan.cells.map((c) => c[0]), values);
    for (const p of plan.probs) assert.ok(Math.abs(p - 1 / values.length) < 1e-12);
    assert.match(plan.source, /POLPARTY in equal shares \(the suite gives no group sizes\)/u);
  });

  it("a real file of individual records (NYT annotators): the joint is the records' shares", async () => {
    const file = path.join(SHARED, "data/distalign/nytimes/individual_annotations/nytimes_annotator_demographics.csv");
    const plan = await planPopulation({ attributes: ["Q_DemRepub", "QDem_Gend"], file }, { suite: undefined, where: "test.yaml" });
    // independently: count the lines (no quoted newlines in this file; the party and sex columns hold no commas)
    const lines = readFileSync(file, "utf8").trim().split("\n").slice(1);
    const count = new Map<string, number>();
    for (const l of lines) {
      const cells = l.split(",");
      const key = `${cells[3]}/${cells[1]}`;
      count.set(key, (count.get(key) ?? 0) + 1);
    }
    assert.equal(lines.length, 347);
    plan.cells.forEach(([party, sex], c) => assert.ok(Math.abs(plan.probs[c]! - count.get(`${party}/${sex}`)! / 347) < 1e-12, `${party}/${sex}`));
    assert.equal(plan.cells.length, count.size);
    assert.match(plan.source, /347 records, unweighted/u);
  });
});

describe("personas", () => {
  it("one attribute: exactly the persona civitas eval --persona uses", () => {
    for (const pop of resolvePopulations(suite, ["POLPARTY", "SEX", "AGE", "RACE"])) {
      assert.equal(profilePersona(suite, [pop.attribute!], [pop.value]), personasFor(suite, [pop]).get(pop.id)!.text);
    }
  });

  it("several: joined in the same style", () => {
    assert.equal(
      profilePersona(suite, ["POLPARTY", "SEX"], ["Democrat", "Female"]),
      "Answer the following question as if in politics today you considered yourself a Democrat and as someone whose sex is female.",
    );
    assert.equal(
      profilePersona(suite, ["POLPARTY", "SEX", "AGE"], ["Independent", "Male", "65+"]),
      "Answer the following question as if in politics today you considered yourself an Independent, as someone whose sex is male, and as someone aged 65+.",
    );
    assert.equal(joinPersonas(["Be kind.", "Answer the following question as someone aged 30."]), "Be kind. Answer the following question as someone aged 30.");
  });

  it("reach the opinion scenario: agents take their drawn personas and groups", async () => {
    const plan = await planPopulation({ attributes: ["POLPARTY", "SEX"], wave: "W26" }, { suite, where: "test.yaml" });
    const population = drawPopulation(plan, 12, 5);
    const params = { question: "SAFECRIME_W26", attribute: "POLPARTY", steps: 1, llm_share: 0 };
    const d = AGENT_SCENARIOS.opinion!(params, { suite, population }) as OpinionDynamics;
    let agents: ReturnType<NonNullable<OpinionDynamics["agents"]>> | undefined;
    await simulate(d, { graph: completeGraph(12), params, seed: 5, onStep: (e) => void (agents ??= d.agents!(e.state as never)) });
    assert.deepEqual(
      agents!.map((a) => [a.attributes, a.persona]),
      population.agents.map((a) => [a.attributes, a.persona]),
    );
    // each agent's group's real answers are its party's
    const groupOf = (i: number) => d.setup.groups[d.setup.agentGroup![i]!]!;
    population.agents.forEach((a, i) => assert.equal(groupOf(i).population!.id, `POLPARTY=${a.attributes.POLPARTY}`));
    assert.throws(
      () => AGENT_SCENARIOS.opinion!({ ...params, attribute: "AGE" }, { suite, population }),
      civitasError(/survey\.attribute AGE is not among the population's attributes \(POLPARTY, SEX\)/u),
    );
  });
});

describe("errors", () => {
  it("an unknown attribute names the field and lists the suite's", async () => {
    await assert.rejects(
      planPopulation({ attributes: ["POLPARTY", "SHOESIZE"], wave: "W26" }, { suite, where: "world.yaml" }),
      civitasError(/^world\.yaml: population\.attributes\[1\]: suite opinionqa has no attribute "SHOESIZE" \(its attributes: CREGION, POLPARTY/u),
    );
  });

  it("a population file with a bad row names the file, the line and the column", async () => {
    const file = path.join(dir, "bad.csv");
    writeFileSync(file, "party,sex,weight\nDemocrat,Female,1\nRepublican,Male,heavy\n");
    await assert.rejects(planPopulation({ attributes: ["party", "sex"], file }, { suite: undefined, where: "w.yaml" }), civitasError(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/gu, "\\$&")} line 3, column weight: expected a positive weight, got "heavy"`, "u")));
    writeFileSync(file, "party,sex\nDemocrat,Female\nRepublican,\n");
    await assert.rejects(planPopulation({ attributes: ["party", "sex"], file }, { suite: undefined, where: "w.yaml" }), civitasError(/bad\.csv line 3, column sex: empty value/u));
    await assert.rejects(planPopulation({ attributes: ["party", "age"], file }, { suite: undefined, where: "w.yaml" }), civitasError(/^w\.yaml: population\.attributes\[1\]: .*bad\.csv has no column "age" \(its columns: party, sex\)/u));
  });

  it("examples/fidelity.yaml reads, with its population and measurement", async () => {
    const s = await loadScenario(path.join(REPO, "examples/fidelity.yaml"));
    assert.deepEqual(s.population, { attributes: ["POLPARTY", "SEX"], wave: "W26", draw: "quota" });
    assert.deepEqual(s.measure, { every: 2, questions: ["SAFECRIME_W26", "WORLDDANGER_W26", "WORRYG_W26"], by: "POLPARTY" });
  });

  it("the scenario file: population keys are checked and named", () => {
    const base = "name: x\ndynamics: opinion\nparams: { agents: 4, steps: 1 }\n";
    assert.throws(() => parseScenario(`${base}population: { attributes: [POLPARTY], draw: random }\n`, "s.yaml"), civitasError(/s\.yaml: population\.draw: expected quota or iid/u));
    assert.throws(() => parseScenario(`${base}population: { attributes: [POLPARTY], size: 3 }\n`, "s.yaml"), civitasError(/population\.size: unknown field \(valid: attributes, wave, file, weight, draw\)/u));
    assert.throws(() => parseScenario("name: x\ndynamics: hk\nparams: { agents: 4, steps: 1, epsilon: 0.1 }\npopulation: { attributes: [A] }\n", "s.yaml"), civitasError(/population: hk is rule-based/u));
    const s = parseScenario(`${base}population: { attributes: [POLPARTY, SEX], file: people.csv }\n`, path.join(dir, "s.yaml"));
    assert.equal(s.population!.file, path.join(dir, "people.csv"), "the file is resolved against the scenario's folder");
  });
});
