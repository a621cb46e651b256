/**
 * What every backend does the same way for sampled completions (CompletionQuery): checking the
 * query, and the seed of each completion. Completion k is drawn with `completionSeed(seed, k)`
 * on every backend, so that the same query gives the same texts and completion k does not
 * depend on how many others were asked for.
 */
import { createHash } from "node:crypto";
import { CivitasError } from "../errors.js";
import type { CompletionQuery } from "./types.js";

/**
 * A seed for completion `k` of a query seeded with `seed`: the first 32 bits of
 * SHA-256("civitas-completion:<seed>:<k>"), an unsigned 32-bit integer (llama.cpp's seed width;
 * any OpenAI-compatible server accepts it). Any finite `seed` works, negative and fractional
 * included (its decimal text is what is hashed).
 */
export function completionSeed(seed: number, k: number): number {
  return createHash("sha256").update(`civitas-completion:${seed}:${k}`).digest().readUInt32BE(0);
}

/** Throws CivitasError("usage") for a query no backend can answer. */
export function checkCompletionQuery(q: CompletionQuery): void {
  if (!Number.isInteger(q.n) || q.n < 1) throw new CivitasError("usage", `the number of completions must be a whole number >= 1, got ${q.n}`);
  if (!Number.isInteger(q.maxTokens) || q.maxTokens < 1) {
    throw new CivitasError("usage", `maxTokens must be a whole number >= 1, got ${q.maxTokens}`);
  }
  if (!Number.isFinite(q.temperature) || q.temperature < 0) {
    throw new CivitasError("usage", `the temperature must be a number >= 0, got ${q.temperature}`);
  }
  if (!Number.isFinite(q.seed)) throw new CivitasError("usage", `the seed must be a finite number, got ${q.seed}`);
  if (q.constrain?.kind === "choice") {
    if (q.constrain.choices.length === 0) throw new CivitasError("usage", "a choice constraint needs at least one choice");
    if (q.constrain.choices.some((c) => c === "")) throw new CivitasError("usage", "a choice constraint cannot allow an empty choice");
  }
}
