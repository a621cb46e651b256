/**
 * Tokens of the prompts a run would ask, for `civitas eval --dry-run`: counted with the model's
 * own tokenizer where the model is a local GGUF file (llama.cpp loads its vocabulary only, not
 * the weights), estimated otherwise (a server's tokenizer is not at hand) and labelled so.
 */
import path from "node:path";
import type { DryRun } from "../runs/index.js";
import { CHARS_PER_TOKEN } from "../tokens.js";

/** Characters per token of the estimate (src/tokens.ts): the usual figure for English text with BPE tokenizers. */
export { CHARS_PER_TOKEN };

/** Tokens a chat API adds per message (role and separators), in the estimate. */
const PER_MESSAGE = 4;

export interface TokenCount {
  readonly prompt: number;
  /** "tokenizer": counted by the model's own; "estimate": characters / CHARS_PER_TOKEN. */
  readonly counted: "tokenizer" | "estimate";
  /** The most tokens the requests can generate: max_tokens x n (1 per logprobs request). */
  readonly outputMax: number;
}

function outputOf(r: DryRun["toAsk"][number]): number {
  const max = Number(r.params.max_tokens ?? 1);
  const n = Number(r.params.n ?? 1);
  return (Number.isFinite(max) ? max : 1) * (Number.isFinite(n) ? n : 1);
}

export function estimateTokens(requests: DryRun["toAsk"]): TokenCount {
  let prompt = 0;
  let outputMax = 0;
  for (const r of requests) {
    prompt += Math.ceil(r.prompt.length / CHARS_PER_TOKEN) + PER_MESSAGE + (r.system ? Math.ceil(r.system.length / CHARS_PER_TOKEN) + PER_MESSAGE : 0);
    outputMax += outputOf(r);
  }
  return { prompt, counted: "estimate", outputMax };
}

/**
 * Tokens counted by a local GGUF model's tokenizer (vocabulary only is loaded). `templated`: the
 * prompts were rendered by a chat template, whose special-token texts are parsed as tokens (as
 * the llama backend evaluates them); the BOS token is counted where the model expects one.
 */
export async function countLlamaTokens(file: string, requests: DryRun["toAsk"], templated: boolean): Promise<TokenCount> {
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  const llama = await getLlama({ build: "never", gpu: false, logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: path.resolve(file), vocabOnly: true });
  try {
    let prompt = 0;
    let outputMax = 0;
    const bos = model.tokens.bos;
    for (const r of requests) {
      const text = r.system ? `${r.system}\n\n${r.prompt}` : r.prompt;
      const tokens = model.tokenize(text, templated);
      prompt += tokens.length + (model.tokens.shouldPrependBosToken && bos !== null && tokens[0] !== bos ? 1 : 0);
      outputMax += outputOf(r);
    }
    return { prompt, counted: "tokenizer", outputMax };
  } finally {
    await model.dispose();
  }
}

/** Cost of the tokens at a price per million input and output tokens (output at its maximum). */
export function costOf(tokens: TokenCount, price: { readonly input: number; readonly output: number }): number {
  return (tokens.prompt * price.input + tokens.outputMax * price.output) / 1e6;
}
