export type * from "./types.js";
export { labelMassFromTokens, labelOfToken, renormalise } from "./extract.js";
export { defaultThreads, LlamaClient, llamaSpec, type LlamaOptions } from "./llama.js";
export { openaiSpec, OpenAIClient, type OpenAIKind, type OpenAIOptions, type OpenAIRetryInfo } from "./openai.js";
export { withRetry, type RetryOptions } from "./retry.js";
export { backends, borrowClient, modelForms, parseModelSpec, type ModelBackend, type ModelOptions } from "./spec.js";
export { jsSpec, type JsProvider } from "./js.js";
export { extractJsonObject, parseLabelAnswer, parseVerbalized, type VerbalizedResult } from "./parse.js";
export { checkCompletionQuery, completionSeed } from "./completion.js";
