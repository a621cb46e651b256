/** What every command shares: option parsing helpers, error printing, the store location. */
import { InvalidArgumentError } from "commander";
import { CivitasError, isCivitasError, messageOf } from "../errors.js";
import { redactUrls } from "../redact.js";
import { DEFAULT_STORE, Store } from "../store/index.js";
import { jsonTerminalSafe, terminalSafe } from "../terminal.js";
import { findSuite, type Suite } from "../surveys/index.js";

export const STORE_HELP = `the DuckDB file holding runs, answers and the request cache (default: ${DEFAULT_STORE}, or $CIVITAS_STORE)`;

export function storePath(flag: string | undefined): string {
  return flag ?? (process.env.CIVITAS_STORE || undefined) ?? DEFAULT_STORE;
}

/**
 * Opens the store as every command does: --store, else $CIVITAS_STORE, else the default (whose
 * folder `.civitas/` is created; a folder named by the user must exist). When another process
 * holds the store for a while, `log` says that the command waits for it.
 */
export function openStore(flag: string | undefined, options: { readOnly?: boolean; log?: (message: string) => void } = {}): Promise<Store> {
  const file = storePath(flag);
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  return Store.open(file, { readOnly: options.readOnly ?? false, createFolder: file === DEFAULT_STORE, onWait: log });
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

/**
 * The command line as typed, with secrets replaced, for the store and reports: the value of
 * --api-key, and the credentials of every URL (user:password@, ?key=..., see src/redact.ts).
 */
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
      // A base URL typed without its scheme ("user:key@host/v1") still hides what precedes the "@"
      // (each of a list: "--base-url a,b").
      const hideUser = (v: string) => v.split(",").map((u) => (u.includes("://") ? u : u.replace(/^[^/]*@/u, "***@"))).join(",");
      let value = a;
      if (argv[i - 1] === "--base-url") value = hideUser(a);
      else if (a.startsWith("--base-url=")) value = `--base-url=${hideUser(a.slice("--base-url=".length))}`;
      const safe = redactUrls(value);
      out.push(/\s/u.test(safe) ? JSON.stringify(safe) : safe);
    }
  }
  return ["civitas", ...out].join(" ");
}

/**
 * Text for a person, on stdout or stderr: control characters, escape sequences and bidi
 * overrides that came from data files, servers or models are shown as escapes (src/terminal.ts).
 */
export function printOut(text: string): void {
  process.stdout.write(terminalSafe(text, { multiline: true }));
}

export function printErr(text: string): void {
  process.stderr.write(terminalSafe(text, { multiline: true }));
}

let jsonErrors = false;

/**
 * Whether errors are printed as JSON: set for a command given --json (src/cli/main.ts), so that a
 * script reading its output gets the error in the same language. stdout stays the result's alone.
 */
export function setJsonErrors(on: boolean): void {
  jsonErrors = on;
}

/** The JSON error line: {"error": {"kind", "message", "hint", "exit_code"}} (hint null when there is none). */
export function jsonErrorLine(error: { kind: string; message: string; hint: string | undefined; exitCode: number }): string {
  return `${jsonTerminalSafe(JSON.stringify({ error: { kind: error.kind, message: error.message, hint: error.hint ?? null, exit_code: error.exitCode } }))}\n`;
}

/**
 * Prints an error the way every command does (text, or one JSON line with --json; on stderr), and
 * returns the exit code (`exitCode` when given). The rule, for every command:
 * - 2: the command line is wrong: an unknown command or option, a bad flag value, a name it gives
 *   that does not exist (suite, population, metric, method, rule, run id, variant preset), or a
 *   path it names that does not exist. Commander's own errors exit 2 too (main.ts). Errors of
 *   kind "usage".
 * - 1: the command line is fine but the work failed: a file that exists but is malformed, a model
 *   or server that fails, the store, the network, or a bug. Every other kind.
 * - 130: interrupted (Ctrl-C).
 */
export function reportError(e: unknown, secrets: readonly string[] = [], exitCode?: number): number {
  const scrub = (s: string) => redactUrls(secrets.reduce((acc, k) => (k ? acc.split(k).join("***") : acc), s));
  const civitas = isCivitasError(e);
  const code = exitCode ?? (civitas && e.kind === "usage" ? 2 : 1);
  const bug = "this is a bug in civitas; set CIVITAS_DEBUG=1 to see where, and please report it";
  if (jsonErrors) {
    process.stderr.write(
      jsonErrorLine(civitas ? { kind: e.kind, message: scrub(e.message), hint: e.hint === undefined ? undefined : scrub(e.hint), exitCode: code } : { kind: "bug", message: scrub(messageOf(e)), hint: bug, exitCode: code }),
    );
    return code;
  }
  if (civitas) {
    printErr(`error: ${scrub(e.message)}\n`);
    if (e.hint) printErr(`${scrub(e.hint).replace(/^/gmu, "  ")}\n`);
    return code;
  }
  printErr(`error: ${scrub(messageOf(e))}\n`);
  if (process.env.CIVITAS_DEBUG && e instanceof Error && e.stack) printErr(`${scrub(e.stack)}\n`);
  else printErr(`  ${bug}\n`);
  return code;
}

export function usageError(message: string, hint?: string): CivitasError {
  return new CivitasError("usage", message, hint === undefined ? {} : { hint });
}

/** JSON with NaN written as null (JSON has no NaN), and C1 controls and bidi characters as \u escapes (src/terminal.ts). */
export function toJson(value: unknown): string {
  return jsonTerminalSafe(JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2));
}

/**
 * Loads a suite by name as every command does: a local copy with --data, else downloaded once
 * into the cache (--cache-dir), telling the user what is downloaded and what could not be verified.
 */
export async function loadSuiteFor(name: string, flags: { data?: string; cacheDir?: string; prompts?: string }, log: (message: string) => void): Promise<Suite> {
  const info = findSuite(name);
  if (flags.prompts !== undefined && info.name !== "multicultural") throw usageError(`--prompts is for the multicultural suite, not ${info.name}`);
  const suite = await info.load({
    ...(flags.data === undefined ? {} : { data: flags.data }),
    ...(flags.prompts === undefined ? {} : { prompts: flags.prompts }),
    ...(flags.cacheDir === undefined ? {} : { cacheDir: flags.cacheDir }),
    onProgress: (done, total, file) => log(`downloading ${info.name} (${done}/${total}): ${file}`),
    onUnverified: (u) => log(`warning: ${u.url} has no pinned checksum; using it as downloaded (sha256 ${u.sha256})`),
  });
  return suite;
}
