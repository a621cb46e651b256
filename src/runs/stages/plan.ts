/**
 * The plan stage of `civitas eval`: what a run asks and how it is identified.
 *
 * From an EvalPlan (suite, questions, populations, model, methods, variants, personas...) it
 * resolves the conventions (protocol, metric), the questions some chosen population can be scored
 * on, and every answer the run needs: question x variant x persona x method, each rendered to a
 * prompt and keyed by a hash of everything that determines the model's answer (requestKey). The
 * run's id is a hash of its configuration, so the same command finds the same run. Nothing here
 * touches the store or the model.
 */
import { runIdOf, sha256Hex } from "../../hash.js";
import type { MetricName } from "../../metrics/index.js";
import { formatPrompt, renormalise, type ModelSpec } from "../../models/index.js";
import type { AnswerRow, AnswerStatus, Method, RequestRow } from "../../store/index.js";
import {
  NO_PERSONA,
  parseVariant,
  personasFor,
  renderPrompt,
  STANDARD_VARIANT,
  toSurveyOrder,
  type Persona,
  type PersonaIn,
  type Population,
  type RenderedPrompt,
  type Question,
  type Suite,
  type Variant,
} from "../../surveys/index.js";
import { DEFAULT_SAMPLES, methodParams, type MethodSettings } from "../methods.js";
// The sequence method registers itself (a file of its own, as docs/extending.md shows).
import "../sequence.js";
import { resolveConventions, type Conventions } from "../protocols.js";
import { selectQuestions } from "../questions.js";
import { modelView } from "../score.js";
import type { ElicitRequest } from "./execute.js";

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
  /** A system turn for every prompt (`--system`). */
  readonly system?: string;
  /** Where a persona goes: the user's turn (default) or the system turn (`--persona-in`). */
  readonly personaIn?: PersonaIn;
  readonly seed: number;
  /** The command line, for `runs list`. */
  readonly command: string;
  /** How the request cache is used (--no-cache, --cache-expiry); not part of the run's identity. */
  readonly cache?: CachePolicy;
}

/** How a run uses the request cache and its own stored answers. */
export interface CachePolicy {
  /** Ask every answer again (the cache and the run's stored answers unused); the new answers replace the stored ones. */
  readonly refresh?: boolean;
  /** Answers stored longer ago than this (ms) are asked again and replaced; younger ones are used. */
  readonly expiryMs?: number;
}


/** The cache key of one model request: everything that determines the model's response. */
export function requestKey(spec: ModelSpec, method: string, params: Readonly<Record<string, unknown>>, prompt: string, labels: readonly string[]): string {
  // logprobs keys keep the shape of version 1 stores, so their caches stay valid.
  return method === "logprobs" && Object.keys(params).length === 0
    ? sha256Hex(JSON.stringify([spec.identity, spec.params, method, prompt, labels]))
    : sha256Hex(JSON.stringify([spec.identity, spec.params, method, params, prompt, labels]));
}

/** One question as one variant, persona and method present it: an answer of the run, asked by one request. */
export interface PlannedItem {
  readonly question: Question;
  readonly variant: Variant;
  readonly persona: Persona;
  readonly method: Method;
  /**
   * The prompt as this model is asked it (models/chat.ts, formatPrompt): `text` with the model's
   * chat template applied where it has one, `prefix` a start of it; `system` the system message of
   * a backend that takes chat messages (null: none, or it is in `text`).
   */
  readonly rendered: RenderedPrompt & { readonly system: string | null };
  /** The same, with its prefix only where the plan shares it (sharedPrefixes). */
  readonly prompt: RenderedPrompt & { readonly system: string | null };
  /** The method's parameters, with `prefix_chars` where the prompt is evaluated in two parts. */
  readonly params: Readonly<Record<string, unknown>>;
  readonly key: string;
}

/** What the model is scored on: the labels, or (answer format "text", except for stated distributions) the option texts. */
function answerKeys(rendered: RenderedPrompt, method: Method): string[] {
  // verbalize states shares of labels and sequence writes labels in a row, whatever the answer format.
  return rendered.answer === "text" && method !== "verbalize" && method !== "sequence" ? rendered.shown : rendered.labels;
}

export const itemKey = (questionId: string, variant: string, persona: string, method: string): string =>
  `${questionId}\u0000${variant}\u0000${persona}\u0000${method}`;

/** A plan with everything derived from it: conventions, methods, variants, personas, the questions, the requests. */
export interface Resolved {
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

export function resolvePlan(plan: EvalPlan): Resolved {
  const conventions = resolveConventions(plan.suite, {
    ...(plan.protocol ? { protocol: plan.protocol } : {}),
    ...(plan.metric ? { metric: plan.metric } : {}),
    ...(plan.resamples ? { resamples: plan.resamples } : {}),
  });
  const template = plan.suite.template ?? "opinionqa";
  const variants = plan.variants ?? [
    conventions.optionOrder === "alphabetical" ? parseVariant("order=alphabetical", template) : template === "opinionqa" ? STANDARD_VARIANT : parseVariant("standard", template),
  ];
  // A protocol may leave questions out (suh2025: those near SubPOP's fine-tuning set).
  const excluded = new Set(conventions.excludeQuestions ?? []);
  const candidates = excluded.size > 0 ? plan.questions.filter((q) => !excluded.has(q.id)) : plan.questions;
  const selection = selectQuestions(plan.suite, candidates, plan.populations, plan.limit);
  const base = {
    questions: selection.questions,
    skipped: selection.skipped,
    conventions,
    methods: plan.methods && plan.methods.length > 0 ? plan.methods : (["logprobs"] as const),
    settings: {
      samples: plan.samples ?? DEFAULT_SAMPLES,
      constrain: plan.constrain ?? false,
      seed: plan.seed,
      ...(conventions.labelReading && conventions.labelReading.kind !== "forms" ? { labelReading: conventions.labelReading } : {}),
    },
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
  const turnOptions = { ...(plan.system !== undefined ? { system: plan.system } : {}), ...(plan.personaIn ? { personaIn: plan.personaIn } : {}) };
  for (const question of r.questions) {
    // Knowledge questions have a right answer, not populations to steer towards.
    const personas =
      question.correct === undefined
        ? personaList.filter((pe) => pe.id === NO_PERSONA.id || (personaPops.get(pe.id) ?? []).some((p) => plan.suite.human(question.id, p.id) !== undefined))
        : [NO_PERSONA];
    for (const variant of r.variants) {
      for (const persona of personas) {
        for (const method of r.methods) {
          const raw = renderPrompt(question, variant, persona, method, { ...turnOptions, answers: r.settings.samples });
          const asked = formatPrompt(plan.model, raw.turns);
          planned.push({ question, variant, persona, method, rendered: { ...raw, text: asked.text, prefix: asked.prefix, system: asked.system } });
        }
      }
    }
  }
  // Only the presentation variants of a question share its prefix by design; two questions that
  // happen to share their text (a few OpinionQA questions do) are not worth another llama setting.
  const shared = r.variants.length >= 2 ? sharedPrefixes(planned) : new Set<string>();
  const long = longPersonaPrefixes(planned);
  const model = (shared.size > 0 || long.size > 0) && plan.model.forSharedPrefixes ? plan.model.forSharedPrefixes() : plan.model;
  const items = planned.map((it) => {
    const prefix = long.get(it) ?? (shared.has(it.rendered.prefix) ? it.rendered.prefix : "");
    const split = prefix !== "";
    const prompt = { ...it.rendered, prefix };
    const params = {
      ...methodParams(it.method, r.settings, it.variant.answer),
      ...(split ? { prefix_chars: prefix.length } : {}),
      // A backend that takes chat messages is asked the user's turn as the prompt; its system message is part of the request.
      ...(it.rendered.system !== null ? { system: it.rendered.system } : {}),
    };
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
  if (r.conventions.refusals !== "drop" || r.conventions.datasets !== "pooled" || (r.conventions.average ?? "populations") !== "populations") config.conventions = r.conventions;
  if (r.conventions.labelReading && r.conventions.labelReading.kind !== "forms") config.label_reading = r.conventions.labelReading;
  if (r.conventions.excludeQuestions && r.conventions.excludeQuestions.length > 0) config.exclude_questions = r.conventions.excludeQuestions;
  if (r.methods.some((m) => m !== "logprobs")) config.method_settings = { samples: r.settings.samples, constrain: r.settings.constrain };
  // How prompts become turns and text (a model without a chat template, no system turn and personas in the user's turn add nothing).
  if (r.model.chatTemplate) config.chat_template = r.model.chatTemplate.id;
  if (plan.system !== undefined && plan.system.trim() !== "") config.system = plan.system.trim();
  if (plan.personaIn === "system" && r.personas.size > 0) config.persona_in = "system";
  return config;
}

export function runId(config: Record<string, unknown>): string {
  return runIdOf(JSON.stringify(config));
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

/** A persona at least this long (characters) is evaluated once for all the questions it is asked (longPersonaPrefixes). */
export const LONG_PERSONA_CHARS = 2000;

/**
 * The prompts whose long persona (LONG_PERSONA_CHARS or more: PAPI's profile of a person is some
 * 20,000 characters, 4,800 tokens of stories260K) is their prefix: the prompt up to the end of the
 * persona, where at least two logprobs prompts of the plan share it. Evaluating such a persona
 * whole with every question costs its length squared each time (a minute a prompt on stories260K
 * at 4,800 tokens); as a shared prefix it is evaluated once per sequence, then each question's
 * rest. Short personas (OpinionQA's groups) keep the rule of sharedPrefixes, so their runs and
 * request keys are unchanged. Like sharedPrefixes, the choice depends only on the plan.
 */
function longPersonaPrefixes<T extends { method: Method; persona: Persona; rendered: RenderedPrompt }>(items: readonly T[]): Map<T, string> {
  const candidates = new Map<T, string>();
  const prompts = new Map<string, Set<string>>();
  for (const it of items) {
    const text = it.persona.text.trim();
    if (it.method !== "logprobs" || text.length < LONG_PERSONA_CHARS) continue;
    const at = it.rendered.prefix.indexOf(text);
    if (at < 0) continue;
    const prefix = it.rendered.prefix.slice(0, at + text.length);
    if (!it.rendered.text.startsWith(prefix) || prefix === it.rendered.text) continue;
    candidates.set(it, prefix);
    const set = prompts.get(prefix);
    if (set) set.add(it.rendered.text);
    else prompts.set(prefix, new Set([it.rendered.text]));
  }
  return new Map([...candidates].filter(([, prefix]) => prompts.get(prefix)!.size >= 2));
}

/**
 * The order prompts are asked in: those that share a prefix one after the other (in plan order,
 * at the place of the first of them), so that a sequence still holds the prefix when the next one
 * comes; the order changes no number.
 */
export function askingOrder(ask: ReadonlyMap<string, PlannedItem[]>): PlannedItem[][] {
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


/** A planned run: its identity, what it asks, and how an answer of the model becomes an answer of the run. */
export interface PlannedRun {
  readonly id: string;
  readonly config: Record<string, unknown>;
  readonly resolved: Resolved;
  /** The model as the run asks it (see ModelSpec.forSharedPrefixes). */
  readonly model: ModelSpec;
  /** Every answer the run needs, in plan order. */
  readonly items: readonly PlannedItem[];
}

/** Plans a run (see the module comment). */
export function planEval(plan: EvalPlan): PlannedRun {
  const resolved = resolvePlan(plan);
  const config = configOf(plan, resolved);
  return { id: runId(config), config, resolved, model: resolved.model, items: resolved.items };
}

/** The model request that answers a planned item (and every other item with the same key). */
export function requestOf(run: PlannedRun, item: PlannedItem): ElicitRequest {
  return {
    kind: "elicit",
    key: item.key,
    method: item.method,
    prompt: item.rendered.text,
    labels: answerKeys(item.rendered, item.method),
    params: { ...run.model.params, method: item.method, ...item.params },
    rendered: item.prompt,
    settings: run.resolved.settings,
  };
}

/** An item's answer in the run, from the model's answer to its request (in survey order, with its status). */
export function answerOf(run: PlannedRun, plan: EvalPlan, item: PlannedItem, row: RequestRow, cacheHit: boolean): AnswerRow {
  const distribution = renormalise(toSurveyOrder(row.labelMass, item.rendered.order));
  return {
    runId: run.id,
    questionId: item.question.id,
    variant: item.variant.id,
    persona: item.persona.id,
    method: item.method,
    requestKey: item.key,
    options: item.question.options,
    distribution,
    coverage: row.coverage,
    status: answerStatus(item.question, distribution, row.coverage, plan.minCoverage, run.resolved.conventions.refusals),
    mode: row.mode,
    cacheHit,
  };
}
