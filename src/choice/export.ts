/**
 * DPO-style preference pairs from an aggregated outcome: one JSONL line per pair of alternatives
 * the ranking puts strictly apart,
 *
 *   {"prompt": "<prompt>", "chosen": "<better>", "rejected": "<worse>", "weight": w}
 *
 * the format of TRL's DPOTrainer (prompt / chosen / rejected) plus a per-pair weight for weighted
 * DPO losses. Alternatives tied in the ranking, or unranked, make no pair. Pairs come in ranking
 * order: for each tier, its alternatives against every lower tier's (in the order the tiers list
 * them). Without a prompt, "prompt" is "".
 *
 * The weight (a choice, offered as an option):
 *   - "uniform" (default): 1 for every pair; the aggregate ranking alone decides.
 *   - "support": the share of the voters comparing the two who prefer the chosen one,
 *     s(c, r) / (s(c, r) + s(r, c)), from a support matrix (a profile's margin matrix or the
 *     comparisons'). A pair nobody compared, or that no voter orders as the ranking does, has
 *     weight 0 and is left out: the data give no support for it.
 *   - "bradley-terry": the fitted probability that the chosen beats the rejected,
 *     p_c / (p_c + p_r), from Bradley-Terry strengths.
 */
import { rename, rm, writeFile } from "node:fs/promises";
import { CivitasError, messageOf } from "../errors.js";
import type { BradleyTerryResult } from "./bradley-terry.js";
import type { MarginMatrix, Ranking } from "./profile.js";

export interface PreferencePair {
  readonly prompt: string;
  readonly chosen: string;
  readonly rejected: string;
  readonly weight: number;
}

export type PairWeight =
  | { readonly kind: "uniform" }
  | { readonly kind: "support"; readonly support: Float64Array | MarginMatrix }
  | { readonly kind: "bradley-terry"; readonly strengths: ArrayLike<number> };

export interface PreferencePairOptions {
  /** The prompt the alternatives answer; "" when absent. */
  readonly prompt?: string;
  /** Default { kind: "uniform" }. */
  readonly weight?: PairWeight;
}

function weigher(weight: PairWeight, m: number): (c: number, r: number) => number {
  switch (weight.kind) {
    case "uniform":
      return () => 1;
    case "support": {
      const s = weight.support instanceof Float64Array ? weight.support : weight.support.support;
      if (s.length !== m * m) throw new CivitasError("usage", `preference pairs: a support matrix for ${m} alternatives has ${m * m} entries, got ${s.length}`);
      return (c, r) => {
        const x = s[c * m + r]!;
        const n = x + s[r * m + c]!;
        return n > 0 ? x / n : 0;
      };
    }
    case "bradley-terry": {
      const p = weight.strengths;
      if (p.length !== m) throw new CivitasError("usage", `preference pairs: ${p.length} strengths for ${m} alternatives`);
      for (let i = 0; i < m; i++) if (!(p[i]! > 0 && Number.isFinite(p[i]!))) throw new CivitasError("usage", `preference pairs: strength ${i} is ${p[i]}, must be > 0`);
      return (c, r) => p[c]! / (p[c]! + p[r]!);
    }
  }
}

/**
 * The preference pairs a ranking (tiers of 0-based indices into `alternatives`, best first)
 * implies; see the module comment for order and weights.
 */
export function toPreferencePairs(alternatives: readonly string[], ranking: Ranking, options: PreferencePairOptions = {}): PreferencePair[] {
  const m = alternatives.length;
  const seenText = new Map<string, number>();
  alternatives.forEach((t, i) => {
    const j = seenText.get(t);
    if (j !== undefined) throw new CivitasError("usage", `preference pairs: alternatives ${j} and ${i} have the same text`, { hint: "a pair needs two different responses" });
    seenText.set(t, i);
  });
  const seen = new Set<number>();
  for (const tier of ranking) {
    for (const a of tier) {
      if (!Number.isInteger(a) || a < 0 || a >= m) throw new CivitasError("usage", `preference pairs: the ranking names alternative ${a}, not one of the ${m} (0-based)`);
      if (seen.has(a)) throw new CivitasError("usage", `preference pairs: the ranking names alternative ${a} twice`);
      seen.add(a);
    }
  }
  const weightOf = weigher(options.weight ?? { kind: "uniform" }, m);
  const prompt = options.prompt ?? "";
  const pairs: PreferencePair[] = [];
  ranking.forEach((tier, t) => {
    for (const c of tier) {
      for (let u = t + 1; u < ranking.length; u++) {
        for (const r of ranking[u]!) {
          const weight = weightOf(c, r);
          if (weight > 0) pairs.push({ prompt, chosen: alternatives[c]!, rejected: alternatives[r]!, weight });
        }
      }
    }
  });
  return pairs;
}

/** Pairs from a Bradley-Terry fit: its ranking, weighted by its win probabilities. */
export function preferencePairsFromBradleyTerry(alternatives: readonly string[], fit: BradleyTerryResult, prompt?: string): PreferencePair[] {
  return toPreferencePairs(alternatives, fit.ranking, { ...(prompt === undefined ? {} : { prompt }), weight: { kind: "bradley-terry", strengths: fit.strengths } });
}

/** The JSONL text of pairs, one object a line (keys prompt, chosen, rejected, weight). */
export function formatPreferencePairs(pairs: readonly PreferencePair[]): string {
  return pairs.map((p) => JSON.stringify({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected, weight: p.weight }) + "\n").join("");
}

/**
 * Writes pairs as JSONL to `file` (replacing it; written to a temporary file first and renamed, so
 * an interrupted write never leaves half a file). Returns the number of lines.
 */
export async function writePreferencePairs(file: string, pairs: readonly PreferencePair[]): Promise<number> {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, formatPreferencePairs(pairs), "utf8");
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new CivitasError("usage", `cannot write ${file}: ${messageOf(e)}`, { hint: "check that the folder exists and is writable" });
  }
  return pairs.length;
}
