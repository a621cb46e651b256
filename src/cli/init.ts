/** `civitas init`: writes a commented example evaluation file (civitas.yaml) to start from. */
import { stat, writeFile } from "node:fs/promises";
import { Command } from "commander";
import { EXAMPLE_CONFIG } from "../config/index.js";
import { CivitasError, messageOf } from "../errors.js";
import { printErr, reportError, usageError } from "./common.js";

interface InitFlags {
  force?: boolean;
}

export function initCommand(): Command {
  return new Command("init")
    .description("write a commented example evaluation file (civitas.yaml) for `civitas eval --config`")
    .argument("[file]", "the file to write", "civitas.yaml")
    .option("--force", "replace the file if it exists")
    .addHelpText(
      "after",
      `
Then edit the models and suites, and:
  civitas eval --config civitas.yaml --dry-run   what would be asked, tokens and cost
  civitas eval --config civitas.yaml             run it; the comparison is the output
Every key is described in docs/config.md.`,
    )
    .action(async (file: string, flags: InitFlags) => {
      try {
        const existing = await stat(file).then(
          (s) => s,
          () => undefined,
        );
        if (existing?.isDirectory()) throw usageError(`${file} is a folder`, "give the path of a file, e.g. civitas init civitas.yaml");
        if (existing && !flags.force) throw usageError(`${file} exists: not replaced`, "pass --force to replace it, or name another file: civitas init my-eval.yaml");
        try {
          await writeFile(file, EXAMPLE_CONFIG);
        } catch (e) {
          throw new CivitasError("input", `could not write ${file}: ${messageOf(e)}`, { cause: e });
        }
        printErr(`wrote ${file}; edit its models and suites, then: civitas eval --config ${file} --dry-run\n`);
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
}
