/**
 * Outside predictions: model distributions produced elsewhere (a vLLM batch job, another
 * toolkit), scored by civitas against a suite's populations (`civitas score`).
 *
 * A JSONL file, one object a line:
 *   {"question": "<id>", "population": "<population>", "distribution": {"<option text>": p, ...}}
 * or with "distribution" an array in survey order (over all options, or over the scored options
 * only). Validated line by line: problems that make a line meaningless are errors; problems a
 * reader should know about (missing options counted as 0, sums renormalised) are warnings.
 */
import { z } from "zod";
import { CivitasError, messageOf } from "../errors.js";
import { readText } from "../files.js";
import { jsonLines } from "../jsonl.js";
import { resolvePopulations, scoredIndices, type Population, type Question, type Suite } from "../surveys/index.js";
import { protocolNotes, type Conventions } from "./protocols.js";
import type { EvalScores } from "./result.js";
import { distanceTable, summarize } from "./score.js";
import { findMetric } from "../metrics/index.js";

const Line = z.object({
  question: z.string().min(1),
  population: z.string().min(1),
  distribution: z.union([z.record(z.string(), z.number()), z.array(z.number())]),
});

/** How far from 1 a sum may be before a warning (rounding in files written with few digits). */
const SUM_TOLERANCE = 1e-3;

export interface Predictions {
  /** question id -> population id -> distribution over all options, survey order. */
  readonly byQuestion: Map<string, Map<string, number[]>>;
  readonly questions: Question[];
  readonly populations: Population[];
  readonly warnings: string[];
  readonly lines: number;
}

export function parsePredictions(text: string, file: string, suite: Suite): Predictions {
  const questions = new Map(suite.questions.map((q) => [q.id, q]));
  const byQuestion = new Map<string, Map<string, number[]>>();
  const popOrder: Population[] = [];
  const seenPop = new Set<string>();
  const warnings: string[] = [];
  let count = 0;
  for (const { at, value: obj } of jsonLines(text, file)) {
    const parsed = Line.safeParse(obj);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length > 0 ? issue.path.join(".") : "the line";
      throw new CivitasError("input", `${at}, field ${field}: ${issue.message}`, {
        hint: 'each line: {"question": "<id>", "population": "<population>", "distribution": {"<option>": p, ...}}',
      });
    }
    const { question: qid, population, distribution } = parsed.data;
    const q = questions.get(qid);
    if (!q) {
      throw new CivitasError("input", `${at}: unknown question "${qid}" in suite ${suite.name}`, {
        hint: `\`civitas suites show ${suite.name}\` lists the question ids`,
      });
    }
    let pop: Population;
    try {
      const found = resolvePopulations(suite, [population]);
      if (found.length !== 1) throw new CivitasError("usage", `"${population}" is an attribute, not one population`);
      pop = found[0]!;
    } catch (e) {
      throw new CivitasError("input", `${at}: ${messageOf(e)}`, { hint: `name one population as \`civitas suites show ${suite.name}\` lists them` });
    }
    let dist: number[];
    if (Array.isArray(distribution)) {
      const scored = scoredIndices(q);
      if (distribution.length === q.options.length) dist = [...distribution];
      else if (distribution.length === scored.length) {
        dist = q.options.map(() => 0);
        scored.forEach((k, j) => (dist[k] = distribution[j]!));
      } else {
        throw new CivitasError(
          "input",
          `${at}: question ${qid} has ${q.options.length} options (${scored.length} scored), the distribution has ${distribution.length} values`,
          { hint: `options in survey order: ${q.options.map((o) => JSON.stringify(o)).join(", ")}` },
        );
      }
    } else {
      const index = new Map(q.options.map((o, k) => [o, k]));
      const lower = new Map(q.options.map((o, k) => [o.trim().toLowerCase(), k]));
      dist = q.options.map(() => 0);
      const given = new Set<number>();
      for (const [key, p] of Object.entries(distribution)) {
        const k = index.get(key) ?? lower.get(key.trim().toLowerCase());
        if (k === undefined) {
          throw new CivitasError("input", `${at}: "${key}" is not an option of ${qid}`, {
            hint: `its options: ${q.options.map((o) => JSON.stringify(o)).join(", ")}`,
          });
        }
        dist[k] = p;
        given.add(k);
      }
      const missing = scoredIndices(q).filter((k) => !given.has(k));
      if (missing.length > 0) warnings.push(`${at}: no value for ${missing.map((k) => JSON.stringify(q.options[k])).join(", ")} of ${qid}: counted as 0`);
    }
    if (dist.some((p) => !Number.isFinite(p) || p < 0)) throw new CivitasError("input", `${at}: probabilities must be finite and >= 0`);
    const sum = dist.reduce((a, b) => a + b, 0);
    if (!(sum > 0)) throw new CivitasError("input", `${at}: the distribution of ${qid} sums to 0`);
    if (Math.abs(sum - 1) > SUM_TOLERANCE) warnings.push(`${at}: the distribution of ${qid} sums to ${sum.toFixed(4)}: renormalised`);
    dist = dist.map((p) => p / sum);
    let perQ = byQuestion.get(qid);
    if (!perQ) byQuestion.set(qid, (perQ = new Map()));
    if (perQ.has(pop.id)) throw new CivitasError("input", `${at}: a second prediction for ${qid} and ${pop.id}`);
    perQ.set(pop.id, dist);
    if (!seenPop.has(pop.id)) {
      seenPop.add(pop.id);
      popOrder.push(pop);
    }
    count++;
  }
  if (count === 0) throw new CivitasError("input", `${file} holds no predictions`);
  // Suite order for both, so results do not depend on the file's order.
  const popIndex = new Map(suite.populations.map((p, k) => [p.id, k]));
  return {
    byQuestion,
    questions: suite.questions.filter((q) => byQuestion.has(q.id)),
    populations: popOrder.sort((a, b) => popIndex.get(a.id)! - popIndex.get(b.id)!),
    warnings,
    lines: count,
  };
}

export async function readPredictions(file: string, suite: Suite): Promise<Predictions> {
  const text = await readText(file, "predictions file");
  return parsePredictions(text, file, suite);
}

/** Scores predictions under the conventions, in the shape `civitas eval --json` uses. */
export function scorePredictions(suite: Suite, p: Predictions, conventions: Conventions & { readonly protocol: string | null }, seed: number): EvalScores {
  // A protocol may leave questions out (suh2025), whoever predicted them.
  const excluded = new Set(conventions.excludeQuestions ?? []);
  const table = distanceTable(
    suite,
    excluded.size > 0 ? p.questions.filter((q) => !excluded.has(q.id)) : p.questions,
    p.populations,
    (q, pop) => {
      const d = p.byQuestion.get(q.id)?.get(pop.id);
      return d ? [d] : undefined;
    },
    { conventions, seed },
  );
  const summary = summarize(table, suite, conventions, seed);
  const warnings = [...(suite.warnings ?? []), ...p.warnings, ...protocolNotes(conventions.protocol, suite)];
  for (const pop of p.populations) {
    if (!p.questions.some((q) => suite.human(q.id, pop.id))) warnings.push(`no human data for ${pop.id} on the predicted questions`);
  }
  return {
    ...summary,
    metric_label: findMetric(conventions.metric).label,
    protocol: conventions.protocol,
    method: "predictions",
    warnings,
  };
}
