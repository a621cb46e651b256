/**
 * Reports end to end on real runs made here with the library: OpinionQA questions asked of
 * stories260K (with personas; with three presentation variants), a custom survey holding hostile
 * text, Hegselmann-Krause and opinion simulations, and aggregations of PrefLib, ratings and Polis
 * data. The HTML is checked as text (marks per chart, self-contained, escaped), through the
 * `civitas report` and `civitas aggregate --html` commands, and in Chromium (every chart rendered,
 * no console error, no request, no dialog; screenshots under test-artifacts/).
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { aggregateFile, type AggregateReport } from "../../src/choice/index.js";
import { parseSetFlags } from "../../src/cli/set.js";
import { llamaSpec } from "../../src/models/llama.js";
import { aggregatePage, comparePage, escapeHtml, reportDocument, runPage, type Page } from "../../src/report/index.js";
import { runEval, type EvalPlan, type EvalResult } from "../../src/runs/engine.js";
import { applyOverrides, loadScenario, runScenario, type SimulationReport } from "../../src/sim/index.js";
import { Store } from "../../src/store/store.js";
import { loadCustom } from "../../src/surveys/custom.js";
import { loadOpinionQA } from "../../src/surveys/opinionqa.js";
import { resolvePopulations } from "../../src/surveys/populations.js";
import { parseVariants } from "../../src/surveys/prompt.js";
import { scoredIndices, type Suite } from "../../src/surveys/types.js";
import { launchBrowser, openPage, screenshot } from "../helpers/browser.js";
import { runCli } from "../helpers/cli.js";
import { MODEL, OPINIONQA, REPO, SHARED, tempDir } from "../helpers/paths.js";

const dir = tempDir("civitas-report-");
const STORE = path.join(dir, "runs.duckdb");
const HOSTILE_Q = "<script>alert(1)</script>";
const HOSTILE_OPTION = "<img src=x onerror=alert(2)>";
const HOSTILE_GROUP = "grp=<img src=y onerror=alert(3)>";
const HOSTILE_COMMAND = "civitas eval custom --note '<script>alert(4)</script>'";
const HOSTILE_CSV = path.join(dir, "hostile.csv");
const OTHER_CSV = path.join(REPO, "examples/custom/town-aggregated.csv");

/** Files written in `before`, by page name. */
const FILES = ["run", "stability", "compare", "sim", "opinion", "aggregate", "hostile", "mismatch", "unfinished"] as const;
type Name = (typeof FILES)[number];
const file = (name: Name) => path.join(dir, `${name}.html`);
const htmls = {} as Record<Name, string>;

let suite: Suite;
let A: EvalResult;
let B: EvalResult;
let H: EvalResult;
let hk: SimulationReport;
let opinion: SimulationReport;
let aggregates: AggregateReport[];

function writeHostileSurvey(): void {
  const rows = [
    "question_id,question,options,population,option,count",
    `XSS,${HOSTILE_Q},${HOSTILE_OPTION} | Fine & 'good' | Refused,${HOSTILE_GROUP},${HOSTILE_OPTION},30`,
    `XSS,,,${HOSTILE_GROUP},Fine & 'good',10`,
    `XSS,,,${HOSTILE_GROUP},Refused,1`,
    `XSS,,,grp=plain,${HOSTILE_OPTION},5`,
    `XSS,,,grp=plain,Fine & 'good',25`,
    `Q2,Is the <b>town</b> safe?,Yes | No,${HOSTILE_GROUP},Yes,20`,
    `Q2,,,${HOSTILE_GROUP},No,20`,
    `Q2,,,grp=plain,Yes,35`,
    `Q2,,,grp=plain,No,5`,
  ];
  writeFileSync(HOSTILE_CSV, `${rows.join("\n")}\n`);
}

before(async () => {
  suite = await loadOpinionQA({ data: OPINIONQA });
  writeHostileSurvey();
  const store = await Store.open(STORE);
  try {
    const model = await llamaSpec(MODEL, { threads: 1 });
    const plan: EvalPlan = {
      suite,
      questions: suite.questions.slice(0, 8),
      populations: resolvePopulations(suite, ["POLPARTY"]),
      model,
      metric: "wasserstein",
      minCoverage: 0,
      seed: 0,
      resamples: 200,
      command: `civitas eval opinionqa --data ${OPINIONQA} --populations POLPARTY --limit 8 --persona`,
    };
    A = await runEval(store, { ...plan, persona: true });
    B = await runEval(store, { ...plan, variants: parseVariants("standard;order=reversed;labels=numbers"), command: `civitas eval opinionqa --data ${OPINIONQA} --limit 8 --variants 3` });
    const hostile = await loadCustom({ data: HOSTILE_CSV });
    H = await runEval(store, { ...plan, suite: hostile, questions: hostile.questions, populations: resolvePopulations(hostile, ["grp"]), metric: "tv", command: HOSTILE_COMMAND });
    const hkScenario = applyOverrides(await loadScenario(path.join(REPO, "examples/hk.yaml")), { set: { params: parseSetFlags(["agents=100", "epsilon=[0.15,0.3]"]), base: REPO }, seeds: "1..3" });
    hk = await runScenario({ ...hkScenario, every: 1 }, { store, command: "civitas simulate examples/hk.yaml --set agents=100" });
    const opScenario = applyOverrides(await loadScenario(path.join(REPO, "examples/opinion.yaml")), { set: { params: parseSetFlags(["agents=8", "steps=2"]), base: REPO }, seeds: "1..2", model: `llama:${MODEL}` });
    opinion = await runScenario(opScenario, { store });

    // a run that failed before it had a result (its command holds hostile text too)
    await store.beginRun({ id: "0badc0ffee00", command: HOSTILE_COMMAND, suite: "opinionqa", model: "m", metric: "tv", config: {} });
    await store.failRun("0badc0ffee00", "the model <b>crashed</b>");

    aggregates = [
      await aggregateFile(path.join(SHARED, "data/preflib/00002-00000001.soi"), { axioms: true }),
      await aggregateFile(path.join(REPO, "examples/choice/ratings.csv"), {}),
      await aggregateFile(path.join(SHARED, "data/polis/15-per-hour-seattle"), {}),
    ];
    const pages: Record<Name, Page[]> = {
      run: [await runPage(store, A.run)], // the survey from the --data the run recorded
      stability: [await runPage(store, B.run, { data: OPINIONQA, population: "POLPARTY=Democrat" })],
      compare: [await comparePage(store, [A.run, B.run])],
      sim: [await runPage(store, hk.run)],
      opinion: [await runPage(store, opinion.run)],
      aggregate: await Promise.all(aggregates.map(aggregatePage)),
      hostile: [await runPage(store, H.run, { data: HOSTILE_CSV })],
      mismatch: [await runPage(store, H.run.slice(0, 8), { data: OTHER_CSV })],
      unfinished: [await runPage(store, "0badc0ffee00"), await comparePage(store, ["0badc0ffee00", hk.run, A.run])],
    };
    for (const name of FILES) {
      htmls[name] = reportDocument(pages[name]);
      writeFileSync(file(name), htmls[name]);
    }
  } finally {
    await store.close();
  }
});

/** The SVG of each chart of a page, by its label, in page order. */
function charts(doc: string, label: string): string[] {
  const out: string[] = [];
  const open = `<div class="chart" data-chart="${label}">`;
  for (let at = doc.indexOf(open); at >= 0; at = doc.indexOf(open, at + 1)) out.push(doc.slice(at + open.length, doc.indexOf("</div>", at)));
  return out;
}

const count = (svg: string, role: string) => svg.split(`aria-roledescription="${role}"`).length - 1;

/** Marks of a role in the nth chart with a label; fails when there is no such chart. */
function marks(doc: string, label: string, role: string, nth = 0): number {
  const svg = charts(doc, label)[nth];
  assert.ok(svg !== undefined, `no chart "${label}" #${nth}`);
  assert.match(svg, /^<svg /u);
  return count(svg, role);
}

/** Every chart and mark count the browser must find too: [label, nth, role, expected]. */
const expectations = new Map<Name, [string, number, string, number][]>();
function expectMarks(name: Name, label: string, role: string, expected: number, nth = 0): void {
  assert.equal(marks(htmls[name], label, role, nth), expected, `${name}: ${label} #${nth} ${role}`);
  const list = expectations.get(name) ?? [];
  list.push([label, nth, role, expected]);
  expectations.set(name, list);
}

describe("report pages as HTML", () => {
  it("are self-contained: no script, no external resource, one <svg> per chart", () => {
    for (const name of FILES) {
      const doc = htmls[name];
      assert.ok(doc.startsWith("<!doctype html>"), name);
      assert.ok(!/<script/iu.test(doc), `${name} has a script`);
      assert.ok(!/\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//iu.test(doc), `${name} links outside`);
      // url(#clip) references stay inside the page (Vega's clip paths)
      assert.ok(!/<link\b|@import|url\((?!#)/iu.test(doc), `${name} loads a stylesheet or resource`);
      const divs = doc.split('<div class="chart"').length - 1;
      assert.equal(doc.split("<svg ").length - 1, divs, `${name}: one svg per chart`);
      assert.ok(divs > 0 || name === "unfinished", `${name} has no chart`);
    }
  });

  it("eval run: one point, one interval and a tick per baseline for each population", () => {
    const pops = A.populations;
    assert.equal(pops.length, 4);
    const baselines = pops.reduce((n, p) => n + [p.uniform, p.human, p.noise].filter((x) => x !== null && Number.isFinite(x)).length, 0);
    assert.ok(baselines >= 8);
    expectMarks("run", "alignment", "point", 4);
    expectMarks("run", "alignment", "rule mark", 4);
    expectMarks("run", "alignment", "tick", baselines);
    for (const p of pops) assert.ok(charts(htmls.run, "alignment")[0]!.includes(`<title>${escapeHtml(`${p.population}: alignment ${p.mean.toFixed(3)}`)}`), p.population);
    assert.match(htmls.run, /human vs overall/u);
    assert.match(htmls.run, /Steerability/u);
  });

  it("eval run: the closest-population chart has a bar per population, the closest first", () => {
    expectMarks("run", "closest", "bar", 4);
    const top = [...A.populations].sort((a, b) => b.mean - a.mean)[0]!;
    const first = /aria-roledescription="bar"[^>]*><title>([^<]*)<\/title>/u.exec(charts(htmls.run, "closest")[0]!);
    assert.ok(first && first[1]!.startsWith(`1. ${top.population}: ${top.mean.toFixed(3)}`), first?.[1]);
  });

  it("eval run: the scatter has one point per question x option, titled with the question's text", () => {
    const pop = A.populations[0]!.population;
    const expected = suite.questions.slice(0, 8).reduce((n, q) => n + (suite.human(q.id, pop) ? scoredIndices(q).length : 0), 0);
    assert.ok(expected >= 16);
    expectMarks("run", "scatter", "point", expected);
    const q = suite.questions[0]!;
    assert.ok(charts(htmls.run, "scatter")[0]!.includes(`<title>${escapeHtml(`${q.id}: ${q.text}`)}`));
    assert.match(htmls.run, new RegExp(`Model vs ${pop}`, "u"));
    assert.match(htmls.run, /Where the model is furthest from/u);
  });

  it("stability: the verdict as the run found it, bias bars per position, three variance shares", () => {
    const s = B.stability!;
    assert.ok(s.conclusion);
    const doc = htmls.stability;
    assert.ok(doc.includes(s.conclusion.stable ? '<span class="tag ok">STABLE</span>' : '<span class="tag bad">UNSTABLE</span>'));
    if (!s.conclusion.stable) assert.match(doc, /Not a finding/u);
    expectMarks("stability", "position-bias", "bar", s.bias.byPosition.filter((b) => b.n > 0).length);
    expectMarks("stability", "position-bias", "tick", s.bias.byPosition.filter((b) => b.n > 0).length);
    expectMarks("stability", "variance-shares", "bar", 3);
    expectMarks("stability", "stability-spread", "bar", 2 + (s.score_spread ? 2 : 0));
    // the chosen population for the scatter
    assert.match(doc, /Model vs POLPARTY=Democrat/u);
  });

  it("compare: a point per run and population, each run labelled with its model and method", () => {
    expectMarks("compare", "compare", "point", 8);
    expectMarks("compare", "compare-overall", "point", 2);
    for (const r of [A, B]) {
      const label = `${r.run.slice(0, 6)} · ${r.model} · ${r.method}`;
      assert.ok(charts(htmls.compare, "compare")[0]!.includes(escapeHtml(label)), label);
    }
    assert.match(htmls.compare, /2 runs side by side/u);
  });

  it("simulation: each metric's series with its band, one panel per sweep point, and final values across the sweep", () => {
    for (const metric of ["consensus", "clusters", "largest", "mean", "spread"]) {
      expectMarks("sim", `series-${metric}`, "area mark", 2);
      expectMarks("sim", `series-${metric}`, "line mark", 2);
    }
    const metrics = Object.keys(hk.points[0]!.metrics);
    expectMarks("sim", "sweep", "point", 2 * metrics.length);
    assert.match(htmls.sim, /epsilon = 0\.15/u);
    assert.match(htmls.sim, /epsilon = 0\.3/u);
  });

  it("opinion simulation: the final answer distribution beside the population's, options by name", () => {
    const options = Object.keys(opinion.points[0]!.metrics).filter((k) => /^share_\d+$/u.test(k)).length;
    assert.equal(options, 4);
    expectMarks("opinion", "final-distribution", "bar", 2 * options);
    assert.ok(htmls.opinion.includes("Very safe"));
    assert.match(htmls.opinion, /POLPARTY groups in the survey/u);
    expectMarks("opinion", "series-share", "line mark", options);
  });

  it("aggregation: margin heat map, group welfare bars, Polis groups with escaped comments", () => {
    expectMarks("aggregate", "margins", "rect mark", 4 * 3, 0);
    const ratings = aggregates[1]!.profiles[0]!;
    const m = Object.keys(ratings.alternatives).length;
    expectMarks("aggregate", "margins", "rect mark", m * (m - 1), 1);
    const g = ratings.groups!;
    expectMarks("aggregate", "welfare", "bar", g.outcomes.length * g.groups.length);
    const polis = aggregates[2]!.polis!;
    expectMarks("aggregate", "polis", "point", polis.points.length);
    for (const c of polis.consensus.slice(0, 10)) assert.ok(htmls.aggregate.includes(escapeHtml(c.text.replace(/\s+/gu, " ").trim())), c.text);
    assert.match(htmls.aggregate, /Bdale Garbee/u);
  });

  it("hostile survey text shows as text, never as markup", () => {
    const doc = htmls.hostile;
    for (const bad of ["<script", "<img", "<b>town", "onerror=alert(2)>"]) assert.ok(!doc.includes(bad), `contains ${bad}`);
    assert.ok(doc.includes(escapeHtml(HOSTILE_Q)));
    // Vega writes the title's line break as &#xA;
    assert.ok(doc.includes(`<title>XSS: ${escapeHtml(HOSTILE_Q)}&#xA;${escapeHtml(HOSTILE_OPTION)}: model `), "the option is in a point's title");
    assert.ok(doc.includes(`<code>${escapeHtml(HOSTILE_COMMAND)}</code>`));
    assert.ok(doc.includes(escapeHtml(HOSTILE_GROUP)));
    expectMarks("hostile", "alignment", "point", 2);
    expectMarks("hostile", "scatter", "point", 4);
  });

  it("an unfinished run says so; a comparison lists what it cannot compare", () => {
    const doc = htmls.unfinished;
    assert.match(doc, /this run has no result yet \(failed: the model &lt;b&gt;crashed&lt;\/b&gt;\)/u);
    assert.match(doc, /not compared: 0badc0ffee00 has no result yet/u);
    assert.ok(doc.includes(`not compared: ${hk.run} is a simulation`));
    assert.match(doc, /1 run side by side/u);
    expectMarks("unfinished", "compare", "point", 4);
  });

  it("leaves the scatter out, and says why, when the data given is not what the run was scored on", () => {
    const doc = htmls.mismatch;
    assert.equal(charts(doc, "scatter").length, 0);
    assert.match(doc, /fingerprint differs/u);
    // question texts then come from the prompts
    assert.ok(doc.includes(`<td style="text-align:left">${escapeHtml(HOSTILE_Q)}</td>`));
  });
});

describe("the commands", () => {
  it("civitas report: several runs compared and each shown; the survey found from the run's --data; a bad population refused; aggregate --html", async () => {
    const out = path.join(dir, "cli.html");
    const single = path.join(dir, "cli-single.html");
    const agg = path.join(dir, "cli-aggregate.html");
    const [two, one, bad, missing, aggregate] = await Promise.all([
      runCli(["report", A.run, B.run.slice(0, 6), "-o", out, "--store", STORE]),
      runCli(["report", A.run, "-o", single, "--store", STORE, "--population", "POLPARTY=Independent"]),
      runCli(["report", A.run, "-o", path.join(dir, "x.html"), "--store", STORE, "--population", "country=Japan"]),
      runCli(["report", A.run, "--store", STORE]),
      runCli(["aggregate", path.join(SHARED, "data/preflib/00002-00000001.soi"), "--html", agg]),
    ]);
    assert.equal(two.code, 0, two.stderr);
    assert.match(two.stderr, /wrote 3 pages to/u);
    const doc = readFileSync(out, "utf8");
    assert.equal(charts(doc, "compare").length, 1);
    assert.equal(charts(doc, "alignment").length, 2);
    assert.ok(!/<script/iu.test(doc));

    assert.equal(one.code, 0, one.stderr);
    const s = readFileSync(single, "utf8");
    assert.equal(charts(s, "scatter").length, 1, "the survey is read from the path the run recorded");
    assert.match(s, /Model vs POLPARTY=Independent/u);

    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no run here has the population "country=Japan"/u);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--out/u);

    assert.equal(aggregate.code, 0, aggregate.stderr);
    assert.match(aggregate.stdout, /Bdale Garbee/u, "the text output is unchanged");
    assert.equal(charts(readFileSync(agg, "utf8"), "margins").length, 1);
  });
});

describe("report pages in Chromium", () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => browser?.close());

  for (const name of FILES) {
    it(`${name}: every chart renders with its marks, no console error, no request, no dialog`, async () => {
      const w = await openPage(browser, `file://${file(name)}`);
      const dialogs: string[] = [];
      w.page.on("dialog", (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      try {
        await w.page.reload({ waitUntil: "load" });
        const sizes = await w.page.$$eval(".chart > svg", (els) => els.map((e) => e.getBoundingClientRect()).map((r) => [r.width, r.height]));
        assert.ok(sizes.length > 0);
        for (const [wd, ht] of sizes) assert.ok(wd! > 50 && ht! > 50, `a chart of ${wd}x${ht}`);
        for (const [label, nth, role, expected] of expectations.get(name) ?? []) {
          const n = await w.page.locator(`[data-chart="${label}"]`).nth(nth).locator(`[aria-roledescription="${role}"]`).count();
          assert.equal(n, expected, `${label} #${nth} ${role}`);
        }
        assert.equal(await w.page.locator("script").count(), 0);
        if (name === "hostile") {
          assert.equal(await w.page.locator("img").count(), 0);
          assert.equal(await w.page.locator("b").count(), 0);
          await w.page.getByText(HOSTILE_Q, { exact: true }).first().waitFor({ state: "visible" });
          await w.page.getByText(HOSTILE_COMMAND, { exact: true }).waitFor({ state: "visible" });
          const titles = await w.page.$$eval("svg title", (els) => els.map((e) => e.textContent ?? ""));
          assert.ok(titles.some((t) => t.includes(HOSTILE_OPTION)), "the option is a point's hover text");
          const labels = await w.page.$$eval("svg text", (els) => els.map((e) => e.textContent ?? ""));
          assert.ok(labels.includes(HOSTILE_GROUP), "the population is an axis label");
        }
        if (name === "compare") {
          const legend = await w.page.$$eval('[data-chart="compare"] svg text', (els) => els.map((e) => e.textContent ?? ""));
          for (const r of [A, B]) assert.ok(legend.some((t) => t.startsWith(r.run.slice(0, 6))), `run ${r.run} in the legend`);
        }
        await screenshot(w.page, `report-${name}`);
        assert.deepEqual(w.errors, []);
        assert.deepEqual(w.failed, []);
        assert.deepEqual(dialogs, []);
      } finally {
        await w.page.close();
      }
    });
  }
});
