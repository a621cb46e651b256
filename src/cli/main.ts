#!/usr/bin/env node
/** The `civitas` command line. Each command lives in its own file; this one only wires them up. */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { jsonErrorLine, setJsonErrors } from "./common.js";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

const program = new Command("civitas")
  .enablePositionalOptions()
  .description("Measure, aggregate and simulate the social alignment of language models.")
  .version(pkg.version)
  .showHelpAfterError("(add --help for usage)")
  .addHelpText(
    "after",
    `
Start here:
  civitas eval opinionqa --model llama:model.gguf --data ./opinionqa --populations POLPARTY,SEX --limit 100
  civitas suites show opinionqa --data ./opinionqa
  civitas init && civitas eval --config civitas.yaml --dry-run
  civitas score opinionqa --data ./opinionqa --predictions preds.jsonl
  civitas aggregate ../shared/data/preflib/00002-00000001.soi --axioms
  civitas simulate examples/hk.yaml --seeds 1..20
  civitas runs list
  civitas export <run> --format parquet
  civitas cache list
  civitas report <run> [<run>...] -o report.html --data ./opinionqa
  civitas view
  civitas worker --queue redis://host:6379 --model llama:model.gguf

\`civitas <command> --help\` explains each command with examples.`,
  );

// Each command's module is loaded only when that command runs (all of them for the overall help or
// an unknown command): `civitas aggregate` need not load the model runtimes, charts and the rest.
const COMMANDS: [string, () => Promise<Command>][] = [
  ["eval", async () => (await import("./eval.js")).evalCommand()],
  ["score", async () => (await import("./score.js")).scoreCommand()],
  ["suites", async () => (await import("./suites.js")).suitesCommand()],
  ["aggregate", async () => (await import("./aggregate.js")).aggregateCommand()],
  ["simulate", async () => (await import("./simulate.js")).simulateCommand()],
  ["steer", async () => (await import("./steer.js")).steerCommand()],
  ["runs", async () => (await import("./runs.js")).runsCommand()],
  ["export", async () => (await import("./export.js")).exportCommand()],
  ["cache", async () => (await import("./cache.js")).cacheCommand()],
  ["report", async () => (await import("./report.js")).reportCommand()],
  ["view", async () => (await import("./view.js")).viewCommand()],
  ["init", async () => (await import("./init.js")).initCommand()],
  ["worker", async () => (await import("./worker.js")).workerCommand()],
];
const named = COMMANDS.find(([name]) => name === process.argv[2]);
for (const [, make] of named ? [named] : COMMANDS) program.addCommand(await make());

// Usage errors (unknown option, bad value) exit 2, help and version 0; on every subcommand.
// With --json they are one JSON line on stderr, as every other error of a command given --json.
const dashDash = process.argv.indexOf("--");
const jsonArgs = process.argv.slice(2, dashDash < 0 ? undefined : dashDash).includes("--json");
const applyExit = (cmd: Command): void => {
  cmd.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  if (jsonArgs) {
    cmd.configureOutput({
      outputError: (text) => process.stderr.write(jsonErrorLine({ kind: "usage", message: text.replace(/^error: /u, "").trim(), hint: "add --help for usage", exitCode: 2 })),
      // Only "(add --help for usage)" goes here after an error: it is the JSON's hint.
      writeErr: () => {},
    });
  }
  cmd.commands.forEach(applyExit);
};
applyExit(program);
program.hook("preAction", (_program, command) => setJsonErrors(command.opts<{ json?: boolean }>().json === true));

await program.parseAsync(process.argv);
// After an error, leave at once: a library may still hold a timer or socket (a download being
// retried in the background) that would keep the process alive. stderr is already written.
if (process.exitCode !== undefined && process.exitCode !== 0) process.exit(process.exitCode);
