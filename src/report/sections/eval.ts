/**
 * The page of an eval run: alignment per population with its interval and the three baselines,
 * the populations sorted by alignment, the per-question scatter of model vs human shares, the
 * questions furthest from the population, the stability panel, and every other section the
 * result carries (steerability, methods, datasets, knowledge gap, knowledge questions, MoCa).
 */
import type { EvalResult } from "../../results/index.js";
import { humanView, modelView, stabilityVerdict, type Interval } from "../../runs/index.js";
import { redactCommandLine } from "../../redact.js";
import { furthestScores, type AnswerRow, type RunRow, type Store } from "../../store/index.js";
import { scoredIndices, type Question, type Suite } from "../../surveys/index.js";
import { chart, COLORS } from "../charts.js";
import { alignmentRows, bootstrapPhrase } from "../table.js";
import { html, type Raw } from "../html.js";
import { ci, facts, finite, note, num, pct, section, signed, sub, table, warning } from "./format.js";
import { stabilitySection } from "./stability.js";
import { questionTextsFromPrompts, resolveRunSuite, type SuiteSource } from "./sources.js";

/** The most questions the per-question scatter shows (each has a point per option). */
const SCATTER_QUESTIONS = 500;

export interface EvalPageOptions extends SuiteSource {
  /** The population of the per-question scatter (default: the run's first). */
  readonly population?: string;
}

interface RunConfigView {
  readonly populations?: string[];
  readonly variants?: string[];
  readonly personas?: { id: string }[];
  readonly conventions?: { refusals?: "drop" | "keep" };
  readonly seed?: number;
  readonly resamples?: number;
}

/** A domain around the values, padded and rounded to 0.05, inside [0, 1]. */
export function alignmentDomain(values: readonly (number | null)[]): [number, number] {
  const v = values.filter((x): x is number => x !== null);
  if (v.length === 0) return [0, 1];
  const lo = Math.max(0, Math.floor((Math.min(...v) - 0.02) * 20) / 20);
  const hi = Math.min(1, Math.ceil((Math.max(...v) + 0.02) * 20) / 20);
  return lo < hi ? [lo, hi] : [Math.max(0, lo - 0.05), Math.min(1, hi + 0.05)];
}

export function humanBaselineLabel(r: Pick<EvalResult, "baselines">): string {
  const h = r.baselines.human;
  return h?.reference ? `human vs ${h.reference}` : "human vs others";
}

const BASELINES = (human: string) => ({ domain: ["uniform answers", human, "noise floor"], range: [COLORS.uniform, COLORS.human, COLORS.noise] });

/** Alignment per population: points with 95% intervals, baselines as ticks beside them. */
export async function alignmentChart(r: EvalResult, label = "alignment"): Promise<Raw> {
  const human = humanBaselineLabel(r);
  const pops = r.populations.filter((p) => finite(p.mean) !== null);
  const rows = pops.map((p) => ({
    population: p.population,
    alignment: p.mean,
    lo: finite(p.ci[0]),
    hi: finite(p.ci[1]),
    tip: `${p.population}: alignment ${num(p.mean)} ${ci(p.ci)} over ${p.n} questions`,
  }));
  const base = pops.flatMap((p) =>
    (
      [
        ["uniform answers", p.uniform],
        [human, p.human],
        ["noise floor", p.noise],
      ] as const
    ).flatMap(([baseline, value]) => (finite(value) === null ? [] : [{ population: p.population, baseline, value, tip: `${p.population}: ${baseline} ${num(value)}` }])),
  );
  const domain = alignmentDomain([...rows.flatMap((x) => [x.alignment, x.lo, x.hi]), ...base.map((b) => b.value)]);
  return chart(
    {
      width: 520,
      height: { step: 28 },
      encoding: { y: { field: "population", type: "nominal", sort: pops.map((p) => p.population), title: null } },
      layer: [
        {
          data: { values: base },
          mark: { type: "tick", thickness: 3, size: 18 },
          encoding: {
            x: { field: "value", type: "quantitative", scale: { domain, zero: false }, title: `alignment (1 - ${r.metric} distance)` },
            color: { field: "baseline", type: "nominal", scale: BASELINES(human), legend: { orient: "bottom", title: "baselines" } },
            description: { field: "tip" },
          },
        },
        {
          data: { values: rows.filter((x) => x.lo !== null && x.hi !== null) },
          mark: { type: "rule", color: COLORS.ink, strokeWidth: 2 },
          encoding: { x: { field: "lo", type: "quantitative" }, x2: { field: "hi" }, description: { field: "tip" } },
        },
        {
          data: { values: rows },
          mark: { type: "point", filled: true, size: 80, color: COLORS.ink, opacity: 1 },
          encoding: { x: { field: "alignment", type: "quantitative" }, description: { field: "tip" } },
        },
      ],
    },
    label,
  );
}

/** Populations sorted by alignment; the closest, and those whose interval overlaps it, marked. */
async function closestChart(r: EvalResult): Promise<Raw> {
  const pops = r.populations.filter((p) => finite(p.mean) !== null).sort((a, b) => b.mean - a.mean);
  const top = pops[0]!;
  const topLo = finite(top.ci[0]) ?? top.mean;
  const rows = pops.map((p, i) => ({
    population: p.population,
    alignment: p.mean,
    label: num(p.mean),
    status: i === 0 ? "closest" : (finite(p.ci[1]) ?? p.mean) >= topLo ? "interval overlaps the closest" : "further",
    tip: `${i + 1}. ${p.population}: ${num(p.mean)} ${ci(p.ci)}`,
  }));
  const domain = alignmentDomain(rows.map((x) => x.alignment));
  const order = rows.map((x) => x.population);
  return chart(
    {
      data: { values: rows },
      width: 480,
      height: { step: 24 },
      encoding: { y: { field: "population", type: "nominal", sort: order, title: null } },
      layer: [
        {
          mark: { type: "bar", height: 16, clip: true },
          encoding: {
            x: { field: "alignment", type: "quantitative", scale: { domain, zero: false }, title: "alignment" },
            color: {
              field: "status",
              type: "nominal",
              scale: { domain: ["closest", "interval overlaps the closest", "further"], range: [COLORS.accent, "#9dbcf0", "#d0d5dd"] },
              legend: { orient: "bottom", title: null },
            },
            description: { field: "tip" },
          },
        },
        { mark: { type: "text", align: "left", dx: 4, fontSize: 11, aria: false }, encoding: { x: { field: "alignment", type: "quantitative" }, text: { field: "label" } } },
      ],
    },
    "closest",
  );
}

interface ScatterPoint {
  readonly question: string;
  readonly option: string;
  readonly model: number;
  readonly human: number;
  readonly tip: string;
}

/**
 * One point per question x option: the model's share against the population's. The model's
 * distribution is the headline method's, under the population's persona when the run steers,
 * averaged over presentation variants; both restricted to the scored options (refusals dropped)
 * unless the run kept refusals.
 */
export function scatterPoints(suite: Suite, answers: readonly AnswerRow[], o: { method: string; persona: string; population: string; refusals: "drop" | "keep"; questionIds: ReadonlySet<string> }): ScatterPoint[] {
  const byQuestion = new Map<string, number[][]>();
  for (const a of answers) {
    if (a.method !== o.method || a.persona !== o.persona || a.status !== "scored" || !a.distribution) continue;
    const list = byQuestion.get(a.questionId);
    if (list) list.push([...a.distribution]);
    else byQuestion.set(a.questionId, [[...a.distribution]]);
  }
  const questions = new Map<string, Question>(suite.questions.map((q) => [q.id, q]));
  const out: ScatterPoint[] = [];
  for (const [qid, dists] of byQuestion) {
    const q = questions.get(qid);
    if (!q || q.correct !== undefined || !o.questionIds.has(qid)) continue;
    const mean = dists[0]!.map((_, k) => dists.reduce((s, d) => s + (d[k] ?? 0), 0) / dists.length);
    const m = modelView(q, mean, o.refusals);
    const h = humanView(suite.human(qid, o.population), o.refusals);
    if (!m || !h || h.length !== m.length) continue;
    const idx = o.refusals === "keep" ? q.options.map((_, i) => i) : scoredIndices(q);
    idx.forEach((optionIndex, k) => {
      const option = q.options[optionIndex]!;
      out.push({
        question: qid,
        option,
        model: m[k]!,
        human: h[k]!,
        tip: `${qid}: ${q.text}\n${option}: model ${pct(m[k])}, ${o.population} ${pct(h[k])}`,
      });
    });
  }
  return out;
}

async function scatterChart(points: readonly ScatterPoint[], population: string): Promise<Raw> {
  return chart(
    {
      width: 400,
      height: 400,
      layer: [
        {
          data: { values: [{ x: 0, y: 0 }, { x: 1, y: 1 }] },
          mark: { type: "line", color: COLORS.muted, strokeDash: [4, 4], aria: false },
          encoding: {
            x: { field: "x", type: "quantitative", scale: { domain: [0, 1] }, axis: { format: "%" }, title: `share of ${population}` },
            y: { field: "y", type: "quantitative", scale: { domain: [0, 1] }, axis: { format: "%" }, title: "model's share" },
          },
        },
        {
          data: { values: points },
          mark: { type: "point", filled: true, size: 45, opacity: 0.55, color: COLORS.accent },
          encoding: { x: { field: "human", type: "quantitative" }, y: { field: "model", type: "quantitative" }, description: { field: "tip" }, tooltip: { field: "tip" } },
        },
      ],
    },
    "scatter",
  );
}

/** The questions where the model is furthest from a population (from the stored per-question scores). */
async function furthestQuestions(store: Store, run: RunRow, r: EvalResult, population: string, texts: ReadonlyMap<string, string>): Promise<Raw | null> {
  const rows = await furthestScores(store, run.id, { method: r.method, steered: r.steerability !== undefined, population, limit: 10 });
  if (rows.length === 0) return null;
  return table(
    ["question", "text", "model's distance", "uniform answers' distance", `${humanBaselineLabel(r)} distance`],
    rows.map((x) => [x.questionId, texts.get(x.questionId) ?? "", num(x.modelDistance), num(x.uniformDistance), num(x.humanDistance)]),
    ["l", "l", "r", "r", "r"],
  );
}

function alignmentTable(r: EvalResult): Raw {
  const { header, rows } = alignmentRows(r);
  return table(header, rows);
}

const interval = (i: Interval | undefined) => (i ? `${num(i.mean)} ${ci(i.ci)}` : "-");

/** The sections after the headline: steerability, methods, datasets, knowledge gap, knowledge, MoCa. */
function extraSections(r: EvalResult): Raw[] {
  const out: Raw[] = [];
  if (r.steerability) {
    const unsteered = new Map((r.unsteered?.populations ?? []).map((p) => [p.population, p]));
    const steered = new Map(r.populations.map((p) => [p.population, p]));
    out.push(
      section("Steerability: alignment with the population's persona minus without", [
        table(
          ["population", "with persona", "without", "steering", "95% CI", "questions"],
          r.steerability.populations.map((p) => [p.population, num(steered.get(p.population)?.mean), num(unsteered.get(p.population)?.mean), signed(p.mean), ci(p.ci), String(p.n)]),
        ),
        note(`mean steering ${signed(r.steerability.overall.mean)} ${ci(r.steerability.overall.ci)} (paired bootstrap over questions)`),
      ]),
    );
  }
  if (r.by_method) {
    const pops = r.populations.map((p) => p.population);
    out.push(
      section("Elicitation methods", [
        table(
          ["method", "alignment", "95% CI", ...pops],
          r.by_method.map((m) => {
            const byPop = new Map(m.populations.map((p) => [p.population, p.mean]));
            return [m.method, num(m.overall.mean), ci(m.overall.ci), ...pops.map((p) => num(byPop.get(p)))];
          }),
        ),
      ]),
    );
  }
  if (r.datasets) {
    out.push(section("Datasets", table(["dataset", "alignment", "95% CI", "questions"], r.datasets.map((d) => [d.dataset, num(d.overall.mean), ci(d.overall.ci), String(d.n)]))));
  }
  if (r.gap) {
    const g = r.gap;
    out.push(
      section(
        "Knowledge-to-simulation gap (Meister et al. 2024)",
        g.pairs === 0
          ? note(`not computable: no question-population pair has both a valid ${g.sequence_method} and a valid stated distribution`)
          : [
              table(
                ["method", "mean TV", "95% CI", "pairs"],
                g.formats.map((f) => [f.method, num(f.tv.mean), ci(f.tv.ci), String(f.pairs)]),
              ),
              table(
                ["statistic", "value"],
                [
                  [`TV(${g.sequence_method}) - TV(${g.verbalize_method}), paired bootstrap over questions`, interval(g.difference)],
                  [`TV(${g.sequence_method}) / TV(${g.verbalize_method}) - 1`, num(g.relative)],
                  ["question-population pairs", String(g.pairs)],
                ],
              ),
              note("Lower TV is closer to the population. A positive difference: the model states the distribution better than it simulates it."),
            ],
      ),
    );
  }
  if (r.gap_v2) {
    out.push(
      section(
        "Knowledge-to-simulation gap, as an earlier civitas stored it",
        note(`TV(${r.gap_v2.sequence_method}) / TV(verbalize) - 1 = ${interval(r.gap_v2)}: ${r.gap_v2.sequence_method} stood in for the sequence; not Meister et al.'s statistic.`),
      ),
    );
  }
  if (r.knowledge) {
    out.push(
      section(
        `Knowledge questions (${r.knowledge.n})`,
        table(
          ["score", "mean", "95% CI"],
          [
            ["accuracy (most likely option is the correct one)", num(r.knowledge.accuracy.mean), ci(r.knowledge.accuracy.ci)],
            ["probability of the correct option", num(r.knowledge.p_correct.mean), ci(r.knowledge.p_correct.ci)],
          ],
        ),
      ),
    );
  }
  if (r.moca) {
    const m = r.moca;
    const rows = (["agreement", "auroc", "accuracy"] as const).map((k) => [k, num(m[k].mean), ci(m[k].ci)]);
    out.push(section(`MoCa (${m.n} stories)`, table(["score", "mean", "95% CI"], rows)));
  }
  if (r.mort) {
    const rows = r.mort.populations.map((p) => [p.population, num(p.r.mean), ci(p.r.ci), String(p.r.n)]);
    out.push(section("MoRT: does the model say yes where people do? (Schramowski et al. 2022)", [table(["population", "Pearson's r", "95% CI", "actions"], rows), note("r between the model's P(yes), among yes and no, and the share of people answering yes, over actions; the paper's statistic.")]));
  }
  if (r.papi) {
    const p = r.papi;
    type Summary = typeof p.item_distance;
    const row = (name: string, s: Summary, uniform?: number, others?: number, unsteered?: Summary) => [
      name,
      num(s.mean),
      ci(s.ci),
      num(s.sd),
      `${num(s.quantiles.p10)} / ${num(s.quantiles.p25)} / ${num(s.quantiles.p50)} / ${num(s.quantiles.p75)} / ${num(s.quantiles.p90)}`,
      num(uniform),
      num(others),
      ...(p.unsteered ? [num(unsteered?.mean)] : []),
    ];
    out.push(
      section(`PAPI individual level (Zhu et al. 2024): ${p.persons} persons`, [
        table(
          ["per person, held-out items (1-5 scale)", "mean", "95% CI", "sd", "p10 / p25 / median / p75 / p90", "uniform", "other people", ...(p.unsteered ? ["unsteered"] : [])],
          [
            row("item distance E|model - person|", p.item_distance, p.baselines.uniform.item_distance, p.baselines.population.item_distance, p.unsteered?.item_distance),
            row("item distance, most likely answer", p.item_distance_mode, undefined, undefined, p.unsteered?.item_distance_mode),
            row("Big Five domain score error", p.domain_error, p.baselines.uniform.domain_error, p.baselines.population.domain_error, p.unsteered?.domain_error),
            ...p.domains.map((d) => row(`domain ${d.domain}`, d.domain_error)),
          ],
        ),
        note(p.steered ? "the model was told each person's 120 profile answers (--persona); lower is closer" : "the model was not told the persons' profiles (add --persona for the paper's setting); lower is closer"),
      ]),
    );
  }
  if (r.multicultural) {
    const m = r.multicultural;
    const rows = [
      ...m.by_language.flatMap((l) => l.groups.map((g) => [`asked in ${l.language}: Spearman with ${g.group} (${g.n} questions)`, num(g.spearman.mean), ci(g.spearman.ci)])),
      ...m.us_bias.map((b) => [`asked in ${b.language}: US bias (Spearman with US minus with ${b.native.join(", ")})`, num(b.us_minus_native.mean), ci(b.us_minus_native.ci)]),
      ...m.native_vs_english.map((d) => [`${d.country}: asked in ${d.language} minus asked in English (${d.n} questions)`, num(d.native_minus_english.mean), ci(d.native_minus_english.ci)]),
    ];
    out.push(section("Alignment by the language asked in (Rystrøm et al. 2025)", table(["score", "mean", "95% CI"], rows)));
  }
  return out;
}

function answersSection(r: EvalResult, run: RunRow): Raw {
  const q = r.questions;
  const sa = r.set_aside;
  const a = r.answers;
  const modes = Object.entries(a.modes).filter(([m]) => m !== "none");
  return section("Questions and answers", [
    facts([
      ["questions", `${q.planned} planned, ${q.answered} answered, ${q.scored} scored${q.no_scale ? ` (${q.no_scale} without an ordinal scale)` : ""}${q.knowledge ? `, ${q.knowledge} knowledge` : ""}`],
      ["questions skipped", q.skipped ? `${q.skipped}: ${q.skipped_reason ?? "no chosen population was asked them"}` : null],
      ["answers set aside", `${sa.total} (low coverage ${sa.low_coverage}, off-format ${sa.off_format}, only refusal ${sa.only_refusal})${sa.unparsed_samples ? `, ${sa.unparsed_samples} sampled answers named no option` : ""}${sa.unparsed_sequence_tokens ? `, ${sa.unparsed_sequence_tokens} tokens of sequences were no answer` : ""}${sa.invalid_statements ? `, ${sa.invalid_statements} stated distributions invalid` : ""}`],
      ["coverage", `mean ${pct(r.coverage.mean)}, min ${pct(r.coverage.min)}${finite(r.coverage.min_required) ? `, required ${pct(r.coverage.min_required)}` : ""}`],
      ["constrained decoding", modes.length ? modes.map(([m, n]) => `${n} answers by ${m}`).join(", ") : null],
      ["model calls", `${a.model_calls} (${a.cache_hits} from the cache, ${a.resumed} already stored) in ${num(r.seconds, 1)} s`],
      ["run", `${run.id} · ${run.status} · created ${run.createdAt.toISOString().slice(0, 19).replace("T", " ")}`],
      ["command", html`<code>${redactCommandLine(run.command)}</code>`],
    ]),
  ]);
}

/** The body of an eval run's page. */
export async function evalBody(store: Store, run: RunRow, r: EvalResult, options: EvalPageOptions = {}): Promise<Raw> {
  const config = (run.config ?? {}) as RunConfigView;
  const parts: Raw[] = [];
  parts.push(
    facts([
      ["suite", r.suite],
      ["model", r.model],
      ["method", r.method],
      ["alignment", `${r.metric_label}; ${bootstrapPhrase(r.bootstrap)}`],
      ["protocol", r.protocol],
      ["variants", config.variants && config.variants.length > 1 ? config.variants.join("; ") : null],
      ["personas", r.steerability ? "steered towards each population" : null],
    ]),
  );
  for (const w of r.warnings) parts.push(warning(w));

  const scoredPops = r.populations.filter((p) => finite(p.mean) !== null);
  if (scoredPops.length > 0) {
    parts.push(
      section(
        "Alignment per population",
        [
          await alignmentChart(r),
          note(
            `Dots: the model's alignment with each population; lines: 95% interval. Ticks: uniform answers, ${humanBaselineLabel(r)} (how far real groups are from each other), and the noise floor (a fresh sample of the survey's size; no model can be expected to beat it).`,
          ),
          alignmentTable(r),
        ],
        "alignment",
      ),
    );
    if (scoredPops.length > 1) {
      const c = r.stability?.conclusion;
      parts.push(
        section(
          "Closest population",
          [
            await closestChart(r),
            c && !c.stable
              ? html`<p class="bad"><span class="tag bad">UNSTABLE</span> <strong>${stabilityVerdict(c).headline}</strong>: ${stabilityVerdict(c).text} The order above is not a finding.</p>`
              : note("Sorted by alignment. Populations whose interval overlaps the closest one's cannot be told apart from it."),
          ],
          "closest",
        ),
      );
    }
  } else {
    parts.push(section("Alignment per population", note("No population could be scored."), "alignment"));
  }

  // Per question: model vs human shares, and the largest gaps.
  const pops = r.populations.map((p) => p.population);
  let population = pops[0];
  const questionParts: Raw[] = [];
  if (options.population !== undefined) {
    if (pops.includes(options.population)) population = options.population;
    else questionParts.push(note(`This run has no population ${options.population} (it has ${pops.join(", ")}); showing ${population ?? "none"}.`));
  }
  if (population !== undefined) {
    const steered = r.steerability !== undefined;
    // Only what the scatter shows: the headline method, the population's persona (or none), and at
    // most SCATTER_QUESTIONS questions, read in the database (a run may hold a million answers).
    const answers = await store.answers(run.id, { method: r.method, persona: steered ? population : "none", questions: SCATTER_QUESTIONS });
    const resolved = await resolveRunSuite(run, options);
    const questionIds = new Set(((run.config ?? {}) as { questions?: string[] }).questions ?? answers.map((a) => a.questionId));
    let texts: Map<string, string>;
    if (resolved.suite) {
      texts = new Map(resolved.suite.questions.map((q) => [q.id, q.text]));
      const points = scatterPoints(resolved.suite, answers, {
        method: r.method,
        persona: steered ? population : "none",
        population,
        refusals: config.conventions?.refusals ?? "drop",
        questionIds,
      });
      const planned = r.questions?.planned ?? 0;
      if (planned > SCATTER_QUESTIONS) questionParts.push(note(`The scatter shows the first ${SCATTER_QUESTIONS} of the run's ${planned} questions (by id).`));
      if (points.length > 0) {
        questionParts.push(
          sub(`Model vs ${population}, one point per question and option`, [
            await scatterChart(points, population),
            note(
              `${points.length} points from ${new Set(points.map((p) => p.question)).size} questions. On the dashed line the model gives an option the share the population gives it. Hover a point for its question.` +
                (config.variants && config.variants.length > 1 ? " The model's shares are averaged over the presentation variants." : "") +
                (steered ? ` The model answers with ${population}'s persona.` : ""),
            ),
          ]),
        );
      } else {
        questionParts.push(note(`The survey has no per-option shares of ${population} on this run's questions, so there is no scatter.`));
      }
    } else {
      texts = await questionTextsFromPrompts(store, answers);
      questionParts.push(note(`No scatter of model vs human shares: ${resolved.note}. Question texts below are read from the prompts.`));
    }
    const furthest = await furthestQuestions(store, run, r, population, texts);
    if (furthest) questionParts.push(sub(`Where the model is furthest from ${population}`, furthest));
  }
  if (questionParts.length > 0) parts.push(section("Per question", questionParts, "questions"));

  if (r.stability) parts.push(await stabilitySection(r.stability));
  parts.push(...extraSections(r));
  parts.push(answersSection(r, run));
  return html`${parts}`;
}
