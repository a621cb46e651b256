/**
 * Retrying a flaky operation: exponential backoff with full jitter, honouring a server's
 * Retry-After, stoppable through an AbortSignal.
 *
 * The wait before retry number k+1 (after attempt k failed, k = 0, 1, ...) is
 *   random() * min(maxDelayMs, baseDelayMs * 2^k)                       ("full jitter", AWS
 *   Architecture Blog, "Exponential Backoff And Jitter", 2015)
 * raised to the server's Retry-After when the error carries one (capped at maxRetryAfterMs,
 * 60 s by default, so a hostile or confused server cannot park a run for hours).
 */

export interface RetryInfo {
  /** The attempt that failed (0 = the first try). */
  readonly attempt: number;
  /** How long we wait before the next attempt. */
  readonly delayMs: number;
  readonly error: unknown;
}

export interface RetryOptions {
  /** Retries after the first attempt: at most retries + 1 attempts in all. */
  readonly retries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Whether a failure is worth another attempt; a non-retryable error is thrown at once. */
  readonly isRetryable: (e: unknown) => boolean;
  /** The wait the error asks for (Retry-After), in ms. Default: read from `e.headers` (see retryAfterMsFromHeaders). */
  readonly retryAfterMs?: (e: unknown) => number | undefined;
  /** Upper bound on a server-requested wait. Default 60 000 ms. */
  readonly maxRetryAfterMs?: number;
  /** Called before each wait. */
  readonly onRetry?: (info: RetryInfo) => void;
  /** Aborting stops the wait (and any further attempt); the signal's reason is thrown. */
  readonly signal?: AbortSignal;
  /** Uniform in [0, 1). Default Math.random; inject a fixed sequence in tests. */
  readonly random?: () => number;
  /** Waits ms or rejects when the signal aborts. Default: a timer; inject a fake in tests. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;

/** The jittered exponential backoff before the retry that follows failed attempt `attempt`. */
export function backoffDelayMs(attempt: number, baseDelayMs: number, maxDelayMs: number, random: () => number): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
  const r = Math.min(1, Math.max(0, random()));
  return r * ceiling;
}

/**
 * The wait a response asks for: `retry-after-ms` (milliseconds, a non-standard header OpenAI
 * sends), else `retry-after` as delta-seconds or an HTTP date (RFC 9110 section 10.2.3).
 * undefined when neither is present or parseable; never negative.
 */
export function retryAfterMsFromHeaders(
  headers: { get(name: string): string | null } | undefined | null,
  now: number = Date.now(),
): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get("retry-after-ms");
  if (ms !== null && ms.trim() !== "") {
    const v = Number(ms.trim());
    if (Number.isFinite(v) && v >= 0) return v;
  }
  const ra = headers.get("retry-after");
  if (ra === null || ra.trim() === "") return undefined;
  const text = ra.trim();
  if (/^\d+(\.\d+)?$/u.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Reads Retry-After from an error that carries response headers (`e.headers.get`), as the openai SDK's APIError does. */
export function retryAfterMsOfError(e: unknown): number | undefined {
  if (typeof e !== "object" || e === null || !("headers" in e)) return undefined;
  const headers = (e as { headers: unknown }).headers;
  if (typeof headers !== "object" || headers === null || typeof (headers as { get?: unknown }).get !== "function") {
    return undefined;
  }
  return retryAfterMsFromHeaders(headers as { get(name: string): string | null });
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

/** A timer that rejects with the signal's reason when it aborts. */
export function sleepWithSignal(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs fn(0), and on a retryable failure waits and runs fn(1), ... up to fn(retries). Throws
 * the last error after the last retry, a non-retryable error at once, and the signal's reason
 * once the signal aborts (an error raised while aborted is never retried).
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const random = opts.random ?? Math.random;
  const sleep = opts.sleep ?? sleepWithSignal;
  const retryAfter = opts.retryAfterMs ?? retryAfterMsOfError;
  const maxRetryAfter = opts.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
  const retries = Math.max(0, Math.floor(opts.retries));
  const { signal } = opts;
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw abortReason(signal);
    try {
      return await fn(attempt);
    } catch (error) {
      if (signal?.aborted) throw abortReason(signal);
      if (attempt >= retries || !opts.isRetryable(error)) throw error;
      let delayMs = backoffDelayMs(attempt, opts.baseDelayMs, opts.maxDelayMs, random);
      const asked = retryAfter(error);
      if (asked !== undefined && Number.isFinite(asked) && asked > 0) {
        delayMs = Math.max(delayMs, Math.min(asked, maxRetryAfter));
      }
      opts.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs, signal);
    }
  }
}
