/**
 * The one interface every model backend implements: given a prompt that ends where the answer
 * label goes, say how much next-token probability falls on each option label.
 */

/** A multiple-choice prompt: the text and the labels of its options, in the order shown. */
export interface OptionQuery {
  readonly prompt: string;
  /** Labels as shown, e.g. ["A", "B", "C"] or ["1", "2", "3"]. */
  readonly labels: readonly string[];
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
  /** The most likely next tokens (up to 20), kept for inspection. */
  readonly top: readonly TokenProb[];
  /** Tokens in the prompt as the model saw it, when known. */
  readonly promptTokens: number | null;
}

/** A ready model. */
export interface ModelClient {
  readonly backend: "llama" | "openai";
  /** Stable identity of the model (no secrets); part of every cache key. */
  readonly identity: string;
  /** How many queries it can usefully run at once. */
  readonly concurrency: number;
  optionProbabilities(query: OptionQuery, signal?: AbortSignal): Promise<OptionAnswer>;
  close(): Promise<void>;
}

/**
 * A model named on the command line, before it is opened. `identity` is known without loading
 * the model, so a run answered entirely from the cache never loads it.
 */
export interface ModelSpec {
  readonly backend: "llama" | "openai";
  readonly identity: string;
  /** Short name for reports. */
  readonly display: string;
  /** Request parameters that change answers; part of the cache key. */
  readonly params: Readonly<Record<string, string | number | boolean>>;
  open(): Promise<ModelClient>;
}
