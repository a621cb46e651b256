/** `civitas report RUN [RUN...] -o report.html`: one self-contained HTML file with charts. */
import { writeFile } from "node:fs/promises";
import { Command } from "commander";
import { CivitasError, messageOf } from "../errors.js";
import { comparePage, reportDocument, runPage, type Page } from "../report/index.js";
import { checkOutputFile } from "./output.js";
import { openStore, printErr, reportError, STORE_HELP, storePath, usageError } from "./common.js";

interface ReportFlags {
  out: string;
  force?: boolean;
  store?: string;
  data?: string;
  population?: string;
}

const HELP = `
One HTML file, self-contained (no network when opened, no script) and readable when printed:
  an eval run      alignment per population with 95% intervals and baselines, the populations
                   sorted by alignment, model vs human shares per question and option, the
                   questions furthest from the population, stability, steerability, methods
  a simulation     each metric over time with its band across seeds, final values across the
                   sweep, final answers against the population's (opinion scenarios)
  an aggregation   winners per rule, the margin heat map, group welfare, Polis opinion groups
  several runs     first their alignment side by side (one colour per run), then each run's page

Human shares and question texts come from the survey itself: --data names a local copy (used
only if it is the data the run was scored on); without it, the --data path the run recorded is
tried. Question texts otherwise come from the stored prompts. Details: docs/report.md.

Examples:
  civitas report 5214 -o report.html --data ../shared/data/opinionqa
  civitas report 5214 8c1e -o compare.html
  civitas report 5214 -o report.html --data ../shared/data/opinionqa --population POLPARTY=Democrat
  civitas aggregate ../shared/data/polis/15-per-hour-seattle --html polis.html`;

export function reportCommand(): Command {
  return new Command("report")
    .description("write runs as one self-contained HTML report with charts")
    .argument("<runs...>", "run ids (or unique prefixes); several are also compared side by side")
    .requiredOption("-o, --out <file>", "the HTML file to write (required); an existing file is replaced only if it is a civitas report")
    .option("--force", "replace --out even if it is another kind of file (never a store)")
    .option("--store <file>", STORE_HELP)
    .option("--data <dir>", "a local copy of the runs' survey, for human shares and question texts")
    .option("--population <name>", "the population of the per-question scatter (default: each run's first)")
    .addHelpText("after", HELP)
    .action(async (ids: string[], flags: ReportFlags) => {
      try {
        await checkOutputFile(flags.out, "html", { flag: "-o", force: flags.force ?? false, store: storePath(flags.store) });
        const store = await openStore(flags.store, { readOnly: true });
        let pages: Page[];
        try {
          const runs = [];
          for (const id of ids) runs.push(await store.findRun(id));
          const unique = [...new Map(runs.map((r) => [r.id, r])).values()];
          const evals = unique.flatMap((r) => (r.kind === "eval" && r.summary !== null ? [{ run: r, result: r.summary }] : []));
          if (flags.population !== undefined && evals.length > 0) {
            const known = new Set(evals.flatMap((e) => e.result.populations.map((p) => p.population)));
            if (!known.has(flags.population)) {
              throw usageError(`no run here has the population "${flags.population}"`, `their populations: ${[...known].join(", ")}`);
            }
          }
          const options = {
            ...(flags.data === undefined ? {} : { data: flags.data }),
            ...(flags.population === undefined ? {} : { population: flags.population }),
          };
          pages = [];
          if (evals.length >= 2) pages.push(await comparePage(store, evals.map((e) => e.run.id)));
          for (const r of unique) pages.push(await runPage(store, r.id, options));
        } finally {
          await store.close();
        }
        const document = reportDocument(pages, pages.length > 1 ? { title: `civitas report: ${ids.join(", ")}` } : {});
        try {
          await writeFile(flags.out, document);
        } catch (e) {
          throw new CivitasError("input", `could not write ${flags.out}: ${messageOf(e)}`, { cause: e });
        }
        printErr(`wrote ${pages.length} page${pages.length === 1 ? "" : "s"} to ${flags.out}\n`);
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
}
