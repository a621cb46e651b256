/**
 * `civitas eval` with several models or suites, as text: per suite, the models' alignment with
 * each population side by side, each model's closest population and stability verdict, and the
 * paired differences between models (config/compare.ts).
 */
import type { Comparison, SuiteComparison } from "../../config/index.js";
import { formatTable } from "../table.js";

const num = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(3));
const signed = (x: number): string => (!Number.isFinite(x) ? "-" : `${x >= 0 ? "+" : ""}${x.toFixed(3)}`);
const ci = (c: readonly [number, number]): string => `[${num(c[0])}, ${num(c[1])}]`;
const interval = (i: { mean: number; ci: readonly [number, number] }): string => `${num(i.mean)} ${ci(i.ci)}`;
const difference = (i: { mean: number; ci: readonly [number, number] }): string => `${signed(i.mean)} [${signed(i.ci[0])}, ${signed(i.ci[1])}]`;

/** Whether a difference's interval excludes 0. */
export const clearDifference = (i: { ci: readonly [number, number] }): boolean => i.ci[0] > 0 || i.ci[1] < 0;

function suiteText(s: SuiteComparison): string {
  const out: string[] = [];
  const metrics = [...new Set(s.models.map((m) => m.metric))];
  out.push(`${s.suite}: ${s.models.length} model${s.models.length === 1 ? "" : "s"} x ${s.populations.length} population${s.populations.length === 1 ? "" : "s"} (alignment = 1 - ${metrics.join("/") || "distance"}, 95% CI)`);
  if (s.models.length > 0) {
    const rows = s.populations.map((p) => [p, ...s.models.map((m) => {
      const r = m.populations.find((x) => x.population === p);
      return r ? interval(r) : "-";
    })]);
    if (s.populations.length > 1) rows.push(["mean over populations", ...s.models.map((m) => interval(m.overall))]);
    rows.push(["uniform answers", ...s.models.map((m) => num(m.uniform))]);
    rows.push(["closest population", ...s.models.map((m) => (m.closest ? m.closest.population : "-"))]);
    if (s.models.some((m) => m.stability)) rows.push(["stability", ...s.models.map((m) => (m.stability ? (m.stability.stable ? `stable (${m.stability.top})` : `UNSTABLE (${m.stability.top})`) : "-"))]);
    rows.push(["questions scored", ...s.models.map((m) => String(m.questions))]);
    rows.push(["model calls", ...s.models.map((m) => String(m.model_calls))]);
    rows.push(["run", ...s.models.map((m) => m.run)]);
    out.push(formatTable(["population", ...s.models.map((m) => m.model)], rows));
    for (const m of s.models) if (m.stability) out.push(`stability of ${m.model}: ${m.stability.verdict}`);
  }
  if (s.differences.length > 0) {
    out.push("");
    out.push("paired differences in alignment (A - B) on the questions both scored, paired bootstrap 95% CI; * : the interval excludes 0");
    const pops = s.populations.length > 1 ? s.populations : [];
    out.push(
      formatTable(
        ["A - B", "questions", s.populations.length > 1 ? "mean over populations" : (s.populations[0] ?? "overall"), ...pops],
        s.differences.map((d) => [
          `${d.a} - ${d.b}`,
          String(d.questions),
          `${difference(d.overall)}${clearDifference(d.overall) ? " *" : ""}`,
          ...pops.map((p) => {
            const r = d.populations.find((x) => x.population === p);
            return r ? `${difference(r)}${clearDifference(r) ? " *" : ""}` : "-";
          }),
        ]),
      ),
    );
  }
  for (const n of s.notes) out.push(`note: ${n}`);
  return out.join("\n");
}

export function formatComparison(c: Comparison): string {
  const parts = c.suites.map(suiteText);
  if (c.failed.length > 0) {
    parts.push(`FAILED cells (${c.failed.length} of ${c.cells.length}): ${c.failed.join("; ")}; the others are above. Run the same command again to resume: finished cells are answered from the store.`);
  }
  return parts.join("\n\n");
}
