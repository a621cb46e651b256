/** `civitas export <run> --format csv|jsonl|parquet`. */
import { Command, Option } from "commander";
import { checkOutputFile } from "./output.js";
import { openStore, printErr, reportError, STORE_HELP, storePath } from "./common.js";

type Format = "csv" | "jsonl" | "parquet";

export function exportCommand(): Command {
  return new Command("export")
    .description("write a run's answers to a file: one row per question x variant x persona")
    .argument("<run>", "run id (or a unique prefix of it)")
    .addOption(new Option("-f, --format <format>", "file format").choices(["csv", "jsonl", "parquet"]).default("csv"))
    .option("-o, --out <file>", "output file (default: <run>.<format> in the current folder); an existing file is replaced only if it is an export of the same format")
    .option("--force", "replace --out even if it is another kind of file (never a store)")
    .option("--store <file>", STORE_HELP)
    .addHelpText(
      "after",
      `
Each row has: run, question, variant, persona, options and distribution (both in survey order),
coverage, status ("scored" or why it was set aside), cache_hit, and the prompt with its labels and
the raw label mass. In CSV, lists are JSON text.

Example:
  civitas export 3f9a2c1b7e0d --format parquet -o answers.parquet`,
    )
    .action(async (id: string, flags: { format: Format; out?: string; store?: string; force?: boolean }) => {
      try {
        const file = storePath(flags.store);
        if (flags.out !== undefined) await checkOutputFile(flags.out, flags.format, { flag: "-o", force: flags.force ?? false, store: file });
        const store = await openStore(flags.store, { readOnly: true });
        try {
          const run = await store.findRun(id);
          const out = flags.out ?? `${run.id}.${flags.format}`;
          if (flags.out === undefined) await checkOutputFile(out, flags.format, { flag: "the export", force: flags.force ?? false, store: file });
          const n = await store.exportAnswers(run.id, out, flags.format);
          printErr(`wrote ${n} answers of run ${run.id} to ${out}\n`);
        } finally {
          await store.close();
        }
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
}
