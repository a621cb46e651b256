/**
 * Runs the civitas command line as a child process, the way a user runs it.
 *
 * It runs the built dist/cli/main.js (what the `civitas` binary is) when dist/ is up to date with
 * src/ (test/run.mjs builds it when it is not), and the source through tsx otherwise, so that a
 * test always runs the current code. The built file starts in about half the time: tsx compiles
 * and resolves every module of the CLI on each start, and the tests start the CLI some 70 times.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { staleBuild } from "./build.mjs";
import { REPO, tempDir } from "./paths.js";

export const CLI_SOURCE = path.join(REPO, "src/cli/main.ts");
export const CLI_BUILT = path.join(REPO, "dist/cli/main.js");

/** tsx's loader by absolute URL, so that a command can run in any working folder. */
const TSX = import.meta.resolve("tsx");

let command: string[] | undefined;

/** The node arguments that start the CLI: the build when it is current, else the source. */
export function cliCommand(): readonly string[] {
  command ??= staleBuild() === undefined ? [CLI_BUILT] : ["--import", TSX, CLI_SOURCE];
  return command;
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

let testStore: string | undefined;

/**
 * Starts the CLI. Commands that store (eval, simulate, aggregate) without --store use a store of
 * this test process ($CIVITAS_STORE), never the repository's .civitas/; `env` may set another
 * (CIVITAS_STORE: "" for the default store of `cwd`).
 */
export function spawnCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  testStore ??= `${tempDir("civitas-cli-store-")}/civitas.duckdb`;
  return spawn(process.execPath, [...cliCommand(), ...args], {
    cwd: options.cwd ?? REPO,
    env: { ...process.env, CIVITAS_STORE: testStore, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function runCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const child = spawnCli(args, options);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
