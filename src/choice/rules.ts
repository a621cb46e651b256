/**
 * Voting rules: the registry of every rule (`RULES`, `runRules`), and the conventions they all
 * follow. The rules are in their own files: ballot-rules.ts (plurality, Borda, instant runoff),
 * condorcet.ts, pairwise-scores.ts (Copeland, Llull, Minimax), beat-path.ts (Schulze, Split Cycle),
 * ranked-pairs.ts, kemeny.ts; what a rule returns in rule-result.ts, margins as rules read them in
 * margins.ts.
 *
 * Every rule returns its winners as a set (0-based alternative indices, ascending;
 * ties are kept, never broken silently) and, where the rule has a natural one, a score per
 * alternative (higher is better) or a social ranking.
 *
 * Semantics follow pref_voting (Holliday & Pacuit, github.com/voting-tools/pref_voting), the de
 * facto reference, so results can be compared; each function names the pref_voting function it
 * follows and says where civitas differs. Two kinds of input:
 *
 * - ballot rules (plurality, borda, instantRunoff) read the Profile;
 * - margin rules read a MarginMatrix (`marginMatrix(profile, { extendTruncated })` in profile.ts).
 *   With truncated ballots the margins depend on that option: by default an unranked alternative is
 *   incomparable with everything (pref_voting's ProfileWithTies default, `strict_pref`), with
 *   `extendTruncated` it is ranked below every ranked one (`use_extended_strict_preference`).
 *
 * Margins are differences of sums of voter weights. With fractional weights two sums that should be
 * equal can differ in the last bits, so margin rules treat |margin| <= 1e-12 x the largest support
 * as 0 (a tie), and score rules treat scores within 1e-12 x the largest |score| as equal. Integer
 * counts are exact either way.
 */
import { CivitasError } from "../errors.js";
import { borda, instantRunoff, plurality, type Overvotes, type TopTies } from "./ballot-rules.js";
import { schulze, splitCycle } from "./beat-path.js";
import { bradleyTerry } from "./bradley-terry.js";
import { condorcetWinner, schwartzSet, smithSet, weakCondorcetWinners } from "./condorcet.js";
import { kemenyYoung } from "./kemeny.js";
import { copeland, llull, minimax } from "./pairwise-scores.js";
import { marginMatrix, type MarginMatrix, type MarginOptions, type Profile } from "./profile.js";
import { rankedPairs } from "./ranked-pairs.js";
import type { RuleResult } from "./rule-result.js";

export type RuleId =
  | "plurality"
  | "borda"
  | "copeland"
  | "llull"
  | "minimax"
  | "schulze"
  | "ranked-pairs"
  | "irv"
  | "kemeny-young"
  | "condorcet"
  | "weak-condorcet"
  | "smith"
  | "schwartz"
  | "split-cycle"
  | "bradley-terry";

/**
 * What a rule's output is, for axioms that look at more than the winners (pairwise majority
 * consistency): "winners" (a winner set), "scores" (the ranking the scores induce is the rule's
 * output), "ranking" (the rule outputs a ranking).
 */
export type RuleOutput = "winners" | "scores" | "ranking";

interface RuleBase {
  readonly id: RuleId;
  readonly name: string;
  readonly output: RuleOutput;
}
export interface BallotRule extends RuleBase {
  readonly kind: "ballots";
  run(profile: Profile): RuleResult;
}
export interface MarginRule extends RuleBase {
  readonly kind: "margins";
  run(margins: MarginMatrix): RuleResult;
}
export type Rule = BallotRule | MarginRule;

function fromBradleyTerry(mm: MarginMatrix): RuleResult {
  const r = bradleyTerry(mm, mm.m);
  return { winners: r.winners, scores: r.scores, ranking: r.ranking, warnings: r.warnings };
}

/** Every rule, by id. Ballot rules run with their default options (plurality and IRV refuse ballots with ties). */
export const RULES: readonly Rule[] = [
  { id: "plurality", name: "Plurality", kind: "ballots", output: "scores", run: (p) => plurality(p) },
  { id: "borda", name: "Borda", kind: "ballots", output: "scores", run: borda },
  { id: "copeland", name: "Copeland", kind: "margins", output: "scores", run: copeland },
  { id: "llull", name: "Llull", kind: "margins", output: "scores", run: llull },
  { id: "minimax", name: "Minimax", kind: "margins", output: "winners", run: minimax },
  { id: "schulze", name: "Schulze (Beat Path)", kind: "margins", output: "winners", run: schulze },
  { id: "ranked-pairs", name: "Ranked Pairs", kind: "margins", output: "winners", run: (mm) => rankedPairs(mm) },
  { id: "irv", name: "Instant Runoff", kind: "ballots", output: "winners", run: (p) => instantRunoff(p) },
  { id: "kemeny-young", name: "Kemeny-Young", kind: "margins", output: "ranking", run: kemenyYoung },
  { id: "condorcet", name: "Condorcet winner", kind: "margins", output: "winners", run: condorcetWinner },
  { id: "weak-condorcet", name: "Weak Condorcet winners", kind: "margins", output: "winners", run: weakCondorcetWinners },
  { id: "smith", name: "Smith set", kind: "margins", output: "winners", run: smithSet },
  { id: "schwartz", name: "Schwartz set", kind: "margins", output: "winners", run: schwartzSet },
  { id: "split-cycle", name: "Split Cycle", kind: "margins", output: "winners", run: splitCycle },
  { id: "bradley-terry", name: "Bradley-Terry", kind: "margins", output: "scores", run: fromBradleyTerry },
];

/** The rule with this id; a usage error listing the ids otherwise. */
export function getRule(id: string): Rule {
  const r = RULES.find((x) => x.id === id);
  if (r === undefined) throw new CivitasError("usage", `unknown voting rule "${id}"`, { hint: `one of: ${RULES.map((x) => x.id).join(", ")}` });
  return r;
}

/** Runs one rule on a profile; margin rules get `marginMatrix(profile, options)`. */
export function runRule(rule: Rule | RuleId, profile: Profile, options: MarginOptions = {}): RuleResult {
  const r = typeof rule === "string" ? getRule(rule) : rule;
  return r.kind === "ballots" ? r.run(profile) : r.run(marginMatrix(profile, options));
}

/** One rule's outcome in `runRules`: its result, or the CivitasError it refused with. */
export type RuleRun = { readonly rule: Rule; readonly result: RuleResult } | { readonly rule: Rule; readonly error: CivitasError };

export interface RunRulesOptions extends MarginOptions {
  /** Rule ids to run (default: all of RULES). */
  readonly rules?: readonly string[];
  /** Plurality: how ballots with several alternatives tied first count (default "error"). */
  readonly topTies?: TopTies;
  /** Instant runoff: how ballots with ties count (default "error": refused when a round reaches one). */
  readonly overvotes?: Overvotes;
  /** `marginMatrix(profile, options)`, when the caller has it already (it is not computed again). */
  readonly margins?: MarginMatrix;
}

/** A ballot rule run with the options given (plurality's topTies, IRV's overvotes). */
export function runBallotRule(rule: BallotRule, profile: Profile, options: { readonly topTies?: TopTies; readonly overvotes?: Overvotes } = {}): RuleResult {
  if (rule.id === "plurality" && options.topTies !== undefined) return plurality(profile, { topTies: options.topTies });
  if (rule.id === "irv" && options.overvotes !== undefined) return instantRunoff(profile, { overvotes: options.overvotes });
  return rule.run(profile);
}

/**
 * Runs several rules on one profile, computing the margins once. A rule that refuses the input
 * (plurality or IRV on ballots with ties, Kemeny-Young above its size limit...) is reported with
 * its CivitasError instead of stopping the others; any other error propagates.
 */
export function runRules(profile: Profile, options: RunRulesOptions = {}): RuleRun[] {
  const rules = options.rules === undefined ? RULES : options.rules.map(getRule);
  let mm: MarginMatrix | undefined = options.margins;
  // Borda needs the margins with unranked alternatives last: the same matrix when nothing is unranked or when extending anyway.
  const complete = options.extendTruncated === true || !profile.ranks.includes(-1);
  return rules.map((rule): RuleRun => {
    try {
      if (rule.id === "borda" && complete) {
        mm ??= marginMatrix(profile, options);
        return { rule, result: borda(profile, mm) };
      }
      if (rule.kind === "ballots") return { rule, result: runBallotRule(rule, profile, options) };
      mm ??= marginMatrix(profile, options);
      return { rule, result: rule.run(mm) };
    } catch (e) {
      if (e instanceof CivitasError) return { rule, error: e };
      throw e;
    }
  });
}
