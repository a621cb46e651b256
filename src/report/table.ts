/** Plain-text reports for the terminal. */
import type { EvalResult } from "../runs/index.js";

/** Left-aligns the first column and right-aligns the others. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join("   ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

const num = (x: number | null | undefined, digits = 3): string =>
  x === null || x === undefined || Number.isNaN(x) ? "-" : x.toFixed(digits);
const ci = (c: readonly [number, number]): string => `[${num(c[0])}, ${num(c[1])}]`;
const pct = (x: number): string => (Number.isNaN(x) ? "-" : `${(100 * x).toFixed(1)}%`);

export function formatEvalResult(r: EvalResult, title?: string): string {
  const out: string[] = [];
  if (title) out.push(title);
  out.push(`model ${r.model} · alignment = ${r.metric_label} · 95% bootstrap interval over questions`);
  out.push("");
  const human = r.baselines.human;
  const header = ["population", "alignment", "95% CI", "uniform", human ? `human vs ${human.reference}` : "human", "questions"];
  const rows = r.populations.map((p) => [p.population, num(p.mean), ci(p.ci), num(p.uniform), num(p.human), String(p.n)]);
  if (r.populations.length > 1) {
    rows.push(["mean over populations", num(r.overall.mean), ci(r.overall.ci), num(r.baselines.uniform.mean), num(human?.mean), ""]);
  }
  out.push(formatTable(header, rows));
  out.push("");
  const sa = r.set_aside;
  const noScale = r.questions.no_scale ? ` (${r.questions.no_scale} without an ordinal scale, not scored under ${r.metric})` : "";
  out.push(`questions: ${r.questions.planned} planned, ${r.questions.answered} answered, ${r.questions.scored} scored${noScale}`);
  out.push(
    `answers set aside: ${sa.total} (low coverage ${sa.low_coverage}, off-format ${sa.off_format}, only refusal ${sa.only_refusal})` +
      ` · mean coverage ${pct(r.coverage.mean)} (min ${pct(r.coverage.min)}${r.coverage.min_required > 0 ? `, required ${pct(r.coverage.min_required)}` : ""})`,
  );
  for (const w of r.warnings) out.push(`warning: ${w}`);
  const a = r.answers;
  out.push(
    `run ${r.run} · ${a.model_calls} model calls, ${a.cache_hits} from the cache, ${a.resumed} already stored · ${r.seconds.toFixed(1)} s · stored in ${r.store}`,
  );
  return out.join("\n");
}
