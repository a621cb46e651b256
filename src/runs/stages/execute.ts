/**
 * The execute stage: model requests in, answers out.
 *
 * A run (an evaluation, a simulation's step) plans its model requests, each keyed by a hash of
 * everything that determines its answer, and looks them up in the store; what the store does not
 * hold goes to an `Executor`, which asks the model and hands back each answer, as a request row
 * ready to be stored, the moment it arrives. The caller writes it (the store's BatchWriter) and
 * keeps what it needs. Requests are data (what to ask and how, never a function), so that an
 * executor can send them elsewhere: the in-process executor here asks a model this process opens;
 * a queue executor (BullMQ on Redis, `civitas worker`) can ask them on other machines.
 *
 * The in-process executor opens the model lazily, on the first request (a run answered from the
 * store never loads it), and keeps at most `concurrency` requests in flight (default: what the
 * client says it can take: llama --parallel, a server's --concurrency).
 */
import pLimit, { type LimitFunction } from "p-limit";
import { CivitasError } from "../../errors.js";
import type { CompletionQuery, ModelClient, ModelSpec, Served } from "../../models/index.js";
import type { Method, RequestRow } from "../../store/index.js";
import type { RenderedPrompt } from "../../surveys/index.js";
import { elicit, type Elicited, type MethodSettings } from "../methods.js";

interface RequestBase {
  /** The cache key: a hash of everything that determines the answer (requestKey). */
  readonly key: string;
  readonly method: Method;
  /** The whole prompt, as stored. */
  readonly prompt: string;
  /** The labels (or option texts) the answer's mass is read for, as stored. */
  readonly labels: readonly string[];
  /** The request's parameters as stored with its answer (the model's, the method and its own). */
  readonly params: Readonly<Record<string, unknown>>;
}

/** A question asked by an elicitation method (logprobs, sample, verbalize): `civitas eval`, and simulations' distributions. */
export interface ElicitRequest extends RequestBase {
  readonly kind: "elicit";
  /** The prompt as the method asks it: its prefix only where the plan shares it. */
  readonly rendered: Pick<RenderedPrompt, "text" | "prefix" | "labels" | "shown" | "answer"> & { readonly system?: string | null };
  readonly settings: MethodSettings;
}

/** Free text completions (a simulation's agents writing): the texts are the answer. */
export interface CompletionRequest extends RequestBase {
  readonly kind: "completion";
  readonly query: CompletionQuery;
}

export type ModelRequest = ElicitRequest | CompletionRequest;

export interface ExecutorEvents {
  /** The model is about to be loaded (the first request that needs it). */
  onModelLoading?(display: string): void;
  onModelReady?(info: { concurrency: number; loadSeconds: number }): void;
}

/** What a caller may do around one request, while it holds one of the executor's slots. */
export interface RequestHooks {
  /** Just before the model is asked: throw to refuse the request (a budget spent). */
  beforeAsk?(request: ModelRequest): void;
  /** After the model answered (row) or failed (row undefined, and the error). */
  afterAsk?(request: ModelRequest, row: RequestRow | undefined, error?: unknown): void;
}

export interface Executor {
  /** Asks the model one request and gives its answer as a request row (not stored: the caller writes it). */
  ask(request: ModelRequest, options?: { readonly signal?: AbortSignal; readonly hooks?: RequestHooks }): Promise<RequestRow>;
  /**
   * Asks every request, giving each answer to `onAnswer` as it arrives. After the first failure
   * (of a request, or of `onAnswer`), or when `signal` aborts, it starts no more requests, waits
   * for those in flight (their answers still arrive), and rejects: with the failure, or "interrupted".
   */
  askAll(requests: readonly ModelRequest[], onAnswer: (request: ModelRequest, row: RequestRow) => void, signal?: AbortSignal): Promise<void>;
  /** Requests asked of the model so far (answered). */
  readonly modelCalls: number;
  /** Closes the model, if it was opened. */
  close(): Promise<void>;
}

/**
 * Asks one request of an open client: what the backend says, read as label mass and coverage, and
 * what the server reported running for it (the first of its answers that says).
 */
async function askClient(client: ModelClient, request: ModelRequest, signal: AbortSignal | undefined): Promise<Elicited & { served: Served | null }> {
  let served: Served | null = null;
  const seen = <T extends { served?: Served }>(a: T): T => {
    served ??= a.served ?? null;
    return a;
  };
  // The method asks through this view, so that what the server reports reaches the stored row.
  const view: ModelClient = {
    backend: client.backend,
    identity: client.identity,
    concurrency: client.concurrency,
    optionProbabilities: async (q, s) => seen(await client.optionProbabilities(q, s)),
    complete: async (q, s) => seen(await client.complete(q, s)),
    close: async () => {},
  };
  if (request.kind === "elicit") return { ...(await elicit(view, request.method, request.rendered, request.settings, signal)), served };
  const a = await view.complete(request.query, signal);
  return { labelMass: [], coverage: a.texts.length > 0 ? 1 : 0, raw: { texts: a.texts }, mode: a.mode, promptTokens: a.promptTokens, served };
}

/** The executor that asks a model this process opens (see the module comment). */
export function inProcessExecutor(spec: ModelSpec, options: ExecutorEvents & { readonly concurrency?: number } = {}): Executor {
  let opening: Promise<{ client: ModelClient; limit: LimitFunction }> | null = null;
  let closed = false;
  let calls = 0;
  const open = () =>
    (opening ??= (async () => {
      options.onModelLoading?.(spec.display);
      const t0 = performance.now();
      const client = await spec.open();
      if (closed) {
        await client.close();
        throw new CivitasError("usage", "the model was closed while it opened");
      }
      const concurrency = Math.max(1, options.concurrency ?? client.concurrency);
      options.onModelReady?.({ concurrency, loadSeconds: (performance.now() - t0) / 1000 });
      return { client, limit: pLimit(concurrency) };
    })());

  const ask: Executor["ask"] = async (request, o = {}) => {
    if (closed) throw new CivitasError("usage", "the executor is closed");
    const { client, limit } = await open();
    return limit(async () => {
      o.signal?.throwIfAborted();
      o.hooks?.beforeAsk?.(request);
      const t = performance.now();
      let row: RequestRow | undefined;
      let error: unknown;
      try {
        const a = await askClient(client, request, o.signal);
        row = {
          key: request.key,
          model: spec.identity,
          method: request.method,
          prompt: request.prompt,
          labels: request.labels,
          params: request.params,
          labelMass: a.labelMass,
          coverage: a.coverage,
          raw: a.raw,
          mode: a.mode,
          promptTokens: a.promptTokens,
          latencyMs: performance.now() - t,
          served: a.served,
        };
        calls++;
        return row;
      } catch (e) {
        error = e;
        throw e;
      } finally {
        o.hooks?.afterAsk?.(request, row, error);
      }
    });
  };

  return {
    ask,
    async askAll(requests, onAnswer, signal) {
      // Each request checks before it starts: after a failure or an interrupt the rest drain unasked.
      // Answers (and failures) are taken while their request still holds its slot, so that what the
      // caller does with one (stop the run, say) is done before the next request starts.
      let failure: unknown = null;
      await Promise.all(
        requests.map((request) =>
          ask(request, {
            ...(signal ? { signal } : {}),
            hooks: {
              beforeAsk: () => {
                if (failure !== null || signal?.aborted) throw SKIPPED;
              },
              afterAsk: (_request, row, error) => {
                if (row === undefined) {
                  if (!signal?.aborted) failure ??= error;
                  return;
                }
                try {
                  onAnswer(request, row);
                } catch (e) {
                  failure ??= e;
                }
              },
            },
          }).catch((e: unknown) => {
            // Once interrupted, requests stop with the abort: that is the interrupt, not a failure.
            if (e !== SKIPPED && !signal?.aborted) failure ??= e;
          }),
        ),
      );
      if (failure !== null) throw failure;
      if (signal?.aborted) throw new CivitasError("usage", "interrupted");
    },
    get modelCalls() {
      return calls;
    },
    async close() {
      closed = true;
      const o = opening;
      opening = null;
      if (o) await (await o.catch(() => null))?.client.close();
    },
  };
}

/** A request not started because an earlier one failed or the run was interrupted. */
const SKIPPED = Symbol("skipped");
