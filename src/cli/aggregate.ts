/** `civitas aggregate FILE...`: social-choice rules, axioms, group welfare, MaxMin clusters, Polis groups. */
import { writeFile } from "node:fs/promises";
import { Command, Option } from "commander";
import { aggregateFile, preferencePairs, RULES, writePreferencePairs, type AggregateReport, type ProfileReport } from "../choice/index.js";
import { aggregatePage, formatTable, reportDocument } from "../report/index.js";
import path from "node:path";
import { checkOutputFile } from "./output.js";
import { printErr, printOut, intOption, reportError, toJson, usageError } from "./common.js";

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
  civitas aggregate ../shared/data/polis/15-per-hour-seattle --html polis.html`;

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
        for (const [file, kind, flag] of [[flags.export, "pairs", "--export"], [flags.html, "html", "--html"]] as const) {
          if (file === undefined) continue;
          if (files.some((f) => path.resolve(f) === path.resolve(file))) throw usageError(`${flag} ${file} is one of the input files`, "choose another file name");
          await checkOutputFile(file, kind, { flag, force });
        }
        const reports: AggregateReport[] = [];
        for (const f of files) reports.push(await aggregateFile(f, options));
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
          const json = (r: AggregateReport) => jsonOf(r, flags.margin ?? false);
          printOut(`${toJson(reports.length === 1 ? json(reports[0]!) : Object.fromEntries(reports.map((r) => [r.file, json(r)])))}\n`);
        } else {
          printOut(`${reports.map((r) => formatReport(r, flags.margin ?? false)).join("\n\n")}\n`);
        }
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
}

/** The JSON a file gets: one profile's report at the top level (the documented shape), several under "profiles". */
function jsonOf(r: AggregateReport, margin: boolean): Record<string, unknown> {
  const strip = (p: ProfileReport) => (margin || r.profiles.length === 1 ? p : { ...p, margin: undefined });
  const base = { file: r.file, input: r.input, ...(r.title ? { title: r.title } : {}), warnings: r.warnings };
  if (r.polis) return { ...base, polis: r.polis };
  if (r.profiles.length === 1) return { ...base, ...strip(r.profiles[0]!), ...(r.clusters ? { clusters: r.clusters } : {}) };
  return { ...base, profiles: r.profiles.map(strip), ...(r.clusters ? { clusters: r.clusters } : {}) };
}

const fmt = (x: number | null | undefined, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? "-" : Number.isInteger(x) ? String(x) : x.toFixed(d));

function names(p: ProfileReport, ids: readonly number[]): string {
  return ids.length === 0 ? "(none)" : ids.map((i) => `${i} ${p.alternatives[String(i)] ?? ""}`.trim()).join(", ");
}

function formatProfile(p: ProfileReport, margin: boolean): string[] {
  const out: string[] = [];
  const alts = Object.keys(p.alternatives);
  const who = p.comparisons === undefined ? `${fmt(p.voters)} voters, ${p.ballots} unique ballots` : `${fmt(p.voters)} voters (annotators), ${p.comparisons} comparisons`;
  out.push(`${alts.length} alternatives, ${who}${p.prompt ? ` · prompt: ${p.prompt}` : ""}`);
  out.push(
    formatTable(
      ["rule", "winners", "scores (by alternative)"],
      Object.entries(p.rules).map(([id, r]) => [
        id,
        r.error ? `refused: ${r.error}` : names(p, r.winners),
        r.scores ? Object.entries(r.scores).map(([a, s]) => `${a}: ${fmt(s)}`).join("  ") : "",
      ]),
      ["l", "l", "l"],
    ),
  );
  if (p.axioms) {
    const violations = Object.entries(p.axioms).flatMap(([axiom, byRule]) =>
      Object.entries(byRule)
        .filter(([, v]) => v.violated)
        .map(([rule, v]) => `  ${rule} violates ${axiom}: ${v.detail}`),
    );
    out.push(violations.length ? `axiom violations:\n${violations.join("\n")}` : "axioms: no rule violates Condorcet winner, Condorcet loser, Pareto or pairwise majority consistency");
  }
  if (margin) {
    out.push("margins (row over column):");
    out.push(formatTable(["", ...alts], alts.map((a) => [a, ...alts.map((b) => (a === b ? "" : fmt(p.margin[a]![b])))])));
  }
  if (p.groups) {
    const g = p.groups;
    out.push(`groups under ${g.rule}:`);
    out.push(
      formatTable(
        ["group", "voters", "winners", "same as pooled", "agreement (tau)"],
        g.groups.map((x) => [x.name, fmt(x.voters), names(p, x.winners), x.same_winners ? "yes" : "no", fmt(x.agreement)]),
        ["l", "r", "l", "r", "r"],
      ),
    );
    const groupNames = g.groups.map((x) => x.name);
    out.push(
      formatTable(
        ["outcome", "winners", ...groupNames.map((n) => `welfare ${n}`), "mean", "min"],
        g.outcomes.map((o) => [o.label, names(p, o.winners), ...groupNames.map((n) => fmt(o.welfare[n])), fmt(o.mean), fmt(o.min)]),
      ),
    );
    out.push(`utilitarian choice: ${names(p, g.utilitarian)} · egalitarian (max-min over groups): ${names(p, g.egalitarian)}`);
  }
  return out;
}

function formatReport(r: AggregateReport, margin: boolean): string {
  const out: string[] = [`${r.file}${r.title ? ` · ${r.title}` : ""}`];
  for (const w of r.warnings) out.push(`warning: ${w}`);
  for (const p of r.profiles) out.push(...formatProfile(p, margin), "");
  if (r.clusters) {
    const c = r.clusters;
    out.push(`MaxMin-RLHF: ${c.k} clusters of annotators (sizes ${c.clusters.map((x) => x.size).join(", ")})`);
    if (c.selection) out.push(`  held-out log-likelihood by K: ${c.selection.map((s) => `K=${s.k}: ${fmt(s.held_out_log_likelihood, 1)}`).join(", ")}`);
    c.choices.forEach((ch, i) => {
      const p = r.profiles[i]!;
      out.push(`  ${ch.prompt ? `${ch.prompt}: ` : ""}max-min choice ${names(p, ch.maxmin)} · utilitarian ${names(p, ch.utilitarian)}`);
    });
  }
  if (r.polis) {
    const p = r.polis;
    out.push(
      `Polis opinion groups: ${p.k} groups (${p.groups.map((g) => g.size).join(", ")} participants), silhouette ${fmt(p.silhouette)}, ` +
        `${p.participants} participants and ${p.comments} comments; adjusted Rand index against the shipped groups ${fmt(p.ari)}`,
    );
    out.push("group-informed consensus:");
    const text = (t: string) => t.replace(/\s+/gu, " ").trim();
    for (const c of p.consensus.slice(0, 5)) out.push(`  ${fmt(c.score)}  #${c.comment} ${text(c.text)}`);
    out.push("most divisive:");
    for (const c of p.divisive.slice(0, 5)) out.push(`  ${fmt(c.spread)}  #${c.comment} ${text(c.text)}`);
  }
  return out.join("\n").trimEnd();
}
