/**
 * The run engine: plan -> execute -> score.
 *
 * plan:    questions x variants x personas x methods, each rendered to a prompt with a cache key.
 * execute: answers already stored for this run are kept; prompts in the request cache are
 *          answered from it; only the rest go to the model (loaded only then), with bounded
 *          concurrency. Every answer is written as it arrives (group commit).
 * score:   metrics against each population, bootstrap intervals, baselines, and what the run
 *          asked for besides (steerability, the knowledge-to-simulation gap, knowledge questions,
 *          suite-specific scores); stored with the run.
 *
 * A run's id is a hash of everything that determines its numbers, so the same command finds the
 * same run again and resumes it.
 */
import { createHash } from "node:crypto";
import pLimit from "p-limit";
import { CivitasError, isCivitasError, messageOf } from "../errors.js";
import type { MetricName } from "../metrics/index.js";
import { renormalise, type ModelClient, type ModelSpec } from "../models/index.js";
import { BatchWriter, type AnswerRow, type AnswerStatus, type Method, type RequestRow, type Store } from "../store/index.js";
import {
  NO_PERSONA,
  parseVariant,
  personasFor,
  renderPrompt,
  STANDARD_VARIANT,
  toSurveyOrder,
  type Persona,
  type Population,
  type RenderedPrompt,
  type Question,
  type Suite,
  type Variant,
} from "../surveys/index.js";
import { DEFAULT_SAMPLES, elicit, methodParams, type MethodSettings } from "./methods.js";
import { resolveConventions, type Conventions } from "./protocols.js";
import type { EvalResult } from "../results/index.js";
import { scoreAnswers } from "./result.js";
import { modelView } from "./score.js";
import { selectQuestions, SKIPPED_REASON } from "./questions.js";

export interface EvalPlan {
  readonly suite: Suite;
  /**
   * The candidate questions, suite order. Those no chosen population can be scored on are skipped
   * when the run is planned (counted in the result), then `limit` applies.
   */
  readonly questions: readonly Question[];
  /** Ask at most this many of the questions that can be scored (of each dataset in suites that have several). */
  readonly limit?: number;
  readonly populations: readonly Population[];
  readonly model: ModelSpec;
  /** A protocol's conventions (santurkar2023, durmus2023, meister2024); default: the suite's. */
  readonly protocol?: string;
  /** Overrides the protocol's or suite's metric. */
  readonly metric?: MetricName;
  /** Bootstrap resamples; overrides the protocol's (default 1000). */
  readonly resamples?: number;
  /** Answers whose label coverage is below this are stored but set aside. */
  readonly minCoverage: number;
  /** Elicitation methods; the first is the headline (default logprobs). */
  readonly methods?: readonly Method[];
  /** Samples per question for `sample`, and constrained decoding. */
  readonly samples?: number;
  readonly constrain?: boolean;
  readonly variants?: readonly Variant[];
  /** Steer the model with each population's persona, and report steerability. */
  readonly persona?: boolean;
  /** Persona templates per attribute, overriding the suite's and the defaults. */
  readonly personaTemplates?: Readonly<Record<string, string>>;
  readonly seed: number;
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

/** The result of `civitas eval`, as printed with --json: its schema is in results/eval.ts. */
export type { EvalResult };

const sha256 = (s: string): string => createHash("sha256").update(s).digest("hex");

/** The cache key of one model request: everything that determines the model's response. */
export function requestKey(spec: ModelSpec, method: string, params: Readonly<Record<string, unknown>>, prompt: string, labels: readonly string[]): string {
  // logprobs keys keep the shape of version 1 stores, so their caches stay valid.
  return method === "logprobs" && Object.keys(params).length === 0
    ? sha256(JSON.stringify([spec.identity, spec.params, method, prompt, labels]))
    : sha256(JSON.stringify([spec.identity, spec.params, method, params, prompt, labels]));
}

interface PlannedItem {
  readonly question: Question;
  readonly variant: Variant;
  readonly persona: Persona;
  readonly method: Method;
  readonly rendered: RenderedPrompt;
  /** The prompt as the model is asked it: with its prefix only where the plan shares it (sharedPrefixes). */
  readonly prompt: RenderedPrompt;
  /** The method's parameters, with `prefix_chars` where the prompt is evaluated in two parts. */
  readonly params: Readonly<Record<string, unknown>>;
  readonly key: string;
}

/** What the model is scored on: the labels, or (answer format "text", except for stated distributions) the option texts. */
function answerKeys(rendered: RenderedPrompt, method: Method): string[] {
  return rendered.answer === "text" && method !== "verbalize" ? rendered.shown : rendered.labels;
}

const itemKey = (questionId: string, variant: string, persona: string, method: string): string =>
  `${questionId}\u0000${variant}\u0000${persona}\u0000${method}`;

interface Resolved {
  /** The questions the run asks: plan.questions that some chosen population can score, limited. */
  readonly questions: readonly Question[];
  /** Candidates left out because no chosen population can score them. */
  readonly skipped: number;
  readonly conventions: Conventions & { readonly protocol: string | null };
  readonly methods: readonly Method[];
  readonly settings: MethodSettings;
  readonly variants: readonly Variant[];
  /** Persona per population id (steered runs only). */
  readonly personas: Map<string, Persona>;
  /** The model as this plan asks it (ModelSpec.forSharedPrefixes where prompts share prefixes). */
  readonly model: ModelSpec;
  /** Every request of the plan, keyed. */
  readonly items: readonly PlannedItem[];
}

function resolvePlan(plan: EvalPlan): Resolved {
  const conventions = resolveConventions(plan.suite, {
    ...(plan.protocol ? { protocol: plan.protocol } : {}),
    ...(plan.metric ? { metric: plan.metric } : {}),
    ...(plan.resamples ? { resamples: plan.resamples } : {}),
  });
  const template = plan.suite.template ?? "opinionqa";
  const variants = plan.variants ?? [
    conventions.optionOrder === "alphabetical" ? parseVariant("order=alphabetical", template) : template === "opinionqa" ? STANDARD_VARIANT : parseVariant("standard", template),
  ];
  const selection = selectQuestions(plan.suite, plan.questions, plan.populations, plan.limit);
  const base = {
    questions: selection.questions,
    skipped: selection.skipped,
    conventions,
    methods: plan.methods && plan.methods.length > 0 ? plan.methods : (["logprobs"] as const),
    settings: { samples: plan.samples ?? DEFAULT_SAMPLES, constrain: plan.constrain ?? false, seed: plan.seed },
    variants,
    personas: plan.persona ? personasFor(plan.suite, plan.populations, plan.personaTemplates) : new Map<string, Persona>(),
  };
  return { ...base, ...planRequests(plan, base) };
}

/**
 * The plan's requests: questions x variants x personas x methods, each rendered, split where the
 * plan shares its prefix (sharedPrefixes), and keyed; and the model spec that asks them.
 */
function planRequests(plan: EvalPlan, r: Omit<Resolved, "model" | "items">): { model: ModelSpec; items: PlannedItem[] } {
  const planned: Omit<PlannedItem, "prompt" | "params" | "key">[] = [];
  const personaList = [NO_PERSONA, ...new Map([...r.personas.values()].map((p) => [p.id, p])).values()];
  // A persona is asked a question only when a population it stands for can be scored on it.
  const personaPops = new Map<string, Population[]>();
  for (const p of plan.populations) {
    const persona = r.personas.get(p.id);
    if (persona) personaPops.set(persona.id, [...(personaPops.get(persona.id) ?? []), p]);
  }
  for (const question of r.questions) {
    // Knowledge questions have a right answer, not populations to steer towards.
    const personas =
      question.correct === undefined
        ? personaList.filter((pe) => pe.id === NO_PERSONA.id || (personaPops.get(pe.id) ?? []).some((p) => plan.suite.human(question.id, p.id) !== undefined))
        : [NO_PERSONA];
    for (const variant of r.variants) {
      for (const persona of personas) {
        for (const method of r.methods) {
          planned.push({ question, variant, persona, method, rendered: renderPrompt(question, variant, persona, method) });
        }
      }
    }
  }
  // Only the presentation variants of a question share its prefix by design; two questions that
  // happen to share their text (a few OpinionQA questions do) are not worth another llama setting.
  const shared = r.variants.length >= 2 ? sharedPrefixes(planned) : new Set<string>();
  const model = shared.size > 0 && plan.model.forSharedPrefixes ? plan.model.forSharedPrefixes() : plan.model;
  const items = planned.map((it) => {
    const split = shared.has(it.rendered.prefix);
    const prompt = split ? it.rendered : { ...it.rendered, prefix: "" };
    const params = { ...methodParams(it.method, r.settings, it.variant.answer), ...(split ? { prefix_chars: it.rendered.prefix.length } : {}) };
    return { ...it, prompt, params, key: requestKey(model, it.method, params, it.rendered.text, answerKeys(it.rendered, it.method)) };
  });
  return { model, items };
}

/** What identifies a run: everything that changes its numbers. */
export function runConfig(plan: EvalPlan): Record<string, unknown> {
  return configOf(plan, resolvePlan(plan));
}

function configOf(plan: EvalPlan, r: Resolved): Record<string, unknown> {
  const config: Record<string, unknown> = {
    suite: plan.suite.name,
    data: plan.suite.fingerprint,
    questions: r.questions.map((q) => q.id),
    populations: plan.populations.map((p) => p.id),
    model: r.model.identity,
    params: r.model.params,
    method: r.methods.length === 1 && r.methods[0] === "logprobs" ? "logprobs" : r.methods,
    metric: r.conventions.metric,
    min_coverage: plan.minCoverage,
    variants: r.variants.map((v) => v.id),
    personas: [{ id: NO_PERSONA.id, text: NO_PERSONA.text }, ...[...r.personas.values()].map((p) => ({ id: p.id, text: p.text }))],
    seed: plan.seed,
    resamples: r.conventions.resamples,
  };
  // Keys added after the first release only when they differ from what it did, so that its runs keep their ids.
  if (r.conventions.protocol) config.protocol = r.conventions.protocol;
  if (r.conventions.refusals !== "drop" || r.conventions.datasets !== "pooled") config.conventions = r.conventions;
  if (r.methods.some((m) => m !== "logprobs")) config.method_settings = { samples: r.settings.samples, constrain: r.settings.constrain };
  return config;
}

export function runId(config: Record<string, unknown>): string {
  return sha256(JSON.stringify(config)).slice(0, 12);
}

function answerStatus(q: Question, distribution: number[] | null, coverage: number, minCoverage: number, refusals: "drop" | "keep"): AnswerStatus {
  if (distribution === null) return "off_format";
  if (coverage < minCoverage) return "low_coverage";
  if (modelView(q, distribution, refusals) === null) return "only_refusal";
  return "scored";
}

/**
 * The prefixes (persona and question text) that are worth evaluating once for several prompts, in
 * a run that asks its questions in several presentations (--variants): those of logprobs prompts
 * that at least one other prompt of the plan shares (the other methods sample whole prompts). Only these are passed to the model as a prefix, so that a backend that
 * keeps evaluated state evaluates them once; every other prompt is evaluated whole, which costs
 * less than two batches. The choice depends on the whole plan, never on what is left to ask, so a
 * resumed run, or one answered in another order, evaluates every prompt the same way.
 *
 * A prompt evaluated in two parts can differ from the same prompt evaluated whole (llama.cpp
 * picks kernels by batch shape: docs/design.md, Reproducibility), so where it is split is part of
 * its request key (`prefix_chars`): a cached whole evaluation never answers a split one, and the
 * same command gives the same numbers whatever the store already holds.
 */
function sharedPrefixes(items: readonly { method: Method; rendered: RenderedPrompt }[]): Set<string> {
  const promptsByPrefix = new Map<string, Set<string>>();
  for (const it of items) {
    if (it.method !== "logprobs" || it.rendered.prefix === "") continue;
    const set = promptsByPrefix.get(it.rendered.prefix);
    if (set) set.add(it.rendered.text);
    else promptsByPrefix.set(it.rendered.prefix, new Set([it.rendered.text]));
  }
  return new Set([...promptsByPrefix].filter(([, prompts]) => prompts.size >= 2).map(([prefix]) => prefix));
}

/**
 * The order prompts are asked in: those that share a prefix one after the other (in plan order,
 * at the place of the first of them), so that a sequence still holds the prefix when the next one
 * comes; the order changes no number.
 */
function askingOrder(ask: ReadonlyMap<string, PlannedItem[]>): PlannedItem[][] {
  const buckets = new Map<string, PlannedItem[][]>();
  let unique = 0;
  for (const group of ask.values()) {
    const { prompt } = group[0]!;
    // "p" + a prefix, or "u" + a counter for a prompt asked on its own place: the two never collide.
    const key = prompt.prefix !== "" ? `p${prompt.prefix}` : `u${unique++}`;
    const bucket = buckets.get(key);
    if (bucket) bucket.push(group);
    else buckets.set(key, [group]);
  }
  return [...buckets.values()].flat();
}

export async function runEval(store: Store, plan: EvalPlan, events: EvalEvents = {}): Promise<EvalResult> {
  const started = performance.now();
  const r = resolvePlan(plan);
  const config = configOf(plan, r);
  const id = runId(config);
  const { items, model } = r;

  const resumed =
    (await store.beginRun({ id, command: plan.command, suite: plan.suite.name, model: plan.model.display, metric: r.conventions.metric, config })) === "resumed";
  const stored = new Set((await store.answers(id)).map((a) => itemKey(a.questionId, a.variant, a.persona, a.method)));
  const todo = items.filter((it) => !stored.has(itemKey(it.question.id, it.variant.id, it.persona.id, it.method)));
  const cache = await store.lookupRequests([...new Set(todo.map((it) => it.key))]);

  const writer = new BatchWriter(store, { runId: id });
  const toAnswer = (it: PlannedItem, req: RequestRow, cacheHit: boolean): AnswerRow => {
    const distribution = renormalise(toSurveyOrder(req.labelMass, it.rendered.order));
    return {
      runId: id,
      questionId: it.question.id,
      variant: it.variant.id,
      persona: it.persona.id,
      method: it.method,
      requestKey: it.key,
      options: it.question.options,
      distribution,
      coverage: req.coverage,
      status: answerStatus(it.question, distribution, req.coverage, plan.minCoverage, r.conventions.refusals),
      mode: req.mode,
      cacheHit,
    };
  };

  let done = items.length - todo.length;
  let modelCalls = 0;
  let cacheHits = 0;
  const progress = () => {
    store.progress(id, done, items.length);
    events.onProgress?.({ total: items.length, done, modelCalls, cacheHits });
  };

  // Prompts the cache answers; the rest grouped by key so that identical prompts are asked once.
  const ask = new Map<string, PlannedItem[]>();
  for (const it of todo) {
    const hit = cache.get(it.key);
    if (hit) {
      writer.add({ answers: [toAnswer(it, hit, true)] });
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
  const queue = askingOrder(ask);

  // ---- execute
  let client: ModelClient | null = null;
  try {
    if (ask.size > 0) {
      events.onModelLoading?.(model.display);
      const t0 = performance.now();
      client = await model.open();
      events.onModelReady?.({ concurrency: client.concurrency, loadSeconds: (performance.now() - t0) / 1000 });
      const c: ModelClient = client;
      const limit = pLimit(Math.max(1, c.concurrency));
      // Tasks check this before asking: after a failure or an interrupt the queue drains without asking.
      let failure: unknown = null;
      const tasks = queue.map((group) =>
        limit(async () => {
          if (failure || events.signal?.aborted || writer.error) return;
          const first = group[0]!;
          const t = performance.now();
          try {
            const e = await elicit(c, first.method, first.prompt, r.settings, events.signal);
            const req: RequestRow = {
              key: first.key,
              model: model.identity,
              method: first.method,
              prompt: first.rendered.text,
              labels: answerKeys(first.rendered, first.method),
              params: { ...model.params, method: first.method, ...first.params },
              labelMass: e.labelMass,
              coverage: e.coverage,
              raw: e.raw,
              mode: e.mode,
              promptTokens: e.promptTokens,
              latencyMs: performance.now() - t,
            };
            modelCalls++;
            writer.add({ requests: [req], answers: group.map((it) => toAnswer(it, req, false)) });
            done += group.length;
            progress();
          } catch (err) {
            if (!failure) failure = err;
          }
        }),
      );
      await Promise.all(tasks);
      if (failure) throw failure;
      if (writer.error) throw writer.error;
      if (events.signal?.aborted) throw new CivitasError("usage", "interrupted");
    }
    await writer.flush();
  } catch (e) {
    await writer.flush().catch(() => undefined);
    const kept = await store.countAnswers(id).catch(() => 0);
    await store.failRun(id, messageOf(e), events.signal?.aborted ? "interrupted" : "failed").catch(() => undefined);
    const resume = kept > 0 ? `${kept} of ${items.length} answers are stored in ${store.file}; run the same command again to resume (run ${id})` : "";
    const hint = [isCivitasError(e) ? e.hint : undefined, resume].filter(Boolean).join("\n");
    const opts = hint ? { hint, cause: e } : { cause: e };
    if (isCivitasError(e)) throw new CivitasError(e.kind, e.message, opts);
    throw new CivitasError("model", `the run stopped: ${messageOf(e)}`, opts);
  } finally {
    if (client) await client.close();
  }

  // ---- score
  try {
    return await scoreRun(store, plan, r, id, { items: items.length, todo: todo.length, modelCalls, cacheHits, started });
  } catch (e) {
    await store.failRun(id, messageOf(e)).catch(() => undefined);
    throw e;
  }
}

/** The score stage: reads the run's stored answers only, scores them and stores the result. */
async function scoreRun(
  store: Store,
  plan: EvalPlan,
  r: Resolved,
  id: string,
  counts: { items: number; todo: number; modelCalls: number; cacheHits: number; started: number },
): Promise<EvalResult> {
  const { modelCalls, cacheHits, started } = counts;
  const answers = await store.answers(id);
  const requests = await store.lookupRequests([...new Set(answers.filter((a) => a.method !== "logprobs").map((a) => a.requestKey))]);
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
  let invalid = 0;
  for (const q of requests.values()) {
    const raw = q.raw as { unparsed?: number; error?: string } | null;
    if (q.method === "sample") unparsed += raw?.unparsed ?? 0;
    if (q.method === "verbalize" && raw?.error) invalid++;
  }
  const meanCoverage = answers.length ? coverageSum / answers.length : Number.NaN;
  const warnings = [...(plan.suite.warnings ?? []), ...s.scores.warnings];
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
    set_aside: { ...setAside, total: setAside.low_coverage + setAside.off_format + setAside.only_refusal, unparsed_samples: unparsed, invalid_statements: invalid },
    coverage: { mean: meanCoverage, min: answers.length ? coverageMin : Number.NaN, min_required: plan.minCoverage },
    answers: { total: answers.length, model_calls: modelCalls, cache_hits: cacheHits, resumed: counts.items - counts.todo, modes },
    store: store.file,
    warnings,
    seconds: (performance.now() - started) / 1000,
  };
  await store.finishRun(id, result, { counts: { ...result.answers, seconds: result.seconds } });
  return result;
}
