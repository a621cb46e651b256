/**
 * Steering methods, registered components (src/registry.ts) of `civitas steer --methods`. Each
 * one, fitted on the train questions, gives for a target population and a question one
 * distribution per presentation variant (survey order, every option) and the tokens the model
 * evaluated for it; its knob (if it has one) is tuned on dev by the run (run.ts, `tuneMethod`).
 * Papers: docs/steering.md.
 *
 * - persona: the persona's stored answers (Santurkar et al. 2023; CoSA-style configs via --config).
 * - fewshot: new prompts showing the population's own answer distributions on the k most similar
 *   train questions (Meister et al. 2024; Align on the Fly's retrieval), k tuned on dev.
 * - linear: Linear Alignment over labels (Gao et al. 2024), p ∝ p_persona^(1+a) · p_plain^(-a),
 *   from the stored answers of both prompts: no new model calls; a tuned on dev.
 * - calibrate: one log-offset per population and option position fitted on train, applied to the
 *   unsteered answers (the baseline every method must beat); its strength tuned on dev.
 * - realign: Decoding-time Realignment (Liu et al. 2024) over the options, both sides asked with the
 *   persona, through src/steer/decode.ts; l tuned on dev from one evaluation per question.
 */
import { z } from "zod";
import { CivitasError } from "../errors.js";
import { Registry, type Component } from "../registry.js";
import type { ModelClient, ModelSpec } from "../models/index.js";
import type { Conventions } from "../runs/index.js";
import { humanView } from "../runs/index.js";
import { scoredIndices, toSurveyOrder, type Persona, type Population, type Question, type Suite } from "../surveys/index.js";
import { asLlamaClient, linearWeight, openLinearDecoder, openRealign, realignWeight, steeredClient, type MixtureDecoder } from "./decode.js";
import { tfIdf, cosine } from "./similarity.js";

/** A steered answer under one variant: its distribution (survey order, every option) and the prompt tokens behind it. */
export interface Steered {
  readonly dist: readonly number[];
  readonly tokens: number;
}

/** A question's steered answers, one per variant of the run (undefined where there is none). */
export type PerVariant = readonly (Steered | undefined)[];

/** What a method's steering gives for a set of questions. */
export type SteeredAnswers = (q: Question) => PerVariant;

/** The stored answers of the run: unsteered, and with each target's persona. */
export interface StoredAnswers {
  plain(q: Question, variant: number): Steered | undefined;
  persona(target: Population, q: Question, variant: number): Steered | undefined;
}

/**
 * New prompts for a target: each question shown with `text` in place of its own text, asked
 * without a persona (or, `persona`, with the target's persona: the answers under it are returned),
 * by the model of the run or `model`.
 */
export type Ask = (
  tag: string,
  target: Population,
  items: readonly { readonly question: Question; readonly text: string }[],
  options?: { readonly model?: ModelSpec; readonly persona?: boolean },
) => Promise<SteeredAnswers>;

/**
 * A question as the run asks it under one variant, with a target's persona or none (null): the
 * prompt as this model is asked it (chat template applied where it has one; `system` the system
 * message of a backend that takes chat messages), the answer keys shown (labels, or option texts
 * for answer=text) and `order`, the survey index of each shown option (toSurveyOrder maps answers
 * back). The same text the eval run stored for the unsteered and persona answers.
 */
export interface AskedPrompt {
  readonly text: string;
  readonly system: string | null;
  readonly labels: readonly string[];
  readonly order: readonly number[];
  /** "text": the answer keys are the option texts (scored by their first tokens), else labels. */
  readonly answer?: "label" | "text";
}

/** How a steering run elicits its answers (the run engine's methods). */
export type SteerElicitation = "logprobs" | "sample" | "verbalize" | "sequence";

/** What a method is fitted with: the train questions and what it may read. */
export interface SteerContext {
  readonly suite: Suite;
  readonly conventions: Pick<Conventions, "refusals">;
  readonly targets: readonly Population[];
  readonly variants: readonly string[];
  readonly train: readonly Question[];
  readonly answers: StoredAnswers;
  /** Each target's persona (its --config text where one is given). */
  readonly personas: ReadonlyMap<string, Persona>;
  readonly ask: Ask;
  /** The knob grid given on the command line for a method (e.g. --fewshot-k), overriding its own. */
  readonly grids: Readonly<Record<string, readonly number[]>>;
  /** For realign: the reference model and adapter named on the command line. */
  readonly realign?: RealignSides;
  /** The model (methods with a decoding loop of their own open it: realign, src/steer/decode.ts). */
  readonly model?: ModelSpec;
  /** How the run asks a question (see AskedPrompt), for methods that ask the model themselves. */
  readonly prompt?: (q: Question, variant: number, target: Population | null, method?: SteerElicitation) => AskedPrompt;
  /** How the run elicits answers (default logprobs); with sample, verbalize or sequence, linear decodes with its two-sequence loop. */
  readonly method?: SteerElicitation;
}

/** A fitted method. */
export interface Steerer {
  /** The knob's grid as fitted (fewshot's k is capped by the train questions). */
  readonly grid: readonly number[];
  /** What was fitted on train, for the result (calibrate's offsets). */
  readonly fitted?: Record<string, unknown>;
  steer(knob: number | null, target: Population, questions: readonly Question[]): Promise<SteeredAnswers>;
  /** Releases what fit opened (a decoder's models); the run calls it once the test questions are steered (steer asks everything before it returns). */
  close?(): Promise<void>;
}

export interface SteerMethod extends Component {
  /** The paper it follows, as docs/steering.md cites it. */
  readonly paper: string;
  /** The knob tuned on dev, with its default grid; none for methods without one. */
  readonly knob?: { readonly name: string; readonly grid: readonly number[] };
  /** Asks the model new prompts (false: it post-processes stored answers). */
  readonly asks: boolean;
  /** Reads the persona answers (the run asks them only when some method does). */
  readonly usesPersona: boolean;
  fit(ctx: SteerContext): Promise<Steerer>;
}

export const steerMethods = new Registry<SteerMethod>({
  kind: "steering method",
  check: (m) => [
    ...(typeof m.paper === "string" && m.paper.trim() !== "" ? [] : ["paper: expected the paper it follows"]),
    ...(typeof m.fit === "function" ? [] : ["fit: expected a function"]),
  ],
});

const none = z.object({});

/** The knobs' default grids (dev picks one value of each; the first on ties). */
export const LINEAR_GRID: readonly number[] = [0, 0.25, 0.5, 1, 2];
export const CALIBRATE_GRID: readonly number[] = [0, 0.5, 1];
export const FEWSHOT_GRID: readonly number[] = [1, 2, 4, 8];

/** The option indices scored under the conventions (all, or the substantive ones). */
export function viewIndices(q: Question, refusals: "drop" | "keep"): number[] {
  return refusals === "keep" ? q.options.map((_, i) => i) : scoredIndices(q);
}

/** A distribution normalised to sum 1, or undefined when it has no mass. */
function normalised(w: readonly number[]): number[] | undefined {
  const total = w.reduce((a, b) => a + b, 0);
  return total > 0 && Number.isFinite(total) ? w.map((x) => x / total) : undefined;
}

/** Floor of p_plain in Linear Alignment's p_plain^(-a), so an option the plain prompt gives 0 does not get infinite weight. */
export const LINEAR_FLOOR = 1e-6;

/**
 * Linear Alignment over labels (Gao et al. 2024, eq. 7 with the policy's own distribution as the
 * unaligned one): p_i ∝ p_persona,i^(1+a) · max(p_plain,i, LINEAR_FLOOR)^(-a), computed in log
 * space; an option the persona gives 0 stays 0. a = 0 is the persona; a > 0 moves further in the
 * direction the persona moved the model. Undefined when the persona gives no mass.
 */
export function linearAlign(persona: readonly number[], plain: readonly number[], a: number): number[] | undefined {
  const logs = persona.map((p, i) => (p > 0 ? (1 + a) * Math.log(p) - a * Math.log(Math.max(plain[i] ?? 0, LINEAR_FLOOR)) : Number.NEGATIVE_INFINITY));
  const max = Math.max(...logs);
  if (!Number.isFinite(max)) return undefined;
  return normalised(logs.map((l) => (Number.isFinite(l) ? Math.exp(l - max) : 0)));
}

/** Smoothing of the shares in calibrate's log ratios, so an option nobody chose gives a finite offset. */
export const CALIBRATE_EPSILON = 0.01;

/**
 * Calibration offsets of one population under one variant: for each option position j of the
 * scored view, the mean over the train questions that have position j of
 * ln((h_j + ε) / (p_j + ε)), h the population's shares and p the unsteered model's (both over the
 * scored view, renormalised), ε = CALIBRATE_EPSILON.
 */
export function calibrationOffsets(items: readonly { readonly human: readonly number[]; readonly model: readonly number[] }[]): number[] {
  const sums: number[] = [];
  const counts: number[] = [];
  for (const { human, model } of items) {
    human.forEach((h, j) => {
      sums[j] = (sums[j] ?? 0) + Math.log((h + CALIBRATE_EPSILON) / ((model[j] ?? 0) + CALIBRATE_EPSILON));
      counts[j] = (counts[j] ?? 0) + 1;
    });
  }
  return sums.map((s, j) => s / counts[j]!);
}

/** The unsteered view p calibrated: p_j · exp(λ c_j), renormalised (positions without an offset get 0). */
export function applyOffsets(model: readonly number[], offsets: readonly number[], lambda: number): number[] | undefined {
  return normalised(model.map((p, j) => p * Math.exp(lambda * (offsets[j] ?? 0))));
}

/** A distribution over the scored view back over every option (options outside the view get 0). */
function fromView(q: Question, idx: readonly number[], view: readonly number[]): number[] {
  const out = new Array<number>(q.options.length).fill(0);
  idx.forEach((i, j) => (out[i] = view[j]!));
  return out;
}

function toView(dist: readonly number[], idx: readonly number[]): number[] | undefined {
  return normalised(idx.map((i) => dist[i] ?? 0));
}

const perVariant = (ctx: SteerContext, f: (v: number) => Steered | undefined): PerVariant => ctx.variants.map((_, v) => f(v));

export const PERSONA: SteerMethod = {
  name: "persona",
  description: "the population's description in the user or system turn (the suite's templates, --persona-template, or --config texts)",
  args: none,
  paper: "Santurkar et al. 2023 (steering prompts); Zhang et al. 2024 CoSA (free-text configs)",
  asks: false,
  usesPersona: true,
  async fit(ctx) {
    return { grid: [], steer: async (_k, target) => (q) => perVariant(ctx, (v) => ctx.answers.persona(target, q, v)) };
  },
};

export const LINEAR: SteerMethod = {
  name: "linear",
  description: "Linear Alignment over labels: p ∝ p_persona^(1+a) · p_plain^(-a) from the stored answers of both prompts (no new model calls), a tuned on dev",
  args: none,
  paper: "Gao et al. 2024, Linear Alignment (ICML 2024)",
  knob: { name: "a", grid: LINEAR_GRID },
  asks: false,
  usesPersona: true,
  async fit(ctx) {
    if (ctx.method !== undefined && ctx.method !== "logprobs") return fitLinearDecoding(ctx, ctx.method);
    return {
      grid: ctx.grids.linear ?? LINEAR_GRID,
      steer: async (a, target) => (q) =>
        perVariant(ctx, (v) => {
          const pe = ctx.answers.persona(target, q, v);
          const pl = ctx.answers.plain(q, v);
          if (!pe || !pl) return undefined;
          const dist = linearAlign(pe.dist, pl.dist, a ?? 0);
          return dist ? { dist, tokens: pe.tokens + pl.tokens } : undefined;
        }),
    };
  },
};

/**
 * Linear Alignment for generated text (--method sample, verbalize or sequence): each value of a is
 * an eval run (the run engine's method, the target's persona prompts) on a model client that answers through the
 * two-sequence loop of src/steer/decode.ts (steeredClient), side A the persona prompt and side B
 * the same question's plain prompt, q ∝ p_persona^(1+a) · p_plain^(-a) at every token. The client's
 * identity names a, so each a's answers are cached apart. Each answer's tokens count both prompts.
 */
async function fitLinearDecoding(ctx: SteerContext, method: Exclude<SteerElicitation, "logprobs">): Promise<Steerer> {
  const { model, prompt } = ctx;
  if (!model || !prompt) throw new CivitasError("usage", "linear over generated text needs the model and how the run asks each question (runSteer gives both)");
  if (model.backend !== "llama") {
    throw new CivitasError("usage", `linear over generated text (--method ${method}) decodes two prompts token by token on the in-process llama backend, but the model (${model.display}) runs on the ${model.backend} backend`, {
      hint: "give the model as llama:<file.gguf>, or use --method logprobs (linear over the labels, from the stored answers)",
    });
  }
  const client = await model.open();
  let decoder: MixtureDecoder;
  try {
    decoder = await openLinearDecoder(asLlamaClient(client));
  } catch (e) {
    await client.close();
    throw e;
  }
  const llama = asLlamaClient(client);
  // Each persona prompt (as the sample method sends it) -> the same question's plain prompt.
  const plainOf = new Map<string, string>();
  const refPromptOf = (p: string): string => {
    const plain = plainOf.get(p);
    if (plain === undefined) throw new CivitasError("model", "linear: a prompt without its plain counterpart reached the decoding loop (an internal error)");
    return plain;
  };
  return {
    grid: ctx.grids.linear ?? LINEAR_GRID,
    steer: async (a, target, questions) => {
      for (const q of questions) {
        for (let v = 0; v < ctx.variants.length; v++) {
          const plain = prompt(q, v, null, method).text;
          plainOf.set(prompt(q, v, target, method).text, plain);
          plainOf.set(plain, plain);
        }
      }
      const identity = `${model.identity}+linear-decoding:a=${a ?? 0}`;
      const steered = steeredClient(decoder, { identity, weight: linearWeight(a ?? 0), refPromptOf });
      const spec: ModelSpec = {
        backend: "llama",
        identity,
        display: `${model.display} (linear a=${a ?? 0})`,
        params: model.params,
        ...(model.chatTemplate ? { chatTemplate: model.chatTemplate } : {}),
        open: async () => ({
          ...steered,
          // Both prompts are evaluated: count side B's too (a plain prompt is its own side B, evaluated once).
          complete: async (query, signal) => {
            const answer = await steered.complete(query, signal);
            const ref = refPromptOf(query.prompt);
            return { ...answer, promptTokens: (answer.promptTokens ?? 0) + (ref === query.prompt ? 0 : llama.tokenize(ref).length) };
          },
          // The decoder serves every a: the eval run's close must not close it.
          close: async () => undefined,
        }),
      };
      return ctx.ask(`linear-decoding:a=${a ?? 0}`, target, questions.map((q) => ({ question: q, text: q.text })), { model: spec, persona: true });
    },
    close: async () => {
      try {
        await decoder.close();
      } finally {
        await client.close();
      }
    },
  };
}

export const CALIBRATE: SteerMethod = {
  name: "calibrate",
  description: "the baseline: one offset per population and option position fitted on train, applied to the unsteered answers (strength tuned on dev)",
  args: none,
  paper: "Zhao et al. 2021, Calibrate Before Use (contextual calibration), here fitted per population",
  knob: { name: "strength", grid: CALIBRATE_GRID },
  asks: false,
  usesPersona: false,
  async fit(ctx) {
    const { refusals } = ctx.conventions;
    // offsets[target][variant]
    const offsets = new Map<string, number[][]>();
    for (const t of ctx.targets) {
      offsets.set(
        t.id,
        ctx.variants.map((_, v) =>
          calibrationOffsets(
            ctx.train.flatMap((q) => {
              const human = humanView(ctx.suite.human(q.id, t.id), refusals);
              const plain = ctx.answers.plain(q, v);
              const model = plain ? toView(plain.dist, viewIndices(q, refusals)) : undefined;
              return human && human.length > 0 && model ? [{ human, model }] : [];
            }),
          ),
        ),
      );
    }
    return {
      grid: ctx.grids.calibrate ?? CALIBRATE_GRID,
      fitted: { offsets: Object.fromEntries([...offsets].map(([t, o]) => [t, Object.fromEntries(ctx.variants.map((v, k) => [v, o[k]!]))])) },
      steer: async (lambda, target) => (q) =>
        perVariant(ctx, (v) => {
          const pl = ctx.answers.plain(q, v);
          if (!pl) return undefined;
          const idx = viewIndices(q, refusals);
          const view = toView(pl.dist, idx);
          const cal = view ? applyOffsets(view, offsets.get(target.id)![v]!, lambda ?? 1) : undefined;
          return cal ? { dist: fromView(q, idx, cal), tokens: pl.tokens } : undefined;
        }),
    };
  },
};

/** A population's shares on a question as a few-shot example line. */
export function exampleLine(q: Question, shares: readonly number[], idx: readonly number[]): string {
  return `Question: ${q.text}\nAnswers: ${idx.map((i, j) => `${q.options[i]} ${Math.round(100 * (shares[j] ?? 0))}%`).join(", ")}`;
}

/**
 * The few-shot text of a question for a target: the population's answers on the k most similar
 * train questions it answered (TF-IDF cosine), the persona, then the question's own text.
 */
export function fewshotText(q: Question, examples: readonly { readonly question: Question; readonly shares: readonly number[]; readonly idx: readonly number[] }[], persona: string): string {
  const lines = examples.map((e) => exampleLine(e.question, e.shares, e.idx));
  return `How this group answered similar survey questions:\n\n${lines.join("\n\n")}\n\n${persona.trim() === "" ? "" : `${persona.trim()}\n`}${q.text}`;
}

export const FEWSHOT: SteerMethod = {
  name: "fewshot",
  description: "the population's own answer distributions on the k most similar train questions, shown before the question (new prompts), k tuned on dev",
  args: none,
  paper: "Meister et al. 2024 (steering with examples); Xu et al. 2023, Align on the Fly (retrieved norms)",
  knob: { name: "k", grid: FEWSHOT_GRID },
  asks: true,
  usesPersona: false,
  async fit(ctx) {
    const { refusals } = ctx.conventions;
    // Per target, the train questions it answered with its shares over the scored view.
    const pools = new Map(
      ctx.targets.map((t) => [
        t.id,
        ctx.train.flatMap((q) => {
          const shares = humanView(ctx.suite.human(q.id, t.id), refusals);
          return shares && shares.length > 0 ? [{ question: q, shares, idx: viewIndices(q, refusals) }] : [];
        }),
      ]),
    );
    const fewest = Math.min(...[...pools.values()].map((p) => p.length));
    const grid = (ctx.grids.fewshot ?? FEWSHOT_GRID).filter((k) => k <= fewest);
    if (grid.length === 0) {
      throw new CivitasError("usage", `fewshot: a target population answered only ${fewest} train question${fewest === 1 ? "" : "s"}, fewer than the smallest k (${(ctx.grids.fewshot ?? FEWSHOT_GRID).join(", ")})`, {
        hint: "more questions (a larger --limit), or a smaller --fewshot-k",
      });
    }
    const indexes = new Map([...pools].map(([t, pool]) => [t, { pool, index: tfIdf(pool.map((e) => e.question.text)) }]));
    return {
      grid,
      steer: async (k, target, questions) => {
        const { pool, index } = indexes.get(target.id)!;
        const vectors = pool.map((e) => index.vector(e.question.text));
        const items = questions.map((q) => {
          const qv = index.vector(q.text);
          const order = pool
            .map((e, i) => ({ i, s: e.question.id === q.id ? Number.NEGATIVE_INFINITY : cosine(qv, vectors[i]!) }))
            .sort((a, b) => b.s - a.s || a.i - b.i)
            .slice(0, k ?? 1)
            .map((x) => pool[x.i]!);
          return { question: q, text: fewshotText(q, order, ctx.personas.get(target.id)?.text ?? "") };
        });
        return ctx.ask(`fewshot:k=${k}`, target, items);
      },
    };
  },
};

/** realign's default grid of l (1: the aligned model alone, 0: the reference, > 1 extrapolates). */
export const REALIGN_GRID: readonly number[] = [0, 0.5, 1, 1.5, 2];

/** What realign compares the model with: a reference model (--ref-model) or the model with a LoRA adapter (--lora). */
export interface RealignSides {
  readonly refModel?: ModelSpec;
  readonly lora?: { readonly path: string; readonly scale?: number };
}

function checkLlama(spec: ModelSpec, what: string): void {
  if (spec.backend !== "llama") {
    throw new CivitasError("usage", `realign combines two next-token distributions on the in-process llama backend, but ${what} (${spec.display}) runs on the ${spec.backend} backend`, {
      hint: "give it as llama:<file.gguf> or llama:hf:<org>/<repo>/<file.gguf>",
    });
  }
}

/**
 * Decoding-time Realignment (Liu et al. 2024) over the options: q ∝ p_aligned^l · p_ref^(1-l)
 * over the whole vocabulary at the answer's first token (src/steer/decode.ts), read at the option
 * labels' tokens (or the first token of each option text, answer=text), renormalised and mapped
 * to survey order. The aligned side is the model with --lora's adapter, or the model itself
 * against --ref-model. Both sides get the same prompt: the question with the target's persona, as
 * the run asks it (Liu et al. compare the aligned model with the reference under one prompt), so
 * l = 1 is the persona answer of the aligned side. One evaluation of the two sides per question,
 * variant and target gives the answers at every l of the grid (optionProbabilitiesAt): tuning
 * costs no more evaluations than one l. Tokens: what llama.cpp evaluated on both sides.
 */
export const REALIGN: SteerMethod = {
  name: "realign",
  description: "Decoding-time Realignment: p ∝ p_aligned^l · p_ref^(1-l) between two models (--ref-model) or a model with and without a LoRA adapter (--lora), both asked with the persona, l tuned on dev",
  args: none,
  paper: "Liu et al. 2024, Decoding-time Realignment of Language Models (ICML 2024)",
  knob: { name: "l", grid: REALIGN_GRID },
  asks: true,
  usesPersona: false,
  async fit(ctx) {
    const { model, prompt } = ctx;
    if (!model || !prompt) throw new CivitasError("usage", "realign needs the model and how the run asks each question (runSteer gives both)");
    const sides = ctx.realign;
    if (!sides || (sides.refModel === undefined) === (sides.lora === undefined)) {
      throw new CivitasError("usage", "realign needs exactly one of a reference model (--ref-model) and a LoRA adapter (--lora)", {
        hint: "--ref-model llama:<base.gguf> compares the model with its base; --lora <adapter.gguf>[@scale] compares the model with and without the adapter",
      });
    }
    checkLlama(model, "the model");
    if (sides.refModel) checkLlama(sides.refModel, "--ref-model");
    const grid = ctx.grids.realign ?? REALIGN_GRID;
    const client = await model.open();
    let refClient: ModelClient | undefined;
    let decoder: MixtureDecoder;
    try {
      refClient = sides.refModel ? await sides.refModel.open() : undefined;
      decoder = await openRealign(client, refClient ? { model: refClient } : { lora: sides.lora! });
    } catch (e) {
      await refClient?.close();
      await client.close();
      throw e;
    }
    // (target, question, variant) -> the answer at each l evaluated so far, and the tokens of its evaluation.
    const cache = new Map<string, Map<number, Steered | undefined>>();
    const answerAt = async (target: Population, q: Question, v: number, l: number): Promise<Steered | undefined> => {
      const key = `${target.id}\u0000${q.id}\u0000${v}`;
      let byL = cache.get(key);
      if (!byL?.has(l)) {
        const weights = grid.includes(l) ? grid.filter((w) => !byL?.has(w)) : [l];
        const asked = prompt(q, v, target);
        const answers = await decoder.optionProbabilitiesAt(
          { prompt: asked.text, refPrompt: asked.text, labels: asked.labels, ...(asked.answer === "text" ? { continuations: asked.labels } : {}) },
          weights.map(realignWeight),
        );
        byL ??= new Map();
        weights.forEach((w, k) => {
          const a = answers[k]!;
          const dist = normalised(a.labelMass);
          byL!.set(w, dist ? { dist: toSurveyOrder(dist, asked.order), tokens: a.evaluatedTokens } : undefined);
        });
        cache.set(key, byL);
      }
      return byL.get(l);
    };
    return {
      grid,
      steer: async (l, target, questions) => {
        const out = new Map<string, (Steered | undefined)[]>();
        for (const q of questions) {
          const per: (Steered | undefined)[] = [];
          for (let v = 0; v < ctx.variants.length; v++) per.push(await answerAt(target, q, v, l ?? 1));
          out.set(q.id, per);
        }
        return (q) => out.get(q.id) ?? ctx.variants.map(() => undefined);
      },
      close: async () => {
        try {
          await decoder.close();
        } finally {
          await refClient?.close();
          await client.close();
        }
      },
    };
  },
};

for (const m of [PERSONA, FEWSHOT, LINEAR, CALIBRATE, REALIGN]) steerMethods.register(m);

/** The default --methods. */
export const DEFAULT_STEER_METHODS = ["persona", "fewshot", "linear", "calibrate"] as const;

/** Parses --methods: registered names, comma separated, without repeats. */
export function parseSteerMethods(list: readonly string[]): SteerMethod[] {
  const names = list.flatMap((s) => s.split(",")).map((s) => s.trim()).filter((s) => s !== "");
  const out: SteerMethod[] = [];
  for (const n of names) {
    const m = steerMethods.get(n);
    if (!out.includes(m)) out.push(m);
  }
  if (out.length === 0) throw new CivitasError("usage", "--methods names no steering method", { hint: `choose among ${steerMethods.names.join(", ")}` });
  return out;
}
