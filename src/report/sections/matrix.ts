/**
 * The comparison of `civitas eval` with several models or suites (config/compare.ts) as an HTML
 * section: per suite, the models x populations table with intervals, closest population and
 * stability side by side, and the paired differences between models. Charts come from the
 * multi-run comparison (compare.ts), which `civitas eval --html` puts after it.
 */
import type { Comparison, SuiteComparison } from "../../config/index.js";
import { html, type Raw } from "../html.js";
import { anchor, ci, note, num, section, signed, table, warning } from "./format.js";

const interval = (i: { mean: number; ci: readonly [number, number] }): string => `${num(i.mean)} ${ci(i.ci)}`;
const difference = (i: { mean: number; ci: readonly [number, number] }): string =>
  `${signed(i.mean)} [${signed(i.ci[0])}, ${signed(i.ci[1])}]${i.ci[0] > 0 || i.ci[1] < 0 ? " *" : ""}`;

function suiteSection(s: SuiteComparison): Raw {
  const parts: Raw[] = [];
  if (s.models.length > 0) {
    const rows: string[][] = s.populations.map((p) => [p, ...s.models.map((m) => {
      const r = m.populations.find((x) => x.population === p);
      return r ? interval(r) : "-";
    })]);
    if (s.populations.length > 1) rows.push(["mean over populations", ...s.models.map((m) => interval(m.overall))]);
    rows.push(["uniform answers", ...s.models.map((m) => num(m.uniform))]);
    rows.push(["closest population", ...s.models.map((m) => m.closest?.population ?? "-")]);
    if (s.models.some((m) => m.stability)) rows.push(["stability", ...s.models.map((m) => (m.stability ? m.stability.verdict : "-"))]);
    rows.push(["questions scored", ...s.models.map((m) => String(m.questions))]);
    rows.push(["model calls", ...s.models.map((m) => String(m.model_calls))]);
    rows.push(["run", ...s.models.map((m) => m.run)]);
    parts.push(table(["population", ...s.models.map((m) => m.model)], rows));
    parts.push(note("Alignment (1 - distance) with each population and its 95% bootstrap interval."));
  }
  if (s.differences.length > 0) {
    const pops = s.populations.length > 1 ? s.populations : [];
    parts.push(
      table(
        ["A - B", "questions", s.populations.length > 1 ? "mean over populations" : (s.populations[0] ?? "overall"), ...pops],
        s.differences.map((d) => [
          `${d.a} - ${d.b}`,
          String(d.questions),
          difference(d.overall),
          ...pops.map((p) => {
            const r = d.populations.find((x) => x.population === p);
            return r ? difference(r) : "-";
          }),
        ]),
      ),
    );
    parts.push(note("Paired differences in alignment on the questions both models scored, with a paired bootstrap 95% interval (the same questions resampled for both); * : the interval excludes 0."));
  }
  for (const n of s.notes) parts.push(warning(n));
  return section(`${s.suite}`, parts, `matrix-${anchor(s.suite)}`);
}

export function matrixBody(c: Comparison): Raw {
  const parts: Raw[] = [];
  if (c.failed.length > 0) parts.push(warning(`failed cells (${c.failed.length} of ${c.cells.length}): ${c.failed.join("; ")}`));
  parts.push(...c.suites.map(suiteSection));
  return html`${parts}`;
}
