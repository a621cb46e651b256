/** `civitas steer` as text for the terminal (also `runs show` of a steer run): needs only the result. */
import type { SteerResult } from "../../results/index.js";
import { formatTable } from "../table.js";

const f3 = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(3));
const sg = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? "-" : `${x >= 0 ? "+" : ""}${x.toFixed(3)}`);
const iv = (i: { mean: number; ci: readonly [number, number] } | null): string => (i === null ? "-" : `${sg(i.mean)} [${sg(i.ci[0])}, ${sg(i.ci[1])}]`);
const al = (i: { mean: number; ci: readonly [number, number] }): string => `${f3(i.mean)} [${f3(i.ci[0])}, ${f3(i.ci[1])}]`;

export function formatSteer(r: SteerResult): string {
  const out: string[] = [];
  out.push(`${r.suite} · ${r.model} · steering judged on ${r.split.test.length} held-out test questions`);
  out.push(
    `split ${r.split.kind} (seed ${r.split.seed}): ${r.split.train.length} train, ${r.split.dev.length} dev, ${r.split.test.length} test · metric ${r.metric} · alignment = 1 - distance; gains paired over test questions with 95% bootstrap intervals`,
  );
  out.push(
    `\nmethods (knobs tuned on dev):\n${formatTable(
      ["method", "knob", "chosen", "dev alignment per value", "asks the model"],
      r.methods.map((m) => [
        m.method,
        m.knob?.name ?? "-",
        m.knob?.value === null || m.knob === null ? "-" : String(m.knob.value),
        m.knob ? m.knob.dev.map((d) => `${d.value}: ${f3(d.alignment)}`).join(", ") : "-",
        m.asks ? "yes" : "no (stored answers)",
      ]),
    )}`,
  );
  const rows = (unsteered: { mean: number; ci: readonly [number, number] }, methods: SteerResult["overall"]["methods"]) => [
    ["unsteered", al(unsteered), "", "", ""],
    ...methods.map((m) => [m.method, al(m.alignment), iv(m.gain_unsteered), iv(m.gain_persona), iv(m.gain_calibrate)]),
  ];
  const header = ["", "alignment", "gain vs unsteered", "vs persona", "vs calibrate"];
  out.push(`\nmean over the ${r.targets.length} target population${r.targets.length === 1 ? "" : "s"}:\n${formatTable(header, rows(r.overall.unsteered, r.overall.methods))}`);
  for (const t of r.targets) out.push(`\n${t.population} (${t.n} test questions):\n${formatTable(header, rows(t.unsteered, t.methods))}`);

  if (r.matrix.rows.length > 0) {
    out.push(
      `\nalignment steered toward a target (rows) with each evaluated population (columns):\n${formatTable(
        ["method", "target", ...r.matrix.evaluated],
        [["unsteered", "-", ...r.matrix.unsteered.map(f3)], ...r.matrix.rows.map((row) => [row.method, row.target, ...row.alignment.map(f3)])],
      )}`,
    );
    out.push(
      `specificity (gain on the target minus the mean gain on the other populations of its attribute): ${r.specificity.map((s) => `${s.method} ${sg(s.mean)}`).join(", ")}`,
    );
  }
  if (r.variants_check) {
    out.push(
      `\ndoes each gain over unsteered survive the ${r.variants_check.variants.length} variants? (positive in >= 95% of variant x resample draws)\n${formatTable(
        ["method", ...r.variants_check.variants, "share positive", "survives"],
        r.variants_check.methods.map((m) => [m.method, ...m.per_variant_gain.map(sg), f3(m.share_positive), m.survives ? "yes" : "NO"]),
      )}`,
    );
  }
  out.push(
    `\ncost (prompt tokens the model evaluated per test question, all variants):\n${formatTable(
      ["method", "tokens/question", "gain per 1,000 tokens"],
      r.cost.map((c) => [c.method, Number.isFinite(c.tokens_per_question) ? c.tokens_per_question.toFixed(0) : "-", sg(c.gain_per_1k_tokens)]),
    )}`,
  );
  if (r.targets.length > 1) {
    out.push(
      `\ngain over unsteered across the ${r.targets.length} targets:\n${formatTable(
        ["method", "min", "25%", "median", "75%", "max", "share > 0"],
        r.individuals.map((i) => [i.method, sg(i.min), sg(i.q25), sg(i.median), sg(i.q75), sg(i.max), f3(i.positive)]),
      )}`,
    );
  }
  const p = r.pluralism;
  out.push(
    `\npluralism (Sorensen et al. 2024): distributional ${al(p.distributional)} (unsteered, with ${p.distributional.population}); ` +
      `steerable ${p.steerable.map((s) => `${s.method} ${sg(s.mean)}`).join(", ")} (mean gain toward each target); ` +
      `Overton ${f3(p.overton.share)} (of ${p.overton.options} options ${p.overton.population} chose >= 10%, the share the unsteered model gives >= 10%)`,
  );
  out.push(`\nrun ${r.run} · answers in eval run${r.eval_runs.length === 1 ? "" : "s"} ${r.eval_runs.join(", ")} · ${r.answers.model_calls} model calls, ${r.answers.cache_hits} from the cache · ${r.store}`);
  for (const w of r.warnings) out.push(`warning: ${w}`);
  return out.join("\n");
}
