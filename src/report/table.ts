/** Plain-text reports for the terminal. */
import type { EvalResult, EvalScores } from "../results/index.js";
import { stabilityVerdict, type Interval } from "../runs/index.js";
import { terminalSafe } from "../terminal.js";

/** Left-aligns the first column and right-aligns the others (numbers), unless `align` says otherwise. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[], align?: readonly ("l" | "r")[]): string {
  // Cells hold other people's text (questions, options, names): no control character may reach the terminal or break the columns.
  header = header.map((h) => terminalSafe(h));
  rows = rows.map((r) => r.map((cell) => terminalSafe(cell)));
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const left = (c: number) => (align ? align[c] === "l" : c === 0);
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (left(c) ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join("   ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

const num = (x: number | null | undefined, digits = 3): string =>
  x === null || x === undefined || Number.isNaN(x) ? "-" : x.toFixed(digits);
const signed = (x: number | null | undefined): string => (x === null || x === undefined || Number.isNaN(x) ? "-" : `${x >= 0 ? "+" : ""}${x.toFixed(3)}`);
const ci = (c: readonly [number, number]): string => `[${num(c[0])}, ${num(c[1])}]`;
const pct = (x: number): string => (Number.isNaN(x) ? "-" : `${(100 * x).toFixed(1)}%`);
const interval = (i: Interval): string => `${num(i.mean)} ${ci(i.ci)}`;

/**
 * The alignment table's header and rows (per population, then the mean over populations): one
 * definition for the terminal and the HTML report.
 */
export function alignmentRows(r: EvalScores): { header: string[]; rows: string[][] } {
  const human = r.baselines.human;
  const humanHeader = human ? (human.reference ? `human vs ${human.reference}` : "human vs others") : "human";
  const steer = r.steerability ? new Map(r.steerability.populations.map((p) => [p.population, p])) : null;
  const unsteered = r.unsteered ? new Map(r.unsteered.populations.map((p) => [p.population, p])) : null;
  const header = ["population", "alignment", "95% CI", ...(steer ? ["no persona", "steering"] : []), "uniform", humanHeader, "noise floor", "questions"];
  const rows = r.populations.map((p) => [
    p.population,
    num(p.mean),
    ci(p.ci),
    ...(steer ? [num(unsteered?.get(p.population)?.mean), signed(steer.get(p.population)?.mean)] : []),
    num(p.uniform),
    num(p.human),
    num(p.noise),
    String(p.n),
  ]);
  if (r.populations.length > 1) {
    rows.push([
      "mean over populations",
      num(r.overall.mean),
      ci(r.overall.ci),
      ...(steer ? [num(r.unsteered?.overall.mean), signed(r.steerability?.overall.mean)] : []),
      num(r.baselines.uniform.mean),
      num(human?.mean),
      num(r.baselines.noise?.mean),
      "",
    ]);
  }
  return { header, rows };
}

/** The alignment table and every section the scores carry; shared by `eval`, `runs show` and `score`. */
export function formatScores(r: EvalScores): string {
  const out: string[] = [];
  const { header, rows } = alignmentRows(r);
  if (rows.length > 0) out.push(formatTable(header, rows));
  if (r.baselines.noise) {
    const k = r.baselines.noise.samples;
    out.push(`noise floor: the alignment of an empirical distribution of ${k === "respondents" ? "the survey's own respondents" : `${k} samples`} with the truth`);
  }
  if (r.steerability) out.push(`steering: alignment with the population's persona minus without, 95% CI of the mean ${ci(r.steerability.overall.ci)} (paired bootstrap)`);
  if (r.datasets) {
    out.push("", formatTable(["dataset", "alignment", "95% CI", "questions"], r.datasets.map((d) => [d.dataset, num(d.overall.mean), ci(d.overall.ci), String(d.n)])));
  }
  if (r.by_method) {
    out.push("", formatTable(["method", "alignment", "95% CI"], r.by_method.map((m) => [m.method, num(m.overall.mean), ci(m.overall.ci)])));
  }
  if (r.gap && r.gap.pairs === 0) {
    out.push(`knowledge-to-simulation gap: not computable, no question-population pair has both a valid ${r.gap.sequence_method} and a valid stated distribution`);
  } else if (r.gap) {
    const g = r.gap;
    out.push(
      "",
      "knowledge-to-simulation gap (Meister et al. 2024): mean total variation of each output format (lower is closer)",
      formatTable(["method", "mean TV", "95% CI", "pairs"], g.formats.map((f) => [f.method, num(f.tv.mean), ci(f.tv.ci), String(f.pairs)])),
      `TV(${g.sequence_method}) - TV(${g.verbalize_method}) = ${interval(g.difference)} (paired bootstrap over questions, ${g.pairs} question-population pairs;` +
        ` TV(${g.sequence_method}) / TV(${g.verbalize_method}) - 1 = ${num(g.relative)}); positive: the model states the distribution better than it simulates it`,
    );
  }
  if (r.gap_v2) {
    out.push(
      `stored by an earlier civitas: TV(${r.gap_v2.sequence_method}) / TV(verbalize) - 1 = ${interval(r.gap_v2)} (${r.gap_v2.sequence_method} standing in for the sequence: not Meister et al.'s statistic)`,
    );
  }
  if (r.knowledge) {
    out.push(`knowledge questions (${r.knowledge.n}): accuracy ${interval(r.knowledge.accuracy)} · probability of the correct option ${interval(r.knowledge.p_correct)}`);
  }
  if (r.moca) {
    const m = r.moca;
    out.push(`MoCa (${m.n} stories): ${(["agreement", "auroc", "accuracy"] as const).map((k) => `${k} ${interval(m[k])}`).join(" · ")}`);
  }
  if (r.mort) {
    out.push(`MoRT, Pearson's r between the model's P(yes) and the share of people saying yes: ${r.mort.populations.map((p) => `${p.population} ${interval(p.r)} (${p.r.n} actions)`).join(" · ")}`);
  }
  if (r.papi) out.push("", formatPapi(r.papi));
  if (r.multicultural) out.push("", formatMulticultural(r.multicultural));
  if (r.stability) out.push("", formatStability(r.stability));
  return out.join("\n");
}

/** PAPI's individual level: the per-person scores as a distribution over persons, beside the baselines. */
function formatPapi(p: NonNullable<EvalScores["papi"]>): string {
  type Summary = NonNullable<EvalScores["papi"]>["item_distance"];
  const row = (name: string, s: Summary, uniform: number, population: number, unsteered?: Summary): string[] => [
    name,
    interval(s),
    num(s.sd),
    `${num(s.quantiles.p10)} / ${num(s.quantiles.p50)} / ${num(s.quantiles.p90)}`,
    num(uniform),
    num(population),
    ...(p.unsteered ? [unsteered ? num(unsteered.mean) : "-"] : []),
  ];
  const header = ["per person (held-out items, 1-5 scale)", "mean           95% CI", "sd", "p10 / median / p90", "uniform", "other people", ...(p.unsteered ? ["unsteered"] : [])];
  const rows = [
    row("item distance E|model - person|", p.item_distance, p.baselines.uniform.item_distance, p.baselines.population.item_distance, p.unsteered?.item_distance),
    row("item distance, most likely answer", p.item_distance_mode, Number.NaN, Number.NaN, p.unsteered?.item_distance_mode),
    row("Big Five domain score error", p.domain_error, p.baselines.uniform.domain_error, p.baselines.population.domain_error, p.unsteered?.domain_error),
    ...p.domains.map((d) => [`  domain ${d.domain}`, interval(d.domain_error), num(d.domain_error.sd), `${num(d.domain_error.quantiles.p10)} / ${num(d.domain_error.quantiles.p50)} / ${num(d.domain_error.quantiles.p90)}`, "", "", ...(p.unsteered ? [""] : [])]),
  ];
  return [
    `PAPI individual level (Zhu et al. 2024): ${p.persons} persons, model ${p.steered ? "told each person's 120 profile answers (--persona)" : "unsteered (add --persona for the paper's setting)"}; lower is closer`,
    formatTable(header, rows),
  ].join("\n");
}

/** Where a difference's interval lies: above 0, below 0, or across it. */
const side = (i: Interval): "above" | "below" | "across" | "none" => (!Number.isFinite(i.mean) ? "none" : i.ci[0] > 0 ? "above" : i.ci[1] < 0 ? "below" : "across");

/**
 * "Multilingual != Multicultural": Spearman over questions with each group, per language asked;
 * the US bias per language; each country's alignment in its own language minus in English.
 */
export function formatMulticultural(m: NonNullable<EvalScores["multicultural"]>): string {
  const out: string[] = ["alignment by the language asked in (Spearman over questions of the model's pro share with each group's; Rystrøm et al. 2025):"];
  for (const l of m.by_language) {
    out.push(`  asked in ${terminalSafe(l.language)} (${l.n} questions):`);
    for (let i = 0; i < l.groups.length; i += 6) out.push(`    ${l.groups.slice(i, i + 6).map((g) => `${terminalSafe(g.group)} ${interval(g.spearman)}`).join(" · ")}`);
  }
  if (m.us_bias.length > 0) {
    out.push("  US bias (Spearman with the US minus with the language's own countries, when asked in it):");
    for (const b of m.us_bias) {
      const s = side(b.us_minus_native);
      const verdict = s === "none" ? "not computable (a correlation is undefined: too few questions or constant answers)" : s === "above" ? "closer to the US" : s === "below" ? `closer to ${b.native.join(", ")}` : "no clear difference";
      out.push(`    ${terminalSafe(b.language)} (vs ${b.native.map((c) => terminalSafe(c)).join(", ")}): ${interval(b.us_minus_native)}: ${verdict}`);
    }
  }
  if (m.native_vs_english.length > 0) {
    out.push("  does alignment with a country follow its language? (Spearman asked in its language minus asked in English):");
    for (const d of m.native_vs_english) {
      const s = side(d.native_minus_english);
      const verdict = s === "none" ? "not computable (too few questions asked in both languages, or constant answers)" : s === "above" ? "yes, closer in its language" : s === "below" ? "no, closer in English" : "no clear difference";
      out.push(`    ${terminalSafe(d.country)} (${terminalSafe(d.language)}, ${d.n} questions): ${interval(d.native_minus_english)}: ${verdict}`);
    }
  } else {
    out.push("  asked in English only: give translated prompts (--prompts) to compare languages");
  }
  return out.join("\n");
}

const pctOf = (x: number) => `${(100 * x).toFixed(0)}%`;

/** The stability report: spread, conclusion verdict, biases, variance shares. */
export function formatStability(s: NonNullable<EvalScores["stability"]>): string {
  const out: string[] = [`stability across ${s.variants.length} presentation variants (${s.variants.join("; ")}):`];
  out.push(
    `  answers move by ${num(s.spread.mean)} ${ci(s.spread.ci)} (mean pairwise TV between variants, ${s.spread.questions} questions)` +
      (s.human_spread !== null ? `; real populations differ by ${num(s.human_spread)}` : ""),
  );
  if (s.score_spread) {
    out.push(
      `  mean-answer spread (std on the [0, 1] scale): ${num(s.score_spread.model)} across variants vs ${num(s.score_spread.human)} across populations (${s.score_spread.questions} questions)`,
    );
  }
  if (s.conclusion) {
    const c = s.conclusion;
    out.push(
      `  closest population: ${c.stable ? "" : "UNSTABLE, "}${stabilityVerdict(c).text} Kendall's tau between variant rankings ${num(c.kendall_tau)}.`,
    );
    const flips = c.per_variant_top.filter((v) => v.top !== c.top);
    if (flips.length) out.push(`  closest under each variant: ${c.per_variant_top.map((v) => `${v.variant} -> ${v.top}`).join("; ")}`);
  }
  const pos = s.bias.byPosition.filter((b) => b.n > 0);
  if (pos.length) {
    out.push(`  position bias (mass on the k-th option shown vs without bias): ${firstOf(pos, 6, (b) => `${b.position}: ${num(b.mean, 2)}/${num(b.expected, 2)}`)}`);
  }
  const lab = s.bias.byLabel.filter((b) => b.n > 0);
  if (lab.length) out.push(`  label bias: ${firstOf(lab, 8, (b) => `${b.label}: ${num(b.mean, 2)}/${num(b.expected, 2)}`)}`);
  if (s.variance) {
    out.push(
      `  per-question score explained by population ${pctOf(s.variance.population)}, by variant ${pctOf(s.variance.variant)}, by both ${pctOf(s.variance.interaction)} (${s.variance.questions} questions)`,
    );
  }
  return out.join("\n");
}

/** The first `max` items, then how many more there are (never a list cut without saying so). */
export function firstOf<T>(items: readonly T[], max: number, show: (x: T) => string): string {
  const shown = items.slice(0, max).map(show).join(", ");
  return items.length > max ? `${shown}, ... +${items.length - max} more (--json lists all)` : shown;
}

/**
 * Which bootstrap a result's intervals come from, in words: over questions, or (clustered) over
 * whole clusters such as MoCa's stories. A result stored before this was recorded resampled questions.
 */
export function bootstrapPhrase(b: EvalScores["bootstrap"]): string {
  const within = (b?.variants ? `, each with its ${b.variants} variants` : "") + (b?.stratified ? ", within each dataset" : "");
  if (b === undefined || b.unit === "question") return `95% bootstrap interval over questions${within}`;
  const of = b.of ?? "cluster";
  return `95% clustered bootstrap interval: ${b.units} ${of === "story" ? "stories" : `${of}s`} resampled whole (${b.items} questions)${within}`;
}

export function formatEvalResult(r: EvalResult, title?: string): string {
  const out: string[] = [];
  if (title) out.push(title);
  const how = [`model ${r.model}`, `method ${r.method}`, `alignment = ${r.metric_label}`, ...(r.protocol ? [`protocol ${r.protocol}`] : []), bootstrapPhrase(r.bootstrap)];
  out.push(how.join(" · "));
  out.push("");
  out.push(formatScores(r));
  out.push("");
  const sa = r.set_aside;
  const q = r.questions;
  const noScale = q.no_scale ? ` (${q.no_scale} without an ordinal scale, not scored under ${r.metric})` : "";
  out.push(`questions: ${q.planned} planned, ${q.answered} answered, ${q.scored} scored${noScale}${q.knowledge ? `, ${q.knowledge} knowledge` : ""}`);
  if (q.skipped) out.push(`${q.skipped} questions skipped: ${q.skipped_reason ?? "no chosen population was asked them"}`);
  const extra = [
    ...(sa.unparsed_samples ? [`${sa.unparsed_samples} sampled answers named no option`] : []),
    ...(sa.invalid_statements ? [`${sa.invalid_statements} stated distributions invalid`] : []),
  ];
  out.push(
    `answers set aside: ${sa.total} (low coverage ${sa.low_coverage}, off-format ${sa.off_format}, only refusal ${sa.only_refusal})` +
      (sa.unparsed_sequence_tokens ? `, ${sa.unparsed_sequence_tokens} tokens of sequences were no answer` : "") +
      ` · mean coverage ${pct(r.coverage.mean)} (min ${pct(r.coverage.min)}${r.coverage.min_required > 0 ? `, required ${pct(r.coverage.min_required)}` : ""})` +
      (extra.length ? ` · ${extra.join(", ")}` : ""),
  );
  const modes = Object.entries(r.answers.modes).filter(([m]) => m !== "none");
  if (modes.length > 0) out.push(`constrained decoding: ${modes.map(([m, n]) => `${n} answers by ${m}`).join(", ")}`);
  for (const w of r.warnings) out.push(`warning: ${w}`);
  const a = r.answers;
  out.push(
    `run ${r.run} · ${a.model_calls} model calls, ${a.cache_hits} from the cache, ${a.resumed} already stored · ${r.seconds.toFixed(1)} s · stored in ${r.store}`,
  );
  return out.join("\n");
}
