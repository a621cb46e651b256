/**
 * Axioms of social choice checked on one profile against the outcomes of voting rules: does this
 * rule, on these ballots, do what the axiom demands? Each check says whether the axiom applies
 * here (its premise holds: there is a Condorcet winner, a Condorcet loser, a Pareto-dominated
 * alternative, a complete majority ranking) and whether the rule violated it, with a sentence
 * naming the alternatives.
 *
 * Definitions (pref_voting's `dominance_axioms` where it has the axiom):
 *
 * - condorcet-winner: when a Condorcet winner exists (it beats every other alternative by a positive
 *   margin), the rule must elect it ALONE: winners = [cw]. Sharing the win with others is a
 *   violation (pref_voting `condorcet_winner`: "cw is not None and ws != [cw]").
 * - condorcet-loser: the Condorcet loser (beaten by every other alternative by a positive margin;
 *   needs at least two alternatives) must not be among the winners (pref_voting `condorcet_loser`).
 * - pareto: no winner may be Pareto-dominated: c dominates w when EVERY voter strictly prefers c to
 *   w, i.e. support(c, w) = the total weight of voters (pref_voting `pareto_dominance`, weak
 *   Pareto). Truncated ballots: "prefers" is read with the same margin semantics the rules used.
 *   By default (extendTruncated false, pref_voting's `strict_pref`) a voter prefers c to w only if
 *   she ranks both, c higher, so a voter who leaves either unranked blocks the domination; with
 *   extendTruncated a ranked alternative is preferred to an unranked one (pref_voting's `pareto`
 *   voting method, `use_extended_strict_preferences=True`), and a voter who ranks neither still
 *   blocks it. (The looser "every voter who ranks both prefers c" is not used: it would let a
 *   handful of voters speak for everyone.)
 * - pairwise-majority-consistency (Ge, Halpern, Micha, Procaccia, Shah, Shi & Wang 2024, "Axioms for
 *   AI Alignment from Human Feedback", NeurIPS): when the strict majority relation is a complete
 *   ranking (every pair has a non-zero margin and the relation is transitive), a rule that outputs
 *   a ranking must output exactly that ranking. How a rule is judged depends on its output
 *   (`RuleOutput` in rules.ts): "ranking" rules (Kemeny-Young) by their ranking, "scores" rules
 *   (Borda, Copeland, Llull, plurality, Bradley-Terry) by the ranking their scores induce (tied
 *   scores are a violation: the majority ranking has no ties), "winners" rules by whether their
 *   winner set is exactly the top of the majority ranking.
 */
import { CivitasError } from "../errors.js";
import { marginMatrix, type MarginMatrix, type MarginOptions, type Profile } from "./profile.js";
import { condorcetLoser, condorcetWinner } from "./condorcet.js";
import { marginScale } from "./margins.js";
import { rankingByScores, type RuleResult } from "./rule-result.js";
import { runRules, type RuleOutput, type RuleRun, type RunRulesOptions } from "./rules.js";

export type AxiomId = "condorcet-winner" | "condorcet-loser" | "pareto" | "pairwise-majority-consistency";

export const AXIOMS: readonly AxiomId[] = ["condorcet-winner", "condorcet-loser", "pareto", "pairwise-majority-consistency"];

export interface AxiomCheck {
  readonly axiom: AxiomId;
  /** The rule's id (or whatever name the outcome was given). */
  readonly rule: string;
  /** Whether the axiom's premise holds on this profile; when false the rule cannot violate it here. */
  readonly applicable: boolean;
  readonly violated: boolean;
  /** One sentence naming the alternatives involved. */
  readonly detail: string;
}

/** A rule's outcome to check: its result, the rule's name, and how to read its output. */
export interface RuleOutcome extends RuleResult {
  readonly rule: string;
  /** Default: "ranking" when the outcome has a ranking, else "winners". */
  readonly output?: RuleOutput;
}

export interface AxiomOptions extends MarginOptions {
  /** Axioms to check (default: all of AXIOMS). */
  readonly axioms?: readonly AxiomId[];
}

/**
 * The strict majority ranking, best first, when the majority relation is a complete ranking: every
 * pair has a non-zero margin and there is no majority cycle (a tournament is transitive exactly
 * when its win counts are m-1, m-2, ..., 0). Null otherwise.
 */
export function majorityRanking(mm: MarginMatrix): number[] | null {
  const { m, margin } = mm;
  const tol = 1e-12 * marginScale(mm); // as the rules: rounding noise of fractional weights is a tie
  const wins = new Array<number>(m).fill(0);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      if (i === j) continue;
      const x = margin[i * m + j]!;
      if (Math.abs(x) <= tol) return null;
      if (x > 0) wins[i]!++;
    }
  }
  const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => wins[b]! - wins[a]!);
  for (let k = 0; k < m; k++) if (wins[order[k]!] !== m - 1 - k) return null;
  return order;
}

/** Pareto dominations [c, w]: every voter (of positive weight) strictly prefers c to w, under the margins' support. */
export function paretoDominations(profile: Profile, options: MarginOptions = {}): [number, number][] {
  return dominations(marginMatrix(profile, options), totalWeight(profile));
}

function totalWeight(p: Profile): number {
  let s = 0;
  for (const c of p.counts) s += c;
  return s;
}

function dominations(mm: MarginMatrix, total: number): [number, number][] {
  const { m, support } = mm;
  const out: [number, number][] = [];
  if (!(total > 0)) return out;
  const tol = 1e-12 * total;
  for (let c = 0; c < m; c++) for (let w = 0; w < m; w++) if (c !== w && support[c * m + w]! >= total - tol) out.push([c, w]);
  return out;
}

interface Context {
  readonly names: readonly string[];
  readonly mm: MarginMatrix;
  readonly cw: number | null;
  readonly cl: number | null;
  readonly dominated: readonly [number, number][];
  readonly majority: number[] | null;
  readonly why: string;
}

function context(profile: Profile, options: MarginOptions): Context {
  const mm = marginMatrix(profile, options);
  const cwSet = condorcetWinner(mm).winners;
  const majority = majorityRanking(mm);
  let why = "";
  if (majority === null) {
    const { m, margin } = mm;
    outer: for (let i = 0; i < m; i++) {
      for (let j = i + 1; j < m; j++) {
        if (margin[i * m + j] === 0) {
          why = `${profile.alternatives[i]} and ${profile.alternatives[j]} are tied by majority`;
          break outer;
        }
      }
    }
    if (why === "") why = "the majority relation has a cycle";
  }
  return { names: profile.alternatives, mm, cw: cwSet[0] ?? null, cl: condorcetLoser(mm), dominated: dominations(mm, totalWeight(profile)), majority, why };
}

const list = (names: readonly string[], xs: readonly number[]) => (xs.length === 0 ? "nobody" : xs.map((x) => names[x] ?? String(x)).join(", "));
const tiersText = (names: readonly string[], tiers: readonly (readonly number[])[]) => tiers.map((t) => (t.length === 1 ? names[t[0]!] : `{${list(names, t)}}`)).join(" > ");

function checkOutcome(o: RuleOutcome, m: number): void {
  for (const w of o.winners) {
    if (!(Number.isInteger(w) && w >= 0 && w < m)) throw new CivitasError("usage", `axioms: rule ${o.rule} has winner ${w}, not an alternative index 0..${m - 1}`);
  }
  if (o.scores !== undefined && o.scores.length !== m) throw new CivitasError("usage", `axioms: rule ${o.rule} has ${o.scores.length} scores for ${m} alternatives`);
}

function condorcetWinnerCheck(c: Context, o: RuleOutcome): AxiomCheck {
  const base = { axiom: "condorcet-winner" as const, rule: o.rule };
  if (c.cw === null) return { ...base, applicable: false, violated: false, detail: "there is no Condorcet winner" };
  const violated = !(o.winners.length === 1 && o.winners[0] === c.cw);
  const name = c.names[c.cw];
  return {
    ...base,
    applicable: true,
    violated,
    detail: violated ? `${name} is the Condorcet winner but ${o.rule} elects ${list(c.names, o.winners)}` : `${o.rule} elects the Condorcet winner ${name} alone`,
  };
}

function condorcetLoserCheck(c: Context, o: RuleOutcome): AxiomCheck {
  const base = { axiom: "condorcet-loser" as const, rule: o.rule };
  if (c.cl === null) return { ...base, applicable: false, violated: false, detail: "there is no Condorcet loser" };
  const violated = o.winners.includes(c.cl);
  const name = c.names[c.cl];
  return {
    ...base,
    applicable: true,
    violated,
    detail: violated ? `${o.rule} elects ${list(c.names, o.winners)}, including the Condorcet loser ${name}` : `${o.rule} does not elect the Condorcet loser ${name}`,
  };
}

function paretoCheck(c: Context, o: RuleOutcome): AxiomCheck {
  const base = { axiom: "pareto" as const, rule: o.rule };
  if (c.dominated.length === 0) return { ...base, applicable: false, violated: false, detail: "no alternative is Pareto-dominated" };
  const bad = c.dominated.filter(([, w]) => o.winners.includes(w));
  if (bad.length === 0) return { ...base, applicable: true, violated: false, detail: `${o.rule} elects no Pareto-dominated alternative` };
  const text = bad.map(([d, w]) => `every voter prefers ${c.names[d]} to ${c.names[w]}`).join("; ");
  return { ...base, applicable: true, violated: true, detail: `${o.rule} elects ${list(c.names, o.winners)}, but ${text}` };
}

function pmcCheck(c: Context, o: RuleOutcome): AxiomCheck {
  const base = { axiom: "pairwise-majority-consistency" as const, rule: o.rule };
  if (c.majority === null) return { ...base, applicable: false, violated: false, detail: `the majority relation is not a complete ranking (${c.why})` };
  const maj = c.majority.map((a) => [a]);
  const majText = tiersText(c.names, maj);
  const output = o.output ?? (o.ranking !== undefined ? "ranking" : "winners");
  let tiers: number[][] | undefined;
  let what = "";
  if (output === "ranking" && o.ranking !== undefined) {
    tiers = o.ranking;
    what = "ranks";
  } else if (output === "scores" && o.scores !== undefined) {
    tiers = rankingByScores(o.scores);
    what = "scores rank";
  }
  if (tiers !== undefined) {
    const same = tiers.length === maj.length && tiers.every((t, k) => t.length === 1 && t[0] === maj[k]![0]);
    return {
      ...base,
      applicable: true,
      violated: !same,
      detail: same ? `${o.rule} ${what} ${majText}, the majority ranking` : `the majority ranking is ${majText} but ${o.rule} ${what} ${tiersText(c.names, tiers)}`,
    };
  }
  const top = c.majority[0]!;
  const ok = o.winners.length === 1 && o.winners[0] === top;
  return {
    ...base,
    applicable: true,
    violated: !ok,
    detail: ok ? `${o.rule} elects ${c.names[top]}, the top of the majority ranking ${majText}` : `the majority ranking is ${majText} but ${o.rule} elects ${list(c.names, o.winners)}`,
  };
}

const CHECKS: Record<AxiomId, (c: Context, o: RuleOutcome) => AxiomCheck> = {
  "condorcet-winner": condorcetWinnerCheck,
  "condorcet-loser": condorcetLoserCheck,
  pareto: paretoCheck,
  "pairwise-majority-consistency": pmcCheck,
};

/**
 * Checks the outcomes of rules on `profile` against the axioms (all by default). The margins (and
 * Pareto's notion of preference) use `options.extendTruncated`, which should be what the rules
 * used. One AxiomCheck per outcome and axiom, in that order.
 */
export function checkAxioms(profile: Profile, outcomes: readonly RuleOutcome[], options: AxiomOptions = {}): AxiomCheck[] {
  const axioms = options.axioms ?? AXIOMS;
  for (const a of axioms) if (!(a in CHECKS)) throw new CivitasError("usage", `unknown axiom "${a}"`, { hint: `one of: ${AXIOMS.join(", ")}` });
  const m = profile.alternatives.length;
  for (const o of outcomes) checkOutcome(o, m);
  const c = context(profile, options);
  const out: AxiomCheck[] = [];
  for (const o of outcomes) for (const a of axioms) out.push(CHECKS[a](c, o));
  return out;
}

export interface AuditOptions extends AxiomOptions, RunRulesOptions {}

/**
 * Runs the rules (all of RULES by default) on a profile and checks the axioms on every outcome.
 * Rules that refused the profile are in `runs` with their error and get no checks.
 */
export function auditRules(profile: Profile, options: AuditOptions = {}): { runs: RuleRun[]; checks: AxiomCheck[] } {
  const runs = runRules(profile, options);
  const outcomes: RuleOutcome[] = [];
  for (const r of runs) if ("result" in r) outcomes.push({ ...r.result, rule: r.rule.id, output: r.rule.output });
  return { runs, checks: checkAxioms(profile, outcomes, options) };
}
