/**
 * The result of `civitas aggregate` for one input: winners per rule, margins, axioms, group
 * welfare, MaxMin clusters, Polis opinion groups (choice/aggregate.ts makes it). The store keeps
 * it as an aggregation run's result (version 1: the first version stored); `--json` prints it in
 * the documented shape `aggregateJson` makes (one profile's fields at the top level).
 *
 * Alternatives are named by their 1-based numbers (PrefLib's own), as in `{"alternatives": {"1":
 * "<name>"}, "rules": {"schulze": {"winners": [3]}}}`.
 */
import { z } from "zod";
import { count, num, numOrNull } from "./common.js";

export const INPUT_KINDS = ["preflib", "ratings", "comparisons", "polis"] as const;

const winners = z.array(z.number().int());

export const ruleReport = z.object({
  winners,
  scores: z.record(z.string(), num).optional(),
  ranking: z.array(winners).optional(),
  error: z.string().optional(),
  warnings: z.array(z.string()).readonly().optional(),
});

export const groupsReport = z.object({
  rule: z.string(),
  /** voters: as ProfileReport.voters, within the group. */
  groups: z.array(z.object({ name: z.string(), voters: num, winners, same_winners: z.boolean(), agreement: numOrNull })),
  utilitarian: winners,
  egalitarian: winners,
  outcomes: z.array(z.object({ label: z.string(), winners, welfare: z.record(z.string(), num), mean: num, min: num })),
});

/** The aggregation of one profile (one prompt of a comparisons file, or a whole ranking file). */
export const profileReport = z.object({
  prompt: z.string().optional(),
  alternatives: z.record(z.string(), z.string()),
  /**
   * Total weight of the voters: of the ballots in ranking files; in comparisons, the number of
   * distinct annotators who compared responses to this prompt (a comparison is not a voter).
   */
  voters: num,
  ballots: count,
  /** Comparisons only: the comparison lines of this prompt (each one a truncated ballot). */
  comparisons: count.optional(),
  margin: z.record(z.string(), z.record(z.string(), num)),
  rules: z.record(z.string(), ruleReport),
  axioms: z.record(z.string(), z.record(z.string(), z.object({ applicable: z.boolean(), violated: z.boolean(), detail: z.string() }))).optional(),
  groups: groupsReport.optional(),
});

export const maxMinReport = z.object({
  k: count,
  selection: z.array(z.object({ k: count, held_out_log_likelihood: num, standard_error: num })).nullable(),
  clusters: z.array(z.object({ size: count, members: z.array(z.string()) })),
  choices: z.array(z.object({ prompt: z.string().optional(), maxmin: winners, utilitarian: winners })),
});

export const polisReport = z.object({
  participants: count,
  comments: count,
  k: count,
  silhouette: numOrNull,
  groups: z.array(z.object({ id: z.number().int(), size: count })),
  ari: numOrNull,
  consensus: z.array(z.object({ comment: z.number().int(), text: z.string(), score: num })),
  agreed_by_all: z.array(z.object({ comment: z.number().int(), text: z.string() })),
  divisive: z.array(z.object({ comment: z.number().int(), text: z.string(), spread: num })),
  points: z.array(z.object({ participant: z.number().int(), x: num, y: num, group: z.number().int() })),
});

/** What `aggregateFile` reports on one input. */
export const aggregateReport = z.object({
  file: z.string(),
  input: z.enum(INPUT_KINDS),
  title: z.string().optional(),
  /** Ranking inputs: one report. Comparisons: one per prompt. */
  profiles: z.array(profileReport),
  clusters: maxMinReport.optional(),
  polis: polisReport.optional(),
  warnings: z.array(z.string()),
});

/** An aggregation run's result: the report and the run it is stored as. */
export const aggregateResult = aggregateReport.extend({ run: z.string() });

/**
 * What `civitas aggregate --json` prints for one input: its file, input kind and warnings (and
 * the run, when stored), then one profile's fields at the top level, or several under
 * `profiles` (each without its margins unless --margin), or the Polis groups under `polis`.
 */
const jsonBase = z.object({ run: z.string().optional(), file: z.string(), input: z.enum(INPUT_KINDS), title: z.string().optional(), warnings: z.array(z.string()) });
export const aggregateJsonOne = z.union([
  jsonBase.extend({ polis: polisReport }),
  jsonBase.extend({ ...profileReport.shape, clusters: maxMinReport.optional() }),
  jsonBase.extend({ profiles: z.array(profileReport.extend({ margin: profileReport.shape.margin.optional() })), clusters: maxMinReport.optional() }),
]);

export type RuleReport = z.output<typeof ruleReport>;
export type GroupsReport = z.output<typeof groupsReport>;
export type ProfileReport = z.output<typeof profileReport>;
export type MaxMinReport = z.output<typeof maxMinReport>;
export type PolisReport = z.output<typeof polisReport>;
export type AggregateReport = z.output<typeof aggregateReport>;
export type AggregateResult = z.output<typeof aggregateResult>;

/** The --json form of an aggregation (see `aggregateJsonOne`); `margin`: keep every profile's margins. */
export function aggregateJson(r: AggregateReport & { readonly run?: string }, margin: boolean): Record<string, unknown> {
  const strip = (p: ProfileReport) => (margin || r.profiles.length === 1 ? p : { ...p, margin: undefined });
  const base = { ...(r.run === undefined ? {} : { run: r.run }), file: r.file, input: r.input, ...(r.title ? { title: r.title } : {}), warnings: r.warnings };
  if (r.polis) return { ...base, polis: r.polis };
  if (r.profiles.length === 1) return { ...base, ...strip(r.profiles[0]!), ...(r.clusters ? { clusters: r.clusters } : {}) };
  return { ...base, profiles: r.profiles.map(strip), ...(r.clusters ? { clusters: r.clusters } : {}) };
}
