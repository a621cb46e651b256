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
 * - realign: Decoding-time Realignment (Liu et al. 2024), the model-side code of src/steer/decode.ts.
 */
import { z } from "zod";
import { CivitasError } from "../errors.js";
import { Registry, type Component } from "../registry.js";
import type { ModelSpec } from "../models/index.js";
import type { Conventions } from "../runs/index.js";
import { humanView } from "../runs/index.js";
import { scoredIndices, type Persona, type Population, type Question, type Suite } from "../surveys/index.js";
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

/** New prompts for a target: each question shown with `text` in place of its own text, asked without a persona. */
export type Ask = (tag: string, target: Population, items: readonly { readonly question: Question; readonly text: string }[]) => Promise<SteeredAnswers>;

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
}

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
  readonly realign?: { readonly refModel?: string; readonly lora?: string };
  /** The model (methods with a decoding loop of their own open it: realign, src/steer/decode.ts). */
  readonly model?: ModelSpec;
  /** How the run asks a question (see AskedPrompt), for methods that ask the model themselves. */
  readonly prompt?: (q: Question, variant: number, target: Population | null) => AskedPrompt;
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

/**
 * The model-side code of Decoding-time Realignment lives in src/steer/decode.ts (another part of
 * issue 14). Until it is wired here, realign refuses before anything is asked. What it gets to do
 * its work: ctx.model (the model; --ref-model and --lora in ctx.realign), ctx.prompt (each question
 * as the run asks it, with its labels and their survey order), and Steerer.close to release what
 * it opened; its steer(l, target, questions) gives, per question and variant, the option
 * distribution in survey order (toSurveyOrder, renormalise) and the tokens both sides evaluated.
 */
export const REALIGN: SteerMethod = {
  name: "realign",
  description: "Decoding-time Realignment: p ∝ p_aligned^l · p_ref^(1-l) between two models (--ref-model) or a model with and without a LoRA adapter (--lora), l tuned on dev",
  args: none,
  paper: "Liu et al. 2024, Decoding-time Realignment of Language Models (ICML 2024)",
  knob: { name: "l", grid: [0, 0.25, 0.5, 0.75, 1, 1.5] },
  asks: true,
  usesPersona: false,
  async fit() {
    throw new CivitasError("usage", "steering method realign is not available in this build: its decoding code (src/steer/decode.ts, two models or a LoRA adapter on the in-process llama backend) is not part of it", {
      hint: "drop realign from --methods; persona, fewshot, linear and calibrate work without it",
    });
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
