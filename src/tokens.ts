/**
 * The token estimate used where no tokenizer is at hand (a server model, a simulation's memory
 * budget, tokens per agent-step): one token per CHARS_PER_TOKEN characters (UTF-16 code units),
 * rounded up, the usual rule of thumb for English text with BPE vocabularies. `civitas eval
 * --dry-run` counts with the local model's own tokenizer where it can and says when it estimates.
 */
export const CHARS_PER_TOKEN = 4;

/** Estimated tokens of a text: ceil(characters / CHARS_PER_TOKEN). */
export function estimateTextTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}
