/**
 * Real CLI processes for the queue tests (coordinators and workers): started with a test's
 * environment, their output collected, killed with SIGKILL when a test says so, and every one
 * still running killed by `killAll` at the end (a failed test leaves none behind). The waits are
 * guards against hanging forever, never timing assertions.
 */
import type { ChildProcess } from "node:child_process";
import { spawnCli, type CliResult } from "../helpers/cli.js";

export interface Proc {
  readonly out: () => string;
  readonly err: () => string;
  readonly done: Promise<CliResult>;
  kill9(): Promise<void>;
}

const children: ChildProcess[] = [];

/** Starts `civitas <args>`; with DEBUG_QUEUE_TEST=1 its stderr is shown as it comes. */
export function start(args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawnCli(args, { env });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
    if (process.env.DEBUG_QUEUE_TEST) process.stderr.write(`[${args[0]}] ${d.toString()}`);
  });
  const done = new Promise<CliResult>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return {
    out: () => stdout,
    err: () => stderr,
    done,
    async kill9() {
      child.kill("SIGKILL");
      await done;
    },
  };
}

/** Kills every process started here that still runs. */
export function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}

/** Polls until `ok()`. */
export async function until(ok: () => boolean | Promise<boolean>, what: string, limitMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}

/** A process's end, or a failure after `limitMs`. */
export async function ended(p: Proc, what: string, limitMs = 120_000): Promise<CliResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.done, new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`gave up waiting for ${what}: ${p.err()}`)), limitMs)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A worker that says it serves ("serving ..."), or a failure naming what it said when it exited first. */
export async function serving(w: Proc): Promise<Proc> {
  let exited = false;
  void w.done.then(() => (exited = true));
  await until(() => exited || /^serving /mu.test(w.err()), "the worker to serve");
  if (exited) throw new Error(`the worker exited: ${w.err()}`);
  return w;
}
