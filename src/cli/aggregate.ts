/** `civitas aggregate FILE...`: social-choice rules, axioms, group welfare, MaxMin clusters, Polis groups. */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { Command, Option } from "commander";
import { aggregateFile, preferencePairs, RULES, runAggregate, writePreferencePairs } from "../choice/index.js";
import { CivitasError, isCivitasError } from "../errors.js";
import { aggregatePage, formatAggregate, reportDocument } from "../report/index.js";
import { aggregateOutput, type AggregateReport, type AggregateResult } from "../results/index.js";
import type { Store } from "../store/index.js";
import { checkOutputFile } from "./output.js";
import { printErr, printOut, intOption, openStore, redactedCommand, reportError, STORE_HELP, storePath, toJson, usageError } from "./common.js";

interface AggregateFlags {
  rules?: string;
  axioms?: boolean;
  margin?: boolean;
  groups?: string;
  welfareRule: string;
  extendTruncated?: boolean;
  clusters?: string;
  seed: number;
  json?: boolean;
  export?: string;
  exportWeight: "uniform" | "support" | "bradley-terry";
  html?: string;
  force?: boolean;
  /** A file, or false with --no-store. */
  store?: string | false;
}

const HELP = `
Inputs (detected from the file):
  PrefLib .soc .soi .toc .toi        rankings, ties in {...}, truncated ballots, counts
  ratings.csv                        annotator,group,<one column per alternative> (higher is better)
                                     or annotator,group,ranking ("b,a,{c,d}")
  comparisons.jsonl                  {"annotator","group"?,"prompt"?,"chosen","rejected","weight"?}
  a Polis conversation folder        participants-votes.csv + comments.csv

Rules (winner sets; ties kept as sets): ${RULES.map((r) => r.id).join(" ")}.
Semantics follow pref_voting; unranked alternatives are incomparable unless --extend-truncated.

Examples:
  civitas aggregate ../shared/data/preflib/00002-00000001.soi --axioms
  civitas aggregate examples/choice/ratings.csv --groups group --welfare-rule borda
  civitas aggregate prefs.jsonl --clusters auto --export pairs.jsonl
  civitas aggregate ../shared/data/polis/brexit-consensus --json
  civitas aggregate a.soc b.toi --rules schulze,ranked-pairs --json
  civitas aggregate ../shared/data/polis/15-per-hour-seattle --html polis.html

Each input's aggregation is stored as a run (--store; the default store is created as for
eval), so that \`civitas runs list\`, \`runs show\`, \`report\` and \`view\` show it: the same
input aggregated the same way is the same run. --no-store aggregates without storing.`;

export function aggregateCommand(): Command {
  return new Command("aggregate")
    .description("combine many people's conflicting preferences: voting rules, axioms, group welfare, opinion groups")
    .argument("<files...>", "PrefLib files, ratings CSV, comparisons JSONL or Polis folders")
    .option("--rules <list|all>", "rule ids, comma separated (default: all that apply)")
    .option("--axioms", "check Condorcet winner and loser, Pareto and pairwise majority consistency for every rule")
    .option("--margin", "print the margin matrix")
    .option("--groups <column>", "ratings CSV: the column with group labels (default: group, when present)")
    .option("--welfare-rule <rule>", "the rule behind per-group outcomes, welfare and exported pairs", "copeland")
    .option("--extend-truncated", "rank alternatives a ballot leaves out last (tied) instead of incomparable")
    .option("--clusters <k|auto>", "comparisons: MaxMin-RLHF clusters of annotators (EM over Bradley-Terry models)")
    .option("--seed <n>", "seed of EM, k-means and PCA", intOption("--seed", 0), 0)
    .option("--json", "print JSON (several files: one object per file, keyed by path)")
    .option("--export <file>", "write DPO-style preference pairs (prompt, chosen, rejected, weight) from the aggregated outcome")
    .addOption(new Option("--export-weight <kind>", "weight of exported pairs").choices(["uniform", "support", "bradley-terry"]).default("uniform"))
    .option("--html <file>", "also write the results as one self-contained HTML report with charts (margin heat maps, group welfare, Polis groups)")
    .option("--force", "replace --export / --html even if they are other kinds of files (never a store)")
    .option("--store <file>", STORE_HELP)
    .option("--no-store", "do not store the aggregation as a run")
    .addHelpText("after", HELP)
    .action(async (files: string[], flags: AggregateFlags) => {
      try {
        const rules = flags.rules && flags.rules !== "all" ? flags.rules.split(",").map((r) => r.trim()).filter(Boolean) : undefined;
        let clusters: number | "auto" | undefined;
        if (flags.clusters !== undefined) {
          clusters = flags.clusters === "auto" ? "auto" : Number(flags.clusters);
          if (clusters !== "auto" && !(Number.isInteger(clusters) && clusters >= 1)) throw usageError(`--clusters must be a number >= 1 or auto (got "${flags.clusters}")`);
        }
        const options = {
          ...(rules ? { rules } : {}),
          axioms: flags.axioms ?? false,
          extendTruncated: flags.extendTruncated ?? false,
          ...(flags.groups ? { groups: flags.groups } : {}),
          welfareRule: flags.welfareRule,
          ...(clusters !== undefined ? { clusters } : {}),
          seed: flags.seed,
        };
        const force = flags.force ?? false;
        const storeFile = flags.store === false ? undefined : storePath(flags.store);
        for (const [file, kind, flag] of [[flags.export, "pairs", "--export"], [flags.html, "html", "--html"]] as const) {
          if (file === undefined) continue;
          if (files.some((f) => path.resolve(f) === path.resolve(file))) throw usageError(`${flag} ${file} is one of the input files`, "choose another file name");
          await checkOutputFile(file, kind, { flag, force, ...(storeFile === undefined ? {} : { store: storeFile }) });
        }
        const reports: (AggregateReport | AggregateResult)[] = [];
        if (flags.store === false) {
          for (const f of files) reports.push(await aggregateFile(f, options));
        } else {
          const store = await openAggregateStore(flags.store);
          try {
            const command = redactedCommand(process.argv.slice(2));
            for (const f of files) reports.push(await runAggregate(store, f, options, { command }));
          } finally {
            await store.close();
          }
        }
        if (flags.export) {
          const pairs = (await Promise.all(files.map((f) => preferencePairs(f, { ...options, weight: flags.exportWeight })))).flat();
          const n = await writePreferencePairs(flags.export, pairs);
          printErr(`wrote ${n} preference pairs to ${flags.export}\n`);
        }
        if (flags.html) {
          const pages = [];
          for (const r of reports) pages.push(await aggregatePage(r));
          await writeFile(flags.html, reportDocument(pages, pages.length > 1 ? { title: "civitas aggregate" } : {}));
          printErr(`wrote ${pages.length} page${pages.length === 1 ? "" : "s"} to ${flags.html}\n`);
        }
        if (flags.json) {
          const json = (r: AggregateReport) => aggregateOutput(r, flags.margin ?? false);
          printOut(`${toJson(reports.length === 1 ? json(reports[0]!) : Object.fromEntries(reports.map((r) => [r.file, json(r)])))}\n`);
        } else {
          const stored = (r: AggregateReport | AggregateResult) => ("run" in r ? `\nrun ${r.run} · stored in ${storePath(flags.store || undefined)}` : "");
          printOut(`${reports.map((r) => `${formatAggregate(r, flags.margin ?? false)}${stored(r)}`).join("\n\n")}\n`);
        }
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
}

/** The store aggregations are kept in; the hint says how to aggregate without one. */
async function openAggregateStore(flag: string | undefined): Promise<Store> {
  try {
    return await openStore(flag);
  } catch (e) {
    if (!isCivitasError(e)) throw e;
    throw new CivitasError(e.kind, e.message, { hint: [e.hint, "or pass --no-store to aggregate without storing the run"].filter(Boolean).join("\n"), cause: e });
  }
}
