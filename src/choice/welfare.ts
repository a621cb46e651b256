/**
 * Per-group outcomes and welfare: given a pooled profile, one profile per group over the same
 * alternatives, and a voting rule, what each group would choose alone, how far each group's
 * ranking is from the pooled one, and how well each possible outcome serves each group.
 *
 * Utility (a choice): a group's normalised Borda utility of alternative a is the mean over its
 * voters (weighted by their counts) of (m - 1 - rank(a)) / (m - 1), 1 for a voter's top and 0 for
 * their bottom. Ties and truncation are handled exactly as the margin-sum ("symmetric") Borda of
 * pref_voting and of `borda` in rules.ts: computed from the group's margin matrix as
 *
 *   u_g(a) = 1/2 + sum_{b != a} margin_g(a, b) / (2 (m - 1) W_g),   W_g = the group's total weight,
 *
 * which equals the mean above for strict complete ballots, and is an affine function of the Borda
 * score. Tied alternatives share the point between them (average ranks). Unranked alternatives
 * are ranked below every ranked one, tied with each other (pref_voting's `extended_strict_pref`,
 * the margin matrix's `extendTruncated`), by default; `extendTruncated: false` leaves them
 * incomparable instead (each such pair counts half), which is what profiles made of pairwise
 * comparisons need (comparisons.ts, `comparisonProfile`). With m = 1 the utility is 1.
 *
 * Agreement (a choice): Kendall's tau-b (Kendall 1945; ties in either vector handled) between the
 * group's and the pooled scores under the rule when the rule returns scores for both (higher is
 * better, as the rules in rules.ts report them), else between their margin-sum Borda utilities;
 * null when either vector is constant. The welfare of an outcome with several winners is the mean
 * utility over them (a uniform tie-break lottery). Utilitarian choice: argmax of the
 * voter-weighted mean of the groups' utilities; egalitarian choice: argmax of the minimum over
 * groups (Rawls). Ties are kept as sets.
 */
import { CivitasError } from "../errors.js";
import { kendallTauB as tauB } from "../metrics/index.js";
import { argMaxSet } from "./bradley-terry.js";
import { marginMatrix, totalVoters, type MarginOptions, type Profile } from "./profile.js";

/** What a voting rule returns: a winner set (0-based) and, for scoring rules, a score per alternative (higher is better). */
export interface RuleOutcome {
  readonly winners: readonly number[];
  readonly scores?: readonly number[];
}

export type Rule = (p: Profile) => RuleOutcome;

export interface WelfareGroup {
  readonly name: string;
  readonly profile: Profile;
}

export interface WelfareOptions {
  /** Rank unranked alternatives last, tied (default true, as Borda in rules.ts); false: incomparable. */
  readonly extendTruncated?: boolean;
  /** Welfare values closer than this to the best are tied. Default 1e-12. */
  readonly tieTolerance?: number;
}

export interface GroupReport {
  readonly name: string;
  /** Total weight of the group's voters. */
  readonly voters: number;
  /** The rule applied to the group alone. */
  readonly outcome: RuleOutcome;
  /** Whether the group alone elects the same winner set as the pooled profile. */
  readonly sameWinners: boolean;
  /** Kendall's tau-b with the pooled ranking (null when undefined: a constant vector). */
  readonly agreement: { readonly tau: number | null; readonly basis: "scores" | "borda" };
  /** The group's normalised Borda utility of each alternative, in [0, 1]. */
  readonly utilities: number[];
}

export interface OutcomeWelfare {
  /** "pooled", a group's name, "utilitarian" or "egalitarian". */
  readonly label: string;
  readonly winners: number[];
  /** Each group's welfare (mean utility over the winners), in group order. */
  readonly welfare: number[];
  /** Voter-weighted mean over groups. */
  readonly mean: number;
  /** Minimum over groups. */
  readonly min: number;
}

export interface WelfareReport {
  readonly alternatives: readonly string[];
  readonly pooled: { readonly outcome: RuleOutcome; readonly utilities: number[]; readonly voters: number };
  readonly groups: GroupReport[];
  /** argmax of the voter-weighted mean utility; `values` per alternative. */
  readonly utilitarian: { readonly winners: number[]; readonly values: number[] };
  /** argmax of the minimum utility over groups; `values` per alternative. */
  readonly egalitarian: { readonly winners: number[]; readonly values: number[] };
  /** The welfare of each candidate outcome: pooled, each group's own, utilitarian, egalitarian. */
  readonly outcomes: OutcomeWelfare[];
}

/** Normalised margin-sum Borda utilities of a profile's alternatives (see the module comment; extendTruncated defaults to true). */
export function bordaUtilities(p: Profile, options: MarginOptions = {}): number[] {
  const m = p.alternatives.length;
  if (m === 1) return [1];
  const w = totalVoters(p);
  if (!(w > 0)) throw new CivitasError("usage", "Borda utilities: the profile has no voters (total weight 0)");
  const { margin } = marginMatrix(p, { extendTruncated: options.extendTruncated ?? true });
  const u: number[] = [];
  for (let a = 0; a < m; a++) {
    let s = 0;
    for (let b = 0; b < m; b++) if (b !== a) s += margin[a * m + b]!;
    u.push(0.5 + s / (2 * (m - 1) * w));
  }
  return u;
}

/** Kendall's tau-b between two score vectors (ties allowed, as scipy); null when either is constant. */
export function kendallTauB(x: readonly number[], y: readonly number[]): number | null {
  if (x.length !== y.length) throw new CivitasError("usage", `Kendall's tau: vectors of lengths ${x.length} and ${y.length}`);
  const t = tauB(x, y);
  return Number.isNaN(t) ? null : t;
}

function checkOutcome(o: RuleOutcome, m: number, who: string): RuleOutcome {
  if (o.winners.length === 0) throw new CivitasError("usage", `the rule elected nobody for ${who}`);
  for (const w of o.winners) {
    if (!Number.isInteger(w) || w < 0 || w >= m) throw new CivitasError("usage", `the rule returned winner ${w} for ${who}: not one of the ${m} alternatives (0-based)`);
  }
  if (o.scores !== undefined && o.scores.length !== m) throw new CivitasError("usage", `the rule returned ${o.scores.length} scores for ${who}, not ${m}`);
  return o;
}

const meanOver = (u: readonly number[], winners: readonly number[]) => winners.reduce((s, w) => s + u[w]!, 0) / winners.length;

/**
 * Each group's outcome under `rule`, its agreement with the pooled outcome, its welfare under
 * every candidate outcome, and the utilitarian and egalitarian choices (see the module comment).
 */
export function groupWelfare(pooled: Profile, groups: readonly WelfareGroup[], rule: Rule, options: WelfareOptions = {}): WelfareReport {
  const m = pooled.alternatives.length;
  const tolerance = options.tieTolerance ?? 1e-12;
  const margins: MarginOptions = { extendTruncated: options.extendTruncated ?? true };
  if (m === 0) throw new CivitasError("usage", "welfare: the profile has no alternatives");
  if (groups.length === 0) throw new CivitasError("usage", "welfare: no groups");
  const names = new Set<string>();
  for (const g of groups) {
    if (names.has(g.name)) throw new CivitasError("usage", `welfare: two groups are named "${g.name}"`);
    names.add(g.name);
    const alts = g.profile.alternatives;
    if (alts.length !== m || alts.some((a, i) => a !== pooled.alternatives[i])) {
      throw new CivitasError("usage", `welfare: group "${g.name}" has alternatives ${JSON.stringify(alts)}, the pooled profile ${JSON.stringify(pooled.alternatives)}`, {
        hint: "every group's profile must list the same alternatives in the same order",
      });
    }
    if (!(totalVoters(g.profile) > 0)) throw new CivitasError("usage", `welfare: group "${g.name}" has no voters`);
  }
  const pooledOutcome = checkOutcome(rule(pooled), m, "the pooled profile");
  const pooledUtilities = bordaUtilities(pooled, margins);
  const reports: GroupReport[] = groups.map((g) => {
    const outcome = checkOutcome(rule(g.profile), m, `group "${g.name}"`);
    const utilities = bordaUtilities(g.profile, margins);
    const byScores = outcome.scores !== undefined && pooledOutcome.scores !== undefined;
    const tau = byScores ? kendallTauB([...outcome.scores!], [...pooledOutcome.scores!]) : kendallTauB(utilities, pooledUtilities);
    const same = new Set(outcome.winners);
    return {
      name: g.name,
      voters: totalVoters(g.profile),
      outcome,
      sameWinners: same.size === new Set(pooledOutcome.winners).size && pooledOutcome.winners.every((w) => same.has(w)),
      agreement: { tau, basis: byScores ? "scores" : "borda" },
      utilities,
    };
  });
  const total = reports.reduce((s, r) => s + r.voters, 0);
  const mean: number[] = [];
  const min: number[] = [];
  for (let a = 0; a < m; a++) {
    mean.push(reports.reduce((s, r) => s + r.voters * r.utilities[a]!, 0) / total);
    min.push(Math.min(...reports.map((r) => r.utilities[a]!)));
  }
  const utilitarian = { winners: argMaxSet(mean, tolerance), values: mean };
  const egalitarian = { winners: argMaxSet(min, tolerance), values: min };
  const outcome = (label: string, winners: readonly number[]): OutcomeWelfare => {
    const welfare = reports.map((r) => meanOver(r.utilities, winners));
    return {
      label,
      winners: [...winners],
      welfare,
      mean: welfare.reduce((s, w, g) => s + reports[g]!.voters * w, 0) / total,
      min: Math.min(...welfare),
    };
  };
  return {
    alternatives: pooled.alternatives,
    pooled: { outcome: pooledOutcome, utilities: pooledUtilities, voters: totalVoters(pooled) },
    groups: reports,
    utilitarian,
    egalitarian,
    outcomes: [
      outcome("pooled", pooledOutcome.winners),
      ...reports.map((r) => outcome(r.name, r.outcome.winners)),
      outcome("utilitarian", utilitarian.winners),
      outcome("egalitarian", egalitarian.winners),
    ],
  };
}
