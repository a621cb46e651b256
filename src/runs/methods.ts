/**
 * Elicitation methods (Meister et al. 2024, "Benchmarking Distributional Alignment of LLMs"):
 * how a model's distribution over the options of a question is obtained.
 *
 * - logprobs:  the next-token probabilities of the option labels after "Answer:" (one evaluation).
 * - sample:    K completions at temperature 1, the label each names parsed; the counts are the
 *              distribution. Unparseable completions are recorded and counted.
 * - verbalize: the model states the distribution as JSON; validated and renormalised. Invalid
 *              statements are recorded and counted.
 *
 * With `constrain`, decoding is restricted where the backend can (llama.cpp grammars, JSON-schema
 * response_format) so that sampled labels and stated JSON are always well-formed; the mode that
 * produced each answer is recorded.
 */
import { CivitasError } from "../errors.js";
import { parseLabelAnswer, parseVerbalized, type ConstraintMode, type ModelClient } from "../models/index.js";
import type { Method } from "../store/index.js";
import type { AnswerFormat, RenderedPrompt } from "../surveys/index.js";

export const METHODS: readonly Method[] = ["logprobs", "sample", "verbalize"];

export interface MethodSettings {
  /** Completions per question for `sample` (default 30, as Meister et al.'s 30-answer sequences). */
  readonly samples: number;
  /** Constrain decoding where the backend can. */
  readonly constrain: boolean;
  /** Seed of the sampled completions. */
  readonly seed: number;
}

export const DEFAULT_SAMPLES = 30;

export function parseMethods(specs: readonly string[]): Method[] {
  const out: Method[] = [];
  for (const s of specs) {
    const m = METHODS.find((x) => x === s.trim().toLowerCase());
    if (!m) throw new CivitasError("usage", `unknown method "${s}"`, { hint: `choose among ${METHODS.join(", ")} (several: --method logprobs,verbalize)` });
    if (!out.includes(m)) out.push(m);
  }
  return out.length > 0 ? out : ["logprobs"];
}

/** The request parameters of a method: part of the cache key. */
export function methodParams(method: Method, s: MethodSettings, answer: AnswerFormat = "label"): Record<string, string | number | boolean> {
  switch (method) {
    case "logprobs":
      return {};
    case "sample":
      // An option's text takes more tokens than its label.
      return { n: s.samples, temperature: 1, max_tokens: answer === "text" ? 48 : s.constrain ? 4 : 8, seed: s.seed, constrain: s.constrain };
    case "verbalize":
      return { n: 1, temperature: 0, max_tokens: 400, seed: s.seed, constrain: s.constrain };
  }
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
export async function elicit(
  client: ModelClient,
  method: Method,
  prompt: Pick<RenderedPrompt, "text" | "prefix" | "labels" | "shown" | "answer">,
  s: MethodSettings,
  signal?: AbortSignal,
): Promise<Elicited> {
  const { text, labels, shown: options, prefix } = prompt;
  const byText = prompt.answer === "text";
  if (method === "logprobs") {
    const a = await client.optionProbabilities({ prompt: text, labels, prefix, ...(byText ? { continuations: options } : {}) }, signal);
    return { labelMass: [...a.labelMass], coverage: a.coverage, raw: { top: a.top }, mode: "none", promptTokens: a.promptTokens };
  }
  const p = methodParams(method, s, prompt.answer);
  if (method === "sample") {
    const a = await client.complete(
      {
        prompt: text,
        n: s.samples,
        temperature: 1,
        maxTokens: Number(p.max_tokens),
        seed: s.seed,
        ...(s.constrain ? { constrain: { kind: "choice" as const, choices: byText ? options : labels } } : {}),
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
  }
  const a = await client.complete(
    {
      prompt: text,
      n: 1,
      temperature: 0,
      maxTokens: Number(p.max_tokens),
      seed: s.seed,
      ...(s.constrain ? { constrain: { kind: "json" as const, schema: verbalizeSchema(labels) } } : {}),
    },
    signal,
  );
  const said = a.texts[0] ?? "";
  const v = parseVerbalized(said, labels, options);
  return v.ok
    ? { labelMass: v.distribution, coverage: 1, raw: { text: said }, mode: a.mode, promptTokens: a.promptTokens }
    : { labelMass: labels.map(() => 0), coverage: 0, raw: { text: said, error: v.error }, mode: a.mode, promptTokens: a.promptTokens };
}
