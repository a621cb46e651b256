/**
 * Model names as users write them on the command line:
 *   llama:<file.gguf>                    a local GGUF file, run in-process by llama.cpp
 *   llama:hf:<org>/<repo>/<file.gguf>    downloaded once from Hugging Face into the cache
 *   openai:<model>                       any OpenAI-compatible server (OPENAI_BASE_URL, OPENAI_API_KEY)
 *   ollama:<model> | vllm:<model>        the same, at Ollama's / vLLM's usual local address
 */
import { CivitasError } from "../errors.js";
import { llamaSpec, type LlamaOptions } from "./llama.js";
import { openaiSpec, type OpenAIOptions } from "./openai.js";
import type { ModelClient, ModelSpec } from "./types.js";

export type ModelOptions = LlamaOptions & OpenAIOptions;

export const MODEL_FORMS = [
  "llama:<file.gguf>",
  "llama:hf:<org>/<repo>/<file.gguf>",
  "openai:<model>",
  "ollama:<model>",
  "vllm:<model>",
] as const;

export async function parseModelSpec(spec: string, options: ModelOptions = {}): Promise<ModelSpec> {
  const colon = spec.indexOf(":");
  const kind = colon > 0 ? spec.slice(0, colon) : "";
  const target = colon > 0 ? spec.slice(colon + 1) : "";
  const bad = () =>
    new CivitasError("usage", `cannot read the model "${spec}"`, {
      hint: `write one of: ${MODEL_FORMS.join(", ")}`,
    });
  if (!target) throw bad();
  switch (kind) {
    case "llama":
      return llamaSpec(target, options);
    case "openai":
    case "ollama":
    case "vllm":
      return openaiSpec(kind, target, options);
    default:
      throw bad();
  }
}

/**
 * A view of a client that several users share: it answers through the client, and its `close`
 * does nothing (the owner closes the client once, when everyone is done).
 */
export function borrowClient(c: ModelClient): ModelClient {
  return {
    backend: c.backend,
    identity: c.identity,
    concurrency: c.concurrency,
    optionProbabilities: (q, s) => c.optionProbabilities(q, s),
    complete: (q, s) => c.complete(q, s),
    close: async () => {},
  };
}
