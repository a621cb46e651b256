/**
 * Everything a run reports, from its stored answers: the headline alignment (first method, with
 * personas when the run steers), the other methods, steerability, the knowledge-to-simulation gap
 * (sequence and verbalize side by side),
 * knowledge questions and suite-specific scores.
 */
import { findMetric, type MetricName } from "../metrics/index.js";
import type { AnswerRow, Method, ScoreRow } from "../store/index.js";
import type { Persona, Population, Question, Suite, Variant } from "../surveys/index.js";
import { stabilityReport, stabilityVerdict } from "./stability.js";
import type { EvalScores } from "../results/index.js";
import type { Conventions } from "./protocols.js";
import {
  distanceTable,
  knowledgeGap,
  knowledgeScores,
  steerability,
  summarize,
  type AlignmentSummary,
  type DistanceTable,
  type ModelDistributions,
} from "./score.js";
import { suiteExtraScores } from "./extra.js";

/** The scores of a run or of outside predictions, as printed with --json: its schema is in results/eval.ts. */
export type { EvalScores };

export interface AnswerScoringOptions {
  readonly conventions: Conventions & { readonly protocol: string | null };
  readonly methods: readonly Method[];
  /** Persona of each population, when the run steers. */
  readonly personas: ReadonlyMap<string, Persona>;
  readonly seed: number;
  /** K of the sample method, for its noise floor. */
  readonly samples: number;
  /** The run's presentation variants (the stability report needs two or more). */
  readonly variants?: readonly Variant[];
}

/** Scored distributions by method, persona and question (several when a question has several variants). */
function index(answers: readonly AnswerRow[]): Map<string, number[][]> {
  const m = new Map<string, number[][]>();
  for (const a of answers) {
    if (a.status !== "scored" || !a.distribution) continue;
    const k = `${a.method}\u0000${a.persona}\u0000${a.questionId}`;
    const list = m.get(k);
    if (list) list.push([...a.distribution]);
    else m.set(k, [[...a.distribution]]);
  }
  return m;
}

function rowsOf(table: DistanceTable, method: Method, steered: boolean): ScoreRow[] {
  const rows: ScoreRow[] = [];
  table.populations.forEach((pop, p) => {
    table.questions.forEach((q, i) => {
      const d = table.model[p]![i]!;
      if (Number.isNaN(d)) return;
      const nan = (x: number) => (Number.isNaN(x) ? null : x);
      rows.push({
        method,
        steered,
        questionId: q.id,
        population: pop.id,
        metric: table.metric,
        modelDistance: d,
        uniformDistance: table.uniform[p]![i]!,
        humanDistance: nan(table.human[p]![i]!),
        noiseDistance: nan(table.noise[p]![i]!),
        humanN: table.humanN[p]![i] ?? null,
      });
    });
  });
  return rows;
}

export function scoreAnswers(
  suite: Suite,
  questions: readonly Question[],
  populations: readonly Population[],
  answers: readonly AnswerRow[],
  o: AnswerScoringOptions,
): { scores: EvalScores; rows: ScoreRow[] } {
  const byKey = index(answers);
  const opinion = questions.filter((q) => q.correct === undefined);
  const knowledgeQs = questions.filter((q) => q.correct !== undefined);
  const steers = o.personas.size > 0;
  const view = (method: Method, steered: boolean): ModelDistributions => (q, p) => {
    const persona = steered ? o.personas.get(p.id)?.id ?? "none" : "none";
    return byKey.get(`${method}\u0000${persona}\u0000${q.id}`);
  };
  const noiseCache = new Map<string, number>();
  const tableFor = (method: Method, steered: boolean, metric: MetricName = o.conventions.metric) =>
    distanceTable(suite, opinion, populations, view(method, steered), {
      conventions: { ...o.conventions, metric },
      seed: o.seed,
      noiseSamples: method === "sample" ? o.samples : "respondents",
      noiseCache,
    });

  const rows: ScoreRow[] = [];
  const perMethod = o.methods.map((method) => {
    const main = tableFor(method, steers);
    rows.push(...rowsOf(main, method, steers));
    const summary = summarize(main, suite, o.conventions, o.seed, method === "sample" ? o.samples : "respondents");
    let unsteeredSummary: AlignmentSummary | undefined;
    let steer: EvalScores["steerability"];
    if (steers) {
      const plain = tableFor(method, false);
      rows.push(...rowsOf(plain, method, false));
      unsteeredSummary = summarize(plain, suite, o.conventions, o.seed, method === "sample" ? o.samples : "respondents");
      steer = steerability(main, plain, o.seed, o.conventions.resamples);
    }
    return { method, main, summary, unsteeredSummary, steer };
  });
  const head = perMethod[0]!;
  const warnings: string[] = [];

  // Meister et al.'s knowledge-to-simulation gap: the run must have asked both formats it
  // compares, sequence and verbalize (no other method stands in for either); every method of the
  // run is shown beside them.
  let gap: EvalScores["gap"];
  if (o.methods.includes("sequence") && o.methods.includes("verbalize")) {
    const tables = new Map(o.methods.map((m) => [m as string, tableFor(m, steers, "tv")]));
    gap = knowledgeGap(tables, "sequence", "verbalize", {
      seed: o.seed,
      resamples: o.conventions.resamples,
      ...(suite.datasets ? { datasets: suite.datasets } : {}),
      datasetsEqual: o.conventions.datasets === "equal",
    });
  }

  let knowledge: EvalScores["knowledge"];
  if (knowledgeQs.length > 0) {
    const items = knowledgeQs.flatMap((question) => {
      const dists = byKey.get(`${head.method}\u0000none\u0000${question.id}`);
      if (!dists) return [];
      const mean = dists[0]!.map((_, k) => dists.reduce((s, d) => s + d[k]!, 0) / dists.length);
      return [{ question, distribution: mean }];
    });
    if (items.length > 0) knowledge = knowledgeScores(items, o.seed, o.conventions.resamples);
  }

  // Knowledge questions alone (pacifaist) have no populations to be stable about.
  const stability = o.variants && opinion.length > 0 ? stabilityReport(suite, questions, populations, answers, { method: head.method, variants: o.variants, conventions: o.conventions, seed: o.seed }) : undefined;
  if (stability?.conclusion && !stability.conclusion.stable) {
    warnings.push(`UNSTABLE: the population the model is closest to: ${stabilityVerdict(stability.conclusion).text}`);
  }

  const extra = suiteExtraScores(suite, opinion, (q) => byKey.get(`${head.method}\u0000none\u0000${q.id}`), o.seed, o.conventions.resamples, {
    populations,
    model: (q, persona) => byKey.get(`${head.method}\u0000${persona}\u0000${q.id}`),
    personas: o.personas,
  });

  const scores: EvalScores = {
    ...head.summary,
    metric_label: findMetric(o.conventions.metric).label,
    protocol: o.conventions.protocol,
    method: head.method,
    questions: { ...head.summary.questions, ...(knowledgeQs.length > 0 ? { knowledge: knowledge?.n ?? 0 } : {}) },
    // A question's variants are scored together (its distance is their mean), so they are resampled with it.
    bootstrap: { ...head.summary.bootstrap, ...((o.variants?.length ?? 1) > 1 ? { variants: o.variants!.length } : {}) },
    ...(perMethod.length > 1
      ? { by_method: perMethod.map((m) => ({ method: m.method, overall: m.summary.overall, populations: m.summary.populations, baselines: m.summary.baselines })) }
      : {}),
    ...(head.steer ? { steerability: head.steer } : {}),
    ...(head.unsteeredSummary ? { unsteered: { overall: head.unsteeredSummary.overall, populations: head.unsteeredSummary.populations } } : {}),
    ...(gap ? { gap } : {}),
    ...(knowledge ? { knowledge } : {}),
    ...(extra ? extra : {}),
    ...(stability ? { stability } : {}),
    warnings,
  };
  return { scores, rows };
}
