/**
 * The score stage of `civitas eval`: reads the run's stored answers only (never the model), scores
 * them against every population (metrics, bootstrap intervals, baselines, and what the run asked
 * for besides: steerability, the knowledge-to-simulation gap, knowledge questions, suite-specific
 * scores), and stores the result with the run.
 */
import type { Store } from "../../store/index.js";
import { protocolNotes } from "../protocols.js";
import { SKIPPED_REASON } from "../questions.js";
import type { EvalResult } from "../../results/index.js";
import { scoreAnswers } from "../result.js";
import type { EvalPlan, PlannedRun } from "./plan.js";

/** The result of `civitas eval`, as printed with --json: its schema is in results/eval.ts. */
export type { EvalResult };

/** The score stage: reads the run's stored answers only, scores them and stores the result. */
export async function scoreRun(
  store: Store,
  plan: EvalPlan,
  run: PlannedRun,
  counts: { readonly resumed: number; readonly modelCalls: number; readonly cacheHits: number; readonly started: number; readonly warnings?: readonly string[] },
): Promise<EvalResult> {
  const { modelCalls, cacheHits, started } = counts;
  const { id, resolved: r } = run;
  const answers = await store.answers(id);
  const topK = r.settings.labelReading && r.settings.labelReading.kind !== "forms" ? r.settings.labelReading.k : null;
  // The top-k reading's answers are looked up too: how many tokens each was read from.
  const requests = await store.lookupRequests([...new Set(answers.filter((a) => a.method !== "logprobs" || topK !== null).map((a) => a.requestKey))]);
  const s = scoreAnswers(plan.suite, r.questions, plan.populations, answers, {
    conventions: r.conventions,
    methods: r.methods,
    personas: r.personas,
    seed: plan.seed,
    samples: r.settings.samples,
    variants: r.variants,
  });
  await store.writeScores(id, s.rows);

  let coverageSum = 0;
  let coverageMin = Number.POSITIVE_INFINITY;
  const setAside = { low_coverage: 0, off_format: 0, only_refusal: 0 };
  const modes: Record<string, number> = {};
  for (const a of answers) {
    coverageSum += a.coverage;
    coverageMin = Math.min(coverageMin, a.coverage);
    if (a.status !== "scored") setAside[a.status]++;
    modes[a.mode] = (modes[a.mode] ?? 0) + 1;
  }
  let unparsed = 0;
  let unparsedAnswers = 0;
  let invalid = 0;
  let shortTopK = 0;
  let fewestTop = Number.POSITIVE_INFINITY;
  let readTopK = 0;
  for (const q of requests.values()) {
    const raw = q.raw as { unparsed?: number; error?: string; top?: unknown[]; top_k?: number } | null;
    if (q.method === "sample") unparsed += raw?.unparsed ?? 0;
    if (q.method === "sequence") unparsedAnswers += raw?.unparsed ?? 0;
    if (q.method === "verbalize" && raw?.error) invalid++;
    if (q.method === "logprobs" && topK !== null && Array.isArray(raw?.top)) {
      readTopK++;
      if (raw.top.length < topK) shortTopK++;
      fewestTop = Math.min(fewestTop, raw.top.length);
    }
  }
  const meanCoverage = answers.length ? coverageSum / answers.length : Number.NaN;
  const warnings = [...(plan.suite.warnings ?? []), ...s.scores.warnings, ...(counts.warnings ?? []), ...protocolNotes(r.conventions.protocol, plan.suite)];
  if (shortTopK > 0) {
    warnings.push(
      `${shortTopK} of ${readTopK} answers had label probabilities read from fewer than the top ${topK} next tokens the protocol reads (as few as ${fewestTop}; ` +
        `an OpenAI-compatible server returns at most 20 top_logprobs): a label ranked below them gets ${r.settings.labelReading?.kind === "top-k-sum" ? "0" : "the miss value min(min_prob, remaining_prob / misses)"} instead of its probability`,
    );
  }
  // Answers whose cached response was pruned (civitas cache prune/clear) keep their distributions;
  // what was read from the response (unparsed samples, invalid statements) is counted without them.
  const pruned = new Set(answers.filter((a) => a.method !== "logprobs" && !requests.has(a.requestKey)).map((a) => a.requestKey)).size;
  if (pruned > 0) {
    warnings.push(`${pruned} cached response${pruned === 1 ? " was" : "s were"} pruned from the store (civitas cache prune/clear): unparsed samples and invalid statements are counted without ${pruned === 1 ? "it" : "them"}`);
  }
  if (meanCoverage < 0.5) {
    warnings.push(
      `mean coverage is ${(100 * meanCoverage).toFixed(1)}%: ` +
        (r.methods.includes("logprobs")
          ? "most of the model's next-token probability is not on an option label, and distributions are renormalised over what is (expected of base or tiny models; --min-coverage sets low answers aside)"
          : "most answers named no valid option (--constrain makes sampled and stated answers well-formed where the backend can)"),
    );
  }
  if (s.scores.questions.scored === 0 && !s.scores.knowledge) warnings.push("no question could be scored");
  const result: EvalResult = {
    run: id,
    suite: plan.suite.name,
    model: plan.model.display,
    ...s.scores,
    questions: {
      planned: r.questions.length,
      answered: new Set(answers.map((a) => a.questionId)).size,
      ...s.scores.questions,
      skipped: r.skipped,
      ...(r.skipped > 0 ? { skipped_reason: SKIPPED_REASON } : {}),
    },
    set_aside: { ...setAside, total: setAside.low_coverage + setAside.off_format + setAside.only_refusal, unparsed_samples: unparsed, unparsed_sequence_tokens: unparsedAnswers, invalid_statements: invalid },
    coverage: { mean: meanCoverage, min: answers.length ? coverageMin : Number.NaN, min_required: plan.minCoverage },
    answers: { total: answers.length, model_calls: modelCalls, cache_hits: cacheHits, resumed: counts.resumed, modes },
    store: store.file,
    warnings,
    seconds: (performance.now() - started) / 1000,
  };
  await store.finishRun(id, result, { counts: { ...result.answers, seconds: result.seconds } });
  return result;
}
