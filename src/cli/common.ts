/** What every command shares: option parsing helpers, error printing, the store location. */
import { InvalidArgumentError } from "commander";
import { CivitasError, isCivitasError, messageOf } from "../errors.js";
import { DEFAULT_STORE } from "../store/index.js";
import { findSuite, type Suite } from "../surveys/index.js";

export const STORE_HELP = `the DuckDB file holding runs, answers and the request cache (default: ${DEFAULT_STORE}, or $CIVITAS_STORE)`;

export function storePath(flag: string | undefined): string {
  return flag ?? process.env.CIVITAS_STORE ?? DEFAULT_STORE;
}

export function intOption(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min} (got "${value}")`);
    return n;
  };
}

export function numberOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}] (got "${value}")`);
    return n;
  };
}

/** The command line as typed, with secrets replaced, for the store and reports. */
export function redactedCommand(argv: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--api-key") {
      out.push(a, "***");
      i++;
    } else if (a.startsWith("--api-key=")) {
      out.push("--api-key=***");
    } else {
      out.push(/\s/u.test(a) ? JSON.stringify(a) : a);
    }
  }
  return ["civitas", ...out].join(" ");
}

/**
 * Prints an error the way every command does, and returns the exit code. The rule, for every
 * command:
 * - 2: the command line is wrong: an unknown command or option, a bad flag value, a name it gives
 *   that does not exist (suite, population, metric, method, rule, run id, variant preset), or a
 *   path it names that does not exist. Commander's own errors exit 2 too (main.ts). Errors of
 *   kind "usage".
 * - 1: the command line is fine but the work failed: a file that exists but is malformed, a model
 *   or server that fails, the store, the network, or a bug. Every other kind.
 * - 130: interrupted (Ctrl-C).
 */
export function reportError(e: unknown, secrets: readonly string[] = []): number {
  const scrub = (s: string) => secrets.reduce((acc, k) => (k ? acc.split(k).join("***") : acc), s);
  if (isCivitasError(e)) {
    process.stderr.write(`error: ${scrub(e.message)}\n`);
    if (e.hint) process.stderr.write(`${scrub(e.hint).replace(/^/gmu, "  ")}\n`);
    return e.kind === "usage" ? 2 : 1;
  }
  process.stderr.write(`error: ${scrub(messageOf(e))}\n`);
  if (process.env.CIVITAS_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${scrub(e.stack)}\n`);
  else process.stderr.write("  this is a bug in civitas; set CIVITAS_DEBUG=1 to see where, and please report it\n");
  return 1;
}

export function usageError(message: string, hint?: string): CivitasError {
  return new CivitasError("usage", message, hint === undefined ? {} : { hint });
}

/** JSON with NaN written as null (JSON has no NaN). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2);
}

/**
 * Loads a suite by name as every command does: a local copy with --data, else downloaded once
 * into the cache (--cache-dir), telling the user what is downloaded and what could not be verified.
 */
export async function loadSuiteFor(name: string, flags: { data?: string; cacheDir?: string }, log: (message: string) => void): Promise<Suite> {
  const info = findSuite(name);
  const suite = await info.load({
    ...(flags.data === undefined ? {} : { data: flags.data }),
    ...(flags.cacheDir === undefined ? {} : { cacheDir: flags.cacheDir }),
    onProgress: (done, total, file) => log(`downloading ${info.name} (${done}/${total}): ${file}`),
    onUnverified: (u) => log(`warning: ${u.url} has no pinned checksum; using it as downloaded (sha256 ${u.sha256})`),
  });
  return suite;
}
