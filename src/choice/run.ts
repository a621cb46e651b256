/**
 * An aggregation as a stored run, so that it is listed, shown and reported as eval and simulate
 * runs are. Its id is the first 12 hex digits of the SHA-256 of its configuration: the input's
 * kind and the SHA-256 of the files read (a Polis conversation: its votes, comments and summary
 * files), and every option that changes the result (rules, axioms, extended truncation, the groups
 * column, the welfare rule, clusters, seed, and plurality's and IRV's tie options when given). The same input aggregated the same way is the same
 * run, wherever the file lies; the run keeps its first result, as every run does.
 *
 * An aggregation is computed before anything is stored: it takes seconds at most and cannot be
 * resumed, so an input that cannot be aggregated (a malformed file, an unknown rule) is an error
 * that leaves no run behind, and only aggregations that finished are listed.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { messageOf } from "../errors.js";
import type { AggregateResult } from "../results/index.js";
import { runIdOf, sha256Hex } from "../hash.js";
import type { Store } from "../store/index.js";
import { aggregateFile, detectInput, type AggregateOptions, type InputKind } from "./aggregate.js";
import { POLIS_COMMENTS_FILE, POLIS_SUMMARY_FILE, POLIS_VOTES_FILE } from "./polis-export.js";

/** What an aggregation run's id is the hash of (stored as `runs.config`). */
export interface AggregateRunConfig {
  readonly kind: "aggregate";
  readonly version: 1;
  readonly input: InputKind;
  /** SHA-256 of the files read, by name. */
  readonly data: Readonly<Record<string, string>>;
  readonly rules: readonly string[] | null;
  readonly axioms: boolean;
  readonly extend_truncated: boolean;
  readonly groups: string | null;
  readonly welfare_rule: string;
  readonly clusters: number | "auto" | null;
  readonly seed: number;
  /** Only when given (so that runs made before these options keep their ids). */
  readonly top_ties?: string;
  readonly overvotes?: string;
}


/** The files an input is read from (a Polis folder: its votes, comments and summary, when there is one). */
async function inputFiles(file: string, input: InputKind): Promise<string[]> {
  if (input !== "polis") return [file];
  const folder = (await stat(file)).isDirectory() ? file : path.dirname(file);
  const files = [path.join(folder, POLIS_VOTES_FILE), path.join(folder, POLIS_COMMENTS_FILE)];
  const summary = path.join(folder, POLIS_SUMMARY_FILE);
  if (await stat(summary).then((s) => s.isFile(), () => false)) files.push(summary);
  return files;
}

/** The configuration of an aggregation of `file` with `o`. Reads the input's files (to hash them). */
export async function aggregateRunConfig(file: string, o: AggregateOptions): Promise<AggregateRunConfig> {
  const input = await detectInput(file);
  const data: Record<string, string> = {};
  for (const f of await inputFiles(file, input)) {
    // An unreadable file is left to aggregateFile, which says what is wrong with it.
    data[path.basename(f)] = await readFile(f).then(sha256Hex, (e: unknown) => `unreadable: ${messageOf(e)}`);
  }
  return {
    kind: "aggregate",
    version: 1,
    input,
    data,
    rules: o.rules ? [...o.rules] : null,
    axioms: o.axioms ?? false,
    extend_truncated: o.extendTruncated ?? false,
    groups: o.groups ?? null,
    welfare_rule: o.welfareRule ?? "copeland",
    clusters: o.clusters ?? null,
    seed: o.seed ?? 0,
    ...(o.topTies !== undefined ? { top_ties: o.topTies } : {}),
    ...(o.overvotes !== undefined ? { overvotes: o.overvotes } : {}),
  };
}

export function aggregateRunId(config: AggregateRunConfig): string {
  return runIdOf(JSON.stringify(config));
}

/**
 * Aggregates `file` and stores the result as a run (see the module comment): listed as suite
 * `aggregate:<file name>`. Returns the result of this aggregation, with its run id.
 */
export async function runAggregate(store: Store, file: string, o: AggregateOptions, options: { readonly command: string }): Promise<AggregateResult> {
  const config = await aggregateRunConfig(file, o);
  const id = aggregateRunId(config);
  const result: AggregateResult = { run: id, ...(await aggregateFile(file, o)) };
  await store.beginRun({ id, kind: "aggregate", command: options.command, suite: `aggregate:${path.basename(path.resolve(file))}`, model: "-", metric: "-", config });
  try {
    await store.finishRun(id, result);
  } catch (e) {
    await store.failRun(id, messageOf(e)).catch(() => undefined);
    throw e;
  }
  return result;
}
