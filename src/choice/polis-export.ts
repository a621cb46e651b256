/**
 * Reading a Polis conversation's open-data export (the opinion groups are found in polis.ts).
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
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { CivitasError, messageOf } from "../errors.js";
import { readText } from "../files.js";

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

async function readCsvRecords(file: string, what: string): Promise<CsvRecord[]> {
  const text = await readText(file, what);
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
  const rows = await readCsvRecords(votesFile, "Polis votes file");
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
  const crows = await readCsvRecords(commentsFile, "Polis comments file");
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
    for (const { record } of await readCsvRecords(summaryFile, "Polis summary file")) {
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
