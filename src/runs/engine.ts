/**
 * The run engine: plan -> execute -> score.
 *
 * plan:    questions x variants x personas, each rendered to a prompt with a cache key.
 * execute: answers already stored for this run are kept; prompts in the request cache are
 *          answered from it; only the rest go to the model (loaded only then), with bounded
 *          concurrency. Every answer is written as it arrives (group commit).
 * score:   metrics against each population, bootstrap intervals, baselines; stored with the run.
 *
 * A run's id is a hash of everything that determines its numbers, so the same command finds the
 * same run again and resumes it.
 */
import { createHash } from "node:crypto";
import pLimit from "p-limit";
import { CivitasError, isCivitasError, messageOf } from "../errors.js";
import { METRICS, type MetricName } from "../metrics/index.js";
import { renormalise, type ModelClient, type ModelSpec } from "../models/index.js";
import type { AnswerRow, AnswerStatus, RequestRow, Store } from "../store/index.js";
import { NO_PERSONA, renderPrompt, STANDARD_VARIANT, toSurveyOrder, type Persona, type Population, type Question, type Suite, type Variant } from "../surveys/index.js";
import { scoredDistribution, scoreRun, type Interval, type PopulationResult } from "./score.js";

export interface EvalPlan {
  readonly suite: Suite;
  /** The questions to ask (after --limit), suite order. */
  readonly questions: readonly Question[];
  readonly populations: readonly Population[];
  readonly model: ModelSpec;
  readonly metric: MetricName;
  /** Answers whose label coverage is below this are stored but set aside. */
  readonly minCoverage: number;
  readonly variants?: readonly Variant[];
  readonly personas?: readonly Persona[];
  readonly seed: number;
  readonly resamples: number;
  /** The command line, for `runs list`. */
  readonly command: string;
}

export interface EvalProgress {
  readonly total: number;
  readonly done: number;
  readonly modelCalls: number;
  readonly cacheHits: number;
}

export interface EvalEvents {
  /** Once planned: how much is already stored, how much the cache answers, how much is left to ask. */
  onPlan?(info: { runId: string; resumed: boolean; total: number; stored: number; cached: number; toAsk: number }): void;
  onModelLoading?(display: string): void;
  onModelReady?(info: { concurrency: number; loadSeconds: number }): void;
  onProgress?(p: EvalProgress): void;
  /** Stops asking the model; what is answered is kept and the run can be resumed. */
  readonly signal?: AbortSignal;
}

/** The result of `civitas eval`, as printed with --json. */
export interface EvalResult {
  readonly run: string;
  readonly suite: string;
  readonly model: string;
  readonly metric: MetricName;
  readonly metric_label: string;
  readonly overall: Interval;
  readonly populations: PopulationResult[];
  readonly baselines: {
    readonly uniform: Interval;
    readonly human: (Interval & { readonly reference: string }) | null;
  };
  readonly set_aside: { readonly low_coverage: number; readonly off_format: number; readonly only_refusal: number; readonly total: number };
  readonly questions: { readonly planned: number; readonly answered: number; readonly scored: number; readonly no_scale: number };
  readonly coverage: { readonly mean: number; readonly min: number; readonly min_required: number };
  readonly answers: { readonly total: number; readonly model_calls: number; readonly cache_hits: number; readonly resumed: number };
  readonly store: string;
  readonly warnings: string[];
  readonly seconds: number;
}

const sha256 = (s: string): string => createHash("sha256").update(s).digest("hex");

/** The cache key of one model request: everything that determines the model's response. */
export function requestKey(spec: ModelSpec, method: string, prompt: string, labels: readonly string[]): string {
  return sha256(JSON.stringify([spec.identity, spec.params, method, prompt, labels]));
}

interface PlannedItem {
  readonly question: Question;
  readonly variant: Variant;
  readonly persona: Persona;
  readonly prompt: string;
  readonly labels: string[];
  readonly order: number[];
  readonly key: string;
}

const itemKey = (questionId: string, variant: string, persona: string): string => `${questionId}\u0000${variant}\u0000${persona}`;

/** What identifies a run: everything that changes its numbers. */
export function runConfig(plan: EvalPlan): Record<string, unknown> {
  const variants = plan.variants ?? [STANDARD_VARIANT];
  const personas = plan.personas ?? [NO_PERSONA];
  return {
    suite: plan.suite.name,
    data: plan.suite.fingerprint,
    questions: plan.questions.map((q) => q.id),
    populations: plan.populations.map((p) => p.id),
    model: plan.model.identity,
    params: plan.model.params,
    method: "logprobs",
    metric: plan.metric,
    min_coverage: plan.minCoverage,
    variants: variants.map((v) => v.id),
    personas: personas.map((p) => ({ id: p.id, text: p.text })),
    seed: plan.seed,
    resamples: plan.resamples,
  };
}

export function runId(config: Record<string, unknown>): string {
  return sha256(JSON.stringify(config)).slice(0, 12);
}

function answerStatus(q: Question, distribution: number[] | null, coverage: number, minCoverage: number): AnswerStatus {
  if (distribution === null) return "off_format";
  if (coverage < minCoverage) return "low_coverage";
  if (scoredDistribution(q, distribution) === null) return "only_refusal";
  return "scored";
}

/**
 * Writes answers as they arrive: whatever arrives while a write is in flight goes into the next
 * transaction, so writing never waits on the model and the model never waits on the disk.
 */
class GroupWriter {
  private requests: RequestRow[] = [];
  private answers: AnswerRow[] = [];
  private inflight: Promise<void> | null = null;
  error: unknown = null;

  constructor(private readonly store: Store) {}

  add(request: RequestRow | null, answer: AnswerRow): void {
    if (request) this.requests.push(request);
    this.answers.push(answer);
    this.kick();
  }

  private kick(): void {
    if (this.inflight || this.error || (this.requests.length === 0 && this.answers.length === 0)) return;
    const requests = this.requests;
    const answers = this.answers;
    this.requests = [];
    this.answers = [];
    this.inflight = this.store.writeAnswers(requests, answers).then(
      () => {
        this.inflight = null;
        this.kick();
      },
      (e: unknown) => {
        this.error = e;
        this.inflight = null;
      },
    );
  }

  async flush(): Promise<void> {
    while (this.inflight) await this.inflight;
    if (this.error) throw this.error;
  }
}

export async function runEval(store: Store, plan: EvalPlan, events: EvalEvents = {}): Promise<EvalResult> {
  const started = performance.now();
  const variants = plan.variants ?? [STANDARD_VARIANT];
  const personas = plan.personas ?? [NO_PERSONA];
  const config = runConfig(plan);
  const id = runId(config);

  // ---- plan
  const items: PlannedItem[] = [];
  for (const question of plan.questions) {
    for (const variant of variants) {
      for (const persona of personas) {
        const r = renderPrompt(question, variant, persona);
        items.push({ question, variant, persona, prompt: r.text, labels: r.labels, order: r.order, key: requestKey(plan.model, "logprobs", r.text, r.labels) });
      }
    }
  }

  const resumed = (await store.beginRun({ id, command: plan.command, suite: plan.suite.name, model: plan.model.display, metric: plan.metric, config })) === "resumed";
  const stored = new Set((await store.answers(id)).map((a) => itemKey(a.questionId, a.variant, a.persona)));
  const todo = items.filter((it) => !stored.has(itemKey(it.question.id, it.variant.id, it.persona.id)));
  const cache = await store.lookupRequests([...new Set(todo.map((it) => it.key))]);

  const writer = new GroupWriter(store);
  const toAnswer = (it: PlannedItem, req: RequestRow, cacheHit: boolean): AnswerRow => {
    const distribution = renormalise(toSurveyOrder(req.labelMass, it.order));
    return {
      runId: id,
      questionId: it.question.id,
      variant: it.variant.id,
      persona: it.persona.id,
      requestKey: it.key,
      options: it.question.options,
      distribution,
      coverage: req.coverage,
      status: answerStatus(it.question, distribution, req.coverage, plan.minCoverage),
      cacheHit,
    };
  };

  let done = items.length - todo.length;
  let modelCalls = 0;
  let cacheHits = 0;
  const progress = () => events.onProgress?.({ total: items.length, done, modelCalls, cacheHits });

  // Prompts the cache answers; the rest grouped by key so that identical prompts are asked once.
  const ask = new Map<string, PlannedItem[]>();
  for (const it of todo) {
    const hit = cache.get(it.key);
    if (hit) {
      writer.add(null, toAnswer(it, hit, true));
      cacheHits++;
      done++;
    } else {
      const list = ask.get(it.key);
      if (list) list.push(it);
      else ask.set(it.key, [it]);
    }
  }
  events.onPlan?.({ runId: id, resumed, total: items.length, stored: items.length - todo.length, cached: cacheHits, toAsk: ask.size });
  progress();

  // ---- execute
  let client: ModelClient | null = null;
  try {
    if (ask.size > 0) {
      events.onModelLoading?.(plan.model.display);
      const t0 = performance.now();
      client = await plan.model.open();
      events.onModelReady?.({ concurrency: client.concurrency, loadSeconds: (performance.now() - t0) / 1000 });
      const c: ModelClient = client;
      const limit = pLimit(Math.max(1, c.concurrency));
      let failure: unknown = null;
      // Tasks check this before asking: after a failure or an interrupt the queue drains without asking.
      const tasks = [...ask.values()].map((group) =>
        limit(async () => {
          if (failure || events.signal?.aborted || writer.error) return;
          const first = group[0]!;
          const t = performance.now();
          try {
            const a = await c.optionProbabilities({ prompt: first.prompt, labels: first.labels }, events.signal);
            const req: RequestRow = {
              key: first.key,
              model: plan.model.identity,
              prompt: first.prompt,
              labels: first.labels,
              params: { ...plan.model.params, method: "logprobs" },
              labelMass: a.labelMass,
              coverage: a.coverage,
              top: a.top,
              promptTokens: a.promptTokens,
              latencyMs: performance.now() - t,
            };
            modelCalls++;
            group.forEach((it, k) => writer.add(k === 0 ? req : null, toAnswer(it, req, false)));
            done += group.length;
            progress();
          } catch (e) {
            if (!failure) failure = e;
          }
        }),
      );
      await Promise.all(tasks);
      if (failure) throw failure;
      if (writer.error) throw writer.error;
      if (events.signal?.aborted) {
        throw new CivitasError("usage", "interrupted");
      }
    }
    await writer.flush();
  } catch (e) {
    await writer.flush().catch(() => undefined);
    const kept = await store.countAnswers(id).catch(() => 0);
    await store.failRun(id, messageOf(e)).catch(() => undefined);
    const resume = kept > 0 ? `${kept} of ${items.length} answers are stored in ${store.file}; run the same command again to resume (run ${id})` : "";
    const hint = [isCivitasError(e) ? e.hint : undefined, resume].filter(Boolean).join("\n");
    const opts = hint ? { hint, cause: e } : { cause: e };
    if (isCivitasError(e)) throw new CivitasError(e.kind, e.message, opts);
    throw new CivitasError("model", `the run stopped: ${messageOf(e)}`, opts);
  } finally {
    if (client) await client.close();
  }

  // ---- score
  const answers = await store.answers(id);
  const s = scoreRun(plan.suite, plan.questions, plan.populations, answers, { metric: plan.metric, seed: plan.seed, resamples: plan.resamples });
  await store.writeScores(id, s.scores);

  const warnings: string[] = [];
  if (s.coverage.mean < 0.5) {
    warnings.push(
      `mean coverage is ${(100 * s.coverage.mean).toFixed(1)}%: most of the model's next-token probability is not on an option label, ` +
        "and distributions are renormalised over what is (expected of base or tiny models; --min-coverage sets low answers aside)",
    );
  }
  if (s.questions.scored === 0) warnings.push("no question could be scored");
  const result: EvalResult = {
    run: id,
    suite: plan.suite.name,
    model: plan.model.display,
    metric: plan.metric,
    metric_label: METRICS[plan.metric].label,
    overall: s.overall,
    populations: s.populations,
    baselines: s.baselines,
    set_aside: s.setAside,
    questions: s.questions,
    coverage: { ...s.coverage, min_required: plan.minCoverage },
    answers: { total: answers.length, model_calls: modelCalls, cache_hits: cacheHits, resumed: items.length - todo.length },
    store: store.file,
    warnings,
    seconds: (performance.now() - started) / 1000,
  };
  await store.finishRun(id, result);
  return result;
}
