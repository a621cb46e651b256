/**
 * Polis conversations: read an open-data export and find its opinion groups the way Polis does.
 *
 * Data: the exports of compdemocracy/openData (CC BY 4.0, attribute "The Computational Democracy
 * Project"). A conversation folder holds `participants-votes.csv` (participant, group-id,
 * n-comments, n-votes, n-agree, n-disagree, then one column per comment id: 1 agree, -1 disagree,
 * 0 pass, empty = not shown), `comments.csv` (timestamp, datetime, comment-id, author-id, agrees,
 * disagrees, moderated, comment-body), `votes.csv` (every vote event, superseded ones included) and
 * `summary.csv` (key,value lines). The vote matrix is authoritative: it holds each participant's
 * latest vote. `comments.csv`'s agrees/disagrees count every vote event, superseded ones included,
 * so they may exceed the matrix's counts (by exactly the repeated votes of votes.csv in the shipped
 * data); they are kept as read, not checked. `votes.csv` is not read.
 *
 * The method follows the Polis math worker (compdemocracy/polis, `math/src/polismath/`, Clojure):
 * - `math/conversation.clj` (`base-conv-update-graph`, `small-conv-update-graph`):
 *   - **participants** (`:in-conv`): those with at least min(7, number of comments) votes (passes
 *     count; votes on moderated-out comments count), counted on the raw matrix; if fewer than 15
 *     qualify, the most active others are added until there are 15.
 *   - **moderation** (`:rating-mat`, `named_matrix.clj` `zero-out-columns`, `mod-update`): a
 *     comment with `moderated = -1` is "mod-out"; its whole column is set to 0 (every participant,
 *     shown or not) before PCA and projection. Comments with 0 (unmoderated) or 1 stay in.
 *   - **missing votes** (`:mat`): replaced by the column mean of the votes cast (over every
 *     participant, not only those kept), for PCA only.
 *   - **PCA** (`math/pca.clj` `powerit-pca`): the column-centred imputed matrix of *every*
 *     participant, 2 components by power iteration from a random start vector, the second after
 *     deflating the first (`factor-matrix`).
 *   - **projection** (`sparsity-aware-project-ptpt`): each participant's (vote - centre) . pc over
 *     the comments they voted on (a zeroed mod-out column counts as voted), scaled by
 *     sqrt(comments / max(votes, 1)), pushing sparse voters out from the centre.
 *   - **base clusters** (`:base-clusters`, `clusters.clj` `kmeans`): k-means with k = 100 on the
 *     projections of the kept participants, started from the first 100 distinct points
 *     (`init-clusters`); empty clusters are dropped.
 *   - **groups** (`:group-clusterings`): k-means of the base-cluster centres weighted by their sizes,
 *     for k = 2 .. min(5, 2 + floor(base clusters / 12)) (`max-k-fn`); k is the one with the largest
 *     silhouette (`clusters.clj` `silhouette`: over the base-cluster centres, unweighted; a member
 *     alone in its cluster scores 0). A participant's group is its base cluster's group.
 *   - **group votes** (`:votes-base`, `group-votes`): per group and comment, agrees A, disagrees D
 *     and votes seen S (passes included) over the raw matrix of the group's members.
 *   - **group-aware consensus** (`:group-aware-consensus`): the product over groups of
 *     (A + 1) / (S + 2).
 * - `math/repness.clj`: per group and comment, pa = (1 + A) / (2 + S), pd likewise, their
 *   one-proportion z statistics (`stats.clj` `prop-test`), ra = pa / p-agree of everyone else with
 *   the same pseudo-counts, and the two-proportion z (`two-prop-test`); `select-rep-comments` keeps
 *   up to 5 comments per group that pass both tests at 90% (z > 1.2816), best agree first.
 *
 * Departures (a one-shot computation on a final snapshot, where Polis updates incrementally):
 * - Polis warm-starts every update from the last one (PCA start vectors, base and group clusters
 *   via `clean-start-clusters`, and a k "smoother" that switches k only after 4 consecutive updates
 *   agree). Here everything starts from scratch: PCA from a seeded random vector, run to
 *   convergence (up to 1,000 iterations; Polis does 100 per update, warm-started); group k-means
 *   from seeded k-means++ starts (10 restarts, lowest weighted inertia kept; the Python port
 *   `delphi/polismath/pca_kmeans_rep/clusters.py` also seeds a k-means++ start), k chosen from this
 *   snapshot alone. Polis' `in-conv` set only grows, so a participant let in early (the "top 15"
 *   rule when a conversation starts) stays in; a snapshot cannot know that.
 * - k-means iterates until no assignment changes (at most 100 iterations); Polis stops when every
 *   centre moved less than 0.01 (and the group k-means, given `:cluster-iters` that `kmeans` does
 *   not read, stops after its default 20 iterations).
 * - The sign of each component is fixed: its first entry that is not ~0 is positive (Polis' is arbitrary).
 * - Group ids are 0..k-1 by decreasing size (Polis numbers them by its cluster ids).
 * - Moderated-out comments are left out of every list of comments (consensus, agreed by all,
 *   divisive, representative); Polis leaves them out of repness and consensus selection, and the
 *   client hides them. Their agree shares are still reported (arrays are indexed by comment).
 * - Divisiveness (not a Polis quantity) is the spread max - min over groups of the smoothed agree
 *   share (A + 1) / (S + 2), so a comment seen by one member of a small group is not extreme.
 * - "Agreed by every group": in every group more than half of the votes seen are agrees
 *   (equivalently (A + 1) / (S + 2) > 1/2).
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { CivitasError, messageOf } from "../errors.js";
import { seededRng, type Rng } from "../metrics/rng.js";

// ---------------------------------------------------------------------------------------------
// Reading an export
// ---------------------------------------------------------------------------------------------

export const POLIS_VOTES_FILE = "participants-votes.csv";
export const POLIS_COMMENTS_FILE = "comments.csv";
export const POLIS_SUMMARY_FILE = "summary.csv";

/** The fixed leading columns of participants-votes.csv (an export may add `xid` after `participant`). */
export const POLIS_FIXED_COLUMNS = ["participant", "group-id", "n-comments", "n-votes", "n-agree", "n-disagree"] as const;

/** Moderation status in comments.csv: -1 moderated out, 0 not moderated (yet), 1 moderated in. */
export type PolisModeration = -1 | 0 | 1;

export interface PolisComment {
  /** The Polis comment id (`tid`), the column name in participants-votes.csv. */
  readonly id: number;
  readonly text: string;
  readonly moderated: PolisModeration;
  /** The author's participant id, when comments.csv gives it. */
  readonly authorId: number | null;
  /** comments.csv's counts: every vote event, superseded ones included (so >= the matrix's counts). */
  readonly agrees: number | null;
  readonly disagrees: number | null;
}

export interface PolisData {
  /** The conversation folder. */
  readonly dir: string;
  readonly files: { readonly votes: string; readonly comments: string; readonly summary: string | null };
  /** Participant ids, in file order (row i of `votes`). */
  readonly participants: readonly number[];
  /** Comments in column order of participants-votes.csv (column j of `votes`). */
  readonly comments: readonly PolisComment[];
  /** votes[i][j]: 1 agree, -1 disagree, 0 pass, NaN not shown / not voted. */
  readonly votes: readonly Float64Array[];
  /** The group Polis assigned each participant (the `group-id` column), null when empty (not in the conversation's groups). */
  readonly groupIds: readonly (number | null)[];
  /** The `n-comments` column: comments each participant wrote. */
  readonly authored: readonly number[];
  /** summary.csv as key -> value, when present. */
  readonly summary: Readonly<Record<string, string>> | null;
  /** Problems that did not stop reading. */
  readonly warnings: readonly string[];
}

interface CsvRecord {
  record: string[];
  line: number;
}

async function readCsvRecords(file: string): Promise<CsvRecord[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new CivitasError("input", `${file}: cannot read: ${messageOf(e)}`);
  }
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsv(text, { bom: true, info: true, relax_column_count: true, skip_empty_lines: true }) as unknown as typeof records;
  } catch (e) {
    throw new CivitasError("input", `${file}: not a valid CSV file: ${messageOf(e)}`, {
      hint: 'a cell holding a comma, a quote or a line break must be in double quotes, with inner quotes doubled ("")',
    });
  }
  return records.map(({ record, info }) => {
    // info.lines is the line the record ends on; step back over line breaks inside quoted cells.
    let inner = 0;
    for (const c of record) for (let i = c.indexOf("\n"); i !== -1; i = c.indexOf("\n", i + 1)) inner++;
    return { record, line: info.lines - inner };
  });
}

const INT = /^-?\d+$/;

function parseIntCell(file: string, line: number, column: string, cell: string, opts: { min?: number } = {}): number {
  const s = cell.trim();
  if (!INT.test(s)) throw new CivitasError("input", `${file} line ${line}, column "${column}": "${cell}" is not an integer`);
  const v = Number(s);
  if (opts.min !== undefined && v < opts.min) {
    throw new CivitasError("input", `${file} line ${line}, column "${column}": ${v} is below ${opts.min}`);
  }
  return v;
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch (e) {
    throw new CivitasError((e as NodeJS.ErrnoException).code === "ENOENT" ? "usage" : "input", `${p}: not found (${messageOf(e)})`, {
      hint: `give a Polis export folder (holding ${POLIS_VOTES_FILE} and ${POLIS_COMMENTS_FILE}) or its ${POLIS_VOTES_FILE}`,
    });
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** At most `max` items of a list of problems, and how many more there are. */
function capped(items: readonly string[], max = 5): string {
  return items.length <= max ? items.join("; ") : `${items.slice(0, max).join("; ")}; and ${items.length - max} more`;
}

/**
 * Reads a Polis open-data export: `dir` is the conversation folder or its participants-votes.csv
 * (comments.csv must sit beside it; summary.csv is read when present).
 *
 * Errors (the file cannot be used): a missing file; a header that is not `participant, [xid,]
 * group-id, n-comments, n-votes, n-agree, n-disagree, <comment ids>`; a comment column that is not
 * an integer id or appears twice; a row of another length; a participant id that is not an integer
 * or appears twice; a group-id or count that is not a non-negative integer; a vote that is not 1,
 * -1, 0 or empty; a comment column that comments.csv does not describe; comments.csv without
 * `comment-id` or `comment-body`, with a repeated id or a `moderated` value other than -1, 0, 1.
 *
 * Warnings (the vote cells are authoritative, the rest are summaries): n-votes / n-agree /
 * n-disagree that do not match the row's votes; n-comments that does not match the comments
 * comments.csv credits to the participant; a comment of comments.csv with no column (nobody voted
 * on it; it is left out); comments.csv without `moderated` (every comment taken as 0); summary.csv
 * counts (voters, comments, groups) that differ from the files.
 */
export async function readPolis(dir: string): Promise<PolisData> {
  const isDir = await isDirectory(dir);
  const folder = isDir ? dir : path.dirname(dir);
  const votesFile = isDir ? path.join(dir, POLIS_VOTES_FILE) : dir;
  const commentsFile = path.join(folder, POLIS_COMMENTS_FILE);
  const summaryFile = path.join(folder, POLIS_SUMMARY_FILE);
  if (!(await exists(votesFile))) {
    throw new CivitasError("input", `${votesFile}: not found`, { hint: `a Polis export folder holds ${POLIS_VOTES_FILE} and ${POLIS_COMMENTS_FILE}` });
  }
  if (!(await exists(commentsFile))) {
    throw new CivitasError("input", `${commentsFile}: not found (the comment texts of ${votesFile})`, {
      hint: `put the export's ${POLIS_COMMENTS_FILE} beside ${POLIS_VOTES_FILE}`,
    });
  }
  const warnings: string[] = [];

  // participants-votes.csv
  const rows = await readCsvRecords(votesFile);
  const head = rows[0];
  if (!head) throw new CivitasError("input", `${votesFile} is empty (expected the header ${POLIS_FIXED_COLUMNS.join(",")},<comment ids>)`);
  const header = head.record.map((h) => h.trim());
  const hasXid = header[1] === "xid";
  const fixed = hasXid ? [POLIS_FIXED_COLUMNS[0], "xid", ...POLIS_FIXED_COLUMNS.slice(1)] : [...POLIS_FIXED_COLUMNS];
  fixed.forEach((name, i) => {
    if (header[i] !== name) {
      throw new CivitasError("input", `${votesFile} line 1, column ${i + 1}: expected "${name}", found ${header[i] === undefined ? "nothing" : `"${header[i]}"`}`, {
        hint: `the header of a Polis export is ${POLIS_FIXED_COLUMNS.join(",")},<comment ids>`,
      });
    }
  });
  const col = (name: string): number => fixed.indexOf(name);
  const first = fixed.length;
  const commentIds: number[] = [];
  const seenIds = new Map<number, number>();
  for (let j = first; j < header.length; j++) {
    const h = header[j]!;
    if (!/^\d+$/.test(h)) throw new CivitasError("input", `${votesFile} line 1, column ${j + 1}: "${h}" is not a comment id (a non-negative integer)`);
    const id = Number(h);
    const prev = seenIds.get(id);
    if (prev !== undefined) throw new CivitasError("input", `${votesFile} line 1: comment ${id} appears twice (columns ${prev + 1} and ${j + 1})`);
    seenIds.set(id, j);
    commentIds.push(id);
  }
  if (commentIds.length === 0) throw new CivitasError("input", `${votesFile} line 1: no comment columns after ${fixed.join(",")}`);

  const participants: number[] = [];
  const groupIds: (number | null)[] = [];
  const authored: number[] = [];
  const votes: Float64Array[] = [];
  const seenParticipants = new Map<number, number>();
  const countProblems: string[] = [];
  for (const { record, line } of rows.slice(1)) {
    if (record.length !== header.length) {
      throw new CivitasError("input", `${votesFile} line ${line}: ${record.length} cells, the header has ${header.length}`);
    }
    const pid = parseIntCell(votesFile, line, "participant", record[0]!, { min: 0 });
    const prev = seenParticipants.get(pid);
    if (prev !== undefined) throw new CivitasError("input", `${votesFile} line ${line}: participant ${pid} appears twice (also line ${prev})`);
    seenParticipants.set(pid, line);
    const g = record[col("group-id")]!.trim();
    const group = g === "" ? null : parseIntCell(votesFile, line, "group-id", g, { min: 0 });
    const nComments = parseIntCell(votesFile, line, "n-comments", record[col("n-comments")]!, { min: 0 });
    const nVotes = parseIntCell(votesFile, line, "n-votes", record[col("n-votes")]!, { min: 0 });
    const nAgree = parseIntCell(votesFile, line, "n-agree", record[col("n-agree")]!, { min: 0 });
    const nDisagree = parseIntCell(votesFile, line, "n-disagree", record[col("n-disagree")]!, { min: 0 });
    const row = new Float64Array(commentIds.length);
    let seen = 0;
    let agree = 0;
    let disagree = 0;
    for (let j = 0; j < commentIds.length; j++) {
      const cell = record[first + j]!.trim();
      let v: number;
      if (cell === "") v = NaN;
      else if (cell === "1") v = 1;
      else if (cell === "-1") v = -1;
      else if (cell === "0" || cell === "-0") v = 0;
      else {
        throw new CivitasError("input", `${votesFile} line ${line}, column "${commentIds[j]}" (participant ${pid}): vote "${record[first + j]}" is not 1 (agree), -1 (disagree), 0 (pass) or empty (not shown)`);
      }
      row[j] = v;
      if (!Number.isNaN(v)) seen++;
      if (v === 1) agree++;
      if (v === -1) disagree++;
    }
    const diffs: string[] = [];
    if (nVotes !== seen) diffs.push(`n-votes ${nVotes} but ${seen} votes`);
    if (nAgree !== agree) diffs.push(`n-agree ${nAgree} but ${agree} agrees`);
    if (nDisagree !== disagree) diffs.push(`n-disagree ${nDisagree} but ${disagree} disagrees`);
    if (diffs.length > 0) countProblems.push(`line ${line} (participant ${pid}): ${diffs.join(", ")}`);
    participants.push(pid);
    groupIds.push(group);
    authored.push(nComments);
    votes.push(row);
  }
  if (participants.length === 0) throw new CivitasError("input", `${votesFile}: no participants after the header`);
  if (countProblems.length > 0) {
    warnings.push(`${votesFile}: ${countProblems.length} participant(s) whose counts differ from their votes (the votes are used): ${capped(countProblems)}`);
  }

  // comments.csv
  const crows = await readCsvRecords(commentsFile);
  const chead = crows[0];
  if (!chead) throw new CivitasError("input", `${commentsFile} is empty (expected a header with comment-id and comment-body)`);
  const ch = chead.record.map((h) => h.trim());
  const ci = (name: string): number => ch.indexOf(name);
  for (const name of ["comment-id", "comment-body"]) {
    if (ci(name) < 0) throw new CivitasError("input", `${commentsFile} line 1: no "${name}" column (found ${ch.join(", ")})`);
  }
  if (ci("moderated") < 0) warnings.push(`${commentsFile}: no "moderated" column; every comment is taken as not moderated (0)`);
  const byId = new Map<number, PolisComment & { line: number }>();
  const optionalInt = (record: string[], line: number, name: string, min?: number): number | null => {
    const i = ci(name);
    if (i < 0) return null;
    const cell = (record[i] ?? "").trim();
    if (cell === "") return null;
    return parseIntCell(commentsFile, line, name, cell, min === undefined ? {} : { min });
  };
  for (const { record, line } of crows.slice(1)) {
    if (record.length !== ch.length) throw new CivitasError("input", `${commentsFile} line ${line}: ${record.length} cells, the header has ${ch.length}`);
    const id = parseIntCell(commentsFile, line, "comment-id", record[ci("comment-id")]!, { min: 0 });
    const prev = byId.get(id);
    if (prev) throw new CivitasError("input", `${commentsFile} line ${line}: comment ${id} appears twice (also line ${prev.line})`);
    const mod = optionalInt(record, line, "moderated") ?? 0;
    if (mod !== -1 && mod !== 0 && mod !== 1) {
      throw new CivitasError("input", `${commentsFile} line ${line}, column "moderated": ${mod} is not -1 (moderated out), 0 (not moderated) or 1 (moderated in)`);
    }
    byId.set(id, {
      id,
      text: record[ci("comment-body")]!,
      moderated: mod,
      authorId: optionalInt(record, line, "author-id"),
      agrees: optionalInt(record, line, "agrees", 0),
      disagrees: optionalInt(record, line, "disagrees", 0),
      line,
    });
  }
  const comments: PolisComment[] = commentIds.map((id, j) => {
    const c = byId.get(id);
    if (!c) {
      throw new CivitasError("input", `${votesFile} line 1, column ${first + j + 1}: comment ${id} is not in ${commentsFile}`, {
        hint: "the two files must come from the same export",
      });
    }
    const { line: _line, ...rest } = c;
    return rest;
  });
  const unvoted = [...byId.keys()].filter((id) => !seenIds.has(id)).sort((a, b) => a - b);
  if (unvoted.length > 0) {
    warnings.push(`${commentsFile}: ${unvoted.length} comment(s) without a column in ${POLIS_VOTES_FILE} (no votes; left out): ${capped(unvoted.map(String), 10)}`);
  }
  // n-comments against the authors of comments.csv (when it names them).
  if (ci("author-id") >= 0) {
    const byAuthor = new Map<number, number>();
    for (const c of byId.values()) if (c.authorId !== null) byAuthor.set(c.authorId, (byAuthor.get(c.authorId) ?? 0) + 1);
    const problems: string[] = [];
    participants.forEach((pid, i) => {
      const n = byAuthor.get(pid) ?? 0;
      if (n !== authored[i]) problems.push(`participant ${pid}: n-comments ${authored[i]}, ${POLIS_COMMENTS_FILE} credits ${n}`);
    });
    if (problems.length > 0) warnings.push(`${votesFile}: ${problems.length} n-comments value(s) differ from ${POLIS_COMMENTS_FILE}: ${capped(problems)}`);
  }

  // summary.csv (optional)
  let summary: Record<string, string> | null = null;
  if (await exists(summaryFile)) {
    summary = {};
    for (const { record } of await readCsvRecords(summaryFile)) {
      const k = record[0]?.trim();
      if (k) summary[k] = (record[1] ?? "").trim();
    }
    const check = (key: string, actual: number): void => {
      const v = summary![key];
      if (v !== undefined && INT.test(v) && Number(v) !== actual) {
        warnings.push(`${summaryFile}: ${key} is ${v}, the files give ${actual}`);
      }
    };
    check("voters", participants.length);
    check("comments", commentIds.length);
    check("groups", new Set(groupIds.filter((g) => g !== null)).size);
  }

  return {
    dir: folder,
    files: { votes: votesFile, comments: commentsFile, summary: summary === null ? null : summaryFile },
    participants,
    comments,
    votes,
    groupIds,
    authored,
    summary,
    warnings,
  };
}

// ---------------------------------------------------------------------------------------------
// Linear algebra and clustering (small dense matrices; written out, as Polis does)
// ---------------------------------------------------------------------------------------------

type Rows = readonly ArrayLike<number>[];

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function dist2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return s;
}

function columnCount(rows: Rows): number {
  const m = rows[0]?.length ?? 0;
  rows.forEach((r, i) => {
    if (r.length !== m) throw new CivitasError("usage", `row ${i} has ${r.length} columns, row 0 has ${m}`);
  });
  return m;
}

/** Mean of each column over its non-NaN entries (0 for a column with none). */
export function columnMeans(rows: Rows): Float64Array {
  const m = columnCount(rows);
  const sum = new Float64Array(m);
  const n = new Float64Array(m);
  for (const r of rows) {
    for (let j = 0; j < m; j++) {
      const v = r[j]!;
      if (!Number.isNaN(v)) {
        sum[j]! += v;
        n[j]!++;
      }
    }
  }
  return sum.map((s, j) => (n[j]! > 0 ? s / n[j]! : 0));
}

/** Polis' `:mat`: every NaN replaced by its column's mean over the votes cast. */
export function imputeColumnMeans(rows: Rows): Float64Array[] {
  const means = columnMeans(rows);
  return rows.map((r) => Float64Array.from(r, (v, j) => (Number.isNaN(v) ? means[j]! : v)));
}

export interface Pca {
  /** Column means of the data. */
  readonly center: Float64Array;
  /** Unit-length components, strongest first; the first entry of each that is not ~0 (above 1e-6 x its largest) is positive. */
  readonly comps: Float64Array[];
  /** X'X eigenvalue estimate of each component (the squared length of the data along it). */
  readonly eigenvalues: number[];
}

export interface PcaOptions {
  /** Seed of the random start vectors (Polis: `rand-starting-vec`). Default 0. */
  readonly seed?: number;
  /** Power iterations per component at most. Default 1000. */
  readonly maxIters?: number;
  /** Stop when the component moves less than this (Euclidean). Default 1e-12. */
  readonly tol?: number;
}

/**
 * PCA by power iteration, as Polis' `powerit-pca` (math/pca.clj): centre the columns, find the
 * leading eigenvector of X'X by repeated multiplication (`xtxr`, `power-iteration`) from a random
 * start, then deflate the data (`factor-matrix`: remove each row's projection on the component)
 * and repeat. `nComps` is capped at min(rows, columns). A component of a matrix with no variance
 * left is the zero vector. Rows must be complete (no NaN); impute first.
 */
export function powerIterationPca(rows: Rows, nComps: number, options: PcaOptions = {}): Pca {
  const m = columnCount(rows);
  const n = rows.length;
  const maxIters = options.maxIters ?? 1000;
  const tol = options.tol ?? 1e-12;
  const rng = seededRng(options.seed ?? 0);
  const center = new Float64Array(m);
  for (const r of rows) for (let j = 0; j < m; j++) center[j]! += r[j]!;
  if (n > 0) for (let j = 0; j < m; j++) center[j]! /= n;
  const data = rows.map((r) => Float64Array.from(r, (v, j) => v - center[j]!));
  for (const r of data) for (const v of r) if (!Number.isFinite(v)) throw new CivitasError("usage", "powerIterationPca: the data has NaN or infinite entries; impute missing values first");
  const comps: Float64Array[] = [];
  const eigenvalues: number[] = [];
  const k = Math.min(nComps, n, m);
  for (let c = 0; c < k; c++) {
    let v: Float64Array = Float64Array.from({ length: m }, () => rng.float());
    let eig = 0;
    for (let it = 0; it < maxIters; it++) {
      // X'X v as a sum over rows of (row . v) row
      const next = new Float64Array(m);
      for (const r of data) {
        const s = dot(r, v);
        if (s !== 0) for (let j = 0; j < m; j++) next[j]! += s * r[j]!;
      }
      const len = Math.sqrt(dot(next, next));
      if (len === 0) {
        v = new Float64Array(m);
        eig = 0;
        break;
      }
      for (let j = 0; j < m; j++) next[j]! /= len;
      const moved = Math.sqrt(dist2(next, v));
      v = next;
      eig = len;
      if (moved < tol) break;
    }
    // a fixed sign: the first entry that is not ~0 is positive
    let big = 0;
    for (let j = 0; j < m; j++) big = Math.max(big, Math.abs(v[j]!));
    const lead = v.findIndex((x) => Math.abs(x) > 1e-6 * big);
    if (lead >= 0 && v[lead]! < 0) for (let j = 0; j < m; j++) v[j] = -v[j]!;
    comps.push(v);
    eigenvalues.push(eig);
    // deflate
    if (dot(v, v) > 0) {
      for (const r of data) {
        const s = dot(r, v);
        for (let j = 0; j < m; j++) r[j]! -= s * v[j]!;
      }
    }
  }
  return { center, comps, eigenvalues };
}

/**
 * Polis' `sparsity-aware-project-ptpt` (math/pca.clj): each row's projection on the components over
 * its non-NaN entries only, (x - center) . pc, scaled by sqrt(columns / max(non-NaN entries, 1)).
 */
export function projectSparse(rows: Rows, pca: Pca): Float64Array[] {
  const m = pca.center.length;
  return rows.map((r) => {
    const p = new Float64Array(pca.comps.length);
    let voted = 0;
    for (let j = 0; j < m; j++) {
      const x = r[j]!;
      if (Number.isNaN(x)) continue;
      voted++;
      const d = x - pca.center[j]!;
      for (let c = 0; c < p.length; c++) p[c]! += d * pca.comps[c]![j]!;
    }
    const scale = Math.sqrt(m / Math.max(voted, 1));
    for (let c = 0; c < p.length; c++) p[c]! *= scale;
    return p;
  });
}

export interface KMeansOptions {
  /** Weight of each point (Polis weighs base clusters by their sizes). Default 1 each. */
  readonly weights?: ArrayLike<number>;
  /**
   * "first-distinct": the first k distinct points in order (Polis' `init-clusters`); deterministic.
   * "kmeans++": seeded k-means++ (probability proportional to weight x squared distance), best of
   * `nInit` runs by weighted inertia. Default "kmeans++".
   */
  readonly init?: "first-distinct" | "kmeans++";
  readonly seed?: number;
  /** k-means++ restarts. Default 10. */
  readonly nInit?: number;
  /** Lloyd iterations at most. Default 100. */
  readonly maxIters?: number;
}

export interface KMeans {
  /** Cluster centres; clusters left empty are dropped, so there may be fewer than k. */
  readonly centers: Float64Array[];
  /** labels[i]: index into `centers` of point i's cluster. */
  readonly labels: Int32Array;
  /** Weighted sum of squared distances to the assigned centres. */
  readonly inertia: number;
}

function lloyd(points: Rows, weights: ArrayLike<number>, start: Float64Array[], maxIters: number): KMeans {
  const d = points[0]?.length ?? 0;
  let centers = start.map((c) => Float64Array.from(c));
  let labels = new Int32Array(points.length).fill(-1);
  for (let it = 0; it < maxIters; it++) {
    // Assign each point to its nearest centre (ties: the first), as Polis' `add-to-closest`.
    const next = new Int32Array(points.length);
    points.forEach((p, i) => {
      let best = 0;
      let bd = Infinity;
      centers.forEach((c, k) => {
        const dd = dist2(p, c);
        if (dd < bd) {
          bd = dd;
          best = k;
        }
      });
      next[i] = best;
    });
    // Weighted means; empty clusters are dropped (`cluster-step`) and labels renumbered.
    const sums = centers.map(() => new Float64Array(d));
    const mass = new Float64Array(centers.length);
    const count = new Int32Array(centers.length);
    points.forEach((p, i) => {
      const k = next[i]!;
      const w = weights[i]!;
      mass[k]! += w;
      count[k]!++;
      for (let j = 0; j < d; j++) sums[k]![j]! += w * p[j]!;
    });
    const keep: number[] = [];
    const renumber = new Int32Array(centers.length).fill(-1);
    centers.forEach((_, k) => {
      if (count[k]! > 0) {
        renumber[k] = keep.length;
        keep.push(k);
      }
    });
    const newCenters = keep.map((k) => (mass[k]! > 0 ? sums[k]!.map((s) => s / mass[k]!) : Float64Array.from(centers[k]!)));
    const newLabels = next.map((k) => renumber[k]!);
    const same = keep.length === centers.length && newLabels.every((l, i) => l === labels[i]);
    centers = newCenters;
    labels = newLabels;
    if (same) break;
  }
  let inertia = 0;
  points.forEach((p, i) => {
    inertia += weights[i]! * dist2(p, centers[labels[i]!]!);
  });
  return { centers, labels, inertia };
}

/**
 * k-means (Lloyd) as Polis' `kmeans` (math/clusters.clj): assign to the nearest centre, move each
 * centre to the weighted mean of its points, drop empty clusters; until no assignment changes.
 */
export function kmeans(points: Rows, k: number, options: KMeansOptions = {}): KMeans {
  if (!Number.isInteger(k) || k < 1) throw new CivitasError("usage", `kmeans: k must be a positive integer, got ${k}`);
  const n = points.length;
  if (n === 0) return { centers: [], labels: new Int32Array(0), inertia: 0 };
  columnCount(points);
  const weights = options.weights ?? new Float64Array(n).fill(1);
  if (weights.length !== n) throw new CivitasError("usage", `kmeans: ${weights.length} weights for ${n} points`);
  for (let i = 0; i < n; i++) {
    if (!(weights[i]! >= 0) || !Number.isFinite(weights[i]!)) throw new CivitasError("usage", `kmeans: weight ${i} is ${weights[i]}, not a finite non-negative number`);
  }
  const maxIters = options.maxIters ?? 100;
  // distinct points, in order
  const distinct: number[] = [];
  const keys = new Set<string>();
  points.forEach((p, i) => {
    const key = Array.from(p).join(",");
    if (!keys.has(key)) {
      keys.add(key);
      distinct.push(i);
    }
  });
  if ((options.init ?? "kmeans++") === "first-distinct") {
    return lloyd(points, weights, distinct.slice(0, k).map((i) => Float64Array.from(points[i]!)), maxIters);
  }
  const rng = seededRng(options.seed ?? 0);
  const nInit = options.nInit ?? 10;
  let best: KMeans | null = null;
  for (let run = 0; run < nInit; run++) {
    const start = kmeansPlusPlus(points, weights, Math.min(k, distinct.length), rng);
    const result = lloyd(points, weights, start, maxIters);
    if (best === null || result.inertia < best.inertia) best = result;
  }
  return best!;
}

function pickWeighted(p: ArrayLike<number>, rng: Rng): number {
  let total = 0;
  for (let i = 0; i < p.length; i++) total += p[i]!;
  let u = rng.float() * total;
  for (let i = 0; i < p.length; i++) {
    u -= p[i]!;
    if (u < 0 && p[i]! > 0) return i;
  }
  for (let i = p.length - 1; i >= 0; i--) if (p[i]! > 0) return i;
  return 0;
}

function kmeansPlusPlus(points: Rows, weights: ArrayLike<number>, k: number, rng: Rng): Float64Array[] {
  const n = points.length;
  const anyWeight = Array.from(weights).some((w) => w > 0);
  const w = anyWeight ? weights : new Float64Array(n).fill(1);
  const centers = [Float64Array.from(points[pickWeighted(w, rng)]!)];
  const d2 = new Float64Array(n).fill(Infinity);
  while (centers.length < k) {
    const last = centers[centers.length - 1]!;
    const p = new Float64Array(n);
    points.forEach((x, i) => {
      d2[i] = Math.min(d2[i]!, dist2(x, last));
      p[i] = w[i]! * d2[i]!;
    });
    if (!p.some((v) => v > 0)) break; // every point sits on a centre
    centers.push(Float64Array.from(points[pickWeighted(p, rng)]!));
  }
  return centers;
}

/**
 * Silhouette of each point (Rousseeuw 1987), as Polis' `silhouette` (math/clusters.clj) and
 * sklearn's `silhouette_samples`: a = mean distance to the other members of its cluster, b = the
 * smallest mean distance to the members of another cluster, s = (b - a) / max(a, b); a point alone
 * in its cluster scores 0 (and 0 when a = b = 0). Needs at least 2 clusters.
 */
export function silhouetteSamples(points: Rows, labels: ArrayLike<number>): Float64Array {
  const n = points.length;
  if (labels.length !== n) throw new CivitasError("usage", `silhouette: ${labels.length} labels for ${n} points`);
  const ids = [...new Set(Array.from(labels))];
  if (ids.length < 2) throw new CivitasError("usage", `silhouette needs at least 2 clusters, got ${ids.length}`);
  const index = new Map(ids.map((id, k) => [id, k]));
  const size = new Int32Array(ids.length);
  for (let i = 0; i < n; i++) size[index.get(labels[i]!)!]!++;
  const out = new Float64Array(n);
  const sums = new Float64Array(ids.length);
  for (let i = 0; i < n; i++) {
    sums.fill(0);
    for (let j = 0; j < n; j++) if (j !== i) sums[index.get(labels[j]!)!]! += Math.sqrt(dist2(points[i]!, points[j]!));
    const own = index.get(labels[i]!)!;
    if (size[own]! === 1) {
      out[i] = 0;
      continue;
    }
    const a = sums[own]! / (size[own]! - 1);
    let b = Infinity;
    for (let k = 0; k < ids.length; k++) if (k !== own && size[k]! > 0) b = Math.min(b, sums[k]! / size[k]!);
    const mx = Math.max(a, b);
    out[i] = mx === 0 ? 0 : (b - a) / mx;
  }
  return out;
}

/** Mean silhouette over the points (sklearn's `silhouette_score`, Polis' clustering silhouette). */
export function silhouette(points: Rows, labels: ArrayLike<number>): number {
  const s = silhouetteSamples(points, labels);
  let t = 0;
  for (const v of s) t += v;
  return t / s.length;
}

/**
 * Adjusted Rand index (Hubert & Arabie 1985), computed as sklearn's `adjusted_rand_score` from the
 * pair confusion matrix: 2 (tp tn - fn fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn)), and 1 when
 * there is no disagreeing pair (identical partitions, including fewer than 2 items). Labels are
 * compared by identity only (the names do not matter).
 */
export function adjustedRandIndex(a: readonly (number | string)[], b: readonly (number | string)[]): number {
  if (a.length !== b.length) throw new CivitasError("usage", `adjustedRandIndex: ${a.length} labels against ${b.length}`);
  const n = a.length;
  const cells = new Map<string, number>();
  const rows = new Map<number | string, number>();
  const cols = new Map<number | string, number>();
  for (let i = 0; i < n; i++) {
    const key = JSON.stringify([a[i], b[i]]);
    cells.set(key, (cells.get(key) ?? 0) + 1);
    rows.set(a[i]!, (rows.get(a[i]!) ?? 0) + 1);
    cols.set(b[i]!, (cols.get(b[i]!) ?? 0) + 1);
  }
  let sumSquares = 0;
  for (const v of cells.values()) sumSquares += v * v;
  let rowSq = 0;
  for (const v of rows.values()) rowSq += v * v;
  let colSq = 0;
  for (const v of cols.values()) colSq += v * v;
  const tp = sumSquares - n;
  const fp = colSq - sumSquares; // same cluster in b, different in a
  const fn = rowSq - sumSquares; // same class in a, different in b
  const tn = n * n - fp - fn - sumSquares;
  if (fn === 0 && fp === 0) return 1;
  return (2 * (tp * tn - fn * fp)) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn));
}

// ---------------------------------------------------------------------------------------------
// Polis' statistics (math/stats.clj, math/repness.clj)
// ---------------------------------------------------------------------------------------------

/** `prop-test`: one-proportion z statistic with a +1 pseudo-count on successes and trials. */
export function propTest(successes: number, trials: number): number {
  const s = successes + 1;
  const n = trials + 1;
  return 2 * Math.sqrt(n) * (s / n - 0.5);
}

/** `two-prop-test`: two-proportion z statistic, +1 on each of the four counts; 0 when the pooled share is 1. */
export function twoPropTest(succIn: number, succOut: number, popIn: number, popOut: number): number {
  const s1 = succIn + 1;
  const s2 = succOut + 1;
  const n1 = popIn + 1;
  const n2 = popOut + 1;
  const pHat = (s1 + s2) / (n1 + n2);
  if (pHat === 1) return 0;
  return (s1 / n1 - s2 / n2) / Math.sqrt(pHat * (1 - pHat) * (1 / n1 + 1 / n2));
}

/** `z-sig-90?`: significant at 90%, one-sided. */
export const Z90 = 1.2816;

export interface PolisRepComment {
  /** Comment id. */
  readonly comment: number;
  readonly text: string;
  /** Whether the group is distinguished by agreeing or disagreeing more than the others. */
  readonly repfulFor: "agree" | "disagree";
  /** Agrees (or disagrees) in the group, and the group's votes seen. */
  readonly nSuccess: number;
  readonly nTrials: number;
  /** (1 + nSuccess) / (2 + nTrials). */
  readonly pSuccess: number;
  /** `prop-test` of the share. */
  readonly pTest: number;
  /** The share over the same share among everyone else (ra or rd). */
  readonly repness: number;
  /** `two-prop-test` group against everyone else. */
  readonly repnessTest: number;
  /** Polis' sort key: repness x repnessTest x pSuccess x pTest. */
  readonly metric: number;
  /** The comment Polis shows first as the group's best agreed comment. */
  readonly bestAgree: boolean;
}

interface CommentStats {
  na: number;
  nd: number;
  ns: number;
  pa: number;
  pd: number;
  pat: number;
  pdt: number;
  ra: number;
  rd: number;
  rat: number;
  rdt: number;
}

function commentStats(na: number, nd: number, ns: number, restA: number, restD: number, restS: number): CommentStats {
  const pa = (1 + na) / (2 + ns);
  const pd = (1 + nd) / (2 + ns);
  return {
    na,
    nd,
    ns,
    pa,
    pd,
    pat: propTest(na, ns),
    pdt: propTest(nd, ns),
    ra: pa / ((1 + restA) / (2 + restS)),
    rd: pd / ((1 + restD) / (2 + restS)),
    rat: twoPropTest(na, restA, ns, restS),
    rdt: twoPropTest(nd, restD, ns, restS),
  };
}

function finalizeStats(comment: number, text: string, s: CommentStats, bestAgree: boolean): PolisRepComment {
  const agree = s.rat > s.rdt;
  const r = agree
    ? { repfulFor: "agree" as const, nSuccess: s.na, pSuccess: s.pa, pTest: s.pat, repness: s.ra, repnessTest: s.rat }
    : { repfulFor: "disagree" as const, nSuccess: s.nd, pSuccess: s.pd, pTest: s.pdt, repness: s.rd, repnessTest: s.rdt };
  return { comment, text, nTrials: s.ns, ...r, metric: r.repness * r.repnessTest * r.pSuccess * r.pTest, bestAgree };
}

/**
 * Polis' `select-rep-comments` (math/repness.clj) for one group: the comments passing both tests
 * (agree or disagree) at 90%, sorted by the repness metric, the best agreed comment first, at most
 * 5, agrees before disagrees; when none passes, the best agreed comment, or else the comment with
 * the best test. `candidates` are the comment indices to consider (moderated-out left out).
 */
function selectRepComments(stats: CommentStats[], candidates: readonly number[], comments: readonly PolisComment[]): PolisRepComment[] {
  const sufficient: number[] = [];
  let best: PolisRepComment | null = null;
  let bestAgree: number | null = null;
  for (const c of candidates) {
    const s = stats[c]!;
    if ((s.rat > Z90 && s.pat > Z90) || (s.rdt > Z90 && s.pdt > Z90)) sufficient.push(c);
    if (sufficient.length === 0 && (best === null || Math.max(s.rat, s.rdt) > best.repnessTest)) {
      best = finalizeStats(comments[c]!.id, comments[c]!.text, s, false);
    }
    // beats-best-agr?
    let beats: boolean;
    const cur = bestAgree === null ? null : stats[bestAgree]!;
    if (s.na === 0 && s.nd === 0) beats = false;
    else if (cur !== null && cur.ra > 1.0) beats = s.ra * s.rat * s.pa * s.pat > cur.ra * cur.rat * cur.pa * cur.pat;
    else if (cur !== null) beats = s.pa * s.pat > cur.pa * cur.pat;
    else beats = s.pat > Z90 || (s.ra > 1.0 && s.pa > 0.5);
    if (beats) bestAgree = c;
  }
  const agreeHead = bestAgree === null ? null : finalizeStats(comments[bestAgree]!.id, comments[bestAgree]!.text, stats[bestAgree]!, true);
  if (sufficient.length === 0) return agreeHead ? [agreeHead] : best ? [best] : [];
  const sorted = sufficient
    .filter((c) => c !== bestAgree)
    .map((c) => finalizeStats(comments[c]!.id, comments[c]!.text, stats[c]!, false))
    .sort((x, y) => y.metric - x.metric);
  const top = [...(agreeHead ? [agreeHead] : []), ...sorted].slice(0, 5);
  return [...top.filter((r) => r.repfulFor === "agree"), ...top.filter((r) => r.repfulFor === "disagree")];
}

// ---------------------------------------------------------------------------------------------
// Opinion groups
// ---------------------------------------------------------------------------------------------

export interface PolisGroupsOptions {
  /** Seed of the PCA start vectors and the group k-means starts. Default 0. */
  readonly seed?: number;
  /** Votes a participant needs to be clustered: min(minVotes, comments). Default 7 (Polis). */
  readonly minVotes?: number;
  /** Numbers of groups tried, inclusive; further capped at 2 + floor(base clusters / 12) as Polis does. Default [2, 5]. */
  readonly kRange?: readonly [number, number];
  /** Base clusters. Default 100 (Polis' `:base-k`). */
  readonly baseK?: number;
  /** k-means++ restarts per k for the groups. Default 10. */
  readonly nInit?: number;
  /**
   * How the group k-means starts: "kmeans++" (seeded, `nInit` restarts; default) or "first-distinct"
   * (the first k base-cluster centres, Polis' `init-clusters`, what Polis does on a conversation's
   * very first update).
   */
  readonly groupInit?: "kmeans++" | "first-distinct";
}

export interface PolisParticipantResult {
  readonly id: number;
  /** Votes cast (passes and votes on moderated-out comments included). */
  readonly votes: number;
  /** Clustered (enough votes; Polis' `in-conv`). */
  readonly inConv: boolean;
  /** The group found (its id), null when not clustered. */
  readonly group: number | null;
  /** The `group-id` of the export. */
  readonly shippedGroup: number | null;
  /** Sparsity-aware projection on the two components. */
  readonly x: number;
  readonly y: number;
}

export interface PolisGroup {
  /** 0..k-1, by decreasing size. */
  readonly id: number;
  /** Participant ids. */
  readonly members: number[];
  readonly size: number;
  /** Per comment (index as `comments`): agrees / votes seen in the group (passes count as seen); NaN when nobody in the group saw it. */
  readonly agreeShare: number[];
  /** Per comment: Polis' smoothed p-agree (A + 1) / (S + 2). */
  readonly pAgree: number[];
  readonly agrees: number[];
  readonly disagrees: number[];
  readonly seen: number[];
  /** Polis' representative comments of the group (`select-rep-comments`). */
  readonly representative: PolisRepComment[];
}

export interface PolisGroupsResult {
  readonly participants: PolisParticipantResult[];
  readonly comments: readonly PolisComment[];
  readonly groups: PolisGroup[];
  readonly k: number;
  /** Silhouette of the chosen clustering over the base-cluster centres (Polis' criterion); null when k = 1. */
  readonly silhouette: number | null;
  /** The same over participants (each participant a point); null when k = 1. */
  readonly participantSilhouette: number | null;
  /** Silhouette of every k tried. */
  readonly silhouettes: { k: number; silhouette: number }[];
  readonly baseClusters: number;
  readonly pca: Pca;
  /** Group-aware consensus (product over groups of (A + 1) / (S + 2)), highest first; moderated-out comments left out. */
  readonly consensus: { comment: number; text: string; score: number }[];
  /** Comments more than half of whose votes seen are agrees in every group, by their lowest group share; moderated-out left out. */
  readonly agreedByAll: { comment: number; text: string; minAgreeShare: number }[];
  /** Comments by the spread (max - min over groups) of (A + 1) / (S + 2), largest first; moderated-out left out. */
  readonly divisive: { comment: number; text: string; spread: number; pAgree: number[] }[];
  /** Adjusted Rand index of the groups found against the export's group-id, over participants that have both; null when none has. */
  readonly ari: number | null;
  /** Participants the ARI compares. */
  readonly ariParticipants: number;
  readonly warnings: string[];
}

/** Polis keeps at least this many participants (`greedy-n` in `:in-conv`). */
export const POLIS_GREEDY_N = 15;

/**
 * Opinion groups of a Polis conversation, as the Polis math worker finds them (see the top of this
 * file for the steps, their sources in compdemocracy/polis and the departures).
 */
export function polisGroups(data: PolisData, options: PolisGroupsOptions = {}): PolisGroupsResult {
  const seed = options.seed ?? 0;
  const minVotes = options.minVotes ?? 7;
  const [kLo, kHi] = options.kRange ?? [2, 5];
  const baseK = options.baseK ?? 100;
  if (!Number.isInteger(minVotes) || minVotes < 0) throw new CivitasError("usage", `minVotes must be a non-negative integer, got ${minVotes}`);
  if (!Number.isInteger(kLo) || !Number.isInteger(kHi) || kLo < 2 || kHi < kLo) {
    throw new CivitasError("usage", `kRange must be two integers 2 <= min <= max, got [${kLo}, ${kHi}]`);
  }
  if (!Number.isInteger(baseK) || baseK < 1) throw new CivitasError("usage", `baseK must be a positive integer, got ${baseK}`);
  const warnings = [...data.warnings];
  const n = data.participants.length;
  const m = data.comments.length;
  if (data.votes.length !== n || data.groupIds.length !== n) throw new CivitasError("usage", `polisGroups: ${n} participants but ${data.votes.length} vote rows and ${data.groupIds.length} group ids`);
  data.votes.forEach((r, i) => {
    if (r.length !== m) throw new CivitasError("usage", `polisGroups: vote row ${i} has ${r.length} entries for ${m} comments`);
  });

  // Participants (`:user-vote-counts`, `:in-conv`), on the raw matrix.
  const counts = data.votes.map((r) => r.reduce((s, v) => s + (Number.isNaN(v) ? 0 : 1), 0));
  const threshold = Math.min(minVotes, m);
  const inConv = counts.map((c) => c >= threshold && c > 0);
  const nIn = inConv.filter(Boolean).length;
  if (nIn < POLIS_GREEDY_N) {
    const extra = counts
      .map((c, i) => ({ c, i }))
      .filter(({ c, i }) => c > 0 && !inConv[i])
      .sort((x, y) => y.c - x.c || x.i - y.i)
      .slice(0, POLIS_GREEDY_N - nIn);
    for (const { i } of extra) inConv[i] = true;
    if (extra.length > 0) warnings.push(`only ${nIn} participant(s) have at least ${threshold} votes; the ${extra.length} most active others were added, as Polis does below ${POLIS_GREEDY_N}`);
  }

  // Moderation (`:rating-mat`): mod-out columns zeroed for everyone.
  const modOut = data.comments.map((c) => c.moderated === -1);
  const rating = data.votes.map((r) => Float64Array.from(r, (v, j) => (modOut[j] ? 0 : v)));

  // PCA of every participant (`:mat`, `:pca`) and projection (`:proj`).
  const pca = powerIterationPca(imputeColumnMeans(rating), 2, { seed });
  const proj = projectSparse(rating, pca);

  const members = inConv.flatMap((b, i) => (b ? [i] : []));
  if (members.length === 0) throw new CivitasError("input", `${data.files.votes}: no participant has voted; there is nothing to cluster`);
  const participantsOut = (group: readonly number[]): PolisParticipantResult[] =>
    data.participants.map((id, i) => ({
      id,
      votes: counts[i]!,
      inConv: inConv[i]!,
      group: group[i]! < 0 ? null : group[i]!,
      shippedGroup: data.groupIds[i]!,
      x: proj[i]![0] ?? 0,
      y: proj[i]![1] ?? 0,
    }));

  // Base clusters (`:base-clusters`).
  const inPoints = members.map((i) => proj[i]!);
  const base = kmeans(inPoints, baseK, { init: "first-distinct", maxIters: 100 });
  const nb = base.centers.length;
  const baseWeights = new Float64Array(nb);
  for (const l of base.labels) baseWeights[l]!++;

  // Groups (`:group-clusterings`, silhouettes, k).
  const kCap = 2 + Math.floor(nb / 12);
  const kMax = Math.min(nb, Math.max(kLo, Math.min(kHi, kCap)));
  if (kCap < kHi && kMax < kHi && nb >= 2) warnings.push(`k capped at ${kMax} (Polis: at most 2 + floor(${nb} base clusters / 12))`);
  const silhouettes: { k: number; silhouette: number }[] = [];
  let bestSil: number | null = null;
  let groupOfBase: ArrayLike<number> = new Int32Array(nb); // all in group 0
  if (nb < 2 || kMax < 2) {
    warnings.push(`only ${nb} distinct base cluster(s): one group`);
  } else {
    for (let k = Math.max(2, kLo); k <= kMax; k++) {
      const km = kmeans(base.centers, k, { weights: baseWeights, init: options.groupInit ?? "kmeans++", seed: seed + k, nInit: options.nInit ?? 10, maxIters: 100 });
      if (km.centers.length < 2) continue;
      const s = silhouette(base.centers, km.labels);
      silhouettes.push({ k: km.centers.length, silhouette: s });
      if (bestSil === null || s > bestSil) {
        bestSil = s;
        groupOfBase = km.labels;
      }
    }
  }

  // Participants' groups, renumbered by decreasing size (ties: the group of the earliest row).
  const rawGroup = new Int32Array(n).fill(-1);
  members.forEach((i, t) => {
    rawGroup[i] = groupOfBase[base.labels[t]!]!;
  });
  const sizes = new Map<number, { size: number; first: number }>();
  rawGroup.forEach((g, i) => {
    if (g < 0) return;
    const s = sizes.get(g);
    if (s) s.size++;
    else sizes.set(g, { size: 1, first: i });
  });
  const order = [...sizes.entries()].sort((a, b) => b[1].size - a[1].size || a[1].first - b[1].first).map(([g]) => g);
  const rename = new Map(order.map((g, k) => [g, k]));
  const group = Array.from(rawGroup, (g) => (g < 0 ? -1 : rename.get(g)!));
  const k = order.length;

  // Group votes (`:votes-base`, `group-votes`) on the raw matrix.
  const A = Array.from({ length: k }, () => new Array<number>(m).fill(0));
  const D = Array.from({ length: k }, () => new Array<number>(m).fill(0));
  const S = Array.from({ length: k }, () => new Array<number>(m).fill(0));
  group.forEach((g, i) => {
    if (g < 0) return;
    const r = data.votes[i]!;
    for (let j = 0; j < m; j++) {
      const v = r[j]!;
      if (Number.isNaN(v)) continue;
      S[g]![j]!++;
      if (v === 1) A[g]![j]!++;
      else if (v === -1) D[g]![j]!++;
    }
  });
  const pAgree = A.map((a, g) => a.map((x, j) => (x + 1) / (S[g]![j]! + 2)));
  const candidates = data.comments.flatMap((c, j) => (c.moderated === -1 ? [] : [j]));

  // Representative comments (math/repness.clj), each group against the rest.
  const totA = new Array<number>(m).fill(0);
  const totD = new Array<number>(m).fill(0);
  const totS = new Array<number>(m).fill(0);
  for (let g = 0; g < k; g++) {
    for (let j = 0; j < m; j++) {
      totA[j]! += A[g]![j]!;
      totD[j]! += D[g]![j]!;
      totS[j]! += S[g]![j]!;
    }
  }
  const groups: PolisGroup[] = order.map((_, g) => {
    const stats = data.comments.map((_c, j) =>
      commentStats(A[g]![j]!, D[g]![j]!, S[g]![j]!, totA[j]! - A[g]![j]!, totD[j]! - D[g]![j]!, totS[j]! - S[g]![j]!),
    );
    const ids = group.flatMap((x, i) => (x === g ? [data.participants[i]!] : []));
    return {
      id: g,
      members: ids,
      size: ids.length,
      agreeShare: A[g]!.map((a, j) => (S[g]![j]! > 0 ? a / S[g]![j]! : NaN)),
      pAgree: pAgree[g]!,
      agrees: A[g]!,
      disagrees: D[g]!,
      seen: S[g]!,
      representative: k > 1 ? selectRepComments(stats, candidates, data.comments) : [],
    };
  });

  // Group-aware consensus, agreed by all, divisive.
  const byComment = <T>(f: (j: number) => T): T[] => candidates.map(f);
  const consensus = byComment((j) => ({
    comment: data.comments[j]!.id,
    text: data.comments[j]!.text,
    score: pAgree.reduce((p, g) => p * g[j]!, 1),
  })).sort((a, b) => b.score - a.score || a.comment - b.comment);
  const agreedByAll = candidates
    .filter((j) => k > 0 && groups.every((g) => g.seen[j]! > 0 && 2 * g.agrees[j]! > g.seen[j]!))
    .map((j) => ({ comment: data.comments[j]!.id, text: data.comments[j]!.text, minAgreeShare: Math.min(...groups.map((g) => g.agreeShare[j]!)) }))
    .sort((a, b) => b.minAgreeShare - a.minAgreeShare || a.comment - b.comment);
  const divisive = byComment((j) => {
    const ps = pAgree.map((g) => g[j]!);
    return { comment: data.comments[j]!.id, text: data.comments[j]!.text, spread: k > 1 ? Math.max(...ps) - Math.min(...ps) : 0, pAgree: ps };
  }).sort((a, b) => b.spread - a.spread || a.comment - b.comment);

  // Against the export's groups.
  const both = group.flatMap((g, i) => (g >= 0 && data.groupIds[i] !== null ? [i] : []));
  let ari: number | null = null;
  if (both.length > 0) {
    ari = adjustedRandIndex(
      both.map((i) => group[i]!),
      both.map((i) => data.groupIds[i]!),
    );
  } else {
    warnings.push("no participant has both a group found and a group-id in the export: no ARI");
  }
  const shippedOnly = data.groupIds.filter((g, i) => g !== null && group[i]! < 0).length;
  if (shippedOnly > 0) warnings.push(`${shippedOnly} participant(s) grouped in the export were not clustered here (fewer than ${threshold} votes); the ARI leaves them out`);

  let participantSilhouette: number | null = null;
  if (k > 1) participantSilhouette = silhouette(members.map((i) => proj[i]!), members.map((i) => group[i]!));

  return {
    participants: participantsOut(group),
    comments: data.comments,
    groups,
    k,
    silhouette: k > 1 ? bestSil : null,
    participantSilhouette,
    silhouettes,
    baseClusters: nb,
    pca,
    consensus,
    agreedByAll,
    divisive,
    ari,
    ariParticipants: both.length,
    warnings,
  };
}
