/**
 * The page of a simulation run: each metric's time series with its band across seeds (when the
 * run recorded series: `every` in the scenario), one panel per sweep point; the final values
 * across the sweep; for survey-driven scenarios (`opinion`) the final answer distribution against
 * the population's real one; and the tables `civitas simulate` prints.
 *
 * Series across seeds: at every recorded step, the mean and the 95% interval of the seeds' values
 * that the metric's kind calls for (sim/metric-kinds.ts: Wilson for 0/1 metrics, Student's t
 * clipped to the metric's range otherwise), as the run's summaries use. A seed that converged early keeps its last recorded value
 * for the later steps (its state no longer changes). Simulations a budget cut short are left out,
 * as they are from the summaries.
 */
import type { MetricSummaryResult, SimulationResult } from "../../results/index.js";
import { DYNAMICS, formatSeeds, isMeasurementRow, loadScenario, metricKind, seedInterval, type Params } from "../../sim/index.js";
import { redactCommandLine } from "../../redact.js";
import type { RunRow, Store } from "../../store/index.js";
import { chart, COLORS, type ChartSpec } from "../charts.js";
import { html, type Raw } from "../html.js";
import { ci, facts, finite, note, num, section, sub, table, warning } from "./format.js";
import { resolveSuite, type SuiteSource } from "./sources.js";

interface SimConfigView {
  readonly name?: string;
  readonly source?: string;
  readonly every?: number | null;
  readonly points?: Params[];
  readonly survey?: { suite: string; fingerprint: string; question: string | null; attribute: string | null; populations: string[] | null } | null;
}

interface SeriesRow {
  readonly point: string;
  readonly series: string;
  readonly step: number;
  readonly mean: number;
  readonly lo: number;
  readonly hi: number;
  readonly tip: string;
}

/**
 * Persona fidelity and drift (the scenario's `measure`): each group's alignment with its real group
 * over the measured steps, one chart per sweep point, and the table `civitas simulate` prints.
 */
async function fidelitySection(r: SimulationResult, points: readonly string[]): Promise<Raw | null> {
  const f = r.fidelity;
  if (f === undefined || f.points.every((p) => p.steps.length === 0)) return null;
  const body: Raw[] = [
    note(
      `Every model-driven agent answered ${f.questions.length} question${f.questions.length === 1 ? "" : "s"} of ${f.suite} (${f.questions.join(", ")}) with its persona and its memory; each group of ${f.by} answers with the mean of its agents' distributions, scored against the real group as civitas eval scores a population: alignment = 1 - mean ${f.metric} distance, with its 95% interval (one seed: bootstrap over questions; several: across seeds). Drift: the change since step 0.`,
    ),
  ];
  for (const p of f.points) {
    if (p.steps.length === 0) continue;
    const name = points[p.point] ?? String(p.point);
    const order: string[] = [];
    const rows: SeriesRow[] = p.steps.flatMap((s) =>
      s.groups.map((g) => {
        const series = g.population === "*" ? "overall" : g.population;
        if (!order.includes(series)) order.push(series);
        return { point: name, series, step: s.step, mean: g.alignment, lo: g.ci[0], hi: g.ci[1], tip: `${series} at step ${s.step}: ${num(g.alignment)} [${num(g.ci[0])}, ${num(g.ci[1])}], drift ${g.drift === null ? "-" : num(g.drift)}` };
      }),
    );
    const cells = p.steps.flatMap((s) =>
      s.groups.map((g) => [String(s.step), g.population === "*" ? "overall" : g.population, num(g.alignment), ci(g.ci), g.drift === null ? "-" : num(g.drift), num(g.uniform), g.human === null ? "-" : num(g.human), g.noise === null ? "-" : num(g.noise), Number.isInteger(g.agents) ? String(g.agents) : num(g.agents)]),
    );
    body.push(
      sub(name, [
        await chart(bandSpec(rows, "alignment", [name], true, f.by, null, order), `fidelity-${p.point}`),
        table(["step", "group", "alignment", "95% CI", "drift", "uniform", "human", "noise", "agents"], cells, ["r", "l", "r", "r", "r", "r", "r", "r", "r"]),
      ]),
    );
  }
  if (r.population !== undefined) body.push(note(`Agents drawn (${r.population.draw === "quota" ? "quotas by the largest remainder" : "i.i.d."}) from ${r.population.source}.`));
  return section("Persona fidelity and drift", body, "fidelity");
}

/** The label of a sweep point: its swept values. */
export function pointName(r: SimulationResult, p: number): string {
  const params = r.points[p]?.params ?? {};
  return r.sweep.length === 0 ? "all seeds" : r.sweep.map((k) => `${k} = ${String(params[k])}`).join(", ");
}

/** A metric's family: `share_3` belongs to `share` (series "3"); others are their own family. */
function familyOf(metric: string): { family: string; series: string } {
  const m = /^(.*)_(\d+)$/u.exec(metric);
  return m ? { family: m[1]!, series: m[2]! } : { family: metric, series: metric };
}

/** Per point, metric and step: mean and interval across seeds (see the module comment). */
export function seriesAcrossSeeds(
  rows: readonly { point: number; seed: number; step: number; metric: string; value: number | null }[],
  skip: ReadonlySet<string>,
): {
  byMetric: Map<string, { point: number; step: number; mean: number; lo: number; hi: number; n: number }[]>;
  /** Per metric, the smallest and largest value any seed took. */
  range: Map<string, [number, number]>;
  hasSeries: boolean;
} {
  // point -> metric -> seed -> [step, value] (steps ascending as the store returns them)
  const tree = new Map<number, Map<string, Map<number, [number, number | null][]>>>();
  const stepsOf = new Map<number, Set<number>>();
  const perSim = new Map<string, Set<number>>();
  const range = new Map<string, [number, number]>();
  for (const r of rows) {
    if (skip.has(`${r.point}:${r.seed}`)) continue;
    if (r.value !== null && Number.isFinite(r.value)) {
      const cur = range.get(r.metric);
      if (!cur) range.set(r.metric, [r.value, r.value]);
      else range.set(r.metric, [Math.min(cur[0], r.value), Math.max(cur[1], r.value)]);
    }
    let byMetric = tree.get(r.point);
    if (!byMetric) tree.set(r.point, (byMetric = new Map()));
    let bySeed = byMetric.get(r.metric);
    if (!bySeed) byMetric.set(r.metric, (bySeed = new Map()));
    let list = bySeed.get(r.seed);
    if (!list) bySeed.set(r.seed, (list = []));
    list.push([r.step, r.value]);
    let steps = stepsOf.get(r.point);
    if (!steps) stepsOf.set(r.point, (steps = new Set()));
    steps.add(r.step);
    const k = `${r.point}:${r.seed}`;
    let s = perSim.get(k);
    if (!s) perSim.set(k, (s = new Set()));
    s.add(r.step);
  }
  const hasSeries = [...perSim.values()].some((s) => s.size > 1);
  const byMetric = new Map<string, { point: number; step: number; mean: number; lo: number; hi: number; n: number }[]>();
  for (const [point, metrics] of tree) {
    const steps = [...(stepsOf.get(point) ?? [])].sort((a, b) => a - b);
    for (const [metric, seeds] of metrics) {
      const out = byMetric.get(metric) ?? [];
      const cursors = [...seeds.values()].map((list) => ({ list: [...list].sort((a, b) => a[0] - b[0]), at: -1 }));
      for (const step of steps) {
        const values: number[] = [];
        for (const c of cursors) {
          while (c.at + 1 < c.list.length && c.list[c.at + 1]![0] <= step) c.at++;
          const v = c.at >= 0 ? c.list[c.at]![1] : null;
          if (v !== null && Number.isFinite(v)) values.push(v);
        }
        if (values.length === 0) continue;
        const t = seedInterval(metric, values);
        const lo = finite(t.ci[0]) ?? t.mean;
        const hi = finite(t.ci[1]) ?? t.mean;
        out.push({ point, step, mean: t.mean, lo, hi, n: t.n });
      }
      byMetric.set(metric, out);
    }
  }
  return { byMetric, range, hasSeries };
}

/** A layered band + line chart, faceted by sweep point when there are several. */
function bandSpec(rows: readonly SeriesRow[], title: string, points: readonly string[], colored: boolean, seriesTitle: string, domain: [number, number] | null, seriesOrder: readonly string[]): ChartSpec {
  const color = colored ? { color: { field: "series", type: "nominal", sort: seriesOrder, title: seriesTitle, legend: { orient: "bottom", direction: "vertical" } } } : {};
  const y = domain && domain[0] < domain[1] ? { scale: { domain, zero: false } } : { scale: { zero: false } };
  const layer = [
    {
      mark: { type: "area", opacity: 0.22, clip: true, ...(colored ? {} : { color: COLORS.accent }) },
      encoding: {
        x: { field: "step", type: "quantitative", title: "step", axis: { tickMinStep: 1, format: "d" } },
        y: { field: "lo", type: "quantitative", title, ...y },
        y2: { field: "hi" },
        ...color,
        description: { field: "tip" },
      },
    },
    {
      mark: { type: "line", strokeWidth: 2, clip: true, ...(colored ? {} : { color: COLORS.accent }) },
      encoding: { x: { field: "step", type: "quantitative" }, y: { field: "mean", type: "quantitative" }, ...color, description: { field: "tip" } },
    },
  ];
  if (points.length <= 1) return { data: { values: rows }, width: 460, height: 200, layer };
  return {
    data: { values: rows },
    facet: { field: "point", type: "nominal", sort: points, title: null },
    columns: 3,
    spec: { width: 250, height: 150, layer },
  };
}

/** Final values across the sweep: mean and 95% interval per point, one panel per metric. */
function sweepSpec(r: SimulationResult, metrics: readonly string[]): ChartSpec | null {
  if (r.sweep.length === 0 || r.points.length < 2) return null;
  const xName = r.sweep[0]!;
  const numeric = r.points.every((p) => typeof p.params[xName] === "number");
  const rest = r.sweep.slice(1);
  // t-intervals are cut at the smallest and largest value any seed took (over few seeds they can be very wide);
  // Wilson intervals (0/1 metrics) are drawn whole: they stay in [0, 1] and say how sure a share of seeds is.
  const bounds = new Map(
    metrics.map((m) => {
      const lo = Math.min(...r.points.map((p) => finite(p.metrics[m]?.min) ?? Number.POSITIVE_INFINITY));
      const hi = Math.max(...r.points.map((p) => finite(p.metrics[m]?.max) ?? Number.NEGATIVE_INFINITY));
      return [m, [lo, hi] as const];
    }),
  );
  const cut = (m: string, v: number) => {
    const [lo, hi] = bounds.get(m)!;
    return lo <= hi ? Math.min(hi, Math.max(lo, v)) : v;
  };
  const rows = r.points.flatMap((p) =>
    metrics.flatMap((m) => {
      const s: MetricSummaryResult | undefined = p.metrics[m];
      const mean = finite(s?.mean);
      if (!s || mean === null) return [];
      const group = rest.length ? rest.map((k) => `${k} = ${String(p.params[k])}`).join(", ") : "";
      return [
        {
          metric: m,
          x: p.params[xName],
          group,
          mean,
          lo: s.interval === "wilson" ? finite(s.ci[0]) ?? mean : cut(m, finite(s.ci[0]) ?? mean),
          hi: s.interval === "wilson" ? finite(s.ci[1]) ?? mean : cut(m, finite(s.ci[1]) ?? mean),
          tip: `${m} at ${xName} = ${String(p.params[xName])}${group ? `, ${group}` : ""}: ${num(mean)} ${ci(s.ci)} over ${s.n} seeds`,
        },
      ];
    }),
  );
  if (rows.length === 0) return null;
  const x = { field: "x", type: numeric ? "quantitative" : "ordinal", title: xName, ...(numeric ? { scale: { zero: false } } : {}) };
  const color = rest.length ? { color: { field: "group", type: "nominal", title: rest.join(", "), legend: { orient: "bottom" } } } : {};
  const plainColor = rest.length ? {} : { color: COLORS.accent };
  return {
    data: { values: rows },
    facet: { field: "metric", type: "nominal", sort: metrics, title: null },
    columns: 3,
    resolve: { scale: { y: "independent" } },
    spec: {
      width: 230,
      height: 150,
      layer: [
        { mark: { type: "rule", strokeWidth: 2, ...plainColor }, encoding: { x, y: { field: "lo", type: "quantitative", title: null, scale: { zero: false } }, y2: { field: "hi" }, ...color, description: { field: "tip" } } },
        ...(numeric ? [{ mark: { type: "line", opacity: 0.6, aria: false, ...plainColor }, encoding: { x, y: { field: "mean", type: "quantitative" }, ...color } }] : []),
        { mark: { type: "point", filled: true, size: 50, opacity: 1, ...plainColor }, encoding: { x, y: { field: "mean", type: "quantitative" }, ...color, description: { field: "tip" } } },
      ],
    },
  };
}

function metricTable(metrics: Record<string, MetricSummaryResult>): Raw {
  return table(
    ["metric", "mean", "95% CI", "min", "max", "seeds"],
    Object.entries(metrics).map(([name, m]) => [
      name,
      num(m.mean),
      Number.isFinite(m.ci[0]) && Number.isFinite(m.ci[1]) ? ci(m.ci) : "-",
      num(m.min),
      num(m.max),
      m.dropped?.length ? `${m.n} (left out, no value: ${formatSeeds(m.dropped)})` : String(m.n),
    ]),
  );
}

type Setup = { readonly options: readonly string[]; readonly scored: readonly number[]; readonly population: readonly number[] | null };

/** The survey behind a survey-driven scenario, per sweep point (options, human shares), or why there is none. */
interface SurveyView {
  readonly setupFor: ((p: number) => Setup) | null;
  readonly note: string | null;
  readonly humanLabel: string;
}

const shareKeys = (p: SimulationResult["points"][number]) => Object.keys(p.metrics).filter((k) => /^share_\d+$/u.test(k));

async function surveyView(r: SimulationResult, config: SimConfigView, source: SuiteSource): Promise<SurveyView | null> {
  const survey = config.survey ?? null;
  if (!survey) return null;
  const humanLabel = `${survey.populations?.join(", ") ?? (survey.attribute ? `${survey.attribute} groups` : "population")} in the survey`;
  let fallback: string | undefined;
  if (config.source !== undefined && source.data === undefined && !source.suite) {
    try {
      fallback = (await loadScenario(config.source)).survey?.data;
    } catch {
      fallback = undefined;
    }
  }
  const resolved = await resolveSuite(survey.suite, survey.fingerprint, source, fallback);
  if (!resolved.suite) return { setupFor: null, note: resolved.note, humanLabel };
  const suite = resolved.suite;
  // Model-driven agents' code is loaded on demand, as the simulator does (sim/scenario.ts AGENTS_MODULE).
  const { surveySetup } = await import("../../sim/index.js");
  const cache = new Map<number, Setup>();
  return {
    note: null,
    humanLabel,
    setupFor: (p: number) => {
      const hit = cache.get(p);
      if (hit) return hit;
      const params: Record<string, string | number | boolean> = { ...(r.points[p]?.params ?? {}) };
      if (survey.question !== null) params.question = survey.question;
      if (survey.attribute !== null) params.attribute = survey.attribute;
      if (survey.populations !== null) params.populations = survey.populations.join(",");
      const setup = surveySetup(config.name ?? r.scenario, params, suite);
      cache.set(p, setup);
      return setup;
    },
  };
}

/** The option a `share_<k>` metric counts (k its survey index), by name when the survey is at hand. */
function optionName(setup: Setup | null, surveyIndex: number): string {
  const k = setup ? setup.scored.indexOf(surveyIndex) : -1;
  return setup && k >= 0 ? setup.options[k]! : `option ${surveyIndex}`;
}

function setupAt(view: SurveyView | null, p: number): { setup: Setup | null; error: string | null } {
  if (!view?.setupFor) return { setup: null, error: null };
  try {
    return { setup: view.setupFor(p), error: null };
  } catch (e) {
    return { setup: null, error: e instanceof Error ? e.message : String(e) };
  }
}

/** Final answer shares against the population's (survey-driven scenarios whose metrics hold `share_<k>`). */
async function distributionSection(r: SimulationResult, view: SurveyView | null): Promise<Raw | null> {
  if (!r.points.some((p) => shareKeys(p).length > 0)) return null;
  const parts: Raw[] = [];
  if (view?.note) parts.push(note(`No human distribution beside the agents': ${view.note}.`));
  const humanLabel = view?.humanLabel ?? "population in the survey";
  const agents = "agents at the end";
  const rows: { point: string; option: string; who: string; share: number; lo: number | null; hi: number | null; tip: string }[] = [];
  const optionOrder: string[] = [];
  for (let p = 0; p < r.points.length; p++) {
    const point = r.points[p]!;
    const label = pointName(r, p);
    const { setup, error } = setupAt(view, p);
    if (error && p === 0) parts.push(note(`No human distribution: ${error}`));
    const keys = shareKeys(point).sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));
    for (const key of keys) {
      const surveyIndex = Number(key.slice(6));
      const option = optionName(setup, surveyIndex);
      if (!optionOrder.includes(option)) optionOrder.push(option);
      const m = point.metrics[key]!;
      const mean = finite(m.mean);
      if (mean !== null) {
        rows.push({ point: label, option, who: agents, share: mean, lo: finite(m.ci[0]), hi: finite(m.ci[1]), tip: `${label}: ${option}: agents ${num(mean)} ${ci(m.ci)} over ${m.n} seeds` });
      }
      const k = setup ? setup.scored.indexOf(surveyIndex) : -1;
      const h = setup && k >= 0 && setup.population ? setup.population[k] : undefined;
      if (h !== undefined) rows.push({ point: label, option, who: humanLabel, share: h, lo: null, hi: null, tip: `${label}: ${option}: ${humanLabel} ${num(h)}` });
    }
  }
  if (rows.length === 0) return null;
  const points = r.points.map((_, p) => pointName(r, p));
  const who = [agents, humanLabel];
  const layer = [
    {
      mark: { type: "bar", clip: true },
      encoding: {
        x: { field: "option", type: "nominal", sort: optionOrder, title: null, axis: { labelAngle: -30 } },
        xOffset: { field: "who", type: "nominal", sort: who },
        y: { field: "share", type: "quantitative", scale: { domain: [0, 1] }, axis: { format: "%" }, title: "share of answers" },
        color: { field: "who", type: "nominal", sort: who, scale: { domain: who, range: [COLORS.accent, COLORS.human] }, legend: { orient: "bottom", title: null } },
        description: { field: "tip" },
      },
    },
    {
      transform: [{ filter: "datum.lo != null && datum.hi != null" }],
      mark: { type: "rule", color: COLORS.ink, strokeWidth: 1.5, clip: true },
      encoding: {
        x: { field: "option", type: "nominal", sort: optionOrder },
        xOffset: { field: "who", type: "nominal", sort: who },
        y: { field: "lo", type: "quantitative" },
        y2: { field: "hi" },
        description: { field: "tip" },
      },
    },
  ];
  const spec: ChartSpec =
    points.length <= 1
      ? { data: { values: rows }, width: { step: 80 }, height: 220, layer }
      : { data: { values: rows }, facet: { field: "point", type: "nominal", sort: points, title: null }, columns: 2, spec: { width: { step: 60 }, height: 180, layer } };
  parts.unshift(await chart(spec, "final-distribution"));
  parts.push(
    note(
      "Bars: the share of agents holding each answer at the end (mean over seeds; lines: 95% interval, cut at 0 and 100%), beside the population's real shares, its groups weighted as the agents' are.",
    ),
  );
  return section("Final answers against the population's", parts, "distribution");
}

/** The body of a simulation run's page. */
export async function simBody(store: Store, run: RunRow, r: SimulationResult, source: SuiteSource = {}): Promise<Raw> {
  const config = (run.config ?? {}) as SimConfigView;
  const parts: Raw[] = [];
  const d = (DYNAMICS as Readonly<Record<string, (typeof DYNAMICS)[keyof typeof DYNAMICS] | undefined>>)[r.dynamics];
  const fixed = Object.entries(r.points[0]?.params ?? {})
    .filter(([k]) => !r.sweep.includes(k))
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(", ");
  const s = r.simulations;
  parts.push(
    facts([
      ["dynamics", `${r.dynamics}${d ? `: ${d.title}` : ""}`],
      ["parameters", fixed],
      ["sweep", r.sweep.length ? r.sweep.join(", ") : "none"],
      ["seeds", formatSeeds(r.seeds)],
      ["model", r.model === "none" ? null : r.model],
      ["simulations", `${s.total} (${s.run} run by the last invocation, ${s.stored} from the store${s.stopped.length ? `, ${s.stopped.length} stopped early by the budget` : ""}${s.not_run ? `, ${s.not_run} not run` : ""})`],
      ["model calls", r.model === "none" ? null : `${r.model_calls} (${r.cache_hits} from the cache, ${r.prompt_tokens} prompt tokens)`],
      [
        "prompt tokens per agent-step",
        r.agent_steps === undefined || r.prompt_tokens_per_agent_step === undefined ? null : `~${Math.round(r.prompt_tokens_per_agent_step)} (estimated, ${r.agent_steps} agent-steps)`,
      ],
      ["run", `${run.id} · ${run.status} · created ${run.createdAt.toISOString().slice(0, 19).replace("T", " ")}`],
      ["command", html`<code>${redactCommandLine(run.command)}</code>`],
    ]),
  );
  if (r.stop !== "done") parts.push(warning(`the run stopped early (${r.stop})${r.budget_note ? `: ${r.budget_note}` : ""}; the summaries leave out what did not finish`));

  const metrics = [...new Set(r.points.flatMap((p) => Object.keys(p.metrics)))];
  const skip = new Set(s.stopped.map((x) => `${x.point}:${x.seed}`));
  // measurement rows (sim/measure.ts) are shown in their own section
  const { byMetric, range, hasSeries } = seriesAcrossSeeds((await store.simMetrics(run.id)).filter((x) => !isMeasurementRow(x.metric)), skip);
  const view = await surveyView(r, config, source);
  const points = r.points.map((_, p) => pointName(r, p));

  if (hasSeries) {
    const families = new Map<string, string[]>();
    for (const m of metrics) {
      if (m === "steps") continue;
      const { family } = familyOf(m);
      const list = families.get(family) ?? [];
      list.push(m);
      families.set(family, list);
    }
    const first = setupAt(view, 0).setup;
    const seriesName = (m: string) => (/^share_\d+$/u.test(m) && first ? optionName(first, Number(m.slice(6))) : familyOf(m).series);
    const charts: Raw[] = [];
    for (const [family, members] of families) {
      const colored = members.length > 1 || familyOf(members[0]!).family !== members[0];
      const rows: SeriesRow[] = members.flatMap((m) =>
        (byMetric.get(m) ?? []).map((x) => ({
          point: points[x.point] ?? String(x.point),
          series: seriesName(m),
          step: x.step,
          mean: x.mean,
          lo: x.lo,
          hi: x.hi,
          tip: `${points[x.point] ?? ""} · ${m} at step ${x.step}: ${num(x.mean)} [${num(x.lo)}, ${num(x.hi)}] over ${x.n} seeds`,
        })),
      );
      if (rows.length === 0) continue;
      const ranges = members.map((m) => range.get(m)).filter((x): x is [number, number] => x !== undefined);
      // 0/1 metrics are drawn on [0, 1]: their Wilson band reaches past the values the seeds took.
      const domain: [number, number] | null = members.every((m) => metricKind(m).kind === "indicator")
        ? [0, 1]
        : ranges.length
          ? [Math.min(...ranges.map((x) => x[0])), Math.max(...ranges.map((x) => x[1]))]
          : null;
      const seriesTitle = family === "share" && first ? "answer" : "k";
      const spec = bandSpec(rows, family, points, colored, colored ? seriesTitle : family, domain, members.map(seriesName));
      charts.push(sub(colored ? `${family}_<k>` : family, await chart(spec, `series-${family}`)));
    }
    parts.push(
      section(
        "Each metric over time",
        [
          note(
            "Line: the mean over seeds at each recorded step; band: its 95% interval (Wilson score for 0/1 metrics such as consensus; else Student's t clipped to the metric's range and drawn within the smallest and largest value any seed took). A seed that converged keeps its final value.",
          ),
          ...charts,
        ],
        "series",
      ),
    );
  } else {
    parts.push(
      section(
        "Each metric over time",
        note("This run recorded only each simulation's final values; add `every: 1` (or every k steps) to the scenario to record series."),
        "series",
      ),
    );
  }

  const sweep = sweepSpec(r, metrics);
  if (sweep) {
    parts.push(
      section(
        "Final values across the sweep",
        [await chart(sweep, "sweep"), note("Mean over seeds of each simulation's final value, with its 95% interval (Wilson score for 0/1 metrics such as consensus; else Student's t clipped to the metric's range and cut at the smallest and largest value any seed took).")],
        "sweep",
      ),
    );
  }

  const fidelity = await fidelitySection(r, points);
  if (fidelity) parts.push(fidelity);

  const dist = await distributionSection(r, view);
  if (dist) parts.push(dist);

  parts.push(
    section(
      "Final values per point",
      r.points.map((p, i) => sub(pointName(r, i), metricTable(p.metrics))),
      "tables",
    ),
  );
  return html`${parts}`;
}
