/**
 * Names and connections shared by the coordinator and the workers: one BullMQ queue per model
 * identity, and the Redis connection a `--queue URL` names.
 */
import type { ConnectionOptions } from "bullmq";
import { CivitasError } from "../errors.js";
import { sha256Hex } from "../hash.js";
import { redactUrls } from "../redact.js";

/** Keys civitas keeps in Redis start with this (BullMQ's own keys are `civitas:<queue>:...`). */
export const PREFIX = "civitas";

/** The queue of a model identity: a worker serves only the queue of its model's identity. */
export function queueName(identity: string): string {
  return `model-${sha256Hex(identity).slice(0, 24)}`;
}

/** The Redis URL as it may be shown (credentials replaced by ***). */
export function shownUrl(url: string): string {
  return redactUrls(url);
}

/** Checks a `--queue` URL and gives BullMQ's connection options for it. */
export function connectionOf(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CivitasError("usage", `--queue ${shownUrl(url)} is not a URL`, { hint: "write redis://host:6379 (or rediss:// for TLS; redis://:password@host:6379 with a password)" });
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw new CivitasError("usage", `--queue ${shownUrl(url)}: expected a redis:// or rediss:// URL`, { hint: "for example --queue redis://localhost:6379" });
  }
  // maxRetriesPerRequest null: a command waits while Redis is away (restarted, network) instead of
  // failing; ioredis reconnects on its own, retrying every second at most.
  return { url, maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(1000, 50 * times) };
}

/**
 * The queue of whole simulations (`civitas simulate --queue`, src/queue/simulations.ts): one for
 * rule-based simulations, which any worker without a model takes; one per model identity for
 * model-driven ones, which only a worker serving that model takes.
 */
export function simulationQueueName(identity?: string): string {
  return identity === undefined ? "sim-rule" : `sim-${sha256Hex(identity).slice(0, 24)}`;
}
