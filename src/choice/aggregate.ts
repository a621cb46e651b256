/**
 * `civitas aggregate` as a library call: read one input (PrefLib, ratings CSV with groups, RLHF
 * comparisons JSONL, or a Polis conversation), run the voting rules, check the axioms, and report
 * groups, welfare, MaxMin clusters or Polis opinion groups. Alternatives are reported by their
 * 1-based numbers (PrefLib's own), as in `{"alternatives": {"1": "<name>"}, "rules": {"schulze":
 * {"winners": [3]}}}`.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { CivitasError } from "../errors.js";
import { INPUT_KINDS, type AggregateReport, type GroupsReport, type MaxMinReport, type PolisReport, type ProfileReport, type RuleReport } from "../results/index.js";
import { auditRules, type AxiomCheck } from "./axioms.js";
import { bradleyTerry } from "./bradley-terry.js";
import { comparisonProfile, readComparisons, type ComparisonData } from "./comparisons.js";
import { toPreferencePairs, type PairWeight, type PreferencePair } from "./export.js";
import { maxMinRlhf, type MaxMinResult } from "./maxmin.js";
import { polisGroups, type PolisGroupsResult } from "./polis.js";
import { readPolis } from "./polis-export.js";
import { readPrefLibWithWarnings } from "./preflib.js";
import { marginMatrix, totalVoters, type MarginMatrix, type Profile } from "./profile.js";
import { readRatings } from "./ratings.js";
import type { RuleResult } from "./rule-result.js";
import type { Overvotes, TopTies } from "./ballot-rules.js";
import { getRule, runBallotRule, runRules, RULES, type RuleId } from "./rules.js";
import { groupWelfare, type WelfareReport } from "./welfare.js";

export type InputKind = (typeof INPUT_KINDS)[number];

export interface AggregateOptions {
  /** Rule ids, or undefined for all that apply. */
  readonly rules?: readonly string[];
  readonly axioms?: boolean;
  /** Rank unranked alternatives last instead of leaving them incomparable. */
  readonly extendTruncated?: boolean;
  /** Ratings CSV: the column holding group labels (default "group" when present). */
  readonly groups?: string;
  /** The rule behind per-group welfare and exported pairs (default copeland). */
  readonly welfareRule?: string;
  /** Comparisons: MaxMin clusters: a number of clusters, or "auto" (held-out likelihood). */
  readonly clusters?: number | "auto";
  readonly seed?: number;
  /** Plurality: how ballots with several alternatives tied first count (`--top-ties`; default: refused). */
  readonly topTies?: TopTies;
  /** Instant runoff: how ballots with ties count (`--overvotes`; default: refused when a round reaches one). */
  readonly overvotes?: Overvotes;
}

/** The report's types: their schemas are in results/aggregate.ts (what the store keeps and --json prints). */
export type { AggregateReport, GroupsReport, MaxMinReport, PolisReport, ProfileReport, RuleReport };

/** What a file is: PrefLib by extension, a Polis folder or participants-votes.csv, JSONL comparisons, else a ratings CSV. */
export async function detectInput(file: string): Promise<InputKind> {
  const ext = path.extname(file).toLowerCase();
  if ([".soc", ".soi", ".toc", ".toi"].includes(ext)) return "preflib";
  if (ext === ".jsonl") return "comparisons";
  let isDir = false;
  try {
    isDir = (await stat(file)).isDirectory();
  } catch {
    // A path named on the command line that does not exist is a usage error (exit 2), as in every command.
    throw new CivitasError("usage", `no such file: ${file}`);
  }
  if (isDir || path.basename(file) === "participants-votes.csv") return "polis";
  if (ext === ".csv") return "ratings";
  throw new CivitasError("input", `cannot tell what ${file} holds`, {
    hint: "give a PrefLib file (.soc, .soi, .toc, .toi), a ratings or rankings CSV, a comparisons JSONL, or a Polis conversation folder",
  });
}

const one = (i: number) => String(i + 1);
const byNumber = (values: ArrayLike<number>): Record<string, number> => Object.fromEntries(Array.from(values, (v, i) => [one(i), v]));

function ruleReport(r: RuleResult): RuleReport {
  return {
    winners: r.winners.map((w) => w + 1),
    ...(r.scores ? { scores: byNumber(r.scores) } : {}),
    ...(r.ranking ? { ranking: r.ranking.map((t) => t.map((w) => w + 1)) } : {}),
    ...(r.warnings?.length ? { warnings: r.warnings } : {}),
  };
}

function marginReport(mm: MarginMatrix): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (let i = 0; i < mm.m; i++) {
    out[one(i)] = {};
    for (let j = 0; j < mm.m; j++) if (i !== j) out[one(i)]![one(j)] = mm.margin[i * mm.m + j]!;
  }
  return out;
}

function axiomsReport(checks: readonly AxiomCheck[]): ProfileReport["axioms"] {
  const out: Record<string, Record<string, { applicable: boolean; violated: boolean; detail: string }>> = {};
  for (const c of checks) (out[c.axiom] ??= {})[c.rule] = { applicable: c.applicable, violated: c.violated, detail: c.detail };
  return out;
}

/** Rules that apply to pairwise comparisons: those that read only the margins. */
const MARGIN_RULES = RULES.filter((r) => r.kind === "margins").map((r) => r.id);

/**
 * What a refusal says a user can do, in `civitas aggregate`'s flags: the rules' own hints name
 * their library options (plurality's topTies, IRV's overvotes).
 */
const REFUSAL_HINTS: Partial<Record<RuleId, string>> = {
  plurality: "to count such ballots, pass --top-ties ignore, split or approval",
  irv: "to count such ballots up to their first tie, pass --overvotes truncate",
};

function refusal(id: RuleId, e: CivitasError): string {
  const hint = e.hint === undefined ? undefined : (REFUSAL_HINTS[id] ?? e.hint);
  return hint === undefined ? e.message : `${e.message} (${hint})`;
}

function aggregateProfile(profile: Profile, o: AggregateOptions, where: string, allowed?: readonly RuleId[]): ProfileReport {
  const ids = o.rules ?? allowed ?? RULES.map((r) => r.id);
  for (const id of ids) getRule(id);
  if (ids.length === 0) throw new CivitasError("usage", "no voting rules to run: the list of rules is empty", { hint: `name rules, comma separated, or all: ${RULES.map((r) => r.id).join(", ")}` });
  // No voters: every rule would return every alternative, a result of nothing.
  if (!(totalVoters(profile) > 0)) {
    throw new CivitasError("input", `${where}: no voters (${profile.size === 0 ? "no ballots" : profile.size === 1 ? "the count of its one ballot is 0" : `the counts of all ${profile.size} ballots are 0`}); there is nothing to aggregate`);
  }
  const usable = allowed ? ids.filter((id) => allowed.includes(id as RuleId)) : ids;
  const margin = { extendTruncated: o.extendTruncated ?? false };
  // The margins once, for the rules and the report (a pass over every ballot).
  const margins = marginMatrix(profile, margin);
  const ruleOptions = { ...margin, margins, rules: usable, ...(o.topTies ? { topTies: o.topTies } : {}), ...(o.overvotes ? { overvotes: o.overvotes } : {}) };
  const audit = o.axioms ? auditRules(profile, ruleOptions) : { runs: runRules(profile, ruleOptions), checks: [] };
  const rules: Record<string, RuleReport> = {};
  for (const run of audit.runs) rules[run.rule.id] = "error" in run ? { winners: [], error: refusal(run.rule.id, run.error) } : ruleReport(run.result);
  for (const id of ids) if (!usable.includes(id)) rules[id] = { winners: [], error: "needs full rankings; pairwise comparisons give only margins" };
  return {
    alternatives: Object.fromEntries(profile.alternatives.map((a, i) => [one(i), a])),
    voters: totalVoters(profile),
    ballots: profile.size,
    margin: marginReport(margins),
    rules,
    ...(o.axioms ? { axioms: axiomsReport(audit.checks) } : {}),
  };
}

function welfareRule(o: AggregateOptions) {
  const rule = getRule(o.welfareRule ?? "copeland");
  const extend = o.extendTruncated ?? false;
  return {
    id: rule.id,
    run: (p: Profile): RuleResult => (rule.kind === "ballots" ? runBallotRule(rule, p, o) : rule.run(marginMatrix(p, { extendTruncated: extend }))),
  };
}

function groupsReport(pooled: Profile, groups: Map<string, Profile>, o: AggregateOptions): GroupsReport {
  const rule = welfareRule(o);
  const w: WelfareReport = groupWelfare(
    pooled,
    [...groups].map(([name, profile]) => ({ name, profile })),
    rule.run,
    { extendTruncated: o.extendTruncated ?? true },
  );
  const names = w.groups.map((g) => g.name);
  return {
    rule: rule.id,
    groups: w.groups.map((g) => ({ name: g.name, voters: g.voters, winners: g.outcome.winners.map((x) => x + 1), same_winners: g.sameWinners, agreement: g.agreement.tau })),
    utilitarian: w.utilitarian.winners.map((x) => x + 1),
    egalitarian: w.egalitarian.winners.map((x) => x + 1),
    outcomes: w.outcomes.map((x) => ({
      label: x.label,
      winners: x.winners.map((i) => i + 1),
      welfare: Object.fromEntries(names.map((n, k) => [n, x.welfare[k]!])),
      mean: x.mean,
      min: x.min,
    })),
  };
}

function maxMinReport(data: ComparisonData, r: MaxMinResult): MaxMinReport {
  return {
    k: r.k,
    selection: r.selection?.map((s) => ({ k: s.k, held_out_log_likelihood: s.heldOutLogLikelihood, standard_error: s.standardError })) ?? null,
    clusters: r.clusters.map((c) => ({ size: c.size, members: c.members })),
    choices: r.choices.map((c) => ({
      ...(data.problems[c.problem]!.prompt != null ? { prompt: data.problems[c.problem]!.prompt! } : {}),
      maxmin: c.maxmin.winners.map((x) => x + 1),
      utilitarian: c.utilitarian.winners.map((x) => x + 1),
    })),
  };
}

function polisReport(r: PolisGroupsResult): PolisReport {
  return {
    participants: r.participants.filter((p) => p.group !== null && p.group >= 0).length,
    comments: r.comments.length,
    k: r.k,
    silhouette: r.silhouette,
    groups: r.groups.map((g) => ({ id: g.id, size: g.size })),
    ari: r.ari,
    consensus: r.consensus.slice(0, 10).map((c) => ({ comment: c.comment, text: c.text, score: c.score })),
    agreed_by_all: r.agreedByAll.map((c) => ({ comment: c.comment, text: c.text })),
    divisive: r.divisive.slice(0, 10).map((c) => ({ comment: c.comment, text: c.text, spread: c.spread })),
    points: r.participants.flatMap((p) => (p.group !== null && p.group >= 0 ? [{ participant: p.id, x: p.x, y: p.y, group: p.group }] : [])),
  };
}

export async function aggregateFile(file: string, o: AggregateOptions = {}): Promise<AggregateReport> {
  const input = await detectInput(file);
  if (input === "preflib") {
    const r = await readPrefLibWithWarnings(file);
    const title = r.profile.metadata["TITLE"];
    return { file, input, ...(title ? { title } : {}), profiles: [aggregateProfile(r.profile, o, file)], warnings: [...r.warnings] };
  }
  if (input === "ratings") {
    const r = await readRatings(file, o.groups ? { groups: o.groups } : {});
    const report = aggregateProfile(r.profile, o, file);
    const groups = r.groups && r.groups.size > 0 ? groupsReport(r.profile, r.groups, o) : undefined;
    return { file, input, profiles: [{ ...report, ...(groups ? { groups } : {}) }], warnings: [...r.warnings] };
  }
  if (input === "comparisons") {
    const data = await readComparisons(file);
    const profiles = data.problems.map((problem) => {
      const profile = comparisonProfile(problem);
      const report = aggregateProfile(profile, { ...o, extendTruncated: false }, `${file}${problem.prompt != null ? ` (prompt ${JSON.stringify(problem.prompt)})` : ""}`, MARGIN_RULES);
      const groupNames = [...problem.groups.keys()];
      const g = groupNames.length > 0 ? groupsReport(profile, new Map(groupNames.map((n) => [n, comparisonProfile(problem, n)])), { ...o, extendTruncated: false }) : undefined;
      // Voters are the people who compared, not their comparisons (each comparison is one ballot of the profile).
      const annotators = (group?: string) => new Set(problem.comparisons.filter((c) => group === undefined || c.group === group).map((c) => c.annotator)).size;
      const groups = g ? { ...g, groups: g.groups.map((x) => ({ ...x, voters: annotators(x.name) })) } : undefined;
      return {
        ...report,
        voters: annotators(),
        comparisons: problem.comparisons.length,
        ...(problem.prompt != null ? { prompt: problem.prompt } : {}),
        ...(groups ? { groups } : {}),
      };
    });
    const clusters = o.clusters !== undefined ? maxMinReport(data, maxMinRlhf(data, { seed: o.seed ?? 0, ...(o.clusters === "auto" ? {} : { k: o.clusters }) })) : undefined;
    return { file, input, profiles, ...(clusters ? { clusters } : {}), warnings: [...data.warnings] };
  }
  const data = await readPolis(file);
  const groups = polisGroups(data, { seed: o.seed ?? 0 });
  return { file, input, profiles: [], polis: polisReport(groups), warnings: [...data.warnings, ...groups.warnings] };
}

/**
 * DPO-style preference pairs from the aggregated outcome: per profile, the ranking by the chosen
 * rule (its ranking, else its scores), every pair ranked strictly apart. Weight: "uniform",
 * "support" (the share of voters comparing the pair who prefer the chosen one) or "bradley-terry"
 * (the fitted win probability).
 */
export async function preferencePairs(file: string, o: AggregateOptions & { readonly weight?: "uniform" | "support" | "bradley-terry" }): Promise<PreferencePair[]> {
  const input = await detectInput(file);
  const profiles: { profile: Profile; prompt?: string }[] = [];
  if (input === "preflib") profiles.push({ profile: (await readPrefLibWithWarnings(file)).profile });
  else if (input === "ratings") profiles.push({ profile: (await readRatings(file, o.groups ? { groups: o.groups } : {})).profile });
  else if (input === "comparisons") {
    for (const p of (await readComparisons(file)).problems) profiles.push({ profile: comparisonProfile(p), ...(p.prompt != null ? { prompt: p.prompt } : {}) });
  } else throw new CivitasError("usage", "a Polis conversation has no ranking of alternatives to export as preference pairs");
  const rule = welfareRule(o);
  return profiles.flatMap(({ profile, prompt }) => {
    const r = rule.run(profile);
    const ranking = r.ranking ?? (r.scores ? tiersOf(r.scores) : [r.winners]);
    const mm = marginMatrix(profile, { extendTruncated: o.extendTruncated ?? false });
    const weight: PairWeight =
      o.weight === "support" ? { kind: "support", support: mm } : o.weight === "bradley-terry" ? { kind: "bradley-terry", strengths: bradleyTerry(mm, mm.m).strengths } : { kind: "uniform" };
    return toPreferencePairs(profile.alternatives, ranking, { weight, ...(prompt !== undefined ? { prompt } : {}) });
  });
}

function tiersOf(scores: readonly number[]): number[][] {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const tiers: number[][] = [];
  for (const i of order) {
    const last = tiers[tiers.length - 1];
    if (last && Math.abs(scores[last[0]!]! - scores[i]!) <= 1e-12) last.push(i);
    else tiers.push([i]);
  }
  return tiers;
}
