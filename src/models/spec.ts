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
import type { ModelSpec } from "./types.js";

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
