/**
 * Elicitation methods (Meister et al. 2024, "Benchmarking Distributional Alignment of LLMs"):
 * how a model's distribution over the options of a question is obtained. Each is a registered
 * component (src/registry.ts) with its request parameters and its way of asking.
 *
 * - logprobs:  the next-token probabilities of the option labels after "Answer:" (one evaluation).
 * - sample:    K completions at temperature 1, the label each names parsed; the counts are the
 *              distribution. Unparseable completions are recorded and counted.
 * - verbalize: the model states the distribution as JSON; validated and renormalised. Invalid
 *              statements are recorded and counted.
 * - sequence:  one completion writing N answers in a row, counted (runs/sequence.ts: a method in a
 *              file of its own, registered there, as docs/extending.md shows).
 *
 * With `constrain`, decoding is restricted where the backend can (llama.cpp grammars, JSON-schema
 * response_format) so that sampled labels and stated JSON are always well-formed; the mode that
 * produced each answer is recorded.
 *
 * Adding a method: one file that defines an `ElicitationMethod` and `methods.register(...)`
 * (docs/extending.md). A method other than these four is asked the prompt that ends where the
 * answer label goes (as logprobs and sample are), whole (prefixes are shared by logprobs only).
 */
import { z } from "zod";
import { CivitasError } from "../errors.js";
import { parseLabelAnswer, parseVerbalized, topKLabelMass, topKSumLabelMass, type ConstraintMode, type ModelClient } from "../models/index.js";
import { NO_ARGS, Registry, type Component } from "../registry.js";
import type { Method } from "../store/index.js";
import type { AnswerFormat, RenderedPrompt } from "../surveys/index.js";
import type { LabelReading } from "./protocols.js";

export interface MethodSettings {
  /** Completions per question for `sample`, answers per completion for `sequence` (default 30, as Meister et al.'s 30-answer sequences). */
  readonly samples: number;
  /** Constrain decoding where the backend can. */
  readonly constrain: boolean;
  /** Seed of the sampled completions. */
  readonly seed: number;
  /** How logprobs reads label probabilities (a protocol's convention); absent: every form of a label (extract.ts). */
  readonly labelReading?: LabelReading;
}

export const DEFAULT_SAMPLES = 30;

/** The part of a rendered prompt a method asks. */
export type ElicitPrompt = Pick<RenderedPrompt, "text" | "prefix" | "labels" | "shown" | "answer"> & {
  /** The system message, for a backend that takes chat messages (models/chat.ts); absent or null: none, or it is in `text`. */
  readonly system?: string | null;
};

/** The query field of a prompt's system message. */
export const systemOf = (prompt: ElicitPrompt): { system?: string } => (prompt.system == null ? {} : { system: prompt.system });

/** Request parameters: part of every request's cache key. */
export type RequestParams = Record<string, string | number | boolean>;

/** An elicitation method. */
export interface ElicitationMethod extends Component {
  /**
   * The parameters of its requests: part of the cache key, so that a change asks again rather
   * than reuse answers given to other requests. `answer` is the prompt's answer format.
   */
  params(settings: MethodSettings, answer: AnswerFormat): RequestParams;
  /** Asks the model one prompt. */
  elicit(client: ModelClient, prompt: ElicitPrompt, settings: MethodSettings, signal?: AbortSignal): Promise<Elicited>;
}

/** The elicitation methods `--method` accepts. */
export const methods = new Registry<ElicitationMethod>({
  kind: "method",
  unknown: (name, names) => ({ message: `unknown method "${name}"`, hint: `choose among ${names.join(", ")} (several: --method logprobs,verbalize)` }),
  check: (m) => [
    ...(typeof m.params === "function" ? [] : ["params: expected a function (settings, answer) => request parameters"]),
    ...(typeof m.elicit === "function" ? [] : ["elicit: expected a function (client, prompt, settings, signal) => Promise<Elicited>"]),
  ],
});

/**
 * The registered method names (live). Typed as the store's `Method`, which names the built-ins:
 * a registered method's name is stored like theirs.
 */
export const METHODS: readonly Method[] = methods.names as readonly Method[];

export function findMethod(name: string): ElicitationMethod {
  return methods.get(name);
}

export function parseMethods(specs: readonly string[]): Method[] {
  const out: Method[] = [];
  for (const s of specs) {
    const m = methods.get(s).name as Method;
    if (!out.includes(m)) out.push(m);
  }
  return out.length > 0 ? out : ["logprobs"];
}

/** The request parameters of a method: part of the cache key. */
export function methodParams(method: string, s: MethodSettings, answer: AnswerFormat = "label"): RequestParams {
  return methods.get(method).params(s, answer);
}

/** What a method got from the model for one prompt. */
export interface Elicited {
  /** Per label, in the order shown: probability, count, or stated share (not renormalised). */
  readonly labelMass: number[];
  /** Share of the response on valid labels: probability mass, parsed samples, or 1/0 (valid statement). */
  readonly coverage: number;
  readonly raw: unknown;
  readonly mode: ConstraintMode;
  readonly promptTokens: number | null;
}

/** The JSON schema a verbalized distribution must match: one share in [0, 1] per label. */
export function verbalizeSchema(labels: readonly string[]): Record<string, unknown> {
  return {
    type: "object",
    properties: Object.fromEntries(labels.map((l) => [l, { type: "number", minimum: 0, maximum: 1 }])),
    required: [...labels],
    additionalProperties: false,
  };
}

/**
 * Asks the model one prompt by a method. With the "text" answer format, logprobs scores each
 * option's text as a continuation, and sampled answers are parsed (and constrained) as option texts.
 */
export function elicit(client: ModelClient, method: string, prompt: ElicitPrompt, s: MethodSettings, signal?: AbortSignal): Promise<Elicited> {
  return methods.get(method).elicit(client, prompt, s, signal);
}

// ---------------------------------------------------------------------------------------------
// The built-in methods

const samples = z.int({ error: "expected an integer >= 1" }).min(1, { error: "expected an integer >= 1" }).default(DEFAULT_SAMPLES);
const constrain = z.boolean({ error: "expected true or false" }).default(false);

const logprobs: ElicitationMethod = {
  name: "logprobs",
  description: "next-token probabilities of the option labels",
  args: NO_ARGS,
  // logprobs keys keep the shape of version 1 stores (requestKey), so their caches stay valid.
  // A top-k label reading (santurkar2023) is another request: the stored answer holds the top k.
  params: (s): RequestParams => (s.labelReading && s.labelReading.kind !== "forms" ? { label_reading: s.labelReading.kind, top_k: s.labelReading.k } : {}),
  async elicit(client, prompt, s, signal) {
    const { text, labels, shown: options, prefix } = prompt;
    if (s.labelReading && s.labelReading.kind !== "forms") {
      if (prompt.answer === "text") {
        throw new CivitasError("usage", `the ${s.labelReading.kind} label reading (santurkar2023, suh2025) reads option labels, not option texts`, { hint: "use a variant with labels, or another protocol" });
      }
      const k = s.labelReading.k;
      const a = await client.optionProbabilities({ prompt: text, labels, prefix, ...systemOf(prompt), topK: k }, signal);
      // An OpenAI-compatible server returns at most 20 (top_logprobs): the reading uses what came.
      const top = a.top.slice(0, k);
      if (s.labelReading.kind === "top-k-sum") {
        const r = topKSumLabelMass(top, labels);
        return { labelMass: r.labelMass, coverage: r.coverage, raw: { top, top_k: k, reading: "top-k-sum" }, mode: "none", promptTokens: a.promptTokens };
      }
      const r = topKLabelMass(top, labels);
      return { labelMass: r.labelMass, coverage: r.coverage, raw: { top, top_k: k, misses: r.misses }, mode: "none", promptTokens: a.promptTokens };
    }
    const a = await client.optionProbabilities({ prompt: text, labels, prefix, ...systemOf(prompt), ...(prompt.answer === "text" ? { continuations: options } : {}) }, signal);
    return { labelMass: [...a.labelMass], coverage: a.coverage, raw: { top: a.top }, mode: "none", promptTokens: a.promptTokens };
  },
};

const sample: ElicitationMethod = {
  name: "sample",
  description: "K completions at temperature 1 (--samples), the labels they name counted",
  args: z.object({ samples, constrain }),
  // An option's text takes more tokens than its label.
  params: (s, answer) => ({ n: s.samples, temperature: 1, max_tokens: answer === "text" ? 48 : s.constrain ? 4 : 8, seed: s.seed, constrain: s.constrain }),
  async elicit(client, prompt, s, signal) {
    const { text, labels, shown: options } = prompt;
    const p = sample.params(s, prompt.answer);
    const a = await client.complete(
      {
        prompt: text,
        n: s.samples,
        temperature: 1,
        maxTokens: Number(p.max_tokens),
        seed: s.seed,
        ...systemOf(prompt),
        ...(s.constrain ? { constrain: { kind: "choice" as const, choices: prompt.answer === "text" ? options : labels } } : {}),
      },
      signal,
    );
    const parsed = a.texts.map((t) => parseLabelAnswer(t, labels, options));
    const counts = labels.map(() => 0);
    for (const k of parsed) if (k !== null) counts[k]!++;
    const valid = parsed.filter((k) => k !== null).length;
    return {
      labelMass: counts,
      coverage: a.texts.length > 0 ? valid / a.texts.length : 0,
      raw: { texts: a.texts, parsed, unparsed: a.texts.length - valid },
      mode: a.mode,
      promptTokens: a.promptTokens,
    };
  },
};

const verbalize: ElicitationMethod = {
  name: "verbalize",
  description: "the model states the distribution as JSON",
  args: z.object({ constrain }),
  params: (s) => ({ n: 1, temperature: 0, max_tokens: 400, seed: s.seed, constrain: s.constrain }),
  async elicit(client, prompt, s, signal) {
    const { text, labels, shown: options } = prompt;
    const p = verbalize.params(s, prompt.answer);
    const a = await client.complete(
      {
        prompt: text,
        n: 1,
        temperature: 0,
        maxTokens: Number(p.max_tokens),
        seed: s.seed,
        ...systemOf(prompt),
        ...(s.constrain ? { constrain: { kind: "json" as const, schema: verbalizeSchema(labels) } } : {}),
      },
      signal,
    );
    const said = a.texts[0] ?? "";
    const v = parseVerbalized(said, labels, options);
    return v.ok
      ? { labelMass: v.distribution, coverage: 1, raw: { text: said }, mode: a.mode, promptTokens: a.promptTokens }
      : { labelMass: labels.map(() => 0), coverage: 0, raw: { text: said, error: v.error }, mode: a.mode, promptTokens: a.promptTokens };
  },
};

methods.register(logprobs);
methods.register(sample);
methods.register(verbalize);
