/**
 * Several eval runs side by side: each run's alignment per population, grouped by population and
 * coloured by run (labelled with its model and method), the mean over populations per run, and a
 * table of what distinguishes the runs (model, method, metric, protocol, variants, personas).
 */
import type { EvalResult } from "../../results/index.js";
import type { RunRow } from "../../store/index.js";
import { chart, COLORS } from "../charts.js";
import { html, type Raw } from "../html.js";
import { alignmentDomain } from "./eval.js";
import { ci, finite, note, num, section, table, warning } from "./format.js";

export interface ComparedRun {
  readonly run: RunRow;
  readonly result: EvalResult;
}

/** How a run is named in the charts: short id, model and method (and protocol when set). */
export function runLabel(c: ComparedRun): string {
  const r = c.result;
  const variants = ((c.run.config ?? {}) as { variants?: unknown[] }).variants?.length ?? 1;
  return [
    c.run.id.slice(0, 6),
    r.model,
    r.method,
    ...(r.protocol ? [r.protocol] : []),
    ...(r.steerability ? ["personas"] : []),
    ...(variants > 1 ? [`${variants} variants`] : []),
  ].join(" · ");
}

export async function compareBody(runs: readonly ComparedRun[]): Promise<Raw> {
  const parts: Raw[] = [];
  const labels = runs.map(runLabel);
  const metrics = new Set(runs.map((c) => c.result.metric));
  const suites = new Set(runs.map((c) => c.result.suite));
  if (metrics.size > 1) parts.push(warning(`these runs measure alignment with different metrics (${[...metrics].join(", ")}): their numbers are not on one scale`));
  if (suites.size > 1) parts.push(warning(`these runs ask different surveys (${[...suites].join(", ")})`));

  parts.push(
    table(
      ["run", "model", "method", "suite", "metric", "protocol", "variants", "personas", "questions", "mean alignment [95% CI]"],
      runs.map((c) => {
        const cfg = (c.run.config ?? {}) as { variants?: string[] };
        return [
          c.run.id,
          c.result.model,
          c.result.method,
          c.result.suite,
          c.result.metric,
          c.result.protocol ?? "-",
          cfg.variants && cfg.variants.length > 1 ? String(cfg.variants.length) : "1",
          c.result.steerability ? "yes" : "no",
          String(c.result.questions.scored),
          `${num(c.result.overall.mean)} ${ci(c.result.overall.ci)}`,
        ];
      }),
    ),
  );

  // Alignment per population, one colour per run.
  const populations: string[] = [];
  for (const c of runs) for (const p of c.result.populations) if (!populations.includes(p.population)) populations.push(p.population);
  const rows = runs.flatMap((c, i) =>
    c.result.populations
      .filter((p) => finite(p.mean) !== null)
      .map((p) => ({
        population: p.population,
        run: labels[i]!,
        alignment: p.mean,
        lo: finite(p.ci[0]),
        hi: finite(p.ci[1]),
        tip: `${labels[i]} · ${p.population}: ${num(p.mean)} ${ci(p.ci)} over ${p.n} questions (uniform ${num(p.uniform)}, human ${num(p.human)})`,
      })),
  );
  if (rows.length === 0) {
    parts.push(note("No run scored any population."));
    return html`${parts}`;
  }
  const domain = alignmentDomain(rows.flatMap((r) => [r.alignment, r.lo, r.hi]));
  const runColor = { field: "run", type: "nominal", sort: labels, legend: { orient: "bottom", direction: "vertical", title: "run" } };
  const y = { field: "population", type: "nominal", sort: populations, title: null };
  const yOffset = { field: "run", type: "nominal", sort: labels };
  parts.push(
    section(
      "Alignment per population, run by run",
      [
        await chart(
          {
            width: 520,
            height: { step: Math.max(14, 12 * runs.length) },
            encoding: { y, yOffset },
            layer: [
              {
                data: { values: rows.filter((r) => r.lo !== null && r.hi !== null) },
                mark: { type: "rule", strokeWidth: 2 },
                encoding: { x: { field: "lo", type: "quantitative", scale: { domain, zero: false }, title: "alignment" }, x2: { field: "hi" }, color: runColor, description: { field: "tip" } },
              },
              {
                data: { values: rows },
                mark: { type: "point", filled: true, size: 60, opacity: 1 },
                encoding: { x: { field: "alignment", type: "quantitative" }, color: runColor, description: { field: "tip" } },
              },
            ],
          },
          "compare",
        ),
        note("One row of dots per population, one dot per run (with its 95% interval); hover a dot for its baselines."),
      ],
      "compare",
    ),
  );

  // The mean over populations, per run.
  const overall = runs
    .map((c, i) => ({ run: labels[i]!, alignment: finite(c.result.overall.mean), lo: finite(c.result.overall.ci[0]), hi: finite(c.result.overall.ci[1]), uniform: finite(c.result.baselines.uniform.mean) }))
    .filter((r): r is { run: string; alignment: number; lo: number | null; hi: number | null; uniform: number | null } => r.alignment !== null)
    .map((r) => ({ ...r, tip: `${r.run}: mean alignment ${num(r.alignment)} [${num(r.lo)}, ${num(r.hi)}], uniform ${num(r.uniform)}` }));
  if (overall.length > 0) {
    const d = alignmentDomain(overall.flatMap((r) => [r.alignment, r.lo, r.hi, r.uniform]));
    parts.push(
      section(
        "Mean over populations",
        await chart(
          {
            data: { values: overall },
            width: 520,
            height: { step: 26 },
            encoding: { y: { field: "run", type: "nominal", sort: labels, title: null, axis: { labelLimit: 640 } } },
            layer: [
              { mark: { type: "rule", strokeWidth: 2, color: COLORS.ink }, encoding: { x: { field: "lo", type: "quantitative", scale: { domain: d, zero: false }, title: "mean alignment over populations" }, x2: { field: "hi" }, description: { field: "tip" } } },
              { mark: { type: "tick", thickness: 3, size: 16, color: COLORS.uniform }, encoding: { x: { field: "uniform", type: "quantitative" }, description: { field: "tip" } } },
              { mark: { type: "point", filled: true, size: 70, opacity: 1 }, encoding: { x: { field: "alignment", type: "quantitative" }, color: { ...runColor, legend: null }, description: { field: "tip" } } },
            ],
          },
          "compare-overall",
        ),
      ),
    );
    parts.push(note("Orange ticks: each run's uniform-answer baseline."));
  }
  return html`${parts}`;
}
