#!/usr/bin/env node
/**
 * Runs the tests: every test/<dir>/<name>.test.ts, or the files given, with node's test runner
 * (TypeScript through tsx). `npm test` type-checks first. When dist/ is older than src/, it is
 * built first (`npm run build`): the command-line tests run the built dist/cli/main.js, which
 * starts in half the time the source takes through tsx (see test/helpers/cli.ts).
 *
 *   node test/run.mjs                                  every test file
 *   node test/run.mjs test/cli/cli.test.ts             some files
 *   node test/run.mjs --test-name-pattern="lists"      any option of node's test runner
 *
 * Output: test/reporter.mjs on stdout (a line per file, then the failures, the counts, and
 * `N passed, N failed`); the runner's full spec output in test-artifacts/test-output.txt.
 *
 * Files run side by side: at least 2, else as many as the machine has cores less one (node's own
 * default, which is 1 on a 2-core machine). The exit code is the runner's: non-zero when anything
 * failed or was cancelled.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO, staleBuild } from "./helpers/build.mjs";

const LOG = path.join("test-artifacts", "test-output.txt");

const args = process.argv.slice(2);
const options = args.filter((a) => a.startsWith("-"));
let files = args.filter((a) => !a.startsWith("-"));
if (files.length === 0) {
  files = readdirSync(path.join(REPO, "test"), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) =>
      readdirSync(path.join(REPO, "test", d.name))
        .filter((f) => f.endsWith(".test.ts"))
        .map((f) => path.join("test", d.name, f)),
    )
    .sort();
}
const concurrency = Math.max(2, (os.availableParallelism?.() ?? os.cpus().length) - 1);

const stale = staleBuild();
if (stale !== undefined) {
  process.stdout.write(`building dist/ (${stale} changed since the last build)\n`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const build = spawnSync(npm, ["run", "--silent", "build"], { cwd: REPO, stdio: "inherit" });
  // The command-line tests then run whatever is current: dist/ if tsc wrote it, else the source.
  if (build.status !== 0) process.stdout.write("the build failed; the command-line tests run the source where dist/ is older\n");
}

mkdirSync(path.join(REPO, "test-artifacts"), { recursive: true });
const child = spawn(
  process.execPath,
  [
    "--enable-source-maps",
    "--import",
    "tsx",
    "--test",
    `--test-concurrency=${concurrency}`,
    // A test file (or a test in it) that hangs fails after 10 minutes, named, instead of stalling
    // the run; the slowest file took under 2 minutes on a 2-core machine at load 13.
    "--test-timeout=600000",
    "--test-reporter=./test/reporter.mjs",
    "--test-reporter-destination=stdout",
    "--test-reporter=spec",
    `--test-reporter-destination=${LOG}`,
    ...options,
    ...files,
  ],
  { cwd: REPO, stdio: "inherit", env: { ...process.env, CIVITAS_TEST_LOG: LOG } },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
