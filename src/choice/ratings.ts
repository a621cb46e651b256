/**
 * Ratings or rankings per annotator, with group labels, from a CSV file: the input of pluralistic
 * aggregation when the preferences come from annotators (of model answers, of policies, ...)
 * rather than from a PrefLib file.
 *
 * One row per annotator. Columns (names compared ignoring case and surrounding spaces):
 * - `annotator` (or `voter`): the annotator's id; required, non-empty, unique.
 * - `group`: the annotator's group label; optional. `options.groups` names another column instead
 *   (the CLI's `--groups COLUMN`). A row with an empty label counts in the pooled profile only
 *   (with a warning).
 * - `weight`: optional, a number >= 0 (a survey weight); 1 without the column.
 * - then either
 *   - **ratings** (no `ranking` column): every other column is an alternative (or only those named
 *     in `options.alternatives`, the rest being ignored), holding a number: higher is better
 *     (`options.lowerIsBetter` for ranks, 1 = best); equal numbers are tied; an empty cell leaves
 *     that alternative unranked by the annotator (incomparable, as in a truncated PrefLib ballot);
 *   - or **a ranking** (a `ranking` column): a PrefLib-style order of alternative names, best
 *     first, commas between tiers and ties in braces: `b,a,{c,d}` (quote the cell in CSV:
 *     `"b,a,{c,d}"`). Alternatives left out are unranked. Other columns are ignored (they may be
 *     attributes, one of them used as the group column). The alternatives are
 *     `options.alternatives` (in that order; any other name is an error), else every name found,
 *     in numeric order if all are whole numbers (so `3,1,{2,4}` means alternatives "1".."4" as in
 *     PrefLib), else in order of first appearance.
 * A row that ranks nothing is left out with a warning (an annotator who expressed no preference is
 * not a voter). Every error in the file is a CivitasError "input" naming the file, the line (the
 * header is line 1, as an editor shows it) and the column; a column the caller names
 * (`options.groups`, `options.alternatives`) that the file lacks is a CivitasError "usage".
 *
 * The result: the pooled profile of all annotators and, when there is a group column, one profile
 * per group (in order of first appearance) over the same alternatives.
 */
import path from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { CivitasError, messageOf } from "../errors.js";
import { readText } from "../files.js";
import { profileFromRankings, type Profile, type Ranking } from "./profile.js";

export interface RatingsOptions {
  /** The column holding group labels (default: the column named `group`, if there is one). */
  readonly groups?: string;
  /**
   * Ratings form: the columns that are alternatives (default: every column other than annotator /
   * voter, group, weight). Ranking form: the alternatives' names, in this order.
   */
  readonly alternatives?: readonly string[];
  /** Ratings form: smaller numbers are better (ranks: 1 = best). Default: larger is better. */
  readonly lowerIsBetter?: boolean;
}

export interface Ratings {
  /** All annotators. */
  readonly profile: Profile;
  /** One profile per group label, in order of first appearance, or null without a group column. */
  readonly groups: Map<string, Profile> | null;
  /** Problems that did not stop loading, each naming the file and line. */
  readonly warnings: string[];
  /** Which form the file has. */
  readonly form: "ratings" | "ranking";
  /** The group column as named in the file, or null. */
  readonly groupColumn: string | null;
  /** The annotators kept (rows that rank something). */
  readonly annotators: number;
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Reads a ratings / rankings CSV (or .tsv) file; see the module comment for the format. */
export async function readRatings(file: string, options: RatingsOptions = {}): Promise<Ratings> {
  const text = await readText(file, "ratings file");
  return parseRatings(text, file, options);
}

interface Row {
  readonly line: number;
  readonly cells: readonly string[];
}

/** Parses the text of a ratings / rankings CSV; `name` is used in messages (and a .tsv name means tab-separated). */
export function parseRatings(text: string, name: string, options: RatingsOptions = {}): Ratings {
  const delimiter = path.extname(name).toLowerCase() === ".tsv" ? "\t" : ",";
  let records: { record: string[]; info: { lines: number } }[];
  try {
    // Line endings normalised first: csv-parse counts a CRLF inside a quoted cell as two lines.
    records = parseCsv(text.replace(/\r\n?/g, "\n"), { delimiter, bom: true, info: true, relax_column_count: true, skip_empty_lines: true }) as unknown as typeof records;
  } catch (e) {
    throw new CivitasError("input", `${name}: not a valid CSV file: ${messageOf(e)}`, {
      hint: 'a cell holding a comma (such as a ranking "b,a,{c,d}"), a quote or a line break must be in double quotes, with inner quotes doubled ("")',
    });
  }
  const first = records[0];
  if (!first) throw new CivitasError("input", `${name} is empty (expected a header line naming the columns)`);
  const header = first.record.map((h) => h.trim());
  const headerLine = first.info.lines;
  const at = (line: number, column?: string): string => `${name} line ${line}${column === undefined ? "" : `, column "${column}"`}`;

  const byName = new Map<string, number>();
  header.forEach((h, i) => {
    if (h === "") return;
    const key = h.toLowerCase();
    const j = byName.get(key);
    if (j !== undefined) throw new CivitasError("input", `${at(headerLine)}: column "${h}" appears twice (columns ${j + 1} and ${i + 1})`);
    byName.set(key, i);
  });
  const find = (n: string): number | undefined => byName.get(n.trim().toLowerCase());

  // Reserved columns.
  const annotatorCol = find("annotator");
  const voterCol = find("voter");
  if (annotatorCol !== undefined && voterCol !== undefined) {
    throw new CivitasError("input", `${at(headerLine)}: both an "annotator" and a "voter" column; keep one (they name the same thing)`);
  }
  const idCol = annotatorCol ?? voterCol;
  if (idCol === undefined) {
    throw new CivitasError("input", `${at(headerLine)}: no "annotator" (or "voter") column; columns: ${header.filter((h) => h !== "").join(", ")}`, {
      hint: "one row per annotator, its id in a column named annotator",
    });
  }
  let groupCol: number | undefined;
  if (options.groups !== undefined) {
    groupCol = header.indexOf(options.groups);
    if (groupCol < 0) groupCol = find(options.groups);
    if (groupCol === undefined) {
      throw new CivitasError("usage", `${name} has no column "${options.groups}" to take groups from; columns: ${header.filter((h) => h !== "").join(", ")}`);
    }
    if (groupCol === idCol) throw new CivitasError("usage", `the group column cannot be the annotator column "${header[idCol]}"`);
  } else {
    groupCol = find("group");
  }
  const weightCol = find("weight");
  const rankingCol = find("ranking");
  const form: Ratings["form"] = rankingCol === undefined ? "ratings" : "ranking";
  if (weightCol !== undefined && weightCol === groupCol) throw new CivitasError("usage", `the group column cannot be the weight column`);
  const reserved = new Set([idCol, groupCol, weightCol, rankingCol].filter((c): c is number => c !== undefined));

  const rows: Row[] = [];
  for (const { record, info } of records.slice(1)) {
    // info.lines is the line the record ends on; step back over line breaks inside quoted cells.
    let inner = 0;
    for (const c of record) for (let i = c.indexOf("\n"); i !== -1; i = c.indexOf("\n", i + 1)) inner++;
    const line = info.lines - inner;
    if (record.every((c) => c.trim() === "")) continue;
    if (record.length > header.length) {
      const extra = record.slice(header.length).findIndex((c) => c.trim() !== "");
      if (extra >= 0) {
        throw new CivitasError("input", `${at(line)}: ${record.length} cells, but the header has ${header.length} columns`, {
          hint: form === "ranking" ? 'quote the ranking: "b,a,{c,d}"' : "quote cells that hold a comma",
        });
      }
    }
    const cells = header.map((_, i) => (record[i] ?? "").trim());
    header.forEach((h, i) => {
      if (h === "" && cells[i] !== "") throw new CivitasError("input", `${at(line)}: value "${cells[i]}" in column ${i + 1}, which has no name in the header`);
    });
    rows.push({ line, cells });
  }
  if (rows.length === 0) throw new CivitasError("input", `${name} has a header but no rows`);

  const warnings: string[] = [];

  // Alternatives and each row's ranking.
  let alternatives: string[];
  let rankingOf: (row: Row) => Ranking;
  if (form === "ratings") {
    let cols: number[];
    if (options.alternatives) {
      cols = options.alternatives.map((a) => {
        const c = header.indexOf(a) >= 0 ? header.indexOf(a) : find(a);
        if (c === undefined) throw new CivitasError("usage", `${name} has no column "${a}" (an alternative asked for); columns: ${header.filter((h) => h !== "").join(", ")}`);
        if (reserved.has(c)) throw new CivitasError("usage", `column "${a}" of ${name} is the ${c === idCol ? "annotator" : c === groupCol ? "group" : "weight"} column, not an alternative`);
        return c;
      });
    } else {
      cols = header.map((_, i) => i).filter((i) => header[i] !== "" && !reserved.has(i));
    }
    if (cols.length === 0) throw new CivitasError("input", `${at(headerLine)}: no alternative columns (expected one column per alternative, or a "ranking" column)`);
    alternatives = cols.map((c) => header[c]!);
    const sign = options.lowerIsBetter ? -1 : 1;
    rankingOf = (row) => {
      const values: { a: number; v: number }[] = [];
      cols.forEach((c, a) => {
        const cell = row.cells[c]!;
        if (cell === "") return;
        if (!NUMBER.test(cell)) {
          throw new CivitasError("input", `${at(row.line, header[c])}: "${cell}" is not a number (a rating, ${options.lowerIsBetter ? "lower" : "higher"} is better; leave the cell empty if unrated)`, {
            hint: options.alternatives ? undefined : "if this column is not an alternative, name the alternative columns (options.alternatives)",
          });
        }
        values.push({ a, v: sign * Number(cell) });
      });
      const distinct = [...new Set(values.map((x) => x.v))].sort((x, y) => y - x);
      const tierOf = new Map(distinct.map((v, t) => [v, t]));
      const tiers: number[][] = distinct.map(() => []);
      for (const { a, v } of values) tiers[tierOf.get(v)!]!.push(a);
      return tiers;
    };
  } else {
    const col = rankingCol!;
    const parsed = new Map<Row, string[][]>();
    for (const row of rows) parsed.set(row, parseRanking(row.cells[col]!, at(row.line, header[col])));
    if (options.alternatives) {
      alternatives = options.alternatives.map((a) => a.trim());
      const twice = alternatives.find((a, i) => alternatives.indexOf(a) !== i);
      if (twice !== undefined) throw new CivitasError("usage", `alternative "${twice}" is named twice`);
    } else {
      const found: string[] = [];
      const seen = new Set<string>();
      for (const tiers of parsed.values()) for (const t of tiers) for (const a of t) if (!seen.has(a)) (seen.add(a), found.push(a));
      alternatives = found.every((a) => /^\d+$/.test(a)) ? found.sort((x, y) => Number(x) - Number(y)) : found;
    }
    if (alternatives.length === 0) throw new CivitasError("input", `${name}: no ranking names any alternative`);
    const index = new Map(alternatives.map((a, i) => [a, i]));
    rankingOf = (row) => {
      const where = at(row.line, header[col]);
      const seen = new Set<string>();
      return parsed.get(row)!.map((tier) =>
        tier.map((a) => {
          const i = index.get(a);
          if (i === undefined) throw new CivitasError("input", `${where}: "${a}" is not one of the alternatives (${alternatives.join(", ")})`);
          if (seen.has(a)) throw new CivitasError("input", `${where}: "${a}" appears twice in the ranking`);
          seen.add(a);
          return i;
        }),
      );
    };
  }

  // Annotators, weights, groups.
  const ids = new Map<string, number>();
  const rankings: Ranking[] = [];
  const rankingLines: number[] = [];
  const weights: number[] = [];
  const labels: (string | null)[] = [];
  const ranked = new Uint8Array(alternatives.length);
  for (const row of rows) {
    const id = row.cells[idCol]!;
    if (id === "") throw new CivitasError("input", `${at(row.line, header[idCol])}: empty; every row needs the annotator's id`);
    const before = ids.get(id);
    if (before !== undefined) throw new CivitasError("input", `${at(row.line, header[idCol])}: annotator "${id}" also has line ${before} (one row per annotator)`);
    ids.set(id, row.line);
    let weight = 1;
    if (weightCol !== undefined) {
      const w = row.cells[weightCol]!;
      if (!NUMBER.test(w) || Number(w) < 0) {
        throw new CivitasError("input", `${at(row.line, header[weightCol])}: ${w === "" ? "empty" : `"${w}"`}, expected a weight (a number, 0 or more)`);
      }
      weight = Number(w);
    }
    const ranking = rankingOf(row);
    if (ranking.length === 0) {
      warnings.push(`${at(row.line)}: annotator "${id}" ranks no alternative; left out`);
      continue;
    }
    for (const t of ranking) for (const a of t) ranked[a] = 1;
    let label: string | null = null;
    if (groupCol !== undefined) {
      label = row.cells[groupCol]!;
      if (label === "") {
        warnings.push(`${at(row.line, header[groupCol])}: annotator "${id}" has no group; counted in the pooled profile only`);
        label = null;
      }
    }
    rankings.push(ranking);
    weights.push(weight);
    labels.push(label);
    rankingLines.push(row.line);
  }
  alternatives.forEach((a, i) => {
    if (!ranked[i]) warnings.push(`${name}: no annotator ranks "${a}"`);
  });

  const base = path.basename(name);
  const profile = profileFromRankings(alternatives, rankings, weights, { "FILE NAME": base }, { file: name, lines: rankingLines });
  let groups: Map<string, Profile> | null = null;
  if (groupCol !== undefined) {
    const members = new Map<string, number[]>();
    labels.forEach((l, k) => {
      if (l === null) return;
      let list = members.get(l);
      if (!list) members.set(l, (list = []));
      list.push(k);
    });
    groups = new Map();
    for (const [label, ks] of members) {
      groups.set(
        label,
        profileFromRankings(
          alternatives,
          ks.map((k) => rankings[k]!),
          ks.map((k) => weights[k]!),
          { "FILE NAME": base, GROUP: `${header[groupCol]}=${label}` },
          { file: name, lines: ks.map((k) => rankingLines[k]!) },
        ),
      );
    }
  }
  return { profile, groups, warnings, form, groupColumn: groupCol === undefined ? null : header[groupCol]!, annotators: rankings.length };
}

/** Parses `b,a,{c,d}` into tiers of names (trimmed). An empty text is an empty ranking. */
export function parseRanking(text: string, where: string): string[][] {
  const s = text.trim();
  if (s === "") return [];
  const tiers: string[][] = [];
  let p = 0;
  const nameUntil = (stops: string): string => {
    let q = p;
    while (q < s.length && !stops.includes(s[q]!)) q++;
    const n = s.slice(p, q).trim();
    if (n === "" || n.includes("{") || n.includes("}")) {
      throw new CivitasError("input", `${where}: expected an alternative's name at position ${p + 1} of "${s}"`, { hint: 'a ranking looks like "b,a,{c,d}": best first, ties in braces' });
    }
    p = q;
    return n;
  };
  for (;;) {
    while (s[p] === " ") p++;
    if (s[p] === "{") {
      const open = p;
      p++;
      const tier: string[] = [];
      for (;;) {
        tier.push(nameUntil(",}"));
        if (s[p] === ",") p++;
        else if (s[p] === "}") break;
        else throw new CivitasError("input", `${where}: the "{" at position ${open + 1} of "${s}" is not closed`);
      }
      p++;
      while (s[p] === " ") p++;
      tiers.push(tier);
    } else {
      tiers.push([nameUntil(",")]);
    }
    if (p >= s.length) break;
    if (s[p] !== ",") throw new CivitasError("input", `${where}: expected "," at position ${p + 1} of "${s}"`);
    p++;
  }
  return tiers;
}
