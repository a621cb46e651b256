/** `civitas aggregate FILE...`: social-choice rules, axioms, group welfare, MaxMin clusters, Polis groups. */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { Command, Option } from "commander";
import { aggregateFile, getRule, preferencePairs, RULES, runAggregate, writePreferencePairs } from "../choice/index.js";
import { CivitasError, isCivitasError } from "../errors.js";
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
  topTies?: "error" | "ignore" | "split" | "approval";
  overvotes?: "error" | "truncate";
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

Several files: each is aggregated on its own; a file that cannot be (a malformed ballot, no
voters) is reported on stderr and the others still are; the exit status is then non-zero.

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
    .addOption(new Option("--top-ties <how>", "plurality: ballots with several alternatives tied first count for nobody, split, or for each (default: refused)").choices(["error", "ignore", "split", "approval"]))
    .addOption(new Option("--overvotes <how>", "instant runoff: cut ballots before their first tie (default: refused when a round reaches a tie)").choices(["error", "truncate"]))
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
      let worst = 0;
      try {
        let rules: string[] | undefined;
        if (flags.rules !== undefined && flags.rules.trim() !== "all") {
          rules = flags.rules.split(",").map((r) => r.trim()).filter(Boolean);
          if (rules.length === 0) throw usageError(`--rules "${flags.rules}" names no rule`, `name rules, comma separated (${RULES.map((r) => r.id).join(", ")}), or all`);
          for (const r of rules) getRule(r);
        }
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
          ...(flags.topTies !== undefined && flags.topTies !== "error" ? { topTies: flags.topTies } : {}),
          ...(flags.overvotes !== undefined && flags.overvotes !== "error" ? { overvotes: flags.overvotes } : {}),
        };
        getRule(flags.welfareRule);
        const force = flags.force ?? false;
        const storeFile = flags.store === false ? undefined : storePath(flags.store);
        for (const [file, kind, flag] of [[flags.export, "pairs", "--export"], [flags.html, "html", "--html"]] as const) {
          if (file === undefined) continue;
          if (files.some((f) => path.resolve(f) === path.resolve(file))) throw usageError(`${flag} ${file} is one of the input files`, "choose another file name");
          await checkOutputFile(file, kind, { flag, force, ...(storeFile === undefined ? {} : { store: storeFile }) });
        }
        // Each file on its own: one that cannot be aggregated is reported (on stderr, as every
        // error) and the others still are; the exit status says that one failed.
        const reports: (AggregateReport | AggregateResult)[] = [];
        const good: string[] = [];
        const each = async (run: (f: string) => Promise<AggregateReport | AggregateResult>): Promise<void> => {
          for (const f of files) {
            try {
              reports.push(await run(f));
              good.push(f);
            } catch (e) {
              if (!isCivitasError(e) || files.length === 1) throw e;
              worst = Math.max(worst, reportError(new CivitasError(e.kind, e.message.includes(f) ? e.message : `${f}: ${e.message}`, e.hint === undefined ? {} : { hint: e.hint })));
            }
          }
        };
        if (flags.store === false) {
          await each((f) => aggregateFile(f, options));
        } else {
          const store = await openAggregateStore(flags.store);
          try {
            const command = redactedCommand(process.argv.slice(2));
            await each((f) => runAggregate(store, f, options, { command }));
          } finally {
            await store.close();
          }
        }
        if (flags.export) {
          const pairs = (await Promise.all(good.map((f) => preferencePairs(f, { ...options, weight: flags.exportWeight })))).flat();
          const n = await writePreferencePairs(flags.export, pairs);
          printErr(`wrote ${n} preference pairs to ${flags.export}\n`);
        }
        // The report module (and its chart libraries) is loaded only for text or HTML output.
        const report = flags.html !== undefined || !flags.json ? await import("../report/index.js") : undefined;
        if (flags.html && reports.length > 0) {
          const { aggregatePage, reportDocument } = report!;
          const pages = [];
          for (const r of reports) pages.push(await aggregatePage(r));
          await writeFile(flags.html, reportDocument(pages, pages.length > 1 ? { title: "civitas aggregate" } : {}));
          printErr(`wrote ${pages.length} page${pages.length === 1 ? "" : "s"} to ${flags.html}\n`);
        }
        if (flags.json) {
          const json = (r: AggregateReport) => aggregateOutput(r, flags.margin ?? false);
          if (reports.length > 0) printOut(`${toJson(files.length === 1 ? json(reports[0]!) : Object.fromEntries(reports.map((r) => [r.file, json(r)])))}\n`);
        } else if (reports.length > 0) {
          const stored = (r: AggregateReport | AggregateResult) => ("run" in r ? `\nrun ${r.run} · stored in ${storePath(flags.store || undefined)}` : "");
          printOut(`${reports.map((r) => `${report!.formatAggregate(r, flags.margin ?? false)}${stored(r)}`).join("\n\n")}\n`);
        }
        if (worst !== 0) process.exitCode = worst;
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
