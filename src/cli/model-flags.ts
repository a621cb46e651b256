/**
 * The flags that say how to reach a model, shared by every command that loads one (eval, steer,
 * worker): the llama.cpp group, the OpenAI-compatible server group, and the ModelOptions they
 * make. One place, so the commands cannot drift apart (steer once lacked --reasoning, the worker
 * download progress).
 */
import { Option, type Command } from "commander";
import { CHAT_TEMPLATE_HELP, type ModelOptions } from "../models/index.js";
import { intOption, numberOption } from "./common.js";

/** The model flags as commander parses them. */
export interface ModelFlags {
  threads?: number;
  parallel?: number;
  contextSize?: number;
  gpu: boolean;
  chatTemplate?: string;
  cacheDir?: string;
  baseUrl?: string;
  apiKey?: string;
  concurrency?: number;
  timeout?: number;
  retries?: number;
  api: "chat" | "completions";
  modelId?: string;
  reasoning?: boolean;
}

/** Where a command's help differs from the default text of a flag. */
export interface ModelFlagHelp {
  /** --concurrency's help, or null when the command defines --concurrency itself (the worker). */
  readonly concurrency?: string | null;
  readonly modelId?: string;
  readonly contextSize?: string;
}

/** Adds the llama.cpp and OpenAI-compatible option groups to a command. */
export function addModelOptions(cmd: Command, help: ModelFlagHelp = {}): Command {
  cmd
    .optionsGroup("llama.cpp (llama:...) options:")
    .option("--threads <n>", "CPU threads (default: 1 on machines with 2 cores or fewer, else cores - 1)", intOption("--threads", 1))
    .option("--parallel <n>", "prompts evaluated in parallel, as context sequences (default: 1 on small CPU-only machines, else 4)", intOption("--parallel", 1))
    .option("--context-size <n>", help.contextSize ?? "tokens per sequence (default: min(2048, the model's))", intOption("--context-size", 16))
    .option("--no-gpu", "run on the CPU even if a GPU is available")
    .option("--chat-template <name>", `how prompts become the model's text: ${CHAT_TEMPLATE_HELP} (default auto)`)
    .optionsGroup("OpenAI-compatible server (openai:, ollama:, vllm:) options:")
    .option(
      "--base-url <url>",
      "server URL, or several separated by commas (replicas of the model; each request goes to the one with the fewest outstanding) (default: $OPENAI_BASE_URL; ollama: http://localhost:11434/v1; vllm: http://localhost:8000/v1)",
    )
    .option("--api-key <key>", "API key (default: $OPENAI_API_KEY; prefer the variable: flags show in the process list)");
  if (help.concurrency !== null) cmd.option("--concurrency <n>", help.concurrency ?? "parallel requests per server URL (default 4)", intOption("--concurrency", 1));
  return cmd
    .option("--timeout <seconds>", "give up on a request after this long and retry (default 60)", numberOption("--timeout", 0.1, 3600))
    .option("--retries <n>", "retries on 429, 5xx, timeouts and malformed answers (default 6)", intOption("--retries", 0))
    .addOption(
      new Option("--api <api>", "the endpoint: chat (/v1/chat/completions) or completions (/v1/completions: the raw prompt, for base models; option texts scored from echoed log-probabilities)")
        .choices(["chat", "completions"])
        .default("chat"),
    )
    .option("--model-id <id>", help.modelId ?? "the name the model's answers are cached under, whatever URL serves it (default: the model name)")
    .option("--reasoning", "a reasoning model (o1, o3, gpt-5...): send max_completion_tokens, and refuse --method logprobs before asking (they give no log-probabilities)");
}

/** The ModelOptions of the flags; retries and downloads are told through `log`. */
export function modelOptionsOf(flags: ModelFlags, log: (message: string) => void): ModelOptions {
  return {
    // A js: provider named on the command line is the user's own code.
    allowModules: true,
    ...(flags.threads === undefined ? {} : { threads: flags.threads }),
    ...(flags.parallel === undefined ? {} : { parallel: flags.parallel }),
    ...(flags.contextSize === undefined ? {} : { contextSize: flags.contextSize }),
    gpu: flags.gpu ? "auto" : false,
    ...(flags.chatTemplate === undefined ? {} : { chatTemplate: flags.chatTemplate }),
    ...(flags.cacheDir === undefined ? {} : { modelsDir: `${flags.cacheDir}/models` }),
    ...(flags.baseUrl === undefined ? {} : { baseURL: flags.baseUrl }),
    ...(flags.apiKey === undefined ? {} : { apiKey: flags.apiKey }),
    ...(flags.concurrency === undefined ? {} : { concurrency: flags.concurrency }),
    ...(flags.timeout === undefined ? {} : { timeoutMs: flags.timeout * 1000 }),
    ...(flags.retries === undefined ? {} : { retries: flags.retries }),
    api: flags.api,
    ...(flags.modelId === undefined ? {} : { modelId: flags.modelId }),
    ...(flags.reasoning ? { reasoning: true } : {}),
    onRetry: (r) => log(`retry ${r.attempt + 1}/${r.maxAttempts - 1} in ${(r.delayMs / 1000).toFixed(1)} s: ${r.reason} (${r.url})`),
    onDownload: (done, total) => log(`downloading model: ${(done / 2 ** 20).toFixed(0)}/${(total / 2 ** 20).toFixed(0)} MiB`),
  };
}
