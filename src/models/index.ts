export type * from "./types.js";
export { labelMassFromTokens, labelOfToken, renormalise } from "./extract.js";
export { defaultThreads, llamaSpec, type LlamaOptions } from "./llama.js";
export { LlamaClient } from "./llama-client.js";
export { openaiSpec, OpenAIClient, type OpenAIKind, type OpenAIOptions, type OpenAIRetryInfo } from "./openai.js";
export { withRetry, type RetryOptions } from "./retry.js";
export { borrowClient, MODEL_FORMS, parseModelSpec, type ModelOptions } from "./spec.js";
export { extractJsonObject, parseLabelAnswer, parseVerbalized, type VerbalizedResult } from "./parse.js";
export { checkCompletionQuery, completionSeed } from "./completion.js";
