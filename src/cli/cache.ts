/** `civitas cache list|prune|clear`: the request cache of a store, by model. */
import { createInterface } from "node:readline/promises";
import { Command, InvalidArgumentError } from "commander";
import type { PruneResult, Store } from "../store/index.js";
import { openStore, printErr, printOut, reportError, STORE_HELP, toJson, usageError } from "./common.js";

const UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** "7d", "12h", "30m", "90s", "2w" (a whole or decimal number and one unit) in ms. */
export function parseDuration(value: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$/u.exec(value);
  const ms = m ? Number(m[1]) * UNITS[m[2]!]! : Number.NaN;
  if (!(ms > 0) || !Number.isFinite(ms)) {
    throw new InvalidArgumentError(`${flag} must be a duration such as 7d, 12h, 30m, 90s or 2w (got "${value}")`);
  }
  return ms;
}

/** An age as people read it: 45s, 12m, 5h, 3d. */
function age(from: Date, now: number): string {
  const s = Math.max(0, (now - from.getTime()) / 1000);
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86_400) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** What a removal means for the runs that used the removed answers. */
function consequences(r: PruneResult, verb: string): string {
  const lines: string[] = [];
  if (r.runs.length > 0) {
    lines.push(
      `${r.runs.length} run${r.runs.length === 1 ? "" : "s"} used them (${r.runs.slice(0, 8).join(", ")}${r.runs.length > 8 ? ", ..." : ""}): their answers and results stay; their prompts and raw responses ${verb} gone (export leaves them empty, runs show says so)`,
    );
  }
  if (r.replays.length > 0) {
    lines.push(`${r.replays.length} simulation${r.replays.length === 1 ? "" : "s"} (${r.replays.slice(0, 8).join(", ")}) can no longer be replayed (--replay needs the recorded answers)`);
  }
  return lines.map((l) => `${l}\n`).join("");
}

async function withStore<T>(flag: string | undefined, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore(flag, { log: (m) => printErr(`${m}\n`) });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function cacheCommand(): Command {
  const cache = new Command("cache").description("the request cache: list it by model, prune old answers, clear it").addHelpText(
    "after",
    `
Every model answer is cached in the store, keyed by the model's identity, its parameters, the
method and the prompt, so that no prompt is asked twice. A run keeps its own answers (and its
result) when the cache entries they came from are removed; what goes is the prompt and raw
response an export shows, and the record a simulation's --replay reads.

Examples:
  civitas cache list                                  # by model: answers, oldest, newest, runs
  civitas cache prune --older-than 30d                # answers stored more than 30 days ago
  civitas cache prune --model 'openai:gpt-4o*' --dry-run
  civitas cache clear --yes                           # everything (asks first on a terminal)

To ask again without removing anything: civitas eval ... --no-cache (or --cache-expiry 7d).`,
  );

  cache
    .command("list")
    .description("the cached answers by model: how many, how old, which runs use them")
    .option("--store <file>", STORE_HELP)
    .option("--json", "print the list as JSON")
    .action(async (flags: { store?: string; json?: boolean }) => {
      try {
        const rows = await withStore(flags.store, (s) => s.cacheModels());
        if (flags.json) {
          printOut(`${toJson({ models: rows.map((r) => ({ model: r.model, answers: r.answers, oldest: r.oldest.toISOString(), newest: r.newest.toISOString(), runs: r.runs, served: r.served })) })}\n`);
          return;
        }
        if (rows.length === 0) {
          printOut("the cache is empty\n");
          return;
        }
        const now = Date.now();
        const table = [["model", "answers", "oldest", "newest", "runs", "served as"], ...rows.map((r) => [r.model, String(r.answers), age(r.oldest, now), age(r.newest, now), String(r.runs), r.served.join(", ")])];
        const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
        const line = (row: string[]) => row.map((c, i) => (i === 0 || i === row.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
        const total = rows.reduce((a, r) => a + r.answers, 0);
        printOut(`${table.map(line).join("\n")}\n\n${total} cached answer${total === 1 ? "" : "s"} of ${rows.length} model${rows.length === 1 ? "" : "s"} (ages: since stored)\n`);
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });

  cache
    .command("prune")
    .description("remove cached answers older than a duration, or of a model (both: those of the model older than it)")
    .option("--older-than <duration>", "stored longer ago than this: 30d, 12h, 2w, ...", (v: string) => parseDuration(v, "--older-than"))
    .option("--model <id>", "of this model identity as `cache list` shows it (* matches any text: 'openai:gpt-4o*')")
    .option("--dry-run", "say what would be removed, remove nothing")
    .option("--store <file>", STORE_HELP)
    .option("--json", "print what was removed as JSON")
    .action(async (flags: { olderThan?: number; model?: string; dryRun?: boolean; store?: string; json?: boolean }) => {
      try {
        if (flags.olderThan === undefined && flags.model === undefined) {
          throw usageError("cache prune needs --older-than or --model (or both)", "to remove every cached answer: civitas cache clear");
        }
        const r = await withStore(flags.store, (s) =>
          s.pruneRequests(
            { ...(flags.olderThan === undefined ? {} : { olderThan: new Date(Date.now() - flags.olderThan) }), ...(flags.model === undefined ? {} : { model: flags.model }) },
            { dryRun: flags.dryRun ?? false },
          ),
        );
        if (flags.json) {
          printOut(`${toJson({ removed: flags.dryRun ? 0 : r.removed, matched: r.removed, dry_run: flags.dryRun ?? false, runs: r.runs, replays: r.replays })}\n`);
          return;
        }
        printOut(`${flags.dryRun ? "would remove" : "removed"} ${r.removed} cached answer${r.removed === 1 ? "" : "s"}\n${r.removed > 0 ? consequences(r, flags.dryRun ? "would be" : "are") : ""}`);
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });

  cache
    .command("clear")
    .description("remove every cached answer (asks first; --yes to skip the question)")
    .option("--yes", "do not ask (needed when there is no terminal to ask on)")
    .option("--store <file>", STORE_HELP)
    .action(async (flags: { yes?: boolean; store?: string }) => {
      try {
        await withStore(flags.store, async (s) => {
          const preview = await s.pruneRequests({}, { dryRun: true });
          if (preview.removed === 0) {
            printOut("the cache is already empty\n");
            return;
          }
          if (!flags.yes) {
            if (!process.stdin.isTTY || !process.stderr.isTTY) {
              throw usageError(`cache clear would remove all ${preview.removed} cached answers of ${s.file}, and there is no terminal to confirm on`, "pass --yes to confirm");
            }
            const rl = createInterface({ input: process.stdin, output: process.stderr });
            const answer = await rl.question(`remove all ${preview.removed} cached answers of ${s.file}? ${consequences(preview, "would be").trim()} [y/N] `);
            rl.close();
            if (!/^y(es)?$/iu.test(answer.trim())) {
              printOut("nothing removed\n");
              return;
            }
          }
          const r = await s.pruneRequests({});
          printOut(`removed ${r.removed} cached answer${r.removed === 1 ? "" : "s"}\n${consequences(r, "are")}`);
        });
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
  return cache;
}
