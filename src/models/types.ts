import type { ComponentSpec } from "../registry.js";

/**
 * The one interface every model backend implements: given a prompt that ends where the answer
 * label goes, say how much next-token probability falls on each option label.
 */

/** A multiple-choice prompt: the text and the labels of its options, in the order shown. */
export interface OptionQuery {
  readonly prompt: string;
  /** Labels as shown, e.g. ["A", "B", "C"] or ["1", "2", "3"]. */
  readonly labels: readonly string[];
  /**
   * The start of `prompt` that other prompts share (persona, instruction, question text), or
   * undefined. A backend that can keep evaluated state evaluates the prefix as its own batch and
   * reuses it for the next prompt with the same prefix; because the prefix is always evaluated
   * the same way, the numbers do not depend on which prompt came before.
   */
  readonly prefix?: string;
  /**
   * Score these continuations instead of the labels (answer format "text": the probability of
   * each option's text, in the order shown): labelMass[k] is P(continuations[k] | prompt), the
   * product of its tokens' probabilities. Backends that cannot score sequences refuse it.
   */
  readonly continuations?: readonly string[];
  /**
   * The system message, for backends that take chat messages (ModelSpec.prompts "chat"): sent
   * before `prompt`, the user message. Backends that take text get every turn in `prompt` already.
   */
  readonly system?: string;
  /**
   * Return (at least) the k most likely next tokens in `top` where the backend can: llama.cpp
   * in-process any k (it has the whole distribution); an OpenAI-compatible server at most the
   * 20 it returns (top_logprobs <= 20). Default 20. Santurkar et al. 2023's label reading uses it.
   */
  readonly topK?: number;
}

/** One candidate next token and its probability. */
export interface TokenProb {
  readonly token: string;
  readonly prob: number;
}

/** What a backend answers for an OptionQuery. */
export interface OptionAnswer {
  /** Probability mass on each label (all its forms merged), in the order of `labels`; not renormalised. */
  readonly labelMass: readonly number[];
  /** Total mass that fell on valid labels, in [0, 1]. */
  readonly coverage: number;
  /** The most likely next tokens, most likely first (up to 20, or OptionQuery.topK where the backend can). */
  readonly top: readonly TokenProb[];
  /** Tokens in the prompt as the model saw it, when known. */
  readonly promptTokens: number | null;
  /** What a server said it ran (hosted models), when it says. */
  readonly served?: Served;
}

/**
 * The model a server reports in its response (`model`, e.g. "gpt-4o-mini-2024-07-18" for
 * "gpt-4o-mini") and its `system_fingerprint` (the backend configuration), each null when the
 * server does not send it. Recorded with every answer, so that a change behind the same name shows.
 */
export interface Served {
  readonly model: string | null;
  readonly fingerprint: string | null;
}

/**
 * What a request needs of a model: label log-probabilities (the next token's top
 * log-probabilities) or the log-probability of given texts (option texts scored as continuations).
 */
export type ModelNeed = "label_logprobs" | "text_logprobs";

/** How decoding may be constrained so that the text is always well-formed. */
export type Constraint =
  /** Exactly one of the choices (e.g. option labels), nothing else. */
  | { readonly kind: "choice"; readonly choices: readonly string[] }
  /** JSON that matches the schema (e.g. a verbalized distribution). */
  | { readonly kind: "json"; readonly schema: Readonly<Record<string, unknown>> };

/** A text completion request: the `sample` and `verbalize` elicitation methods use it. */
export interface CompletionQuery {
  readonly prompt: string;
  /** How many completions to draw. */
  readonly n: number;
  readonly temperature: number;
  readonly maxTokens: number;
  /**
   * Base seed. Completion k is drawn with a seed derived from (seed, k), so the same query gives
   * the same texts wherever the backend honours seeds.
   */
  readonly seed: number;
  /** Constrained decoding, where the backend supports it. */
  readonly constrain?: Constraint;
  /** The system message, as OptionQuery.system. */
  readonly system?: string;
}

/** How a completion's decoding was constrained. */
export type ConstraintMode = "none" | "grammar" | "json_schema";

export interface CompletionAnswer {
  /** The n completions, in order. */
  readonly texts: readonly string[];
  /** The constraint actually applied (a backend or server may not support the one asked for). */
  readonly mode: ConstraintMode;
  readonly promptTokens: number | null;
  /** What a server said it ran (hosted models), when it says. */
  readonly served?: Served;
}

/**
 * The kind of backend: "llama" (in-process llama.cpp), "openai" (an OpenAI-compatible server,
 * ollama: and vllm: included), "js" (a provider module the user brings), or a registered
 * backend's own.
 */
export type BackendKind = string;

/** A ready model. */
export interface ModelClient {
  readonly backend: BackendKind;
  /** Stable identity of the model (no secrets); part of every cache key. */
  readonly identity: string;
  /** How many queries it can usefully run at once. */
  readonly concurrency: number;
  optionProbabilities(query: OptionQuery, signal?: AbortSignal): Promise<OptionAnswer>;
  /** Sampled text completions (the `sample` and `verbalize` methods). */
  complete(query: CompletionQuery, signal?: AbortSignal): Promise<CompletionAnswer>;
  close(): Promise<void>;
}

/** A prompt's turns: an optional system message and the user's message. */
export interface ChatTurns {
  readonly system: string | null;
  readonly user: string;
}

/** A chat template (llama-chat.ts): turns rendered to the text the model is asked, ending where the assistant's turn begins. */
export interface ChatTemplate {
  /** What identifies it in a run's configuration: a built-in's name, or "gguf:" + a hash of the GGUF's Jinja template. */
  readonly id: string;
  render(turns: ChatTurns): string;
}

/**
 * A model named on the command line, before it is opened. `identity` is known without loading
 * the model, so a run answered entirely from the cache never loads it.
 */
export interface ModelSpec {
  readonly backend: BackendKind;
  readonly identity: string;
  /** Short name for reports. */
  readonly display: string;
  /** Request parameters that change answers; part of the cache key. */
  readonly params: Readonly<Record<string, string | number | boolean>>;
  open(): Promise<ModelClient>;
  /**
   * The spec to ask a plan whose prompts share prefixes with (OptionQuery.prefix: evaluated once,
   * then each prompt's rest), where the backend evaluates those better with other settings; the
   * settings show in its params, so they are part of every cache key. Absent: the same spec.
   */
  readonly forSharedPrefixes?: () => ModelSpec;
  /**
   * How the backend takes a prompt's turns: "text" (the default) one text, the system turn written
   * before the user's (by `chatTemplate` where there is one, else as plain text); "chat" a system
   * and a user message, the server applying the model's own template.
   */
  readonly prompts?: "text" | "chat";
  /** The chat template that renders the turns of a "text" backend (llama: --chat-template); none: plain text. */
  readonly chatTemplate?: ChatTemplate;
  /**
   * Why the model cannot answer requests with this need, or undefined when it can (or cannot say
   * before asking): known from its settings (a reasoning model gives no log-probabilities; the
   * chat API scores no option texts), so that a run says so before it asks anything.
   */
  readonly unsupported?: (need: ModelNeed) => string | undefined;
  /**
   * The registered backend and its arguments (no secrets), as a run records it; set by
   * parseModelSpec. Not part of any identity: `identity` and `params` are.
   */
  readonly component?: ComponentSpec;
}
