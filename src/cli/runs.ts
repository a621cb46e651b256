/** `civitas runs list` and `civitas runs show <id>`. */
import { Command } from "commander";
import { CivitasError } from "../errors.js";
import { formatAggregate, formatEvalResult, formatSimulation, formatSteer, formatTable } from "../report/index.js";
import { redactCommandLine } from "../redact.js";
import { aggregateOutput, resultJson } from "../results/index.js";
import type { InvocationRow, RunRow, Store } from "../store/index.js";
import { openStore, printOut, reportError, STORE_HELP, toJson } from "./common.js";

const fixed3 = (x: number | null) => (x === null ? "-" : x.toFixed(3));

/** Each command that worked on the run, with its own counts and outcome. */
export function formatInvocations(invocations: readonly InvocationRow[]): string {
  const rows = invocations.map((i) => {
    const c = (i.counts ?? {}) as { model_calls?: number; cache_hits?: number; resumed?: number };
    const did = typeof c.model_calls === "number" ? `${c.model_calls} model calls, ${c.cache_hits ?? 0} from the cache${typeof c.resumed === "number" ? `, ${c.resumed} already stored` : ""}` : "";
    const progress = i.done !== null && i.total !== null ? `${i.done}/${i.total}` : "";
    return [`#${i.n}`, i.startedAt.toISOString().slice(0, 19).replace("T", " "), i.status, progress, did || (i.error ?? ""), i.command];
  });
  return `invocations:\n${formatTable(["", "started", "status", "stored", "what it did", "command"], rows)}`;
}

/** A run's result as the command that made it prints it (JSON: with its kind and version). */
function resultOf(run: RunRow, json: boolean): string | null {
  if (run.summary === null) return null;
  switch (run.kind) {
    case "eval":
      return json ? toJson(resultJson("eval", run.summary)) : formatEvalResult(run.summary);
    case "simulate":
      return json ? toJson(resultJson("simulate", run.summary)) : formatSimulation(run.summary);
    case "aggregate":
      return json ? toJson(aggregateOutput(run.summary, true)) : formatAggregate(run.summary, false);
    case "steer":
      return json ? toJson(resultJson("steer", run.summary)) : formatSteer(run.summary);
  }
}

async function withStore<T>(flag: string | undefined, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore(flag, { readOnly: true });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function runsCommand(): Command {
  const runs = new Command("runs").description("list and inspect stored runs");
  runs
    .command("list")
    .description("list the runs in the store, newest first")
    .option("--store <file>", STORE_HELP)
    .option("--json", "print as JSON")
    .action(async (flags: { store?: string; json?: boolean }) => {
      try {
        const rows = await withStore(flags.store, (s) => s.listRuns());
        if (flags.json) {
          printOut(
            `${toJson(
              rows.map((r) => ({
                id: r.id,
                kind: r.kind,
                created: r.createdAt,
                status: r.status,
                suite: r.suite,
                model: r.model,
                metric: r.metric,
                command: redactCommandLine(r.command),
                overall: r.kind === "eval" && r.summary !== null ? r.summary.overall : null,
                error: r.error,
              })),
            )}\n`,
          );
        } else if (rows.length === 0) {
          printOut("no runs yet: `civitas eval --help` shows how to start one\n");
        } else {
          printOut(
            `${formatTable(
              ["run", "created", "status", "suite", "model", "metric", "questions", "alignment"],
              rows.map((r) => [r.id, r.createdAt.toISOString().slice(0, 19).replace("T", " "), r.status, r.suite, r.model, r.metric, r.questions === null ? "-" : String(r.questions), fixed3(r.alignment)]),
            )}\n`,
          );
        }
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
  runs
    .command("show")
    .description("show a run's result as the command that made it printed it (eval, simulate, aggregate, steer)")
    .argument("<run>", "run id (or a unique prefix of it)")
    .option("--store <file>", STORE_HELP)
    .option("--json", "print the result as JSON")
    .action(async (id: string, flags: { store?: string; json?: boolean }) => {
      try {
        const [run, invocations, pruned] = await withStore(flags.store, async (s) => {
          const r = await s.findRun(id);
          return [r, await s.invocations(r.id), r.kind === "eval" ? await s.prunedAnswers(r.id) : 0] as const;
        });
        if (run.summaryError !== null) throw new CivitasError("store", run.summaryError, { hint: "`civitas runs list` still lists it; its answers can still be exported" });
        const result = resultOf(run, flags.json ?? false);
        if (flags.json) {
          printOut(`${result ?? toJson({ run: run.id, kind: run.kind, status: run.status, error: run.error, command: redactCommandLine(run.command) })}\n`);
          return;
        }
        printOut(`run ${run.id} · ${run.status} · created ${run.createdAt.toISOString()}\n${redactCommandLine(run.command)}\n\n`);
        if (result !== null) printOut(`${result}\n`);
        else if (run.status === "running") printOut(`running${run.progress ? `: ${run.progress.done} of ${run.progress.total} stored` : ""}\n`);
        else printOut(`not finished${run.error ? `: ${run.error}` : ""}; run the same command again to resume it\n`);
        if (invocations.length > 1 || (invocations.length === 1 && invocations[0]!.status !== "done")) printOut(`\n${formatInvocations(invocations)}\n`);
        if (pruned > 0) {
          printOut(`\nnote: ${pruned} of this run's answers have no cached response any more (pruned: civitas cache prune/clear); the answers and this result stay, their prompts and raw responses are gone\n`);
        }
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
  return runs;
}
