/**
 * The evaluation file `civitas eval --config civitas.yaml`: the models (each with its own
 * settings), the suites (each with its data), and what every cell shares (populations, methods,
 * variants, protocol, seeds...). Keys are the command line's flags without their dashes
 * (base-url, chat-template, model-id...), so that a flag and its key read the same.
 *
 * API keys never appear in the file: a model names the environment variable that holds its key
 * (`api-key-env: OPENAI_API_KEY`); a literal `api-key`, or any value that looks like a key, is
 * refused (load.ts).
 */
import { z } from "zod";

const positiveInt = z.number().int().min(1);
const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/** An environment variable's name: what `api-key-env` holds (never the key). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/u;

export const modelEntry = z.strictObject({
  /** The model, as --model takes it: llama:<file.gguf>, openai:<name>, vllm:<name>, ollama:<name>, js:<file.mjs>. */
  model: z.string().min(1),
  /** How the comparison names it (default: the model string). */
  name: z.string().min(1).optional(),
  // llama.cpp
  threads: positiveInt.optional(),
  parallel: positiveInt.optional(),
  "context-size": z.number().int().min(16).optional(),
  gpu: z.boolean().optional(),
  "chat-template": z.string().min(1).optional(),
  // every backend
  system: z.string().optional(),
  // OpenAI-compatible servers
  "base-url": z.string().url().optional(),
  "api-key-env": z.string().regex(ENV_NAME, "expected the NAME of an environment variable holding the key (e.g. OPENAI_API_KEY), never the key").optional(),
  concurrency: positiveInt.optional(),
  timeout: z.number().min(0.1).max(3600).optional(),
  retries: z.number().int().min(0).optional(),
  api: z.enum(["chat", "completions"]).optional(),
  "model-id": z.string().min(1).optional(),
  reasoning: z.boolean().optional(),
  /** Price per million tokens (any currency, the same for every model), for --dry-run's cost. */
  price: z.strictObject({ input: z.number().min(0), output: z.number().min(0) }).optional(),
});

export const suiteEntry = z.union([
  z.string().min(1),
  z.strictObject({
    name: z.string().min(1),
    /** A local copy of the survey files (default: downloaded once into the cache). */
    data: z.string().min(1).optional(),
    /** multicultural: the questions in other languages. */
    prompts: z.string().min(1).optional(),
    /** This suite's populations (default: the file's `populations`). */
    populations: oneOrMany.optional(),
    limit: positiveInt.optional(),
  }),
]);

export const configSchema = z.strictObject({
  models: z.array(z.union([z.string().min(1), modelEntry])).min(1),
  suites: z.array(suiteEntry).min(1),
  /** Attributes or groups; with several suites, each suite takes those it has. */
  populations: oneOrMany.optional(),
  limit: positiveInt.optional(),
  methods: oneOrMany.optional(),
  samples: positiveInt.optional(),
  constrain: z.boolean().optional(),
  persona: z.boolean().optional(),
  "persona-in": z.enum(["user", "system"]).optional(),
  variants: z.string().min(1).optional(),
  protocol: z.string().min(1).optional(),
  metric: z.string().min(1).optional(),
  "min-coverage": z.number().min(0).max(1).optional(),
  /** One cell per model x suite x seed. */
  seeds: z.array(z.number().int().min(0)).min(1).optional(),
  seed: z.number().int().min(0).optional(),
  resamples: z.number().int().min(10).optional(),
  system: z.string().optional(),
  store: z.string().min(1).optional(),
  "cache-dir": z.string().min(1).optional(),
});

export type ModelEntry = z.output<typeof modelEntry>;
export type SuiteEntry = z.output<typeof suiteEntry>;
export type EvalConfig = z.output<typeof configSchema>;
