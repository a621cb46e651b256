/** `civitas export <run> --format csv|jsonl|parquet`: an eval run's answers, or a simulation's metric series (or recorded calls). */
import { Command, Option } from "commander";
import { CivitasError } from "../errors.js";
import type { RunRow, Store } from "../store/index.js";
import { countOf, exportSimCalls, exportSimMetrics, type ExportFormat } from "../store/index.js";
import { checkOutputFile } from "./output.js";
import { openStore, printErr, reportError, STORE_HELP, storePath, usageError } from "./common.js";

interface ExportFlags {
  format: ExportFormat;
  out?: string;
  calls?: boolean;
  force?: boolean;
  store?: string;
}

/** The sweep of a simulation run, from its stored configuration; null for other runs. */
function simulationOf(run: RunRow): { sweep: string[]; points: Record<string, unknown>[] } | null {
  const c = run.config as { kind?: unknown; sweep?: unknown; points?: unknown } | null;
  if (c?.kind !== "simulate") return null;
  const sweep = Array.isArray(c.sweep) ? c.sweep.map((s) => String((s as unknown[])[0])) : [];
  const points = Array.isArray(c.points) ? (c.points as Record<string, unknown>[]) : [];
  return { sweep, points };
}

const statusNote = (run: RunRow) => (run.status === "done" ? "" : ` (status ${run.status}${run.error ? `: ${run.error}` : ""})`);

async function exportRun(store: Store, run: RunRow, flags: ExportFlags, storeFile: string): Promise<string> {
  const out = flags.out ?? `${run.id}${flags.calls ? "-calls" : ""}.${flags.format}`;
  if (flags.out === undefined) await checkOutputFile(out, flags.format, { flag: "the export", force: flags.force ?? false, store: storeFile });
  if (run.kind === "aggregate") {
    throw new CivitasError("input", `run ${run.id} is an aggregation: it stores its result, not answers or series`, { hint: `\`civitas runs show ${run.id} --json\` prints the result` });
  }
  if (run.kind === "steer") {
    const r = run.summary;
    throw new CivitasError("input", `run ${run.id} is a steering run: its answers are in its eval run${r && r.eval_runs.length > 1 ? "s" : ""}${r ? ` (${r.eval_runs.join(", ")})` : ""}`, {
      hint: r ? `\`civitas export ${r.eval_runs[0]}\` exports the unsteered and persona answers` : "run its command again to finish it",
    });
  }
  const sim = simulationOf(run);
  if (sim === null) {
    if (flags.calls) throw usageError(`--calls: run ${run.id} is not a simulation`, "--calls exports the recorded model calls of a model-driven simulation; an eval run's export already holds each answer's prompt");
    // Nothing to write is an error, not an empty file.
    if ((await store.countAnswers(run.id)) === 0) {
      throw new CivitasError("input", `run ${run.id} has no stored answers to export${statusNote(run)}`, { hint: "run its command again to answer it (a stopped run resumes)" });
    }
    const n = await store.exportAnswers(run.id, out, flags.format);
    const pruned = await store.prunedAnswers(run.id);
    const note = pruned === 0 ? "" : `\nnote: ${pruned} of them have no cached response any more (pruned: civitas cache prune/clear): their prompt, labels, label_mass and raw are empty; their distributions are the run's`;
    return `wrote ${n} answers of run ${run.id} to ${out}${note}`;
  }
  if (flags.calls) {
    if ((run.config as { model?: unknown }).model == null) {
      throw usageError(`--calls: simulation ${run.id} is rule-based and asked no model`, "export its metric series without --calls");
    }
    if ((await countOf(store, "sim_calls", run.id)) === 0) {
      throw new CivitasError("input", `simulation ${run.id} has no recorded model calls${statusNote(run)}`, {
        hint: "it stopped before its first model call; run its command again, or export its metric series without --calls",
      });
    }
    const n = await exportSimCalls(store, run.id, out, flags.format);
    return `wrote ${n} recorded model calls of simulation ${run.id} to ${out}`;
  }
  if ((await countOf(store, "sim_metrics", run.id)) === 0) {
    throw new CivitasError("input", `simulation ${run.id} has no stored metrics to export${statusNote(run)}`, { hint: "run its command again: an interrupted simulation continues" });
  }
  const n = await exportSimMetrics(store, run.id, out, flags.format, sim);
  return `wrote ${n} metric values of simulation ${run.id} to ${out} (one row per point x seed x step x metric)`;
}

export function exportCommand(): Command {
  return new Command("export")
    .description("write a run's answers (eval) or metric series (simulate) to a file")
    .argument("<run>", "run id (or a unique prefix of it)")
    .addOption(new Option("-f, --format <format>", "file format").choices(["csv", "jsonl", "parquet"]).default("csv"))
    .option("-o, --out <file>", "output file (default: <run>.<format> in the current folder); an existing file is replaced only if it is an export of the same format")
    .option("--force", "replace --out even if it is another kind of file (never a store)")
    .option("--calls", "simulations: the recorded model calls instead of the metric series")
    .option("--store <file>", STORE_HELP)
    .addHelpText(
      "after",
      `
An eval run: one row per question x variant x persona x method, with run, question, variant,
persona, method, options and distribution (both in survey order), coverage, status ("scored" or
why it was set aside), mode, cache_hit, and the prompt with its labels and the raw label mass.

A simulation: one row per point of the sweep x seed x recorded step x metric, with run, point,
the swept parameters (param_<name>), seed, step, metric and value (empty where it was not a
number). With --calls, a model-driven simulation's recorded calls: run, point, seed, call, step,
agent, method, prompt, labels, label_mass, coverage, raw.

In CSV, lists are JSON text. A run with nothing stored to export is an error, not an empty file.

Examples:
  civitas export 3f9a2c1b7e0d --format parquet -o answers.parquet
  civitas export <simulation run> -o series.csv`,
    )
    .action(async (id: string, flags: ExportFlags) => {
      try {
        const file = storePath(flags.store);
        if (flags.out !== undefined) await checkOutputFile(flags.out, flags.format, { flag: "-o", force: flags.force ?? false, store: file });
        const store = await openStore(flags.store, { readOnly: true });
        try {
          const run = await store.findRun(id);
          printErr(`${await exportRun(store, run, flags, file)}\n`);
        } finally {
          await store.close();
        }
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
}
