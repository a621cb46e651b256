/**
 * Any OpenAI-compatible chat completions server (OpenAI, vLLM, Ollama, llama.cpp's
 * llama-server, ...) through the official `openai` SDK. One request per prompt asks for a
 * single token with the top 20 next-token log-probabilities; the mass on each option label (all
 * its forms: "A", " A", "A.", ...) is read from those 20 (see extract.ts). Mass outside the top
 * 20 is invisible over this API, so `coverage` is a lower bound of what the model puts on labels.
 *
 * Retries are ours (withRetry), not the SDK's: 429, 408, 409, 5xx, timeouts, dropped connections
 * and malformed bodies (impossible log-probabilities included: impossibleLogprobs) are retried
 * with jittered exponential backoff that honours Retry-After; 400/401/403/404 and a server that
 * does not return logprobs fail at once with an error that says what to do. A server that is not
 * there (connection refused, unknown host) gets one quick retry shared by every request in
 * flight, then one error (attemptUnlessDown). The API key and the credentials of the base URL
 * (userinfo, sent as HTTP Basic; key-like query parameters) never appear in an identity, an error
 * message or an onRetry report: every text that came from the server or the SDK is scrubbed of
 * them.
 *
 * Sampled completions (`complete`, for the `sample` and `verbalize` methods) go through the same
 * retries, deadline and scrubbing: one chat completion with `n`, `temperature`, `max_tokens` and
 * `seed` = completionSeed(seed, 0). Servers that answer fewer than n choices (llama-server
 * ignores `n`) are asked again, one completion at a time, completion k with seed
 * completionSeed(seed, k), until n texts are collected. A constraint becomes
 * `response_format: {type: "json_schema", json_schema: {name: "answer", schema, strict: true}}`
 * (mode "json_schema"): `json` sends its schema, `choice` the schema of {"answer": <one of the
 * choices>}; a server that rejects it (HTTP 400) fails at once with an error that suggests
 * dropping --constrain.
 *
 * Two APIs (`api`): "chat" (/v1/chat/completions, the default) and "completions"
 * (/v1/completions, the raw prompt as base models and the papers take it). Over completions,
 * labels are read from the first generated position's top 20 log-probabilities (`logprobs: 20`),
 * and option texts (`continuations`) are scored as lm-evaluation-harness's `local-completions`
 * scores them: one request per option with `prompt` = prompt + option text, `echo: true`,
 * `max_tokens: 1`, `logprobs`, and the sum of the log-probabilities of the tokens from the
 * prompt's end (`text_offset` = the prompt's length, in code points) to the text's end. A server
 * that does not echo the prompt's log-probabilities (llama-server, ggml-org/llama.cpp#27174)
 * fails at once, never with a silent zero.
 *
 * Reasoning models (OpenAI's o-series, gpt-5) reject `max_tokens` (they take
 * `max_completion_tokens`) and give no log-probabilities. A 400 that names the token field sent
 * switches to the other one and asks once more; the client remembers the switch for its model.
 * `reasoning: true` sends max_completion_tokens from the start and refuses log-probabilities
 * before asking (ModelSpec.unsupported). A server that rejects or omits log-probabilities fails
 * the logprobs method with an error naming the method and the model, and every later logprobs
 * request of the client fails the same way without asking.
 *
 * Several base URLs (`--base-url a,b,c`: replicas of one model) are balanced by least outstanding
 * requests: each attempt goes to the server with the fewest attempts in flight that has room
 * (--concurrency is per URL), ties in turn, a retry elsewhere when another has room; a server
 * found unreachable is left out after its quick retry, and errors name the servers that failed.
 *
 * Identity: `openai:<model-id>`, the model id being `modelId` (--model-id), default the model
 * name the server is asked for. The URLs are not part of it: the same model behind two replicas or
 * a new URL shares the cache. What the server reports running (`model`, `system_fingerprint`) is
 * returned with every answer (`served`) and stored with it.
 */
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import type { ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import type { CompletionCreateParamsNonStreaming } from "openai/resources/completions";
import { z } from "zod";
import { CivitasError } from "../errors.js";
import { redactUrls, urlSecrets } from "../redact.js";
import { labelMassFromTokens } from "./extract.js";
import { retryAfterMsFromHeaders, sleepWithSignal, withRetry } from "./retry.js";
import { checkCompletionQuery, completionSeed } from "./completion.js";
import type {
  CompletionAnswer,
  CompletionQuery,
  Constraint,
  ModelClient,
  ModelSpec,
  OptionAnswer,
  OptionQuery,
  Served,
  TokenProb,
} from "./types.js";

export type OpenAIKind = "openai" | "ollama" | "vllm";

/** What onRetry is told: no error object (it could carry server text with the key), a scrubbed reason. */
export interface OpenAIRetryInfo {
  /** The attempt that failed (0 = first). */
  readonly attempt: number;
  /** Attempts allowed in all (retries + 1). */
  readonly maxAttempts: number;
  readonly delayMs: number;
  /** The server's base URL, without credentials or query string. */
  readonly url: string;
  /** What went wrong, e.g. "HTTP 429: rate limited", "no response within 1500 ms". */
  readonly reason: string;
  readonly status: number | undefined;
}

/** The OpenAI API a client speaks: chat completions, or (legacy) completions with a raw prompt. */
export type OpenAIApi = "chat" | "completions";
export const OPENAI_APIS: readonly OpenAIApi[] = ["chat", "completions"];

/** The field that bounds the tokens of an answer: max_tokens, or max_completion_tokens (reasoning models). */
type TokenField = "max_tokens" | "max_completion_tokens";

export interface OpenAIOptions {
  /** The endpoint: "chat" (default) or "completions". */
  readonly api?: OpenAIApi;
  /**
   * The model's identity in request keys (`openai:<modelId>`). Default: the model name. Give the
   * same id to the same model served under other names; give another when the model behind a name changed.
   */
  readonly modelId?: string;
  /**
   * A reasoning model: max_completion_tokens is sent from the start, and log-probabilities are
   * refused before asking (they give none). Default false (detected from the server's 400s).
   */
  readonly reasoning?: boolean;
  /**
   * Default: OPENAI_BASE_URL, else the kind's usual local URL (ollama, vllm) or
   * https://api.openai.com/v1. Several URLs separated by commas are servers of the same model:
   * each attempt goes to the one with the fewest requests outstanding, and the identity does not
   * change with the set.
   */
  readonly baseURL?: string;
  /** Default: OPENAI_API_KEY. Needed only for api.openai.com. */
  readonly apiKey?: string;
  /** Parallel requests per base URL (the engine may send this times the number of URLs). Default 4. */
  readonly concurrency?: number;
  /** Per attempt, until the whole response has arrived. Default 60 000 ms. */
  readonly timeoutMs?: number;
  /** Retries after the first attempt. Default 6. */
  readonly retries?: number;
  /** Backoff base. Default 500 ms. */
  readonly retryBaseMs?: number;
  /** Backoff ceiling. Default 30 000 ms. */
  readonly retryMaxMs?: number;
  readonly onRetry?: (info: OpenAIRetryInfo) => void;
  /** Where OPENAI_BASE_URL / OPENAI_API_KEY are read from. Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export const DEFAULT_BASE_URLS: Readonly<Record<OpenAIKind, string>> = {
  openai: "https://api.openai.com/v1",
  ollama: "http://localhost:11434/v1",
  vllm: "http://localhost:8000/v1",
};

export const OPENAI_DEFAULTS = {
  concurrency: 4,
  timeoutMs: 60_000,
  retries: 6,
  retryBaseMs: 500,
  retryMaxMs: 30_000,
} as const;

const TOP_LOGPROBS = 20;
/** Sent when no key is needed (local servers); the SDK insists on one. Not a secret. */
const PLACEHOLDER_KEY = "civitas-no-key";
const LOGPROB_SERVERS =
  "vLLM, llama.cpp's llama-server, the OpenAI API (gpt-4o family) and Ollama 0.12.11 or later return them";
const CONSTRAINT_SERVERS = "vLLM, llama.cpp's llama-server, the OpenAI API";

/** The base URL as it may be shown: no user, password, query or fragment, no trailing slash. */
export function publicBaseURL(url: URL): string {
  const u = new URL(url.href);
  u.username = "";
  u.password = "";
  u.search = "";
  u.hash = "";
  return u.href.replace(/\/+$/u, "");
}

/**
 * A model on an OpenAI-compatible server. Synchronous: it only resolves settings (no request is
 * made until the first query), and throws CivitasError("usage") for a bad URL or a missing key
 * for api.openai.com. `await` works on it like on llamaSpec.
 */
export function openaiSpec(kind: OpenAIKind, model: string, opts: OpenAIOptions = {}): ModelSpec {
  const env = opts.env ?? process.env;
  const apiKey = nonEmpty(opts.apiKey) ?? nonEmpty(env["OPENAI_API_KEY"]);
  const scrub = (text: string) => redactUrls(scrubber([apiKey])(text));
  if (model.trim() === "") {
    throw new CivitasError("usage", `no model name given for ${kind}`, {
      hint: `name the model as the server knows it, e.g. ${kind}:${kind === "ollama" ? "llama3.2" : kind === "vllm" ? "Qwen/Qwen2.5-0.5B-Instruct" : "gpt-4o-mini"}`,
    });
  }
  const rawBase = nonEmpty(opts.baseURL) ?? nonEmpty(env["OPENAI_BASE_URL"]) ?? DEFAULT_BASE_URLS[kind];
  const parts = rawBase.split(",").map((p) => p.trim());
  if (parts.some((p) => p === "")) {
    throw new CivitasError("usage", `base URLs "${scrub(rawBase)}": an empty URL in the list`, {
      hint: `separate full URLs with commas, e.g. http://gpu-1:8000/v1,http://gpu-2:8000/v1 (--base-url or OPENAI_BASE_URL)`,
    });
  }
  const bases = parts.map((raw): URL => {
    let base: URL;
    try {
      base = new URL(raw);
    } catch {
      throw new CivitasError("usage", `base URL "${scrub(raw)}" is not a URL`, {
        hint: `give a full URL ending in /v1, e.g. ${DEFAULT_BASE_URLS[kind]} (--base-url or OPENAI_BASE_URL; several separated by commas)`,
      });
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") {
      throw new CivitasError("usage", `base URL "${scrub(publicBaseURL(base))}" is not an http(s) URL`, {
        hint: `e.g. ${DEFAULT_BASE_URLS[kind]}`,
      });
    }
    return base;
  });
  const secrets = [apiKey, ...bases.flatMap((b) => urlSecrets(b))];
  const safe = scrubber(secrets);
  const endpoints = bases.map(
    (base): EndpointSettings => ({
      baseURL: publicBaseURL(base),
      query: Object.fromEntries(base.searchParams),
      basicAuth: base.username === "" && base.password === "" ? undefined : `${safeDecode(base.username)}:${safeDecode(base.password)}`,
      url: safe(publicBaseURL(base)),
    }),
  );
  const seen = new Set<string>();
  for (const [i, b] of bases.entries()) {
    const where = `${publicBaseURL(b)}${b.search}`;
    if (seen.has(where)) {
      throw new CivitasError("usage", `base URL ${endpoints[i]!.url} is given twice`, {
        hint: "give each server once; --concurrency is the number of requests each URL is sent at once",
      });
    }
    seen.add(where);
  }
  const url = endpoints.map((e) => e.url).join(", ");
  const openaiHost = endpoints.find((_, i) => bases[i]!.hostname === "api.openai.com");
  if (apiKey === undefined && openaiHost !== undefined) {
    throw new CivitasError("usage", `no API key for ${openaiHost.url}: set OPENAI_API_KEY`, {
      hint: "export OPENAI_API_KEY=<your key> (or pass --api-key); for a local server give its --base-url",
    });
  }
  const concurrency = positiveInt(opts.concurrency, OPENAI_DEFAULTS.concurrency, "concurrency");
  const settings: Omit<ClientSettings, "api" | "reasoning" | "display"> = {
    model,
    endpoints,
    url,
    apiKey: apiKey ?? PLACEHOLDER_KEY,
    secrets,
    concurrency,
    timeoutMs: positiveInt(opts.timeoutMs, OPENAI_DEFAULTS.timeoutMs, "timeoutMs"),
    retries: nonNegativeInt(opts.retries, OPENAI_DEFAULTS.retries, "retries"),
    retryBaseMs: nonNegative(opts.retryBaseMs, OPENAI_DEFAULTS.retryBaseMs, "retryBaseMs"),
    retryMaxMs: nonNegative(opts.retryMaxMs, OPENAI_DEFAULTS.retryMaxMs, "retryMaxMs"),
    onRetry: opts.onRetry,
  };
  const api = opts.api ?? "chat";
  if (!OPENAI_APIS.includes(api)) {
    throw new CivitasError("usage", `unknown API "${String(api)}" for ${kind}:${model}`, { hint: `choose ${OPENAI_APIS.join(" or ")} (--api)` });
  }
  const modelId = opts.modelId === undefined ? model : opts.modelId.trim();
  if (modelId === "") throw new CivitasError("usage", "the model id (--model-id) is empty", { hint: "give the name the answers of this model are stored under, or leave --model-id out" });
  const reasoning = opts.reasoning ?? false;
  const display = `${kind}:${model}`;
  const full: ClientSettings = { ...settings, api, reasoning, display };
  const identity = `openai:${modelId}`;
  const where = `${display} at ${url}`;
  return {
    backend: "openai",
    identity,
    display,
    // Chat completions take the turns as messages; completions take one text (the turns as plain text).
    prompts: api === "chat" ? "chat" : "text",
    // Chat keys keep the parameters of earlier versions.
    params: api === "chat" ? { api: "chat", top_logprobs: TOP_LOGPROBS, max_tokens: 1, temperature: 0 } : { api: "completions", logprobs: TOP_LOGPROBS, max_tokens: 1, temperature: 0 },
    unsupported: (need) => {
      if (reasoning) return `${where} is a reasoning model (--reasoning), which gives no log-probabilities`;
      if (need === "text_logprobs" && api === "chat") return `${where} is asked through the chat API, which gives only the next token's top log-probabilities, not the probability of an option's text`;
      return undefined;
    },
    open: () => Promise.resolve(new OpenAIClient(identity, full)),
  };
}

/** One server of a client: where requests go and how they authenticate. */
interface EndpointSettings {
  /** Without credentials, query or fragment (fetch refuses URLs with credentials; the SDK appends paths). */
  readonly baseURL: string;
  /** The base URL's query parameters (`?api-version=...`, `?key=...`), sent with every request. */
  readonly query: Readonly<Record<string, string>>;
  /** "user:password" from the base URL, sent as HTTP Basic authorization (as curl does), in place of the bearer key. */
  readonly basicAuth: string | undefined;
  /** Safe to show. */
  readonly url: string;
}

interface ClientSettings {
  readonly model: string;
  readonly api: OpenAIApi;
  readonly reasoning: boolean;
  /** How the user named the model: "vllm:<model>". */
  readonly display: string;
  /** The servers (one or more --base-url), balanced by least outstanding requests. */
  readonly endpoints: readonly EndpointSettings[];
  /** Every server's URL, safe to show, separated by ", ". */
  readonly url: string;
  readonly apiKey: string;
  readonly secrets: readonly (string | undefined)[];
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly onRetry: ((info: OpenAIRetryInfo) => void) | undefined;
}

/** The part of a chat completion we rely on. */
const TopLogprob = z.object({ token: z.string(), logprob: z.number(), bytes: z.array(z.number()).nullable().optional() });
/** What the server reports running; loosely typed, never a reason to reject an answer. */
const ServedFields = { model: z.unknown().optional(), system_fingerprint: z.unknown().optional() };
const CompletionBody = z.object({
  ...ServedFields,
  choices: z
    .array(
      z.object({
        logprobs: z.object({
          content: z.array(z.object({ token: z.string(), logprob: z.number(), top_logprobs: z.array(TopLogprob) })).min(1),
        }),
      }),
    )
    .min(1),
  // Optional and loosely typed: a server's odd usage block must not turn a good answer into a retry.
  usage: z.unknown().optional(),
});

/** The part of a chat completion with text choices we rely on. */
const TextBody = z.object({
  ...ServedFields,
  choices: z
    .array(
      z.object({
        index: z.number().int().optional(),
        message: z.object({
          // null with a refusal (OpenAI structured outputs), or an empty answer.
          content: z.string().nullable().optional(),
          refusal: z.string().nullable().optional(),
        }),
      }),
    )
    .min(1),
  usage: z.unknown().optional(),
});

type ChatParams = ChatCompletionCreateParamsNonStreaming;

/** A (legacy) completion's choices: their text and log-probabilities, in either shape servers send. */
const LegacyLogprobs = z.object({
  tokens: z.array(z.string()),
  token_logprobs: z.array(z.number().nullable()),
  top_logprobs: z.array(z.record(z.string(), z.number()).nullable()).nullable().optional(),
  text_offset: z.array(z.number()).optional(),
});
const ContentLogprobs = z.object({
  content: z.array(z.object({ token: z.string(), logprob: z.number(), top_logprobs: z.array(TopLogprob).nullable().optional() })),
});
const TextCompletionBody = z.object({
  ...ServedFields,
  choices: z
    .array(
      z.object({
        index: z.number().int().optional(),
        text: z.string().nullable().optional(),
        logprobs: z.union([LegacyLogprobs, ContentLogprobs]).nullable().optional(),
      }),
    )
    .min(1),
  usage: z.unknown().optional(),
});

/** One token of a completion with log-probabilities: where it starts (in code points), its log-probability, its top alternatives. */
interface Position {
  readonly token: string;
  readonly logprob: number | null;
  readonly offset: number;
  readonly top: readonly { token: string; logprob: number }[] | null;
}

/**
 * The positions of a completion's log-probabilities. The legacy shape (vLLM, OpenAI) gives each
 * token's offset; the content shape (llama-server) does not, so offsets are the lengths of the
 * tokens before it.
 */
function positionsOf(logprobs: z.infer<typeof LegacyLogprobs> | z.infer<typeof ContentLogprobs>): Position[] {
  if ("content" in logprobs) {
    let offset = 0;
    return logprobs.content.map((c) => {
      const p = { token: c.token, logprob: c.logprob, offset, top: c.top_logprobs ?? null };
      offset += codePoints(c.token);
      return p;
    });
  }
  let offset = 0;
  return logprobs.tokens.map((token, i) => {
    const at = logprobs.text_offset?.[i] ?? offset;
    offset = at + codePoints(token);
    const top = logprobs.top_logprobs?.[i];
    return { token, logprob: logprobs.token_logprobs[i] ?? null, offset: at, top: top ? Object.entries(top).map(([t, logprob]) => ({ token: t, logprob })) : null };
  });
}

/** Length in code points, as servers written in Python count text offsets. */
function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function servedOf(body: { model?: unknown; system_fingerprint?: unknown }): Served {
  return {
    model: typeof body.model === "string" && body.model !== "" ? body.model : null,
    fingerprint: typeof body.system_fingerprint === "string" && body.system_fingerprint !== "" ? body.system_fingerprint : null,
  };
}

/** Whether a 400 says the token field sent is not accepted (OpenAI: "Unsupported parameter: 'max_tokens' ... Use 'max_completion_tokens' instead"). */
function rejectsTokenField(f: AttemptFailure, field: TokenField): boolean {
  if (f.status !== 400 && f.status !== 422) return false;
  const named = new RegExp(`\\b${field}\\b`, "u").test(f.reason);
  return named && /unsupported|not supported|unknown|unrecognized|not permitted|not allowed|extra (inputs|fields)|instead/iu.test(f.reason);
}

/** What a request is for: it decides the error a user sees when it fails. */
type Purpose = { readonly kind: "logprobs" } | { readonly kind: "texts" } | { readonly kind: "complete"; readonly constrained: boolean };

type FailureCategory = "status" | "timeout" | "connection" | "unreachable" | "malformed" | "invalid" | "nologprobs" | "noecho";

/** One failed attempt, already described without secrets. */
class AttemptFailure extends Error {
  constructor(
    readonly category: FailureCategory,
    readonly reason: string,
    readonly retryable: boolean,
    readonly status: number | undefined = undefined,
    readonly retryAfterMs: number | undefined = undefined,
    /** For "unreachable": the system's error code (ECONNREFUSED, ENOTFOUND, ...). */
    readonly code: UnreachableCode | undefined = undefined,
  ) {
    super(reason);
    this.name = "AttemptFailure";
  }
  /** The server (safe URL) the attempt went to. */
  url: string | undefined;
}

/** A server of a client, as it stands: requests outstanding, and whether it is known to be unreachable. */
interface Endpoint {
  readonly url: string;
  readonly sdk: OpenAI;
  /** Attempts outstanding (sent, not yet answered). */
  active: number;
  /** The quick retry after it was found unreachable, resolving to its failure (or undefined: it answered). */
  outage: Promise<AttemptFailure | undefined> | undefined;
  /** Set when the quick retry failed too: no attempt goes to it any more. */
  down: AttemptFailure | undefined;
}

/** What one request (with its retries) has met: where its attempts failed, for the error and for the next attempt. */
interface RequestTrail {
  /** The server of the last failed attempt: the next attempt goes elsewhere when another has room. */
  lastFailed: Endpoint | undefined;
  /** The servers attempts failed at, in order. */
  readonly failedAt: string[];
}

export class OpenAIClient implements ModelClient {
  readonly backend = "openai" as const;
  readonly concurrency: number;
  private readonly endpoints: readonly Endpoint[];
  /** Woken when a server frees a slot or its outage settles. */
  private readonly waiters = new Set<() => void>();
  /** Where the search for the least loaded server starts: ties go round the servers. */
  private rotation = 0;
  private readonly scrub: (s: string) => string;
  /** The token field the model takes; switched (once per request) when the server names the other. */
  private tokenField: TokenField;
  /** Set once the server gave no log-probabilities (or no echoed prompt ones): later requests fail at once with it. */
  private noLogprobs: CivitasError | undefined;
  private noEcho: CivitasError | undefined;

  constructor(
    readonly identity: string,
    private readonly s: ClientSettings,
  ) {
    // --concurrency applies per server; the engine may keep all of them busy.
    this.concurrency = s.concurrency * s.endpoints.length;
    this.tokenField = s.reasoning ? "max_completion_tokens" : "max_tokens";
    const scrubSecrets = scrubber(s.secrets);
    this.scrub = (text) => redactUrls(scrubSecrets(text));
    this.endpoints = s.endpoints.map((e) => ({
      url: e.url,
      sdk: new OpenAI({
        apiKey: s.apiKey,
        baseURL: e.baseURL,
        ...(Object.keys(e.query).length === 0 ? {} : { defaultQuery: e.query }),
        ...(e.basicAuth === undefined ? {} : { defaultHeaders: { authorization: `Basic ${Buffer.from(e.basicAuth, "utf8").toString("base64")}` } }),
        maxRetries: 0,
        timeout: s.timeoutMs,
        // Never let the SDK pick up a different organisation/project from the environment silently.
        organization: null,
        project: null,
        // The library never prints; and the SDK's debug log would show server text that may echo the key.
        logLevel: "off",
      }),
      active: 0,
      outage: undefined,
      down: undefined,
    }));
  }

  /** Requests outstanding at each server, by URL (for tests and progress displays). */
  outstanding(): Record<string, number> {
    return Object.fromEntries(this.endpoints.map((e) => [e.url, e.active]));
  }

  /**
   * The label distribution from the top 20 log-probabilities of the first answer token (chat or
   * completions), or (`continuations`, completions only) the probability of each option's text.
   * `prefix` is ignored: servers such as vLLM and llama-server cache shared prefixes themselves.
   */
  async optionProbabilities(query: OptionQuery, signal?: AbortSignal): Promise<OptionAnswer> {
    const s = this.s;
    if (s.reasoning || this.noLogprobs) {
      throw this.noLogprobs ?? this.logprobsRefused(`${s.display} is a reasoning model (--reasoning), which gives no log-probabilities`);
    }
    if (query.continuations !== undefined) {
      if (s.api === "chat") {
        throw new CivitasError("usage", `model "${s.model}" at ${s.url} cannot score option texts: the chat API returns only the next token's top log-probabilities`, {
          hint: "use --api completions with a server that echoes prompt log-probabilities (vLLM), the label answer format (answer=label, the default, in --variants), or --method sample, which reads the option texts the model writes",
        });
      }
      return this.continuationProbabilities(query, query.continuations, signal);
    }
    const { top, promptTokens, served } =
      s.api === "chat"
        ? await this.request(
            "chat",
            (field) => ({ model: s.model, messages: chatMessages(query), logprobs: true, top_logprobs: TOP_LOGPROBS, [field]: 1, temperature: 0 }),
            (body) => this.parse(body),
            { kind: "logprobs" },
            signal,
          )
        : await this.request(
            "completions",
            () => ({ model: s.model, prompt: query.prompt, logprobs: TOP_LOGPROBS, max_tokens: 1, temperature: 0 }),
            (body) => this.parseNextToken(body),
            { kind: "logprobs" },
            signal,
          );
    const { labelMass, coverage } = labelMassFromTokens(top, query.labels);
    return { labelMass, coverage, top, promptTokens, served };
  }

  /**
   * P(text | prompt) for each option text over /v1/completions, as lm-evaluation-harness's
   * local-completions reads it: the prompt and the text (a space between them when the prompt ends
   * without one and the text starts without one, as the llama backend does) sent with echo, the
   * log-probabilities of the tokens from the prompt's end to the text's end summed. Whitespace that
   * ends the prompt is scored as the start of the text, as lm-evaluation-harness does (the server
   * tokenizes the whole text, where "Answer: Yes" has a token " Yes"); the llama backend scores the
   * text after it. One request per option, one after the other.
   */
  private async continuationProbabilities(query: OptionQuery, continuations: readonly string[], signal: AbortSignal | undefined): Promise<OptionAnswer> {
    if (this.noEcho) throw this.noEcho;
    const s = this.s;
    // Whitespace that ends the prompt starts the text instead (lm-evaluation-harness's _encode_pair):
    // servers tokenize the text whole, and most tokenizers put a space in the word's token after it.
    const context = query.prompt.trimEnd();
    const moved = query.prompt.slice(context.length);
    const promptLength = codePoints(context);
    const labelMass: number[] = [];
    let first: { top: TokenProb[]; promptTokens: number; served: Served } | undefined;
    for (const [k, c] of continuations.entries()) {
      if (c === "") throw new CivitasError("usage", `continuation ${k + 1} of a query is empty: there is no option text to score`);
      const space = moved !== "" || /^\s/u.test(c) ? "" : " ";
      const full = context + moved + space + c;
      const answer = await this.request(
        "completions",
        () => ({ model: s.model, prompt: full, echo: true, logprobs: k === 0 ? TOP_LOGPROBS : 1, max_tokens: 1, temperature: 0 }),
        (body) => this.parseEcho(body, promptLength, codePoints(full)),
        { kind: "texts" },
        signal,
      );
      labelMass.push(Math.exp(answer.logprob));
      first ??= answer;
    }
    const coverage = Math.min(1, labelMass.reduce((a, b) => a + b, 0));
    return { labelMass, coverage, top: first?.top ?? [], promptTokens: first?.promptTokens ?? null, ...(first ? { served: first.served } : {}) };
  }

  /**
   * n sampled completions. The first request asks for all n (seed completionSeed(seed, 0));
   * when the server answers fewer (llama-server ignores n), completion k is asked for alone,
   * with seed completionSeed(seed, k), one request after the other, until there are n.
   * Each request has its own retries.
   */
  async complete(query: CompletionQuery, signal?: AbortSignal): Promise<CompletionAnswer> {
    checkCompletionQuery(query);
    const s = this.s;
    const constrained = query.constrain !== undefined;
    const purpose: Purpose = { kind: "complete", constrained };
    const format = query.constrain === undefined ? {} : { response_format: responseFormat(query.constrain) };
    const ask = (n: number, seed: number) =>
      s.api === "chat"
        ? this.request(
            "chat",
            (field) => ({ model: s.model, messages: chatMessages(query), n, temperature: query.temperature, [field]: query.maxTokens, seed, ...format }),
            (body) => this.parseTexts(body),
            purpose,
            signal,
          )
        : this.request(
            "completions",
            () => ({ model: s.model, prompt: query.prompt, n, temperature: query.temperature, max_tokens: query.maxTokens, seed, ...format }),
            (body) => this.parseCompletionTexts(body),
            purpose,
            signal,
          );
    const first = await ask(query.n, completionSeed(query.seed, 0));
    const texts = first.texts.slice(0, query.n);
    while (texts.length < query.n) {
      const more = await ask(1, completionSeed(query.seed, texts.length));
      texts.push(more.texts[0]!);
    }
    return { texts, mode: constrained ? "json_schema" : "none", promptTokens: first.promptTokens, served: first.served };
  }

  /** The error of a logprobs request to a model that gives none: it names the method and the model. */
  private logprobsRefused(why: string): CivitasError {
    return new CivitasError("model", `--method logprobs cannot ask ${this.s.display} (model "${this.s.model}" at ${this.s.url}): ${why}`, {
      hint: `ask it with --method sample or --method verbalize, which read the text it writes; or use a server that returns log-probabilities (${LOGPROB_SERVERS})`,
    });
  }

  /**
   * One request with retries: 429, 408, 409, 5xx, timeouts, dropped connections and malformed
   * bodies (`parse` throws a retryable AttemptFailure) are retried; what retrying cannot fix
   * fails at once. A 400 that names the token field sent (max_tokens or max_completion_tokens)
   * switches the client to the other field and asks once more. The error a user sees says what
   * to do about it.
   */
  private async request<T>(
    endpoint: "chat" | "completions",
    body: (field: TokenField) => Record<string, unknown>,
    parse: (body: unknown) => T,
    purpose: Purpose,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const s = this.s;
    for (let round = 0; ; round++) {
      const field = this.tokenField;
      const params = body(field);
      let attempts = 0;
      const trail: RequestTrail = { lastFailed: undefined, failedAt: [] };
      try {
        return await withRetry(
          (attempt) => {
            attempts = attempt + 1;
            return this.attemptUnlessDown(endpoint, params, parse, signal, trail);
          },
          {
            retries: s.retries,
            baseDelayMs: s.retryBaseMs,
            maxDelayMs: s.retryMaxMs,
            isRetryable: (e) => e instanceof AttemptFailure && e.retryable,
            retryAfterMs: (e) => (e instanceof AttemptFailure ? e.retryAfterMs : undefined),
            onRetry: ({ attempt, delayMs, error }) => {
              if (!s.onRetry) return;
              const f = error instanceof AttemptFailure ? error : undefined;
              s.onRetry({
                attempt,
                maxAttempts: s.retries + 1,
                delayMs,
                url: f?.url ?? s.url,
                reason: f?.reason ?? "unknown failure",
                status: f?.status,
              });
            },
            ...(signal === undefined ? {} : { signal }),
          },
        );
      } catch (e) {
        if (signal?.aborted) throw e;
        if (!(e instanceof AttemptFailure)) throw e;
        if (round === 0 && field in params && rejectsTokenField(e, field)) {
          // Remembered for the model: the next requests send the field it takes.
          if (this.tokenField === field) this.tokenField = field === "max_tokens" ? "max_completion_tokens" : "max_tokens";
          continue;
        }
        const error = this.finalError(e, attempts, purpose, trail);
        if (e.category === "nologprobs" || (purpose.kind === "logprobs" && e.status === 400 && /logprob/iu.test(e.reason))) this.noLogprobs ??= error;
        if (e.category === "noecho") this.noEcho ??= error;
        throw error;
      }
    }
  }

  /**
   * One attempt, at the server with the fewest attempts outstanding among those with room
   * (fewer than --concurrency outstanding) and not known to be unreachable; ties go round the
   * servers, and an attempt after a failure goes to another server when one has room. When none
   * has room, it waits for one.
   *
   * A refused connection or a host name that does not resolve is not worth six retries per
   * request: the first request to meet one at a server retries it there once after
   * QUICK_RETRY_MS (reported through onRetry), and the other requests keep away from that server
   * meanwhile (those that met the failure too wait for that retry). If it fails too, the server
   * is down for the client's life (open a new client to try again): its requests go to the other
   * servers, without counting as retries; when every server is down, every request fails with one
   * error naming them.
   */
  private async attemptUnlessDown<T>(
    endpoint: "chat" | "completions",
    params: Record<string, unknown>,
    parse: (body: unknown) => T,
    signal: AbortSignal | undefined,
    trail: RequestTrail,
  ): Promise<T> {
    for (;;) {
      const ep = await this.acquire(signal, trail.lastFailed);
      let failure: AttemptFailure;
      try {
        return await this.attempt(ep, endpoint, params, parse, signal);
      } catch (e) {
        if (!(e instanceof AttemptFailure)) throw e;
        failure = e;
      } finally {
        this.release(ep);
      }
      trail.lastFailed = ep;
      trail.failedAt.push(ep.url);
      if (failure.category !== "unreachable") throw failure;
      if (ep.down) continue;
      if (this.s.retries === 0) {
        this.markDown(ep, failure);
        continue;
      }
      if (ep.outage !== undefined) {
        // Another request is retrying it; wait for the verdict, then ask again (elsewhere if it is down).
        await ep.outage;
        continue;
      }
      const others = this.endpoints.some((o) => o !== ep && !o.down);
      this.s.onRetry?.({
        attempt: 0,
        maxAttempts: 2,
        delayMs: QUICK_RETRY_MS,
        url: ep.url,
        reason: others ? `${failure.reason}; the other servers take its requests meanwhile` : failure.reason,
        status: undefined,
      });
      let verdict: AttemptFailure | undefined;
      let settle!: (down: AttemptFailure | undefined) => void;
      ep.outage = new Promise((resolve) => (settle = resolve));
      try {
        await sleepWithSignal(QUICK_RETRY_MS, signal);
        ep.active++;
        try {
          return await this.attempt(ep, endpoint, params, parse, signal);
        } finally {
          ep.active--;
        }
      } catch (e2) {
        if (e2 instanceof AttemptFailure) {
          e2.url = ep.url;
          trail.failedAt.push(ep.url);
        }
        if (!(e2 instanceof AttemptFailure) || e2.category !== "unreachable") throw e2;
        verdict = e2;
      } finally {
        if (verdict) ep.down = verdict;
        ep.outage = undefined;
        settle(verdict);
        this.wake();
      }
    }
  }

  private markDown(ep: Endpoint, f: AttemptFailure): void {
    ep.down ??= f;
    this.wake();
  }

  /**
   * A slot at the server with the fewest attempts outstanding (see attemptUnlessDown), waiting
   * for one when every usable server is full or being retried. Throws the unreachable failure
   * when every server is down.
   */
  private async acquire(signal: AbortSignal | undefined, avoid: Endpoint | undefined): Promise<Endpoint> {
    for (;;) {
      if (signal?.aborted) throw signal.reason ?? new DOMException("This operation was aborted", "AbortError");
      const n = this.endpoints.length;
      let best: Endpoint | undefined;
      let bestAt = -1;
      let avoided: Endpoint | undefined;
      for (let k = 0; k < n; k++) {
        const at = (this.rotation + k) % n;
        const ep = this.endpoints[at]!;
        if (ep.down || ep.outage !== undefined || ep.active >= this.s.concurrency) continue;
        if (ep === avoid && n > 1) {
          avoided = ep;
          continue;
        }
        if (best === undefined || ep.active < best.active) {
          best = ep;
          bestAt = at;
        }
      }
      if (best === undefined && avoided !== undefined) {
        best = avoided;
        bestAt = this.endpoints.indexOf(avoided);
      }
      if (best !== undefined) {
        best.active++;
        this.rotation = (bestAt + 1) % n;
        return best;
      }
      if (this.endpoints.every((e) => e.down)) throw this.endpoints[0]!.down!;
      await this.waitForChange(signal);
    }
  }

  private release(ep: Endpoint): void {
    ep.active--;
    this.wake();
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  private waitForChange(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.delete(done);
        reject(signal!.reason ?? new DOMException("This operation was aborted", "AbortError"));
      };
      const done = (): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      this.waiters.add(done);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** One request, with a deadline on the whole response (the SDK's own timeout stops at the headers). */
  private async attempt<T>(ep: Endpoint, endpoint: "chat" | "completions", params: Record<string, unknown>, parse: (body: unknown) => T, signal: AbortSignal | undefined): Promise<T> {
    const s = this.s;
    const ctl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, s.timeoutMs);
    const onAbort = (): void => ctl.abort(signal?.reason);
    if (signal?.aborted) ctl.abort(signal.reason);
    else signal?.addEventListener("abort", onAbort, { once: true });
    let body: unknown;
    try {
      const options = { signal: ctl.signal, timeout: s.timeoutMs, maxRetries: 0 };
      body =
        endpoint === "chat"
          ? await ep.sdk.chat.completions.create(params as unknown as ChatParams, options)
          : await ep.sdk.completions.create(params as unknown as CompletionCreateParamsNonStreaming, options);
    } catch (e) {
      if (signal?.aborted) throw signal.reason ?? e;
      const f = this.classify(e, timedOut);
      f.url = ep.url;
      throw f;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
    try {
      return parse(body);
    } catch (e) {
      if (e instanceof AttemptFailure) e.url = ep.url;
      throw e;
    }
  }

  private classify(e: unknown, timedOut: boolean): AttemptFailure {
    const scrub = this.scrub;
    if (timedOut || e instanceof APIConnectionTimeoutError) {
      return new AttemptFailure("timeout", `no response within ${this.s.timeoutMs} ms`, true);
    }
    if (e instanceof APIUserAbortError) {
      // Aborted, but neither by the caller nor by our deadline: treat as a dropped connection.
      return new AttemptFailure("connection", "the request was aborted", true);
    }
    if (e instanceof APIConnectionError) {
      const code = unreachableCode(e);
      if (code !== undefined) return new AttemptFailure("unreachable", `cannot connect: ${UNREACHABLE[code].what}`, false, undefined, undefined, code);
      return new AttemptFailure("connection", `could not connect (${scrub(connectionDetail(e))})`, true);
    }
    if (e instanceof APIError && typeof e.status === "number") {
      const status = e.status;
      const text = scrub(truncate(serverMessage(e), 300));
      const reason = `HTTP ${status}${text ? `: ${text}` : ""}`;
      const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
      const retryAfter = retryable ? retryAfterMsFromHeaders(e.headers) : undefined;
      return new AttemptFailure("status", reason, retryable, status, retryAfter);
    }
    if (e instanceof SyntaxError) {
      return new AttemptFailure("malformed", `the response body was not valid JSON (${scrub(truncate(e.message, 120))})`, true);
    }
    // The connection broke while the body was read (undici: "terminated"), or similar.
    const msg = e instanceof Error ? e.message : String(e);
    return new AttemptFailure("connection", `the request failed (${scrub(truncate(msg, 200))})`, true);
  }

  private parse(body: unknown): { top: TokenProb[]; promptTokens: number | null; served: Served } {
    const parsed = CompletionBody.safeParse(body);
    if (!parsed.success) {
      const choice0 = firstChoice(body);
      if (choice0 !== undefined && (choice0["logprobs"] === null || choice0["logprobs"] === undefined)) {
        throw new AttemptFailure("nologprobs", "the response has no logprobs", false);
      }
      const issue = parsed.error.issues[0];
      const where = issue ? pathText(issue.path) : "the body";
      const what = typeof body === "string" ? "the response was not JSON" : `the response is malformed at ${where}`;
      throw new AttemptFailure("malformed", `${what} (expected choices[0].logprobs.content[0].top_logprobs)`, true);
    }
    const first = parsed.data.choices[0]!.logprobs.content[0]!;
    if (first.top_logprobs.length === 0) {
      throw new AttemptFailure("nologprobs", "the response has logprobs but an empty top_logprobs list", false);
    }
    const problem = impossibleLogprobs(first.top_logprobs);
    if (problem !== undefined) throw new AttemptFailure("invalid", `impossible log-probabilities: ${problem}`, true);
    const top = first.top_logprobs
      .map(({ token, logprob }) => ({ token, prob: Math.exp(Math.min(0, logprob)) }))
      .sort((a, b) => b.prob - a.prob)
      .slice(0, TOP_LOGPROBS);
    return { top, promptTokens: promptTokensOf(parsed.data.usage), served: servedOf(parsed.data) };
  }

  /** A top-logprobs list as probabilities, most likely first (checked: impossible lists are retried). */
  private topOf(list: readonly { token: string; logprob: number }[]): TokenProb[] {
    const problem = impossibleLogprobs(list);
    if (problem !== undefined) throw new AttemptFailure("invalid", `impossible log-probabilities: ${problem}`, true);
    return list
      .map(({ token, logprob }) => ({ token, prob: Math.exp(Math.min(0, logprob)) }))
      .sort((a, b) => b.prob - a.prob)
      .slice(0, TOP_LOGPROBS);
  }

  private parseCompletion(body: unknown, expected: string): z.infer<typeof TextCompletionBody> {
    const parsed = TextCompletionBody.safeParse(body);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const where = issue ? pathText(issue.path) : "the body";
    const what = typeof body === "string" ? "the response was not JSON" : `the response is malformed at ${where}`;
    throw new AttemptFailure("malformed", `${what} (expected ${expected})`, true);
  }

  /** Completions API: the first generated position's top log-probabilities. */
  private parseNextToken(body: unknown): { top: TokenProb[]; promptTokens: number | null; served: Served } {
    const data = this.parseCompletion(body, "choices[0].logprobs.top_logprobs");
    const logprobs = data.choices[0]!.logprobs;
    if (logprobs === null || logprobs === undefined) throw new AttemptFailure("nologprobs", "the response has no logprobs", false);
    const positions = positionsOf(logprobs);
    // With echo off the first position is the first generated token.
    const first = positions[0];
    if (first === undefined || first.top === null || first.top.length === 0) throw new AttemptFailure("nologprobs", "the response has logprobs but no top_logprobs", false);
    return { top: this.topOf(first.top), promptTokens: promptTokensOf(data.usage), served: servedOf(data) };
  }

  /**
   * Completions API with echo: the log-probability of the text between `promptLength` and
   * `fullLength` (code points), the top log-probabilities after the prompt, the prompt's tokens.
   */
  private parseEcho(body: unknown, promptLength: number, fullLength: number): { logprob: number; top: TokenProb[]; promptTokens: number; served: Served } {
    const data = this.parseCompletion(body, "choices[0].logprobs with the echoed prompt");
    const logprobs = data.choices[0]!.logprobs;
    if (logprobs === null || logprobs === undefined) throw new AttemptFailure("nologprobs", "the response has no logprobs", false);
    const positions = positionsOf(logprobs);
    const last = positions[positions.length - 1];
    if (positions.length < 2 || positions[0]!.offset !== 0 || last === undefined || last.offset < promptLength) {
      throw new AttemptFailure("noecho", `the response has log-probabilities for ${positions.length} token${positions.length === 1 ? "" : "s"}, not for the echoed prompt (echo: true)`, false);
    }
    const start = positions.findIndex((p) => p.offset >= promptLength);
    if (positions[start]!.offset !== promptLength) {
      const across = positions[start - 1]!;
      throw new AttemptFailure(
        "noecho",
        `the server's token ${JSON.stringify(across.token)} runs across the end of the prompt into the option text, so the text's tokens cannot be told from the prompt's`,
        false,
      );
    }
    let logprob = 0;
    let i = start;
    for (; i < positions.length && positions[i]!.offset < fullLength; i++) {
      const lp = positions[i]!.logprob;
      if (lp === null || !Number.isFinite(lp) || lp > LOGPROB_EPSILON) throw new AttemptFailure("invalid", `impossible log-probability ${String(lp)} for token ${JSON.stringify(positions[i]!.token)}`, true);
      logprob += Math.min(0, lp);
    }
    if (i === start) throw new AttemptFailure("malformed", "the response has no tokens for the option text", true);
    const top = positions[start]!.top;
    return { logprob, top: top === null ? [] : this.topOf(top), promptTokens: start, served: servedOf(data) };
  }

  /** Completions API: the texts of the choices, in the order of their `index`. */
  private parseCompletionTexts(body: unknown): { texts: string[]; promptTokens: number | null; served: Served } {
    const data = this.parseCompletion(body, "choices[].text");
    const choices = data.choices.map((c, i) => ({ order: c.index ?? i, text: c.text ?? "" }));
    choices.sort((a, b) => a.order - b.order);
    return { texts: choices.map((c) => c.text), promptTokens: promptTokensOf(data.usage), served: servedOf(data) };
  }

  /** The texts of a completion's choices, in the order of their `index`. */
  private parseTexts(body: unknown): { texts: string[]; promptTokens: number | null; served: Served } {
    const parsed = TextBody.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? pathText(issue.path) : "the body";
      const what = typeof body === "string" ? "the response was not JSON" : `the response is malformed at ${where}`;
      throw new AttemptFailure("malformed", `${what} (expected choices[].message.content)`, true);
    }
    const choices = parsed.data.choices.map((c, i) => ({ order: c.index ?? i, text: c.message.content ?? c.message.refusal ?? "" }));
    choices.sort((a, b) => a.order - b.order);
    return { texts: choices.map((c) => c.text), promptTokens: promptTokensOf(parsed.data.usage), served: servedOf(parsed.data) };
  }

  /** The error a user sees, after retries (or at once for what retrying cannot fix). */
  private finalError(f: AttemptFailure, attempts: number, purpose: Purpose, trail: RequestTrail): CivitasError {
    const s = this.s;
    if (f.category === "unreachable") {
      const hint = `the server URL comes from --base-url, else OPENAI_BASE_URL${s.url === DEFAULT_BASE_URLS.ollama || s.url === DEFAULT_BASE_URLS.vllm ? ", else the backend's usual local address" : ""}`;
      if (this.endpoints.length > 1) {
        const each = this.endpoints.map((e) => `${e.url} (${UNREACHABLE[e.down?.code ?? f.code ?? "ECONNREFUSED"].what})`);
        return new CivitasError("network", `cannot connect to any of the ${this.endpoints.length} servers: ${each.join(", ")}; are they running, on those hosts and ports?`, { hint });
      }
      const u = UNREACHABLE[f.code ?? "ECONNREFUSED"];
      return new CivitasError("network", `cannot connect to ${s.url}: ${u.what}; ${u.hint}`, { hint });
    }
    // The servers the attempts failed at (one, unless several --base-url took turns).
    const failedAt = [...new Set(trail.failedAt)];
    const where = `model "${s.model}" at ${failedAt.length > 0 ? failedAt.join(", ") : (f.url ?? s.url)}`;
    const tries = attempts === 1 ? "1 attempt" : `${attempts} attempts`;
    if (f.retryable) {
      const hint =
        f.status === 429
          ? "the server is rate-limiting: lower --concurrency, raise --retries, or try later"
          : f.category === "timeout"
            ? "the server is slow or stuck: check it, or raise --timeout"
            : f.category === "connection"
              ? `is the server running and reachable at ${s.url}?`
              : f.category === "malformed"
                ? "the server sends broken responses; check its logs (a proxy in between?)"
                : f.category === "invalid"
                  ? "the server's log-probabilities are not a probability distribution (a bug or a misconfiguration of the server); no answer of it was used"
                : "the server keeps failing; check its logs, or try later";
      return new CivitasError("model", `${where} failed after ${tries}: ${f.reason}`, { hint });
    }
    if (f.category === "nologprobs") return this.logprobsRefused(`the server returned no log-probabilities (${f.reason})`);
    if (f.category === "noecho") {
      return new CivitasError("model", `--method logprobs with option texts (answer=text) cannot ask ${s.display} (${where}): ${f.reason}`, {
        hint: "option texts are scored from the prompt's echoed log-probabilities (/v1/completions with echo and logprobs), which vLLM returns and llama-server does not (ggml-org/llama.cpp#27174); use the label answer format, or --method sample",
      });
    }
    if (purpose.kind !== "complete" && f.status === 400 && /logprob/iu.test(f.reason)) return this.logprobsRefused(`the server rejected log-probabilities (${f.reason})`);
    if (purpose.kind === "complete" && (f.status === 400 || f.status === 422)) {
      return purpose.constrained
        ? new CivitasError("model", `${where} rejected the constrained request (${f.reason})`, {
            hint: `the server may not support response_format with a JSON schema (structured outputs); drop --constrain, or use a server that supports it (${CONSTRAINT_SERVERS})`,
          })
        : new CivitasError("model", `${where} rejected the request (${f.reason})`, {
            hint: "the request is a chat completion with n, temperature, max_tokens and seed; check that the server supports them and that the model's context holds the prompt plus max_tokens",
          });
    }
    switch (f.status) {
      case 401:
        return new CivitasError("usage", `${where}: the server refused the API key (${f.reason})`, {
          hint: "check OPENAI_API_KEY (or --api-key); it must be a key this server accepts",
        });
      case 403:
        return new CivitasError("usage", `${where}: the API key is not allowed to do this (${f.reason})`, {
          hint: "the key lacks access to this model or endpoint; check its permissions or use another model",
        });
      case 404:
        return new CivitasError("usage", `${where}: not found, so the model name or the URL is wrong (${f.reason})`, {
          hint: `check the model name (GET ${s.url}/models lists them; for Ollama, \`ollama list\`) and that the base URL ends in /v1`,
        });
      case 400:
        return new CivitasError("model", `${where} rejected the request (${f.reason})`, {
          hint: /logprob/iu.test(f.reason)
            ? `this server does not support logprobs/top_logprobs; ${LOGPROB_SERVERS}`
            : `the request asks for logprobs with top_logprobs=${TOP_LOGPROBS}, max_tokens=1, temperature=0; ${LOGPROB_SERVERS}`,
        });
      default:
        return new CivitasError("model", `${where} failed after ${tries}: ${f.reason}`, {
          hint: "retrying would not help; check the model name and the server's logs",
        });
    }
  }

  async close(): Promise<void> {
    // The SDK keeps no connection of its own beyond fetch's keep-alive pool.
  }
}

/**
 * The chat messages of a query: its system message (OptionQuery.system), when it has one, then the
 * prompt as the user's message. The server applies the model's chat template to them.
 */
export function chatMessages(query: { readonly prompt: string; readonly system?: string }): ChatParams["messages"] {
  return query.system === undefined || query.system === ""
    ? [{ role: "user", content: query.prompt }]
    : [
        { role: "system", content: query.system },
        { role: "user", content: query.prompt },
      ];
}

/**
 * The response_format of a constraint. A `choice` becomes the object {"answer": <one of the
 * choices>}: strict structured outputs need an object at the root.
 */
export function responseFormat(c: Constraint): {
  type: "json_schema";
  json_schema: { name: string; schema: Record<string, unknown>; strict: boolean };
} {
  const schema =
    c.kind === "json"
      ? { ...c.schema }
      : {
          type: "object",
          properties: { answer: { type: "string", enum: [...c.choices] } },
          required: ["answer"],
          additionalProperties: false,
        };
  return { type: "json_schema", json_schema: { name: "answer", schema, strict: true } };
}

/**
 * How far above 0 a log-probability may be: float32 log-softmax (x_i - logsumexp(x)) rounds with an
 * error of the order of the logits' ulp, 6.1e-5 for logits up to 512, so a token of probability 1
 * can come back as +3e-5. Such values are read as 0. The probabilities of the listed tokens may
 * then sum above 1 by as much as their count times that, 20 x 1e-4 = 2e-3.
 */
export const LOGPROB_EPSILON = 1e-4;
export const PROBABILITY_SUM_EPSILON = 2e-3;

/**
 * What makes a top_logprobs list impossible, or undefined: a log-probability that is not a finite
 * number or is above 0 (a probability above 1), an entry listed twice (its mass would count
 * twice), or probabilities summing above 1. Distinct tokens may share a text (a byte-fallback
 * token and a piece: stories260K has two `"`); their masses add up, as they do in-process. An
 * entry with the same text, log-probability and bytes as another is a copy.
 */
export function impossibleLogprobs(list: readonly { token: string; logprob: number; bytes?: readonly number[] | null | undefined }[]): string | undefined {
  const seen = new Set<string>();
  let sum = 0;
  for (const { token, logprob, bytes } of list) {
    const t = JSON.stringify(truncate(token, 20));
    if (!Number.isFinite(logprob)) return `token ${t} has logprob ${logprob}`;
    if (logprob > LOGPROB_EPSILON) return `token ${t} has logprob ${logprob} > 0, a probability above 1`;
    const key = JSON.stringify([token, logprob, bytes ?? null]);
    if (seen.has(key)) return `token ${t} is listed twice in top_logprobs (logprob ${logprob})`;
    seen.add(key);
    sum += Math.exp(Math.min(0, logprob));
  }
  if (sum > 1 + PROBABILITY_SUM_EPSILON) return `the ${list.length} top_logprobs probabilities sum to ${+sum.toPrecision(4)} > 1`;
  return undefined;
}

function promptTokensOf(usage: unknown): number | null {
  const pt = typeof usage === "object" && usage !== null ? (usage as { prompt_tokens?: unknown }).prompt_tokens : undefined;
  return typeof pt === "number" && Number.isInteger(pt) && pt >= 0 ? pt : null;
}

function firstChoice(body: unknown): Record<string, unknown> | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const choices = (body as { choices?: unknown }).choices;
  if (!Array.isArray(choices) || choices.length === 0) return undefined;
  const c = choices[0] as unknown;
  if (typeof c !== "object" || c === null) return undefined;
  // A real completion without logprobs still has its message.
  if (!("message" in c)) return undefined;
  return c as Record<string, unknown>;
}

function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : `${out === "" ? "" : "."}${String(p)}`;
  return out === "" ? "the body" : out;
}

/** The server's own words from an error response. */
function serverMessage(e: APIError): string {
  const err = e.error as { message?: unknown } | undefined;
  if (err && typeof err.message === "string") return err.message;
  if (err !== undefined && err !== null) return JSON.stringify(err);
  // The SDK's message starts with the status ("500 ..."); drop that, we print it ourselves.
  return e.message.replace(/^\d{3}\s*/u, "").replace(/^status code \(no body\)$/u, "");
}

/** Waited before the one retry after a refused connection or an unknown host. */
const QUICK_RETRY_MS = 500;

/** Connection errors that say the server is not there (rather than that a connection broke). */
const UNREACHABLE = {
  ECONNREFUSED: { what: "connection refused", hint: "is the server running, on that host and port?" },
  ENOTFOUND: { what: "host name not found", hint: "check the host name" },
  EAI_AGAIN: { what: "the host name could not be looked up (DNS failure)", hint: "check the host name and the network" },
  EHOSTUNREACH: { what: "no route to the host", hint: "check the address and the network" },
  ENETUNREACH: { what: "the network is unreachable", hint: "check the address and the network" },
} as const;
type UnreachableCode = keyof typeof UNREACHABLE;

/** The code of a connection error that says the server is not there, from the cause chain. */
function unreachableCode(e: Error): UnreachableCode | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 6 && cur instanceof Error; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && code in UNREACHABLE) return code as UnreachableCode;
    // undici reports several attempts (IPv6 and IPv4 of localhost) as an AggregateError.
    if (cur instanceof AggregateError) {
      const inner = cur.errors.map((x: unknown) => (x instanceof Error ? unreachableCode(x) : undefined));
      if (inner.length > 0 && inner.every((c) => c !== undefined)) return inner[0];
    }
    cur = cur.cause;
  }
  return undefined;
}

/** What a connection error was really about (ECONNREFUSED, ENOTFOUND, ...), from the cause chain. */
function connectionDetail(e: Error): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let i = 0; i < 6 && cur instanceof Error; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && !parts.includes(code)) parts.push(code);
    else if (cur.message && cur.message !== "Connection error." && cur.message !== "fetch failed") parts.push(cur.message);
    cur = cur.cause;
  }
  return parts.length > 0 ? truncate(parts.join(": "), 200) : "connection error";
}

function truncate(s: string, n: number): string {
  const one = s.replace(/\s+/gu, " ").trim();
  return one.length <= n ? one : `${one.slice(0, n - 1)}…`;
}

/** Replaces every secret (the API key, URL credentials) in a text with "***". */
function scrubber(secrets: readonly (string | undefined)[]): (s: string) => string {
  const list = [...new Set(secrets.filter((x): x is string => x !== undefined && x.length >= 4))].sort(
    (a, b) => b.length - a.length,
  );
  return (text) => {
    let out = text;
    for (const secret of list) out = out.split(secret).join("***");
    return out;
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s.trim() === "" ? undefined : s.trim();
}

function positiveInt(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1) throw new CivitasError("usage", `${name} must be a whole number >= 1, got ${v}`);
  return v;
}

function nonNegativeInt(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 0) throw new CivitasError("usage", `${name} must be a whole number >= 0, got ${v}`);
  return v;
}

function nonNegative(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < 0) throw new CivitasError("usage", `${name} must be a number >= 0, got ${v}`);
  return v;
}
