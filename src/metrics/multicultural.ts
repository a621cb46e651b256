/**
 * "Multilingual != Multicultural" (Rystrøm et al. 2025): does a model's alignment with a country
 * follow the language it is asked in? Computed as the paper's code computes it
 * (jhrystrom/multicultural-alignment @ f550348):
 *
 * - alignment of the answers in one language with one group (a country, a language's pooled
 *   respondents, or everyone): Spearman's rank correlation over questions between the model's pro
 *   share and the group's (`analyze_total_gt_alignment` with `--metrics spearman`,
 *   scripts/analyse_hypotheses.py lines 248-267, grouped by model, gt_group and response_language;
 *   `pl.corr(..., method="spearman")` lines 124-126; the file the paper's figures read is
 *   `spearman_n100_extreme_total_gt_alignment.csv`, scripts/plot_language_analyses.py line 26), and
 *   beside it the paper's `mean_alignment`, 1 - mean |model - group| (line 46-47), which on binary
 *   distributions is 1 - the mean total variation;
 * - the US bias of a language L: alignment with the US minus alignment with L's own countries,
 *   when asked in L (scripts/plot_us_centric_bias.py lines 19-44 and 62-65: rows of the country
 *   ground truth whose country speaks the response language ("native") or is the US, and the OLS
 *   `metric_value ~ us*model_name:language`, whose `us` effect within a model and language is
 *   this difference of mean alignments in a saturated design). For English the native countries
 *   are the other English-speaking ones;
 * - native minus English for a country whose language is not English: its alignment when asked in
 *   its language minus when asked in English (`plot_monocultural_by_family`, analyse_hypotheses.py
 *   lines 546-556, "Difference (Native - English)"), on the questions asked in both.
 *
 * Intervals: percentile bootstrap over questions (the paper resamples rows with replacement, 100
 * rounds, `polars_sample_and_calculate` line 129), with the run's seed and resamples.
 */
import { bootstrapStatistic } from "./bootstrap.js";
import { pearson } from "./correlation.js";

/** Average ranks (1-based), ties sharing the mean of their positions, as scipy.stats.rankdata. */
export function averageRanks(x: readonly number[]): number[] {
  const idx = x.map((_, i) => i).sort((a, b) => x[a]! - x[b]!);
  const r = new Array<number>(x.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]!] === x[idx[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]!] = rank;
    i = j + 1;
  }
  return r;
}

/** Spearman's rank correlation (Pearson on average ranks), as scipy.stats.spearmanr and polars' corr(method="spearman"). */
export function spearman(x: readonly number[], y: readonly number[]): number {
  return pearson(averageRanks(x), averageRanks(y));
}

/** The paper's mean_alignment: 1 - mean |x - y|. */
export function meanAlignment(x: readonly number[], y: readonly number[]): number {
  if (x.length === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.abs(x[i]! - y[i]!);
  return 1 - s / x.length;
}

/** The model's pro share on one question asked in one language. */
export interface ProItem {
  readonly key: string;
  readonly language: string;
  readonly modelPro: number;
}

export interface MulticulturalInput {
  readonly items: readonly ProItem[];
  /** A group's pro share on a question (groups: `country=XX`, `language=xx`, `global`). */
  readonly share: (key: string, group: string) => number | undefined;
  /** Country code -> its survey language. */
  readonly countryLanguage: ReadonlyMap<string, string>;
  /** The groups to correlate with, in report order. */
  readonly groups: readonly string[];
  /** The country the US bias compares with (default "US"). */
  readonly us?: string;
  readonly seed?: number;
  readonly resamples?: number;
}

export interface Estimate {
  readonly mean: number;
  readonly ci: readonly [number, number];
}

export interface MulticulturalScores {
  readonly by_language: {
    readonly language: string;
    readonly n: number;
    readonly groups: { readonly group: string; readonly n: number; readonly spearman: Estimate; readonly mean_alignment: Estimate }[];
  }[];
  /** Per language asked: Spearman with the US minus the mean Spearman with the language's own countries (US left out). */
  readonly us_bias: { readonly language: string; readonly native: string[]; readonly n: number; readonly us_minus_native: Estimate }[];
  /** Per country whose language is not English and was asked: Spearman asked in its language minus asked in English. */
  readonly native_vs_english: { readonly country: string; readonly language: string; readonly n: number; readonly native_minus_english: Estimate }[];
}

const est = (e: { mean: number; ci: [number, number] }): Estimate => ({ mean: e.mean, ci: e.ci });

/** The paper's statistics from the model's pro shares (see the module comment). */
export function multiculturalScores(input: MulticulturalInput): MulticulturalScores {
  const us = input.us ?? "US";
  const opts = { seed: input.seed ?? 0, resamples: input.resamples ?? 1000 };
  const languages: string[] = [];
  for (const it of input.items) if (!languages.includes(it.language)) languages.push(it.language);
  languages.sort((a, b) => (a === "en" ? -1 : b === "en" ? 1 : a.localeCompare(b)));
  const byLanguage = new Map<string, Map<string, number>>();
  for (const it of input.items) {
    let m = byLanguage.get(it.language);
    if (!m) byLanguage.set(it.language, (m = new Map()));
    m.set(it.key, it.modelPro);
  }
  const byLang: MulticulturalScores["by_language"][number][] = [];
  const usBias: MulticulturalScores["us_bias"][number][] = [];
  for (const language of languages) {
    const model = byLanguage.get(language)!;
    // Each group is compared on the questions it has a share on (the paper's inner join on question_key).
    const keys = [...model.keys()].sort();
    const x = keys.map((k) => model.get(k)!);
    const ys = input.groups.map((g) => keys.map((k) => input.share(k, g) ?? Number.NaN));
    const native = [...input.countryLanguage].filter(([c, l]) => l === language && c !== us).map(([c]) => c).sort();
    const usIdx = input.groups.indexOf(`country=${us}`);
    const nativeIdx = native.map((c) => input.groups.indexOf(`country=${c}`)).filter((i) => i >= 0);
    const G = input.groups.length;
    const stats = bootstrapStatistic(
      keys.length,
      (sample) => {
        const pairs = ys.map((y) => {
          const kept = Array.from(sample).filter((i) => !Number.isNaN(y[i]!));
          return [kept.map((i) => x[i]!), kept.map((i) => y[i]!)] as const;
        });
        const rho = pairs.map(([a, b]) => spearman(a, b));
        const ma = pairs.map(([a, b]) => meanAlignment(a, b));
        const bias = usIdx >= 0 && nativeIdx.length > 0 ? rho[usIdx]! - nativeIdx.reduce((s, i) => s + rho[i]!, 0) / nativeIdx.length : Number.NaN;
        return [...rho, ...ma, bias];
      },
      opts,
    );
    byLang.push({
      language,
      n: keys.length,
      groups: input.groups.map((group, g) => ({ group, n: ys[g]!.filter((v) => !Number.isNaN(v)).length, spearman: est(stats[g]!), mean_alignment: est(stats[G + g]!) })),
    });
    if (usIdx >= 0 && nativeIdx.length > 0) usBias.push({ language, native, n: keys.length, us_minus_native: est(stats[2 * G]!) });
  }
  const nativeVsEnglish: MulticulturalScores["native_vs_english"][number][] = [];
  const en = byLanguage.get("en");
  if (en) {
    for (const [country, language] of [...input.countryLanguage].sort(([a], [b]) => a.localeCompare(b))) {
      const nat = byLanguage.get(language);
      if (language === "en" || !nat) continue;
      const keys = [...nat.keys()].filter((k) => en.has(k) && input.share(k, `country=${country}`) !== undefined).sort();
      const h = keys.map((k) => input.share(k, `country=${country}`)!);
      const xn = keys.map((k) => nat.get(k)!);
      const xe = keys.map((k) => en.get(k)!);
      const [d] = bootstrapStatistic(
        keys.length,
        (sample) => {
          const hs = Array.from(sample, (i) => h[i]!);
          return [spearman(Array.from(sample, (i) => xn[i]!), hs) - spearman(Array.from(sample, (i) => xe[i]!), hs)];
        },
        opts,
      );
      nativeVsEnglish.push({ country, language, n: keys.length, native_minus_english: est(d!) });
    }
  }
  return { by_language: byLang, us_bias: usBias, native_vs_english: nativeVsEnglish };
}
