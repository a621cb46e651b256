import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  backoffDelayMs,
  retryAfterMsFromHeaders,
  retryAfterMsOfError,
  sleepWithSignal,
  withRetry,
  type RetryInfo,
} from "../../src/models/retry.js";

/** Replays fixed "random" numbers in order. */
function fixedRandom(values: number[]): () => number {
  let i = 0;
  return () => {
    const v = values[i++];
    if (v === undefined) throw new Error("fixedRandom ran out of values");
    return v;
  };
}

/** A sleep that records the requested waits and returns at once. */
function recordingSleep(): { sleep: (ms: number) => Promise<void>; waits: number[] } {
  const waits: number[] = [];
  return { waits, sleep: (ms) => (waits.push(ms), Promise.resolve()) };
}

class Flaky extends Error {
  constructor(
    readonly n: number,
    readonly headers?: Headers,
  ) {
    super(`failure ${n}`);
  }
}

const retryable = (e: unknown): boolean => e instanceof Flaky;

describe("withRetry backoff schedule", () => {
  test("full jitter: random * min(max, base * 2^attempt), then the last error", async () => {
    const { sleep, waits } = recordingSleep();
    const infos: RetryInfo[] = [];
    const seen: number[] = [];
    const err = await withRetry(
      (attempt) => {
        seen.push(attempt);
        return Promise.reject(new Flaky(attempt));
      },
      {
        retries: 5,
        baseDelayMs: 100,
        maxDelayMs: 1000,
        isRetryable: retryable,
        random: fixedRandom([0.5, 0.5, 0.25, 1, 0.5]),
        sleep,
        onRetry: (i) => infos.push(i),
      },
    ).then(
      () => assert.fail("should have thrown"),
      (e: unknown) => e,
    );
    // ceilings 100, 200, 400, 800, 1000 (capped; 1600 uncapped)
    assert.deepEqual(waits, [50, 100, 100, 800, 500]);
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5]);
    assert.ok(err instanceof Flaky);
    assert.equal(err.n, 5, "the error of the last attempt is thrown");
    assert.deepEqual(
      infos.map((i) => [i.attempt, i.delayMs, (i.error as Flaky).n]),
      [
        [0, 50, 0],
        [1, 100, 1],
        [2, 100, 2],
        [3, 800, 3],
        [4, 500, 4],
      ],
    );
  });

  test("backoffDelayMs known answers and clamping of random()", () => {
    assert.equal(backoffDelayMs(0, 500, 30_000, () => 0.5), 250);
    assert.equal(backoffDelayMs(3, 500, 30_000, () => 0.5), 2000);
    assert.equal(backoffDelayMs(10, 500, 30_000, () => 0.5), 15_000);
    assert.equal(backoffDelayMs(2, 500, 30_000, () => 0), 0);
    assert.equal(backoffDelayMs(2, 500, 30_000, () => 7), 2000);
    assert.equal(backoffDelayMs(2, 500, 30_000, () => -1), 0);
  });

  test("succeeds on a later attempt and stops retrying", async () => {
    const { sleep, waits } = recordingSleep();
    const value = await withRetry((attempt) => (attempt < 2 ? Promise.reject(new Flaky(attempt)) : Promise.resolve(`ok@${attempt}`)), {
      retries: 6,
      baseDelayMs: 10,
      maxDelayMs: 1000,
      isRetryable: retryable,
      random: fixedRandom([1, 1]),
      sleep,
    });
    assert.equal(value, "ok@2");
    assert.deepEqual(waits, [10, 20]);
  });

  test("a non-retryable error is thrown at once", async () => {
    const { sleep, waits } = recordingSleep();
    let calls = 0;
    const boom = new Error("400 bad request");
    await assert.rejects(
      withRetry(
        () => {
          calls++;
          return Promise.reject(boom);
        },
        { retries: 6, baseDelayMs: 10, maxDelayMs: 100, isRetryable: retryable, sleep, random: () => 0.5 },
      ),
      (e) => e === boom,
    );
    assert.equal(calls, 1);
    assert.deepEqual(waits, []);
  });

  test("retries: 0 means one attempt", async () => {
    const { sleep, waits } = recordingSleep();
    let calls = 0;
    await assert.rejects(
      withRetry(
        () => {
          calls++;
          return Promise.reject(new Flaky(0));
        },
        { retries: 0, baseDelayMs: 10, maxDelayMs: 100, isRetryable: retryable, sleep },
      ),
      Flaky,
    );
    assert.equal(calls, 1);
    assert.deepEqual(waits, []);
  });
});

describe("withRetry and Retry-After", () => {
  const run = async (headersPerAttempt: (Headers | undefined)[], randoms: number[], extra: { maxRetryAfterMs?: number } = {}) => {
    const { sleep, waits } = recordingSleep();
    await withRetry(
      (attempt) => (attempt < headersPerAttempt.length ? Promise.reject(new Flaky(attempt, headersPerAttempt[attempt])) : Promise.resolve(attempt)),
      { retries: 10, baseDelayMs: 100, maxDelayMs: 10_000, isRetryable: retryable, random: fixedRandom(randoms), sleep, ...extra },
    );
    return waits;
  };

  test("the wait is at least Retry-After seconds; a longer jitter wins", async () => {
    const waits = await run([new Headers({ "retry-after": "3" }), new Headers({ "retry-after": "0.1" }), undefined], [0.5, 1, 0.5]);
    // attempt 0: jitter 50 < 3000 -> 3000; attempt 1: jitter 200 > 100 -> 200; attempt 2: plain jitter 0.5 * 400
    assert.deepEqual(waits, [3000, 200, 200]);
  });

  test("retry-after-ms takes precedence over retry-after", async () => {
    const waits = await run([new Headers({ "retry-after-ms": "1500", "retry-after": "9" })], [0]);
    assert.deepEqual(waits, [1500]);
  });

  test("a huge Retry-After is capped (60 s by default, or maxRetryAfterMs)", async () => {
    assert.deepEqual(await run([new Headers({ "retry-after": "3600" })], [0]), [60_000]);
    assert.deepEqual(await run([new Headers({ "retry-after": "3600" })], [0], { maxRetryAfterMs: 5000 }), [5000]);
  });

  test("a custom retryAfterMs is used instead of headers", async () => {
    const { sleep, waits } = recordingSleep();
    await withRetry((attempt) => (attempt === 0 ? Promise.reject(new Flaky(0)) : Promise.resolve(1)), {
      retries: 1,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      isRetryable: retryable,
      retryAfterMs: (e) => ((e as Flaky).n === 0 ? 777 : undefined),
      random: () => 0,
      sleep,
    });
    assert.deepEqual(waits, [777]);
  });

  test("retryAfterMsFromHeaders: seconds, HTTP date, garbage", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    assert.equal(retryAfterMsFromHeaders(new Headers({ "retry-after": "2" }), now), 2000);
    assert.equal(retryAfterMsFromHeaders(new Headers({ "retry-after": "Wed, 01 Jan 2025 00:00:05 GMT" }), now), 5000);
    assert.equal(retryAfterMsFromHeaders(new Headers({ "retry-after": "Tue, 31 Dec 2024 23:59:00 GMT" }), now), 0);
    assert.equal(retryAfterMsFromHeaders(new Headers({ "retry-after": "soon" }), now), undefined);
    assert.equal(retryAfterMsFromHeaders(new Headers({ "retry-after-ms": "-5", "retry-after": "1" }), now), 1000);
    assert.equal(retryAfterMsFromHeaders(new Headers({}), now), undefined);
    assert.equal(retryAfterMsFromHeaders(undefined, now), undefined);
    assert.equal(retryAfterMsOfError(new Flaky(0, new Headers({ "retry-after": "4" }))), 4000);
    assert.equal(retryAfterMsOfError(new Error("no headers")), undefined);
    assert.equal(retryAfterMsOfError("not an object"), undefined);
  });
});

describe("withRetry and abort", () => {
  // The wait asked for is ten minutes: the test only finishes (before its timeout) if abort stops it.
  test("aborting during the wait stops it and throws the signal's reason", { timeout: 30_000 }, async () => {
    const ctl = new AbortController();
    let calls = 0;
    const p = withRetry(
      () => {
        calls++;
        return Promise.reject(new Flaky(0));
      },
      {
        retries: 3,
        baseDelayMs: 600_000,
        maxDelayMs: 600_000,
        isRetryable: retryable,
        random: () => 1,
        signal: ctl.signal,
        onRetry: () => queueMicrotask(() => ctl.abort(new Error("stopped by user"))),
      },
    );
    await assert.rejects(p, /stopped by user/u);
    assert.equal(calls, 1);
  });

  test("an error raised after the signal aborted is not retried", async () => {
    const ctl = new AbortController();
    let calls = 0;
    await assert.rejects(
      withRetry(
        () => {
          calls++;
          ctl.abort();
          return Promise.reject(new Flaky(0));
        },
        { retries: 3, baseDelayMs: 1, maxDelayMs: 1, isRetryable: retryable, signal: ctl.signal, sleep: () => Promise.resolve() },
      ),
      (e: unknown) => e instanceof DOMException && e.name === "AbortError",
    );
    assert.equal(calls, 1);
  });

  test("an already aborted signal runs nothing", async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(
        () => {
          calls++;
          return Promise.resolve(1);
        },
        { retries: 3, baseDelayMs: 1, maxDelayMs: 1, isRetryable: retryable, signal: AbortSignal.abort(new Error("gone")) },
      ),
      /gone/u,
    );
    assert.equal(calls, 0);
  });

  test("sleepWithSignal resolves after the delay, rejects on abort", { timeout: 30_000 }, async () => {
    await sleepWithSignal(1);
    const ctl = new AbortController();
    const p = sleepWithSignal(600_000, ctl.signal);
    ctl.abort(new Error("cancel"));
    await assert.rejects(p, /cancel/u);
  });
});
