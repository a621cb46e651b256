/**
 * The page of a steering run (reports and the viewer): the methods and their tuned knobs, the
 * alignment and gains on the test questions (mean over targets, then per target), the target x
 * evaluated-population matrix with specificity, the variants check, cost, the per-target gain
 * distribution and the pluralism summary. Tables only: the result holds every number.
 */
import type { SteerResult } from "../../results/index.js";
import { html, type Raw } from "../html.js";
import { ci, note, num, section, signed, table, warning } from "./format.js";

type Iv = { mean: number; ci: readonly [number, number] };
const gain = (i: Iv | null): string => (i === null ? "-" : `${signed(i.mean)} ${ci(i.ci)}`);
const align = (i: Iv): string => `${num(i.mean)} ${ci(i.ci)}`;

function gainTable(unsteered: Iv, methods: SteerResult["overall"]["methods"]): Raw {
  return table(
    ["", "alignment", "gain vs unsteered", "vs persona", "vs calibrate"],
    [["unsteered", align(unsteered), "", "", ""], ...methods.map((m) => [m.method, align(m.alignment), gain(m.gain_unsteered), gain(m.gain_persona), gain(m.gain_calibrate)])],
  );
}

export function steerBody(r: SteerResult): Raw {
  const parts: Raw[] = [];
  parts.push(
    note(
      `Split ${r.split.kind} (seed ${r.split.seed}): ${r.split.train.length} train, ${r.split.dev.length} dev, ${r.split.test.length} test questions. ` +
        `Knobs tuned on dev; every number below is on test. Alignment = 1 - ${r.metric} distance; gains are paired over test questions, with 95% bootstrap intervals.`,
    ),
  );
  parts.push(
    section(
      "Methods",
      table(
        ["method", "knob", "chosen on dev", "asks the model", "paper"],
        r.methods.map((m) => [m.method, m.knob?.name ?? "-", m.knob && m.knob.value !== null ? String(m.knob.value) : "-", m.asks ? "yes" : "no (stored answers)", m.paper]),
      ),
    ),
  );
  parts.push(section(`Gains, mean over ${r.targets.length} target${r.targets.length === 1 ? "" : "s"}`, gainTable(r.overall.unsteered, r.overall.methods)));
  parts.push(section("Per target", r.targets.map((t) => html`<h3>${t.population} (${t.n} questions)</h3>${gainTable(t.unsteered, t.methods)}`)));
  if (r.matrix.rows.length > 0) {
    parts.push(
      section("Target x evaluated population", [
        table(["method", "target", ...r.matrix.evaluated], [["unsteered", "-", ...r.matrix.unsteered.map((x) => num(x))], ...r.matrix.rows.map((row) => [row.method, row.target, ...row.alignment.map((x) => num(x))])]),
        note(`Specificity (gain on the target minus the mean gain on the other populations of its attribute): ${r.specificity.map((s) => `${s.method} ${signed(s.mean)}`).join(", ")}.`),
      ]),
    );
  }
  if (r.variants_check) {
    parts.push(
      section(
        "Does each gain survive the variants?",
        table(
          ["method", ...r.variants_check.variants, "share positive", "survives"],
          r.variants_check.methods.map((m) => [m.method, ...m.per_variant_gain.map((g) => signed(g)), num(m.share_positive), m.survives ? "yes" : "no"]),
        ),
      ),
    );
  }
  parts.push(
    section(
      "Cost",
      table(
        ["method", "prompt tokens per question", "gain per 1,000 tokens"],
        r.cost.map((c) => [c.method, num(c.tokens_per_question, 0), signed(c.gain_per_1k_tokens)]),
      ),
    ),
  );
  if (r.targets.length > 1) {
    parts.push(
      section(
        "Gain across targets",
        table(
          ["method", "min", "25%", "median", "75%", "max", "share > 0"],
          r.individuals.map((i) => [i.method, signed(i.min), signed(i.q25), signed(i.median), signed(i.q75), signed(i.max), num(i.positive)]),
        ),
      ),
    );
  }
  const p = r.pluralism;
  parts.push(
    section(
      "Pluralism (Sorensen et al. 2024)",
      table(
        ["form", "value", "what"],
        [
          ["distributional", align(p.distributional), `unsteered alignment with ${p.distributional.population}`],
          ...p.steerable.map((s) => [`steerable: ${s.method}`, signed(s.mean), "mean gain toward each target"]),
          ["Overton", num(p.overton.share), `of ${p.overton.options} options ${p.overton.population} chose >= 10%, the share the unsteered model gives >= 10%`],
        ],
      ),
    ),
  );
  for (const w of r.warnings) parts.push(warning(w));
  parts.push(note(`Answers in eval run${r.eval_runs.length === 1 ? "" : "s"} ${r.eval_runs.join(", ")}.`));
  return html`${parts}`;
}
