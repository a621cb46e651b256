/**
 * A small OpenAI-compatible server for tests: POST /v1/chat/completions answers with *real*
 * next-token log-probabilities of a llama.cpp model (stories260K by default), in the shape of an
 * OpenAI chat completion with logprobs. It records every request and can be told to fail the
 * next ones in chosen ways (rate limit, server error, hang, truncated JSON, no logprobs).
 *
 * Requests without `logprobs: true`, or with max_tokens (or max_completion_tokens) above 1,
 * generate real text instead with the llama backend's `complete`: `n` choices (default 1),
 * `temperature` (default 1), `max_tokens` (default 256), `seed` (default: random), and
 * `response_format` {type: "json_schema"} constrained by its schema (mode "grammar"; `json_object`
 * by any JSON object). Two switches make it behave like servers that do less: `ignoreN` answers
 * one choice whatever `n` asks (as llama-server does), `rejectResponseFormat` answers 400 to any
 * request with a response_format. Faults apply to both kinds of request ("nologprobs" serves a
 * text request normally: a text completion has no logprobs anyway); a "rewrite" fault serves the
 * real answer as a function changes it (impossible log-probabilities, duplicate tokens, ...).
 *
 * POST /v1/completions answers as vLLM does (the legacy shape: `tokens`, `token_logprobs`,
 * `top_logprobs` as {token: logprob} objects, `text_offset` in code points): `logprobs: k` with
 * `max_tokens: 1` gives the first generated position's top k; `echo: true` gives every token of
 * the prompt too (the first with a null log-probability), computed by a llama.cpp context of the
 * server's own (node-llama-cpp directly, not civitas's continuation code, flash attention off, the
 * whole text in one batch); other requests generate text as chat does.
 *
 * More switches: `reasoning` makes it answer as OpenAI's reasoning models do (400 for
 * `max_tokens`, naming `max_completion_tokens`; 400 for `logprobs`); `echo: false` ignores echo as
 * llama-server does (log-probabilities of the generated token only); `served` sets the `model` and
 * `system_fingerprint` it reports.
 *
 * node:http only; 127.0.0.1 on an ephemeral port; the model is loaded once per server.
 */
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { LlamaContext, LlamaModel, Token } from "node-llama-cpp";
import { CivitasError } from "../../src/errors.js";
import { LlamaClient, llamaSpec } from "../../src/models/index.js";
import type { CompletionQuery, Constraint } from "../../src/models/types.js";

export const STORIES_MODEL = fileURLToPath(new URL("../../../shared/models/stories260K.gguf", import.meta.url));

/** A failure to serve instead of the real answer, one per upcoming chat completion request. */
export type Fault =
  /** Answers normally (lets requests through before later faults). */
  | { readonly kind: "ok" }
  | { readonly kind: "429"; readonly retryAfterSeconds?: number }
  | { readonly kind: "500" }
  /** Never answers; the connection stays open until the client gives up (or the server closes). */
  | { readonly kind: "hang" }
  /** HTTP 200, content-type JSON, the real body cut in half. */
  | { readonly kind: "malformed" }
  /** A well-formed completion with `logprobs: null`, as a server without logprobs support sends. */
  | { readonly kind: "nologprobs" }
  /** HTTP 200 with the real answer as `rewrite` changes it: impossible values, duplicates, ... */
  | { readonly kind: "rewrite"; readonly rewrite: (body: Record<string, unknown>) => unknown };

export interface RecordedRequest {
  /** 0-based, in order of arrival. */
  readonly index: number;
  readonly method: string;
  readonly path: string;
  /** The Authorization header as received. */
  readonly authorization: string | undefined;
  /** The JSON body, or the raw text when it is not JSON. */
  readonly body: unknown;
  /** Date.now() when the request arrived. */
  readonly receivedAt: number;
  /** What the server did: "ok", a fault kind, "401", "404" or "400". */
  readonly outcome: Fault["kind"] | "401" | "404" | "400";
}

export interface LlamaOpenAIServerOptions {
  /** Default: ../shared/models/stories260K.gguf. */
  readonly modelPath?: string;
  /** When set, requests without `Authorization: Bearer <apiKey>` get a 401 that echoes the key received. */
  readonly apiKey?: string;
  /** When set, requests for other model names get a 404 (model_not_found). */
  readonly models?: readonly string[];
  /** Answer text requests with one choice whatever `n` asks, as llama-server does. Default false. */
  readonly ignoreN?: boolean;
  /** Answer 400 to any request with a `response_format`, as servers without structured outputs do. Default false. */
  readonly rejectResponseFormat?: boolean;
}

/** The switches that can change while the server runs. */
export interface ServerSwitches {
  readonly ignoreN: boolean;
  readonly rejectResponseFormat: boolean;
  /** Behave like a reasoning model: 400 for max_tokens (use max_completion_tokens) and for logprobs. */
  readonly reasoning: boolean;
  /** Echo the prompt's log-probabilities on /v1/completions (false: as llama-server, the generated token's only). */
  readonly echo: boolean;
  /** What the responses report: `model` (default: the model asked for) and `system_fingerprint` (default: none). */
  readonly served: { readonly model?: string; readonly fingerprint?: string };
}

export interface LlamaOpenAIServer {
  /** Base URL ending in /v1. */
  readonly url: string;
  /** Queues faults; each upcoming chat completion request consumes one, in order. */
  inject(...faults: Fault[]): void;
  /** Faults not yet consumed. */
  pendingFaults(): number;
  /** Every request received, in order. */
  readonly requests: readonly RecordedRequest[];
  /** Forgets recorded requests and pending faults, and sets the switches back to the options'. */
  reset(): void;
  /** Changes switches (until the next reset). */
  configure(switches: Partial<ServerSwitches>): void;
  /** The switches in force. */
  switches(): ServerSwitches;
  /** The model behind the server, for computing expected answers directly. */
  readonly llama: LlamaClient;
  close(): Promise<void>;
}

const TOP_MAX = 20;

function sendJSON(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function errorBody(message: string, type: string, code: string | null): unknown {
  return { error: { message, type, param: null, code } };
}

/** The prompt: the content of the last user message (string, or text parts joined). */
function lastUserContent(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const messages = (body as { messages?: unknown }).messages;
  if (!Array.isArray(messages)) return undefined;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: unknown; content?: unknown } | null;
    if (!m || m.role !== "user") continue;
    if (typeof m.content === "string") return m.content;
    if (Array.isArray(m.content)) {
      return m.content
        .map((p: unknown) => (typeof p === "object" && p !== null && typeof (p as { text?: unknown }).text === "string" ? (p as { text: string }).text : ""))
        .join("");
    }
  }
  return undefined;
}

/** A request for generated text rather than next-token log-probabilities. */
function isTextRequest(body: Record<string, unknown>): boolean {
  const max = body["max_completion_tokens"] ?? body["max_tokens"];
  return body["logprobs"] !== true || (typeof max === "number" && max > 1);
}

/** The CompletionQuery of a text request, or what is wrong with it. */
function textQuery(body: Record<string, unknown>, prompt: string, ignoreN: boolean): CompletionQuery | string {
  const n = body["n"] ?? 1;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 128) return "n must be an integer between 1 and 128";
  const temperature = body["temperature"] ?? 1;
  if (typeof temperature !== "number" || temperature < 0 || temperature > 2) return "temperature must be a number between 0 and 2";
  const maxTokens = body["max_completion_tokens"] ?? body["max_tokens"] ?? 256;
  if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens < 1) return "max_tokens must be a positive integer";
  const seed = body["seed"] ?? Math.floor(Math.random() * 2 ** 32);
  if (typeof seed !== "number" || !Number.isInteger(seed)) return "seed must be an integer";
  let constrain: Constraint | undefined;
  const format = body["response_format"] as { type?: unknown; json_schema?: { schema?: unknown } } | null | undefined;
  if (format !== undefined && format !== null && format.type !== "text") {
    if (format.type === "json_object") constrain = { kind: "json", schema: { type: "object", additionalProperties: true } };
    else if (format.type === "json_schema" && typeof format.json_schema?.schema === "object" && format.json_schema.schema !== null) {
      constrain = { kind: "json", schema: format.json_schema.schema as Record<string, unknown> };
    } else return "response_format: expected {type: \"json_schema\", json_schema: {schema}} or {type: \"json_object\"}";
  }
  return { prompt, n: ignoreN ? 1 : n, temperature, maxTokens, seed, ...(constrain === undefined ? {} : { constrain }) };
}

export async function startLlamaOpenAIServer(opts: LlamaOpenAIServerOptions = {}): Promise<LlamaOpenAIServer> {
  const spec = await llamaSpec(opts.modelPath ?? STORIES_MODEL, { threads: 1, parallel: 1, gpu: false });
  const llama = (await spec.open()) as LlamaClient;
  const faults: Fault[] = [];
  const requests: RecordedRequest[] = [];
  const hanging = new Set<http.ServerResponse>();
  let counter = 0;
  const initial: ServerSwitches = { ignoreN: opts.ignoreN ?? false, rejectResponseFormat: opts.rejectResponseFormat ?? false, reasoning: false, echo: true, served: {} };
  // The echo's own llama.cpp context (node-llama-cpp directly): every position's distribution in one batch.
  const echoModel: { model: LlamaModel; context: LlamaContext } = await (async () => {
    const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
    const lib = await getLlama({ build: "never", gpu: false, logLevel: LlamaLogLevel.error });
    const model = await lib.loadModel({ modelPath: opts.modelPath ?? STORIES_MODEL });
    const context = await model.createContext({ contextSize: 2048, sequences: 1, threads: 1, flashAttention: false });
    return { model, context };
  })();
  const echoSequence = echoModel.context.getSequence();
  let echoQueue: Promise<unknown> = Promise.resolve();

  /**
   * Every token of `text` (with BOS) as vLLM's echo lists it: its text, where it starts (code
   * points of the detokenized tokens before it), its log-probability given the tokens before it
   * (null for the first), and the top k there.
   */
  function echoPositions(text: string, k: number): Promise<{ token: string; offset: number; logprob: number | null; top: Record<string, number> | null }[]> {
    const run = async () => {
      const { model } = echoModel;
      const bos = model.tokens.bos;
      const tokens: Token[] = [...(model.tokens.shouldPrependBosToken && bos !== null ? [bos] : []), ...model.tokenize(text)];
      await echoSequence.clearHistory();
      const out = await echoSequence.controlledEvaluate(tokens.map((t) => [t, { generateNext: { probabilities: true } }] as const));
      const cp = (s: string) => [...s].length;
      // Text offsets are into the text as given: BOS adds none (detokenized after it, the first piece would keep its leading space).
      const skip = tokens.length - model.tokenize(text).length;
      return tokens.map((t, i) => {
        const before = model.detokenize(tokens.slice(skip, Math.max(skip, i)));
        const through = model.detokenize(tokens.slice(skip, Math.max(skip, i + 1)));
        const probs = i === 0 ? undefined : out[i - 1]?.next.probabilities;
        const top: Record<string, number> = {};
        if (probs) {
          for (const [tok, p] of probs) {
            if (Object.keys(top).length >= k) break;
            const piece = model.detokenize([tok]);
            // A dict, as vLLM's: a second token with the same text keeps the first's (the likelier).
            if (!(piece in top)) top[piece] = Math.log(p);
          }
        }
        return { token: through.slice(before.length), offset: cp(before), logprob: probs ? Math.log(probs.get(t) ?? 0) : null, top: probs ? top : null };
      });
    };
    const p = echoQueue.then(run, run);
    echoQueue = p.catch(() => undefined);
    return p;
  }

  /** The served model and fingerprint of a response. */
  const servedFields = (body: Record<string, unknown>) => ({
    model: switches.served.model ?? (typeof body["model"] === "string" ? body["model"] : "stories260K"),
    ...(switches.served.fingerprint === undefined ? {} : { system_fingerprint: switches.served.fingerprint }),
  });
  let switches: ServerSwitches = { ...initial };

  async function completion(body: Record<string, unknown>, prompt: string): Promise<Record<string, unknown>> {
    const { probs, promptTokens } = await llama.nextTokenProbabilities(prompt);
    const wantLogprobs = body["logprobs"] === true;
    const nTop = Math.max(0, Math.min(TOP_MAX, Number(body["top_logprobs"] ?? 0) || 0));
    const top: { token: string; logprob: number; bytes: number[] }[] = [];
    for (const [token, p] of probs) {
      if (top.length >= Math.max(1, nTop)) break;
      const text = llama.tokenText(token);
      top.push({ token: text, logprob: Math.log(p), bytes: [...Buffer.from(text, "utf8")] });
    }
    const first = top[0]!;
    counter++;
    return {
      id: `chatcmpl-llama-${counter}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      ...servedFields(body),
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: first.token, refusal: null },
          logprobs: wantLogprobs ? { content: [{ ...first, top_logprobs: top.slice(0, nTop) }], refusal: null } : null,
          finish_reason: "length",
        },
      ],
      usage: { prompt_tokens: promptTokens, completion_tokens: 1, total_tokens: promptTokens + 1 },
    };
  }

  /** Real text from the llama backend, in the shape of an OpenAI chat completion. */
  async function generation(body: Record<string, unknown>, query: CompletionQuery): Promise<Record<string, unknown>> {
    const { texts, promptTokens } = await llama.complete(query);
    const empty = llama.tokenize("").length;
    const completionTokens = texts.reduce((sum, t) => sum + llama.tokenize(t).length - empty, 0);
    counter++;
    return {
      id: `chatcmpl-llama-${counter}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      ...servedFields(body),
      choices: texts.map((t, index) => ({
        index,
        message: { role: "assistant", content: t, refusal: null },
        logprobs: null,
        finish_reason: "stop",
      })),
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: (promptTokens ?? 0) + completionTokens },
    };
  }

  /** A /v1/completions answer with log-probabilities, in vLLM's legacy shape (see the module comment). */
  async function legacyCompletion(body: Record<string, unknown>, prompt: string): Promise<Record<string, unknown>> {
    const k = typeof body["logprobs"] === "number" ? Math.max(0, Math.min(TOP_MAX, body["logprobs"])) : undefined;
    const echo = body["echo"] === true && switches.echo;
    const { probs, promptTokens } = await llama.nextTokenProbabilities(prompt);
    const [gen, pGen] = probs.entries().next().value as [Token, number];
    const genText = llama.tokenText(gen);
    const genTop: Record<string, number> = {};
    for (const [tok, p] of probs) {
      if (Object.keys(genTop).length >= Math.max(1, k ?? 0)) break;
      const piece = llama.tokenText(tok);
      if (!(piece in genTop)) genTop[piece] = Math.log(p);
    }
    const echoed = echo ? await echoPositions(prompt, Math.max(1, k ?? 0)) : [];
    counter++;
    return {
      id: `cmpl-llama-${counter}`,
      object: "text_completion",
      created: Math.floor(Date.now() / 1000),
      ...servedFields(body),
      choices: [
        {
          index: 0,
          text: echo ? prompt + genText : genText,
          logprobs:
            k === undefined
              ? null
              : {
                  tokens: [...echoed.map((p) => p.token), genText],
                  token_logprobs: [...echoed.map((p) => p.logprob), Math.log(pGen)],
                  top_logprobs: [...echoed.map((p) => p.top), genTop],
                  text_offset: [...echoed.map((p) => p.offset), echo ? [...prompt].length : 0],
                },
          finish_reason: "length",
        },
      ],
      usage: { prompt_tokens: echo ? echoed.length : promptTokens, completion_tokens: 1, total_tokens: (echo ? echoed.length : promptTokens) + 1 },
    };
  }

  /** Real text from the llama backend, as a /v1/completions answer. */
  async function textCompletion(body: Record<string, unknown>, query: CompletionQuery): Promise<Record<string, unknown>> {
    const chat = await generation(body, query);
    const choices = (chat["choices"] as { index: number; message: { content: string } }[]).map((c) => ({ index: c.index, text: c.message.content, logprobs: null, finish_reason: "stop" }));
    return { ...chat, id: `cmpl-llama-${counter}`, object: "text_completion", choices };
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body: unknown = raw;
    try {
      body = raw === "" ? undefined : JSON.parse(raw);
    } catch {
      body = raw;
    }
    const path = (req.url ?? "/").split("?")[0]!;
    const authorization = req.headers.authorization;
    const record = (outcome: RecordedRequest["outcome"]): void => {
      requests.push({ index: requests.length, method: req.method ?? "", path, authorization, body, receivedAt: Date.now(), outcome });
    };

    const legacy = path === "/v1/completions";
    if (req.method !== "POST" || (path !== "/v1/chat/completions" && !legacy)) {
      record("404");
      sendJSON(res, 404, errorBody(`Unknown request URL: ${req.method} ${path}`, "invalid_request_error", "unknown_url"));
      return;
    }
    if (opts.apiKey !== undefined && authorization !== `Bearer ${opts.apiKey}`) {
      record("401");
      const given = authorization?.replace(/^Bearer /u, "") ?? "";
      // Deliberately echoes the key in full (OpenAI masks most of it) to test that clients scrub it.
      sendJSON(res, 401, errorBody(`Incorrect API key provided: ${given}.`, "invalid_request_error", "invalid_api_key"));
      return;
    }
    const obj = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : undefined;
    const model = obj?.["model"];
    if (opts.models !== undefined && (typeof model !== "string" || !opts.models.includes(model))) {
      record("404");
      sendJSON(res, 404, errorBody(`The model \`${String(model)}\` does not exist.`, "invalid_request_error", "model_not_found"));
      return;
    }
    const rawPrompt = obj?.["prompt"];
    const prompt = legacy ? (typeof rawPrompt === "string" ? rawPrompt : Array.isArray(rawPrompt) && rawPrompt.length === 1 && typeof rawPrompt[0] === "string" ? rawPrompt[0] : undefined) : lastUserContent(body);
    if (obj === undefined || prompt === undefined) {
      record("400");
      sendJSON(res, 400, errorBody(legacy ? "prompt: one string is required" : "messages: a user message with text content is required", "invalid_request_error", null));
      return;
    }
    if (switches.reasoning) {
      // What OpenAI's reasoning models answer.
      const refusal = legacy
        ? "This is a chat model and not supported in the v1/completions endpoint. Did you mean to use v1/chat/completions?"
        : "max_tokens" in obj
          ? "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
          : obj["logprobs"] === true || obj["top_logprobs"] !== undefined
            ? "Unsupported parameter: 'logprobs' is not supported with this model."
            : undefined;
      if (refusal !== undefined) {
        record("400");
        sendJSON(res, 400, errorBody(refusal, "invalid_request_error", "unsupported_parameter"));
        return;
      }
    }

    const maxTokens = obj["max_completion_tokens"] ?? obj["max_tokens"];
    const text = legacy ? !(obj["echo"] === true || (typeof obj["logprobs"] === "number" && typeof maxTokens === "number" && maxTokens <= 1)) : isTextRequest(obj);
    const format = obj["response_format"];
    const hasFormat = typeof format === "object" && format !== null && (format as { type?: unknown }).type !== "text";
    if (hasFormat && switches.rejectResponseFormat) {
      record("400");
      sendJSON(res, 400, errorBody("response_format is not supported by this server", "invalid_request_error", "unsupported_parameter"));
      return;
    }
    let query: CompletionQuery | undefined;
    if (text) {
      const q = textQuery(obj, prompt, switches.ignoreN);
      if (typeof q === "string") {
        record("400");
        sendJSON(res, 400, errorBody(q, "invalid_request_error", null));
        return;
      }
      query = q;
    }
    const answer = (o: Record<string, unknown>): Promise<Record<string, unknown>> =>
      legacy ? (query === undefined ? legacyCompletion(o, prompt) : textCompletion(o, query)) : query === undefined ? completion(o, prompt) : generation(o, query);

    const fault = faults.shift();
    record(fault?.kind ?? "ok");
    switch (fault?.kind) {
      case "429":
        sendJSON(
          res,
          429,
          errorBody("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
          fault.retryAfterSeconds === undefined ? {} : { "retry-after": String(fault.retryAfterSeconds) },
        );
        return;
      case "500":
        sendJSON(res, 500, errorBody("The server had an error while processing your request.", "server_error", null));
        return;
      case "hang":
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
        return;
      case "malformed": {
        const full = JSON.stringify(await answer(obj));
        const cut = full.slice(0, Math.floor(full.length / 2));
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(cut) });
        res.end(cut);
        return;
      }
      case "nologprobs":
        sendJSON(res, 200, await answer({ ...obj, logprobs: legacy ? undefined : false }));
        return;
      case "rewrite":
        sendJSON(res, 200, fault.rewrite(await answer(obj)));
        return;
      case "ok":
      case undefined:
        sendJSON(res, 200, await answer(obj));
        return;
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      // A request the backend cannot answer (say, a schema it cannot turn into a grammar) is the client's fault.
      if (!res.headersSent && e instanceof CivitasError && e.kind === "usage") sendJSON(res, 400, errorBody(e.message, "invalid_request_error", null));
      else if (!res.headersSent) sendJSON(res, 500, errorBody(`test server: ${e instanceof Error ? e.message : String(e)}`, "server_error", null));
      else res.destroy();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    inject: (...f: Fault[]) => {
      faults.push(...f);
    },
    pendingFaults: () => faults.length,
    requests,
    reset: () => {
      requests.length = 0;
      faults.length = 0;
      switches = { ...initial };
    },
    configure: (change: Partial<ServerSwitches>) => {
      switches = { ...switches, ...change };
    },
    switches: () => ({ ...switches }),
    llama,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
      await llama.close();
      await echoQueue;
      await echoModel.context.dispose();
      await echoModel.model.dispose();
    },
  };
}
