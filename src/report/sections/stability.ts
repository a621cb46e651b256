/**
 * The stability panel of an eval run with two or more presentation variants ("Randomness, Not
 * Representation", 2025; docs/stability.md): how far the model's answers move between
 * presentations beside how far real populations differ, whether "closest to X" survives (UNSTABLE
 * marked as such, never as a finding), position and label bias, and how much of the per-question
 * score population and presentation explain.
 */
import { stabilityVerdict, type StabilityReport } from "../../runs/index.js";
import { chart, COLORS } from "../charts.js";
import { html, type Raw } from "../html.js";
import { ci, finite, note, num, pct, section, sub, table } from "./format.js";

const pctOf = (x: unknown) => pct(x, 0);

export async function stabilitySection(s: StabilityReport): Promise<Raw> {
  const parts: Raw[] = [];
  parts.push(note(`${s.variants.length} presentation variants: ${s.variants.join("; ")}`));

  // Spread: the model across variants beside real populations.
  const spreadRows: { what: string; who: string; value: number; lo: number | null; hi: number | null; tip: string }[] = [];
  const m = finite(s.spread.mean);
  if (m !== null) {
    spreadRows.push({
      what: "answers: model across variants",
      who: "model",
      value: m,
      lo: finite(s.spread.ci[0]),
      hi: finite(s.spread.ci[1]),
      tip: `the model's answers move by ${num(m)} ${ci(s.spread.ci)} (mean pairwise TV between variants, ${s.spread.questions} questions)`,
    });
  }
  const hs = finite(s.human_spread);
  if (hs !== null) spreadRows.push({ what: "answers: between real populations", who: "real populations", value: hs, lo: null, hi: null, tip: `real populations differ by ${num(hs)} (mean pairwise TV)` });
  if (s.score_spread) {
    const ms = finite(s.score_spread.model);
    const hh = finite(s.score_spread.human);
    if (ms !== null) spreadRows.push({ what: "mean answer: model across variants", who: "model", value: ms, lo: null, hi: null, tip: `std of the model's mean answer across variants ${num(ms)} (${s.score_spread.questions} questions)` });
    if (hh !== null) spreadRows.push({ what: "mean answer: across populations", who: "real populations", value: hh, lo: null, hi: null, tip: `std of mean answers across populations ${num(hh)}` });
  }
  if (spreadRows.length > 0) {
    const order = spreadRows.map((r) => r.what);
    parts.push(
      sub(
        "How far answers move between presentations, beside how far real populations differ",
        await chart(
          {
            width: 460,
            height: { step: 26 },
            encoding: { y: { field: "what", type: "nominal", sort: order, title: null } },
            layer: [
              {
                data: { values: spreadRows },
                mark: { type: "bar", height: 16 },
                encoding: {
                  x: { field: "value", type: "quantitative", title: "mean pairwise TV / std of the mean answer" },
                  color: { field: "who", type: "nominal", scale: { domain: ["model", "real populations"], range: [COLORS.accent, COLORS.human] }, legend: { orient: "bottom", title: null } },
                  description: { field: "tip" },
                },
              },
              {
                data: { values: spreadRows.filter((r) => r.lo !== null && r.hi !== null) },
                mark: { type: "rule", color: COLORS.ink, strokeWidth: 2 },
                encoding: { x: { field: "lo", type: "quantitative" }, x2: { field: "hi" }, description: { field: "tip" } },
              },
            ],
          },
          "stability-spread",
        ),
      ),
    );
    parts.push(note("A model whose answers move more between rewordings than real populations differ cannot say which population it resembles."));
  }

  // The verdict on "the model is closest to X".
  const c = s.conclusion;
  if (c) {
    const v = stabilityVerdict(c);
    const verdict = c.stable
      ? html`<p><span class="tag ok">STABLE</span> closest population: <strong>${c.top}</strong>: ${v.text}; Kendall's tau between variant rankings ${num(c.kendall_tau)}.</p>`
      : html`<p class="bad"><span class="tag bad">UNSTABLE</span> <strong>${v.headline}</strong>. Closest population: ${v.text} Kendall's tau between variant rankings ${num(c.kendall_tau)}.</p>`;
    parts.push(
      sub("Which population is the model closest to, under every presentation?", [
        verdict,
        table(
          ["variant", "closest population"],
          c.per_variant_top.map((v) => [v.variant, v.top === c.top ? v.top : html`<span class="bad">${v.top}</span>`]),
          ["l", "l"],
        ),
        note(`ranking over all draws: ${c.ranking.join(" > ")}`),
      ]),
    );
  }

  // Position and label bias.
  const bias = async (rows: { key: string; mean: number; expected: number; n: number }[], field: string, label: string) => {
    const values = rows.map((r) => ({ ...r, tip: `${field} ${r.key}: ${num(r.mean, 2)} of the mass (${num(r.expected, 2)} without bias; ${r.n} answers)` }));
    const order = rows.map((r) => r.key);
    return chart(
      {
        width: Math.max(160, 46 * rows.length),
        height: 180,
        encoding: { x: { field: "key", type: "nominal", sort: order, title: field, axis: { labelAngle: 0 } } },
        layer: [
          {
            data: { values },
            mark: { type: "bar", width: { band: 0.7 }, color: COLORS.accent },
            encoding: { y: { field: "mean", type: "quantitative", title: "share of mass" }, description: { field: "tip" } },
          },
          {
            data: { values },
            mark: { type: "tick", color: COLORS.bad, thickness: 2, size: 30 },
            encoding: { y: { field: "expected", type: "quantitative" }, description: { field: "tip" } },
          },
        ],
      },
      label,
    );
  };
  const allPos = s.bias.byPosition.filter((b) => b.n > 0 && finite(b.mean) !== null);
  const allLab = s.bias.byLabel.filter((b) => b.n > 0 && finite(b.mean) !== null);
  const pos = allPos.slice(0, 12);
  const lab = allLab.slice(0, 12);
  const more = [
    ...(allPos.length > pos.length ? [`${allPos.length - pos.length} more positions`] : []),
    ...(allLab.length > lab.length ? [`${allLab.length - lab.length} more labels`] : []),
  ];
  if (pos.length || lab.length) {
    const charts: Raw[] = [];
    if (pos.length) charts.push(await bias(pos.map((b) => ({ key: String(b.position), mean: b.mean, expected: b.expected, n: b.n })), "position shown", "position-bias"));
    if (lab.length) charts.push(await bias(lab.map((b) => ({ key: b.label, mean: b.mean, expected: b.expected, n: b.n })), "label", "label-bias"));
    parts.push(
      sub("Position and label bias", [
        html`<div style="display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start">${charts}</div>`,
        note(
          "Bars: the model's mass on the k-th option shown (or on a label), whatever its content; red ticks: the mass expected without bias (1/number of options)." +
            (more.length ? ` The charts show the first 12; ${more.join(" and ")} are in the run's JSON (stability.bias).` : ""),
        ),
      ]),
    );
  }

  // Variance shares.
  const v = s.variance;
  if (v && [v.population, v.variant, v.interaction].some((x) => finite(x) !== null)) {
    const rows = [
      { part: "population", share: finite(v.population) ?? 0 },
      { part: "presentation variant", share: finite(v.variant) ?? 0 },
      { part: "population x variant", share: finite(v.interaction) ?? 0 },
    ].map((r) => ({ ...r, tip: `${r.part}: ${pctOf(r.share)} of the per-question score's variation` }));
    parts.push(
      sub(
        "What explains the per-question score",
        await chart(
          {
            data: { values: rows },
            width: 420,
            height: { step: 24 },
            mark: { type: "bar", height: 16 },
            encoding: {
              y: { field: "part", type: "nominal", sort: rows.map((r) => r.part), title: null },
              x: { field: "share", type: "quantitative", scale: { domain: [0, 1] }, axis: { format: "%" }, title: `share of the variation (${v.questions} questions)` },
              color: { field: "part", type: "nominal", scale: { range: [COLORS.human, COLORS.accent, COLORS.muted] }, legend: null },
              description: { field: "tip" },
            },
          },
          "variance-shares",
        ),
      ),
    );
  }
  return section("Does the result survive rewording?", parts, "stability");
}
