/**
 * A small OpenAI-compatible server for tests: POST /v1/chat/completions answers with *real*
 * next-token log-probabilities of a llama.cpp model (stories260K by default), in the shape of an
 * OpenAI chat completion with logprobs. It records every request and can be told to fail the
 * next ones in chosen ways (rate limit, server error, hang, truncated JSON, no logprobs).
 *
 * node:http only; 127.0.0.1 on an ephemeral port; the model is loaded once per server.
 */
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { LlamaClient, llamaSpec } from "../../src/models/llama.js";

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
  | { readonly kind: "nologprobs" };

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
  /** Forgets recorded requests and pending faults. */
  reset(): void;
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

export async function startLlamaOpenAIServer(opts: LlamaOpenAIServerOptions = {}): Promise<LlamaOpenAIServer> {
  const spec = await llamaSpec(opts.modelPath ?? STORIES_MODEL, { threads: 1, parallel: 1, gpu: false });
  const llama = (await spec.open()) as LlamaClient;
  const faults: Fault[] = [];
  const requests: RecordedRequest[] = [];
  const hanging = new Set<http.ServerResponse>();
  let counter = 0;

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
      model: typeof body["model"] === "string" ? body["model"] : "stories260K",
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

    if (req.method !== "POST" || path !== "/v1/chat/completions") {
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
    const prompt = lastUserContent(body);
    if (obj === undefined || prompt === undefined) {
      record("400");
      sendJSON(res, 400, errorBody("messages: a user message with text content is required", "invalid_request_error", null));
      return;
    }

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
        const text = JSON.stringify(await completion(obj, prompt));
        const cut = text.slice(0, Math.floor(text.length / 2));
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(cut) });
        res.end(cut);
        return;
      }
      case "nologprobs":
        sendJSON(res, 200, await completion({ ...obj, logprobs: false }, prompt));
        return;
      case "ok":
      case undefined:
        sendJSON(res, 200, await completion(obj, prompt));
        return;
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) sendJSON(res, 500, errorBody(`test server: ${e instanceof Error ? e.message : String(e)}`, "server_error", null));
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
    },
    llama,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
      await llama.close();
    },
  };
}
