/**
 * `measure:` in a scenario: persona fidelity and drift, the bridge between `simulate` and `eval`.
 *
 * ```yaml
 * measure:
 *   every: 5                                  # steps between measurements (also at step 0 and at the end)
 *   questions: [SAFECRIME_W26, WORRYG_W26]    # question ids, or a count: questions: 10
 *   by: POLPARTY                              # the attribute whose groups are scored
 *   suite: opinionqa                          # default: survey.suite (data: default survey.data)
 * ```
 *
 * At step 0, every `every` steps and at the end, every model-driven agent (`Dynamics.agents`,
 * those with `llm`) answers each question through the simulation's SimModel (so the request cache,
 * record/replay, the budget and the queue apply). Its prompt is its persona paragraph, its memory
 * (what it has read and said so far, `MeasuredAgent.memory`), then the standard question prompt:
 *
 *     <persona>\n\n<memory>\n\nQuestion: ...\nA. ...\nAnswer:
 *
 * With an empty memory this is exactly `civitas eval --persona`'s prompt for the agent's persona
 * (`renderPrompt` with the persona; the suite's template, options in survey order), and the two
 * share cached answers. All of a measurement's calls are issued together (agent order, then
 * question order) and awaited together: a budget that runs out during a measurement fails it as
 * a whole, and nothing of it is stored.
 *
 * A group (the agents' values of `by`) answers a question with the mean of its agents'
 * distributions over the question's options (an agent whose answer put no mass on any option is
 * left out of that question's mean). It is deterministic and draws no random number, so measuring
 * does not change the dynamics' run. Each group is scored against the suite's real population
 * `<by>=<value>` exactly as `civitas eval` scores a population (runs/score.ts `distanceTable` and
 * `summarize` with the suite's default conventions, `resolveConventions`: its metric, refusals
 * dropped, 1,000 bootstrap resamples over the questions, eval's default seed 0): alignment = 1 -
 * mean distance, with its 95% percentile bootstrap interval, and the three baselines (uniform
 * answers, the other real groups or the reference population, the survey's sampling noise). The
 * overall line is eval's overall (the mean over the groups). Drift is the change of a group's
 * alignment from step 0 (the difference of the two means; no interval).
 *
 * Stored as rows of the simulation's metrics (sim_metrics), written with the simulation's other
 * metrics in one transaction, named `fidelity.v1|<population>|<field>` (population: the suite's
 * population id, e.g. POLPARTY=Democrat, or `*` for the overall; field: alignment, lo, hi, uniform,
 * human, noise, agents, questions). `fidelity.v1` versions the shape; readers skip other versions.
 */
import { CivitasError } from "../errors.js";
import { streamRng, tQuantile } from "../metrics/index.js";
import { distanceTable, resolveConventions, summarize, type Conventions } from "../runs/index.js";
import {
  NO_PERSONA,
  parseVariant,
  renderPrompt,
  STANDARD_VARIANT,
  suiteAttributes,
  toSurveyOrder,
  type Population,
  type Question,
  type Suite,
} from "../surveys/index.js";
import type { MeasuredAgent, SimModel } from "./types.js";

/** The scenario's `measure:` section. */
export interface MeasureSection {
  readonly every: number;
  /** Question ids, or how many to draw (deterministically: the same for every seed). */
  readonly questions: readonly string[] | number;
  readonly by: string;
  /** Another suite than the survey's (loaded by the runner). */
  readonly suite?: string;
  readonly data?: string;
}

/** A measurement ready to run: the questions, their plain prompts, the groups' real populations. */
export interface MeasurePlan {
  readonly every: number;
  readonly by: string;
  readonly suite: Suite;
  readonly questions: readonly Question[];
  /** Per question: the standard prompt without persona, and its labels and presentation order. */
  readonly prompts: readonly { readonly text: string; readonly labels: readonly string[]; readonly order: readonly number[] }[];
  readonly conventions: Conventions;
}

/** One group's alignment at a measured step. */
export interface GroupFidelity {
  /** The suite's population (e.g. POLPARTY=Democrat), or "*" for the overall (mean over the groups). */
  readonly population: string;
  readonly alignment: number;
  readonly ci: readonly [number, number];
  readonly uniform: number;
  readonly human: number | null;
  readonly noise: number | null;
  /** Model-driven agents measured in the group (for "*": all). */
  readonly agents: number;
  /** Questions scored. */
  readonly questions: number;
}

export interface Measurement {
  readonly step: number;
  readonly groups: readonly GroupFidelity[];
}

/** The seed of the measurement's bootstrap and noise floor: `civitas eval`'s default. */
export const MEASURE_SEED = 0;
const PREFIX = "fidelity.v1";
const FIELDS = ["alignment", "lo", "hi", "uniform", "human", "noise", "agents", "questions"] as const;

/** Questions to measure: the given ids (checked) or `count` drawn deterministically among those a group of `by` has answers to. */
export function planMeasure(section: MeasureSection, suite: Suite, where: string): MeasurePlan {
  const attrs = suiteAttributes(suite);
  if (!attrs.includes(section.by)) {
    throw new CivitasError("input", `${where}: measure.by: suite ${suite.name} has no attribute "${section.by}" (its attributes: ${attrs.join(", ")})`);
  }
  const groups = suite.populations.filter((p) => p.attribute === section.by);
  const usable = (q: Question) => q.correct === undefined && q.refusal.filter((r) => !r).length >= 2 && groups.some((p) => suite.human(q.id, p.id) !== undefined);
  let questions: Question[];
  if (typeof section.questions === "number") {
    const pool = suite.questions.filter(usable);
    if (pool.length < section.questions) {
      throw new CivitasError("input", `${where}: measure.questions: ${section.questions} questions asked for, but suite ${suite.name} has ${pool.length} with answers from the groups of ${section.by}`);
    }
    // a partial Fisher-Yates with a fixed stream: the same questions for every seed and point
    const rng = streamRng(MEASURE_SEED, `measure:${suite.name}:${section.by}`);
    const idx = pool.map((_, i) => i);
    for (let i = 0; i < section.questions; i++) {
      const j = rng.int(i, idx.length - 1);
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    const chosen = new Set(idx.slice(0, section.questions));
    questions = pool.filter((_, i) => chosen.has(i));
  } else {
    if (section.questions.length === 0) throw new CivitasError("input", `${where}: measure.questions: name at least one question`);
    questions = section.questions.map((id, k) => {
      const q = suite.questions.find((x) => x.id === id) ?? suite.questions.find((x) => x.id.toLowerCase() === id.toLowerCase());
      if (q === undefined) {
        throw new CivitasError("input", `${where}: measure.questions[${k}]: suite ${suite.name} has no question "${id}"`, { hint: `\`civitas suites show ${suite.name}\` lists its questions` });
      }
      if (!usable(q)) throw new CivitasError("input", `${where}: measure.questions[${k}]: ${q.id} cannot be scored for the groups of ${section.by} (no real answers, or fewer than two scored options)`);
      return q;
    });
    if (new Set(questions.map((q) => q.id)).size !== questions.length) throw new CivitasError("input", `${where}: measure.questions: a question is listed twice`);
  }
  const template = suite.template ?? "opinionqa";
  const variant = template === "opinionqa" ? STANDARD_VARIANT : parseVariant("standard", template);
  const prompts = questions.map((q) => {
    const r = renderPrompt(q, variant, NO_PERSONA, "logprobs");
    return { text: r.text, labels: r.labels, order: r.order };
  });
  return { every: section.every, by: section.by, suite, questions, prompts, conventions: resolveConventions(suite) };
}

/** The prompt a measured agent is asked (see the module comment), and the same without its persona. */
export function measurePrompt(agent: Pick<MeasuredAgent, "persona" | "memory">, plainPrompt: string): { prompt: string; plain: string } {
  const persona = agent.persona.trim();
  const memory = agent.memory.trim();
  const plain = memory === "" ? plainPrompt : `${memory}\n\n${plainPrompt}`;
  return { prompt: persona === "" ? plain : `${persona}\n\n${plain}`, plain };
}

/** Each group's mean distribution per question (survey order), from each agent's distributions; null where no agent answered. */
export function groupMeans(values: readonly string[], answers: readonly (readonly (readonly number[] | null)[])[], groups: readonly string[]): Map<string, (number[] | null)[]> {
  const out = new Map<string, (number[] | null)[]>();
  for (const g of groups) {
    const Q = answers[0]?.length ?? 0;
    const means: (number[] | null)[] = [];
    for (let q = 0; q < Q; q++) {
      let sum: number[] | null = null;
      let n = 0;
      values.forEach((v, i) => {
        if (v !== g) return;
        const d = answers[i]![q];
        if (d === null || d === undefined || !(d.reduce((a, b) => a + b, 0) > 0)) return;
        sum ??= new Array<number>(d.length).fill(0);
        for (let k = 0; k < d.length; k++) sum[k]! += d[k]!;
        n++;
      });
      means.push(sum === null ? null : (sum as number[]).map((x) => x / n));
    }
    out.set(g, means);
  }
  return out;
}

/** Scores each group's mean distributions against its real population as `civitas eval` does. */
export function scoreGroups(plan: MeasurePlan, means: ReadonlyMap<string, readonly (readonly number[] | null)[]>, agents: ReadonlyMap<string, number>, step: number, noiseCache?: Map<string, number>): Measurement {
  const { suite } = plan;
  const pops: Population[] = [];
  for (const value of means.keys()) {
    const p = suite.populations.find((x) => x.attribute === plan.by && x.value === value);
    if (p === undefined) {
      const values = suite.populations.filter((x) => x.attribute === plan.by).map((x) => x.value);
      throw new CivitasError("input", `measure.by: agents have ${plan.by} = "${value}", which is not a group of suite ${suite.name} (its groups: ${values.join(", ")})`);
    }
    pops.push(p);
  }
  const qIndex = new Map(plan.questions.map((q, i) => [q.id, i]));
  const table = distanceTable(
    suite,
    plan.questions,
    pops,
    (q, p) => {
      const d = means.get(p.value)?.[qIndex.get(q.id)!];
      return d === null || d === undefined ? undefined : [d];
    },
    { conventions: plan.conventions, seed: MEASURE_SEED, ...(noiseCache === undefined ? {} : { noiseCache }) },
  );
  const s = summarize(table, suite, plan.conventions, MEASURE_SEED);
  let all = 0;
  for (const n of agents.values()) all += n;
  const groups: GroupFidelity[] = s.populations.map((r, k) => ({
    population: r.population,
    alignment: r.mean,
    ci: [r.ci[0], r.ci[1]],
    uniform: r.uniform,
    human: r.human,
    noise: r.noise,
    agents: agents.get(pops[k]!.value) ?? 0,
    questions: r.n,
  }));
  groups.push({
    population: "*",
    alignment: s.overall.mean,
    ci: [s.overall.ci[0], s.overall.ci[1]],
    uniform: s.baselines.uniform.mean,
    human: s.baselines.human?.mean ?? null,
    noise: s.baselines.noise?.mean ?? null,
    agents: all,
    questions: s.questions.scored,
  });
  return { step, groups };
}

/**
 * Measures the agents at a step: every model-driven agent answers every question (all calls
 * together), then the groups are scored. Rejects (nothing measured) when a call does (a budget).
 */
export async function measureAgents(plan: MeasurePlan, agents: readonly MeasuredAgent[], model: SimModel, step: number, noiseCache?: Map<string, number>): Promise<Measurement> {
  const asked: { i: number; value: string }[] = [];
  agents.forEach((a, i) => {
    if (!a.llm) return;
    const value = a.attributes[plan.by];
    if (value === undefined) {
      throw new CivitasError("input", `measure.by: agent ${i} has no attribute ${plan.by} (its attributes: ${Object.keys(a.attributes).join(", ") || "none"})`, {
        hint: `measure the attribute the agents have (survey.attribute, or one of population.attributes)`,
      });
    }
    asked.push({ i, value });
  });
  const calls = asked.map(({ i }) => {
    const a = agents[i]!;
    return Promise.all(
      plan.prompts.map((p) => {
        const { prompt, plain } = measurePrompt(a, p.text);
        return model.optionDistribution({ prompt, plain, labels: p.labels, step, agent: i }).then((r) => toSurveyOrder(r.distribution, p.order));
      }),
    );
  });
  const answers = await Promise.all(calls);
  const values = asked.map((a) => a.value);
  const groups: string[] = [];
  const counts = new Map<string, number>();
  // groups in the suite's order of the attribute's values
  for (const p of plan.suite.populations) if (p.attribute === plan.by && values.includes(p.value)) groups.push(p.value);
  for (const v of values) {
    if (!groups.includes(v)) groups.push(v);
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return scoreGroups(plan, groupMeans(values, answers, groups), counts, step, noiseCache);
}

// ---------------------------------------------------------------------------------------------
// Stored rows

/** A measurement as metrics rows (`fidelity.v1|<population>|<field>`). */
export function measurementRows(m: Measurement): Record<string, number> {
  const out: Record<string, number> = {};
  for (const g of m.groups) {
    const v: Record<(typeof FIELDS)[number], number> = {
      alignment: g.alignment,
      lo: g.ci[0],
      hi: g.ci[1],
      uniform: g.uniform,
      human: g.human ?? Number.NaN,
      noise: g.noise ?? Number.NaN,
      agents: g.agents,
      questions: g.questions,
    };
    for (const f of FIELDS) out[`${PREFIX}|${g.population}|${f}`] = v[f];
  }
  return out;
}

/** True for a metric name that is a stored measurement row (of any version): not a dynamics' metric. */
export function isMeasurementRow(metric: string): boolean {
  return metric.startsWith("fidelity.v");
}

/** Measurements read back from metrics rows of one simulation (rows of other versions skipped). */
export function measurementsFromRows(rows: readonly { step: number; metric: string; value: number | null }[]): Measurement[] {
  const bySteps = new Map<number, Map<string, Record<string, number>>>();
  for (const r of rows) {
    if (!r.metric.startsWith(`${PREFIX}|`)) continue;
    const rest = r.metric.slice(PREFIX.length + 1);
    const bar = rest.lastIndexOf("|");
    if (bar < 0) continue;
    const pop = rest.slice(0, bar);
    const field = rest.slice(bar + 1);
    let step = bySteps.get(r.step);
    if (step === undefined) bySteps.set(r.step, (step = new Map()));
    let g = step.get(pop);
    if (g === undefined) step.set(pop, (g = {}));
    g[field] = r.value === null ? Number.NaN : r.value;
  }
  return [...bySteps.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([step, groups]) => ({
      step,
      groups: [...groups.entries()]
        .sort((a, b) => (a[0] === "*" ? 1 : b[0] === "*" ? -1 : 0))
        .map(([population, f]) => ({
          population,
          alignment: f.alignment ?? Number.NaN,
          ci: [f.lo ?? Number.NaN, f.hi ?? Number.NaN] as const,
          uniform: f.uniform ?? Number.NaN,
          human: Number.isNaN(f.human ?? Number.NaN) ? null : f.human!,
          noise: Number.isNaN(f.noise ?? Number.NaN) ? null : f.noise!,
          agents: f.agents ?? 0,
          questions: f.questions ?? 0,
        })),
    }));
}

// ---------------------------------------------------------------------------------------------
// The report

/** One group at one measured step of a sweep point, across the seeds measured there. */
export interface FidelityGroup {
  readonly population: string;
  /** Mean over the seeds of the group's alignment. */
  readonly alignment: number;
  /** One seed: eval's bootstrap interval over questions; several: the 95% t-interval across seeds. */
  readonly ci: readonly [number, number];
  readonly interval: "bootstrap" | "seeds";
  /** Mean over the seeds of (alignment now - alignment at step 0); null for a seed set without step 0. */
  readonly drift: number | null;
  readonly uniform: number;
  readonly human: number | null;
  readonly noise: number | null;
  /** Mean number of measured agents in the group. */
  readonly agents: number;
  readonly questions: number;
}

export interface FidelityReport {
  readonly version: 1;
  readonly suite: string;
  readonly by: string;
  readonly metric: string;
  readonly questions: string[];
  readonly every: number;
  readonly points: { readonly point: number; readonly steps: { readonly step: number; readonly seeds: number; readonly groups: FidelityGroup[] }[] }[];
}

const meanOf = (xs: readonly number[]): number => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);

/** 95% t-interval of the mean of xs (Student's t, n - 1 degrees of freedom). */
function tInterval95(xs: readonly number[]): [number, number] {
  const n = xs.length;
  const m = meanOf(xs);
  if (n < 2) return [Number.NaN, Number.NaN];
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (n - 1));
  const h = (tQuantile(0.975, n - 1) * sd) / Math.sqrt(n);
  return [m - h, m + h];
}

/** The report of a run's measurements, from its stored rows (simulations in `left` are left out, as from the summaries). */
export function fidelityReport(
  plan: MeasurePlan,
  rows: readonly { point: number; seed: number; step: number; metric: string; value: number | null }[],
  o: { readonly points: number; readonly seeds: readonly number[]; readonly left: ReadonlySet<string> },
): FidelityReport {
  const points: FidelityReport["points"][number][] = [];
  for (let p = 0; p < o.points; p++) {
    const perSeed = new Map<number, Measurement[]>();
    for (const seed of o.seeds) {
      if (o.left.has(`${p}:${seed}`)) continue;
      const ms = measurementsFromRows(rows.filter((r) => r.point === p && r.seed === seed));
      if (ms.length > 0) perSeed.set(seed, ms);
    }
    const stepSet = new Set<number>();
    for (const ms of perSeed.values()) for (const m of ms) stepSet.add(m.step);
    const steps = [...stepSet].sort((a, b) => a - b).map((step) => {
      const at = [...perSeed.values()].map((ms) => ({ now: ms.find((m) => m.step === step), first: ms.find((m) => m.step === 0) })).filter((x) => x.now !== undefined);
      const pops: string[] = [];
      for (const x of at) for (const g of x.now!.groups) if (!pops.includes(g.population)) pops.push(g.population);
      const groups = pops.map((population): FidelityGroup => {
        const gs = at.map((x) => ({ now: x.now!.groups.find((g) => g.population === population), first: x.first?.groups.find((g) => g.population === population) })).filter((x) => x.now !== undefined);
        const values = gs.map((x) => x.now!.alignment).filter((v) => Number.isFinite(v));
        const drifts = gs.filter((x) => x.first !== undefined).map((x) => x.now!.alignment - x.first!.alignment).filter((v) => Number.isFinite(v));
        const one = gs.length === 1;
        const nonNull = (f: (g: GroupFidelity) => number | null) => {
          const xs = gs.map((x) => f(x.now!)).filter((v): v is number => v !== null && Number.isFinite(v));
          return xs.length === 0 ? null : meanOf(xs);
        };
        return {
          population,
          alignment: meanOf(values),
          ci: one ? gs[0]!.now!.ci : tInterval95(values),
          interval: one ? "bootstrap" : "seeds",
          drift: drifts.length === 0 ? null : meanOf(drifts),
          uniform: nonNull((g) => g.uniform) ?? Number.NaN,
          human: nonNull((g) => g.human),
          noise: nonNull((g) => g.noise),
          agents: meanOf(gs.map((x) => x.now!.agents)),
          questions: Math.max(...gs.map((x) => x.now!.questions)),
        };
      });
      return { step, seeds: at.length, groups };
    });
    points.push({ point: p, steps });
  }
  return { version: 1, suite: plan.suite.name, by: plan.by, metric: plan.conventions.metric, questions: plan.questions.map((q) => q.id), every: plan.every, points };
}
