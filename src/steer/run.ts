/**
 * `civitas steer`'s run: split the questions (split.ts), ask the model every question unsteered
 * and with each target's persona (one `civitas eval` run, stored, resumable and cached like every
 * other), fit each method on train, tune its knob on dev, steer the test questions with the tuned
 * knob, judge them (evaluate.ts), and store the result as a run of kind "steer".
 *
 * Methods that post-process stored answers (persona, linear, calibrate) ask the model nothing more;
 * few-shot asks its new prompts as eval runs of their own (one per target and k), stored and cached
 * like the rest, only on dev for each k of the grid and on test for the tuned k.
 */
import { CivitasError } from "../errors.js";
import { runIdOf, sha256Hex } from "../hash.js";
import type { MetricName } from "../metrics/index.js";
import { formatPrompt, type ModelSpec } from "../models/index.js";
import { DEFAULT_SAMPLES, distanceTable, resolveConventions, runEval, selectQuestions, type CachePolicy, type Conventions, type EvalEvents, type EvalResult } from "../runs/index.js";
import type { SteerResult } from "../results/index.js";
import type { AnswerRow, Store } from "../store/index.js";
import { NO_PERSONA, parseVariant, personasFor, renderPrompt, STANDARD_VARIANT, type Persona, type PersonaIn, type Population, type Question, type Suite, type Variant } from "../surveys/index.js";
import { evaluate, type MethodAnswers } from "./evaluate.js";
import type { Ask, AskedPrompt, PerVariant, RealignSides, SteerElicitation, Steered, SteeredAnswers, SteerContext, Steerer, SteerMethod, StoredAnswers } from "./methods.js";
import { limitQuestions, splitQuestions, type Split, type SplitKind } from "./split.js";

export interface SteerPlan {
  readonly suite: Suite;
  readonly model: ModelSpec;
  /** The populations chosen: those with a persona are the targets; all are evaluated (the matrix's columns). */
  readonly populations: readonly Population[];
  readonly methods: readonly SteerMethod[];
  readonly split: SplitKind;
  readonly seed: number;
  /** At most this many questions, spread over the waves (split.ts limitQuestions). */
  readonly limit?: number;
  readonly variants?: readonly Variant[];
  readonly personaTemplates?: Readonly<Record<string, string>>;
  readonly personaIn?: PersonaIn;
  readonly system?: string;
  /** CoSA-style free-text configs: population id -> the text that steers towards it (replaces its persona). */
  readonly configs?: Readonly<Record<string, string>>;
  readonly protocol?: string;
  readonly metric?: MetricName;
  readonly resamples?: number;
  readonly minCoverage: number;
  /** Knob grids given on the command line, by method name. */
  readonly grids?: Readonly<Record<string, readonly number[]>>;
  /** For realign: the reference model (--ref-model) or the LoRA adapter (--lora). */
  readonly realign?: RealignSides;
  readonly command: string;
  readonly cache?: CachePolicy;
  /**
   * How every answer is elicited (default logprobs). With sample, verbalize or sequence, linear runs the two-sequence
   * decoding loop (src/steer/decode.ts) through the run engine's method.
   */
  readonly method?: SteerElicitation;
  /** Completions per question with --method sample, answers per completion with sequence (the run engine's default otherwise). */
  readonly samples?: number;
}

/** A suite that reads as `suite` except for what is given (its human data and loaders stay the suite's own). */
function suiteWith(suite: Suite, over: Partial<Suite>): Suite {
  return Object.assign(Object.create(suite) as Suite, over);
}

/** The suite whose persona of each population with a --config text is that text. */
function withConfigs(suite: Suite, configs: Readonly<Record<string, string>> | undefined): Suite {
  if (!configs || Object.keys(configs).length === 0) return suite;
  return suiteWith(suite, { personaFor: (p) => configs[p.id] ?? suite.personaFor?.(p) });
}

/** The variants' ids in the order of the run. */
function variantIds(plan: SteerPlan, answers: readonly AnswerRow[]): string[] {
  if (plan.variants && plan.variants.length > 0) return plan.variants.map((v) => v.id);
  return [...new Set(answers.map((a) => a.variant))];
}

/** Prompt tokens of each stored answer's request (estimated at 4 characters a token where the backend did not count). */
async function tokensOf(store: Store, answers: readonly AnswerRow[]): Promise<{ tokens: Map<string, number>; estimated: boolean }> {
  const requests = await store.lookupRequests([...new Set(answers.map((a) => a.requestKey))]);
  let estimated = false;
  const tokens = new Map<string, number>();
  for (const [key, r] of requests) {
    if (r.promptTokens === null) estimated = true;
    tokens.set(key, r.promptTokens ?? Math.ceil(r.prompt.length / 4));
  }
  return { tokens, estimated };
}

/** Scored answers by (persona, question, variant index). */
function indexAnswers(answers: readonly AnswerRow[], variants: readonly string[], tokens: ReadonlyMap<string, number>): Map<string, Steered> {
  const out = new Map<string, Steered>();
  for (const a of answers) {
    if (a.status !== "scored" || !a.distribution) continue;
    const v = variants.indexOf(a.variant);
    if (v < 0) continue;
    out.set(`${a.persona}\u0000${a.questionId}\u0000${v}`, { dist: a.distribution, tokens: tokens.get(a.requestKey) ?? 0 });
  }
  return out;
}

/** Alignment (1 - mean distance) of steered answers with one population on some questions. */
export function alignmentOn(suite: Suite, conventions: Conventions, seed: number, questions: readonly Question[], population: Population, answers: SteeredAnswers): number {
  const t = distanceTable(
    suite,
    questions,
    [population],
    (q) => {
      const d = answers(q).flatMap((s) => (s ? [s.dist] : []));
      return d.length > 0 ? d : undefined;
    },
    { conventions, seed },
  );
  let s = 0;
  let n = 0;
  for (const v of t.model[0]!) {
    if (!Number.isNaN(v)) {
      s += v;
      n++;
    }
  }
  return n > 0 ? 1 - s / n : Number.NaN;
}

export interface Tuned {
  /** The knob's value chosen on dev (null: the method has none). */
  readonly value: number | null;
  /** Mean dev alignment over the targets of each value tried. */
  readonly dev: { readonly value: number; readonly alignment: number }[];
}

/**
 * A fitted method's knob tuned on dev: each value of its grid steers the dev questions toward
 * each target, scored against that target; the value with the highest mean alignment over targets
 * wins (the first of the grid on ties). Only the dev questions are steered and scored.
 */
export async function tuneMethod(steerer: Steerer, o: { readonly suite: Suite; readonly conventions: Conventions; readonly seed: number; readonly targets: readonly Population[]; readonly dev: readonly Question[] }): Promise<Tuned> {
  if (steerer.grid.length === 0) return { value: null, dev: [] };
  const dev: { value: number; alignment: number }[] = [];
  for (const value of steerer.grid) {
    const per: number[] = [];
    for (const t of o.targets) per.push(alignmentOn(o.suite, o.conventions, o.seed, o.dev, t, await steerer.steer(value, t, o.dev)));
    const f = per.filter((x) => !Number.isNaN(x));
    dev.push({ value, alignment: f.length > 0 ? f.reduce((a, b) => a + b, 0) / f.length : Number.NaN });
  }
  let best = 0;
  for (let k = 1; k < dev.length; k++) if (dev[k]!.alignment > dev[best]!.alignment || Number.isNaN(dev[best]!.alignment)) best = k;
  return { value: dev[best]!.value, dev };
}

export interface SteerEvents extends Pick<EvalEvents, "signal" | "onModelLoading" | "onModelReady" | "onProgress" | "onServedChange" | "onPlan"> {
  /** What is being asked ("unsteered and personas", "fewshot k=2 for POLPARTY=Democrat on dev"). */
  onStage?(message: string): void;
}

export async function runSteer(store: Store, plan: SteerPlan, events: SteerEvents = {}): Promise<SteerResult> {
  const started = performance.now();
  const suite = withConfigs(plan.suite, plan.configs);
  const conventions = resolveConventions(suite, {
    ...(plan.protocol ? { protocol: plan.protocol } : {}),
    ...(plan.metric ? { metric: plan.metric } : {}),
    ...(plan.resamples ? { resamples: plan.resamples } : {}),
  });
  const personas: Map<string, Persona> = personasFor(suite, plan.populations, plan.personaTemplates);
  const targets = plan.populations.filter((p) => personas.has(p.id));
  if (targets.length === 0) {
    throw new CivitasError("usage", `no population to steer toward: ${plan.populations.map((p) => p.id).join(", ")} ${plan.populations.length === 1 ? "has" : "have"} no persona (the whole sample is what the unsteered model is compared with)`, {
      hint: "name groups, e.g. --populations POLPARTY",
    });
  }
  for (const id of Object.keys(plan.configs ?? {})) {
    if (!plan.populations.some((p) => p.id === id)) throw new CivitasError("usage", `--config names population ${id}, which is not among --populations (${plan.populations.map((p) => p.id).join(", ")})`);
  }

  // ---- the questions and the split
  const opinion = suite.questions.filter((q) => q.correct === undefined && !(conventions.excludeQuestions ?? []).includes(q.id));
  const scorable = selectQuestions(suite, opinion, targets).questions;
  const chosen = limitQuestions(scorable, plan.limit, plan.seed);
  const split: Split = splitQuestions(chosen, plan.split, plan.seed);
  if (split.train.length === 0 || split.dev.length === 0 || split.test.length === 0) {
    throw new CivitasError("usage", `too few questions to split: ${split.train.length} train, ${split.dev.length} dev, ${split.test.length} test (of ${chosen.length})`, { hint: "at least 5 questions; a larger --limit" });
  }
  const inChosen = new Set(chosen.map((q) => q.id));
  const asked = suite.questions.filter((q) => inChosen.has(q.id));

  // ---- ask: every question unsteered and with each target's persona (one eval run)
  const common = {
    model: plan.model,
    ...(plan.protocol ? { protocol: plan.protocol } : {}),
    ...(plan.metric ? { metric: plan.metric } : {}),
    ...(plan.resamples ? { resamples: plan.resamples } : {}),
    methods: [plan.method ?? "logprobs"] as const,
    ...(plan.samples === undefined ? {} : { samples: plan.samples }),
    ...(plan.variants ? { variants: plan.variants } : {}),
    ...(plan.system === undefined ? {} : { system: plan.system }),
    ...(plan.personaIn ? { personaIn: plan.personaIn } : {}),
    minCoverage: plan.minCoverage,
    seed: plan.seed,
    ...(plan.cache ? { cache: plan.cache } : {}),
  };
  const evalEvents: EvalEvents = {
    ...(events.signal ? { signal: events.signal } : {}),
    ...(events.onModelLoading ? { onModelLoading: events.onModelLoading } : {}),
    ...(events.onModelReady ? { onModelReady: events.onModelReady } : {}),
    ...(events.onProgress ? { onProgress: events.onProgress } : {}),
    ...(events.onServedChange ? { onServedChange: events.onServedChange } : {}),
    ...(events.onPlan ? { onPlan: events.onPlan } : {}),
  };
  const usesPersona = plan.methods.some((m) => m.usesPersona);
  events.onStage?.(`asking ${asked.length} questions unsteered${usesPersona ? ` and with the personas of ${targets.length} population${targets.length === 1 ? "" : "s"}` : ""}`);
  const runs: EvalResult[] = [];
  const main = await runEval(
    store,
    { ...common, suite, questions: asked, populations: plan.populations, persona: usesPersona, ...(plan.personaTemplates ? { personaTemplates: plan.personaTemplates } : {}), command: `${plan.command} [unsteered and personas]` },
    evalEvents,
  );
  runs.push(main);
  const method = plan.method ?? "logprobs";
  const mainAnswers = await store.answers(main.run, { method });
  const variants = variantIds(plan, mainAnswers);
  const mainTokens = await tokensOf(store, mainAnswers);
  let estimated = mainTokens.estimated;
  const byKey = indexAnswers(mainAnswers, variants, mainTokens.tokens);
  const stored: StoredAnswers = {
    plain: (q, v) => byKey.get(`none\u0000${q.id}\u0000${v}`),
    persona: (t, q, v) => byKey.get(`${personas.get(t.id)?.id ?? t.id}\u0000${q.id}\u0000${v}`),
  };

  const ask: Ask = async (tag, target, items, options = {}) => {
    const texts = items.map((i) => [i.question.id, i.text] as const);
    const questions = items.map((i) => ({ ...i.question, text: i.text }));
    const asking = suiteWith(suite, { questions, fingerprint: sha256Hex(JSON.stringify([suite.fingerprint, tag, target.id, texts])) });
    events.onStage?.(`asking ${tag} toward ${target.id}: ${items.length} prompts`);
    const persona = options.persona === true;
    const r = await runEval(
      store,
      {
        ...common,
        ...(options.model ? { model: options.model } : {}),
        suite: asking,
        questions,
        populations: [target],
        persona,
        ...(persona && plan.personaTemplates ? { personaTemplates: plan.personaTemplates } : {}),
        command: `${plan.command} [${tag} ${target.id}]`,
      },
      evalEvents,
    );
    runs.push(r);
    const answers = await store.answers(r.run, { method });
    const t = await tokensOf(store, answers);
    estimated ||= t.estimated;
    const idx = indexAnswers(answers, variants, t.tokens);
    const who = persona ? personas.get(target.id)?.id ?? target.id : "none";
    return (q): PerVariant => variants.map((_, v) => idx.get(`${who}\u0000${q.id}\u0000${v}`));
  };

  // How the eval run asks a question (plan.ts resolvePlan's default variant where none is given).
  const template = suite.template ?? "opinionqa";
  const variantList: readonly Variant[] =
    plan.variants && plan.variants.length > 0
      ? plan.variants
      : [conventions.optionOrder === "alphabetical" ? parseVariant("order=alphabetical", template) : template === "opinionqa" ? STANDARD_VARIANT : parseVariant("standard", template)];
  const prompt = (q: Question, v: number, target: Population | null, how: SteerElicitation = "logprobs"): AskedPrompt => {
    const raw = renderPrompt(q, variantList[v]!, target ? personas.get(target.id) ?? NO_PERSONA : NO_PERSONA, how, {
      ...(plan.system === undefined ? {} : { system: plan.system }),
      ...(plan.personaIn ? { personaIn: plan.personaIn } : {}),
      // As the eval run renders it (plan.ts): sequence's prompt names how many answers to write.
      answers: plan.samples ?? DEFAULT_SAMPLES,
    });
    const asked = formatPrompt(plan.model, raw.turns);
    return { text: asked.text, system: asked.system, labels: raw.answer === "text" ? raw.shown : raw.labels, order: raw.order, answer: raw.answer };
  };

  // ---- fit on train, tune on dev, steer test
  const ctx: SteerContext = {
    suite,
    conventions,
    targets,
    variants,
    train: split.train,
    answers: stored,
    personas,
    ask,
    grids: plan.grids ?? {},
    ...(plan.realign ? { realign: plan.realign } : {}),
    model: plan.model,
    prompt,
    method,
  };
  const methodRows: SteerResult["methods"] = [];
  const tested: MethodAnswers[] = [];
  for (const m of plan.methods) {
    events.onStage?.(`fitting ${m.name} on ${split.train.length} train questions`);
    const steerer = await m.fit(ctx);
    let tuned: Tuned;
    const byTarget = new Map<string, SteeredAnswers>();
    try {
      tuned = await tuneMethod(steerer, { suite, conventions, seed: plan.seed, targets, dev: split.dev });
      for (const t of targets) byTarget.set(t.id, await steerer.steer(tuned.value, t, split.test));
    } finally {
      await steerer.close?.();
    }
    tested.push({ method: m.name, byTarget });
    methodRows.push({
      method: m.name,
      paper: m.paper,
      asks: m.asks,
      knob: m.knob ? { name: m.knob.name, value: tuned.value, grid: [...steerer.grid], dev: tuned.dev } : null,
      ...(steerer.fitted ? { fitted: steerer.fitted } : {}),
    });
  }

  // ---- judge on test
  const unsteered: SteeredAnswers = (q) => variants.map((_, v) => stored.plain(q, v));
  const ev = evaluate({
    suite,
    conventions,
    seed: plan.seed,
    resamples: conventions.resamples,
    targets,
    evaluated: plan.populations,
    test: split.test,
    variants,
    unsteered,
    methods: tested,
  });

  const config = {
    kind: "steer",
    eval_run: main.run,
    methods: plan.methods.map((m) => m.name),
    grids: plan.grids ?? {},
    split: { kind: split.kind, seed: split.seed, train: split.train.map((q) => q.id), dev: split.dev.map((q) => q.id), test: split.test.map((q) => q.id) },
    configs: plan.configs ?? {},
    realign: plan.realign
      ? { ...(plan.realign.refModel ? { ref_model: plan.realign.refModel.identity } : {}), ...(plan.realign.lora ? { lora: { file: plan.realign.lora.path, scale: plan.realign.lora.scale ?? 1 } } : {}) }
      : null,
  };
  const id = runIdOf(JSON.stringify(config));
  // The few-shot runs' own coverage warnings repeat the main run's; their other warnings are kept.
  const warnings = [...new Set([...main.warnings, ...runs.slice(1).flatMap((r) => r.warnings.filter((w) => !w.startsWith("mean coverage")))])];
  if (estimated) warnings.push("some prompts' token counts were not reported by the backend: they are estimated at 4 characters a token");
  const result: SteerResult = {
    run: id,
    suite: plan.suite.name,
    model: plan.model.display,
    metric: conventions.metric,
    split: { kind: split.kind, seed: split.seed, train: split.train.map((q) => q.id), dev: split.dev.map((q) => q.id), test: split.test.map((q) => q.id) },
    variants,
    methods: methodRows,
    ...ev,
    eval_runs: runs.map((r) => r.run),
    answers: { model_calls: runs.reduce((s, r) => s + r.answers.model_calls, 0), cache_hits: runs.reduce((s, r) => s + r.answers.cache_hits, 0) },
    warnings,
    store: store.file,
    seconds: (performance.now() - started) / 1000,
  };
  await store.beginRun({ id, command: plan.command, suite: plan.suite.name, model: plan.model.display, metric: conventions.metric, config, kind: "steer" });
  await store.finishRun(id, result, { counts: { model_calls: result.answers.model_calls, cache_hits: result.answers.cache_hits } });
  return result;
}
