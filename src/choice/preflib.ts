/**
 * PrefLib ordinal preference files: `.soc` (strict orders, complete), `.soi` (strict orders,
 * incomplete), `.toc` (orders with ties, complete) and `.toi` (orders with ties, incomplete), as
 * the PrefLib format specification (PrefLib-Data, FORMAT_SPECIFICATION.md; preflib.org/format)
 * defines them:
 *
 * - "Data files contain two sections, first a list of metadata with lines starting with a '#';
 *   second the preference data itself." A metadata line is `# KEY: value`. The required keys, in
 *   PrefLib's order: FILE NAME, TITLE, DESCRIPTION, DATA TYPE, MODIFICATION TYPE, RELATES TO,
 *   RELATED FILES, PUBLICATION DATE, MODIFICATION DATE, NUMBER ALTERNATIVES, NUMBER VOTERS,
 *   NUMBER UNIQUE ORDERS, ALTERNATIVE NAME 1..m. "Additional metadata that are specific to the
 *   file can then be added." "Metadata lines should all be at the start of the files."
 * - "Each line indicates first the number of voters who submitted the given preference list, and
 *   then, after a column [sic: a colon], the preference list. Inside a preference list, a strict
 *   ordering is indicated by comma, and indifference classes are grouped within curly brackets", e.g.
 *   `13: 1, {4, 3}, 2`. "Alternative numbering should start at 1 and not at 0." Whitespace inside
 *   a line is insignificant (the spec's examples have spaces, PrefLib's files have none).
 * - SOC: "all the alternatives should appear in the orders and ties are not allowed"; SOI: "ties are
 *   not allowed and it is not mandatory that all alternatives appear"; TOC: "all the alternatives
 *   should appear in the orders and ties are allowed"; TOI: "ties are allowed and it is not
 *   mandatory that all alternatives appear".
 * - "It is mandatory that each file uses the most restrictive file format that is compatible with
 *   the preferences" and "that no orders appears more than once, the multiplicity value for each
 *   order is used for that." "No two alternatives can have the same name."
 *
 * What is an error and what a warning when reading (every message names the file and line):
 * - errors (CivitasError "input"): a line that is not `COUNT: ORDER`; a count that is not a whole
 *   number >= 0; an alternative that is not a number in 1..NUMBER ALTERNATIVES, or appears twice in
 *   one order; an empty or unclosed `{}`; a tie in a .soc/.soi file; an order that leaves an
 *   alternative out in a .soc/.toc file; NUMBER VOTERS that differs from the sum of the counts (the
 *   data is truncated or the header wrong: every result would be off); a malformed NUMBER header;
 *   an ALTERNATIVE NAME numbered outside 1..NUMBER ALTERNATIVES, given twice, or a name used twice;
 *   a DATA TYPE that is not one of the four; a data type given neither by the header nor by the
 *   extension; a `#` line after the preferences began.
 * - warnings (returned by `parsePrefLibWithWarnings` / `readPrefLibWithWarnings`, the profile is
 *   still exact): NUMBER UNIQUE ORDERS that differs from the number of order lines; an order given
 *   on two lines (merged, counts added); a missing header key; an alternative without a name
 *   (named "Alternative i"); DATA TYPE and the extension disagreeing (the header wins); a file whose
 *   orders fit a more restrictive type than its own; a `#` line that is not `# KEY: value`.
 *
 * The profile's metadata holds the descriptive header keys that have a value (FILE NAME ...
 * MODIFICATION DATE and any additional key; an empty value is the same as an absent key, and
 * `writePrefLib` writes every required key, empty when absent), never the keys derived from the
 * data (NUMBER ..., ALTERNATIVE NAME i), which `writePrefLib` recomputes.
 */
import { open, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { CivitasError, messageOf } from "../errors.js";
import type { Profile } from "./profile.js";

/** The four ordinal PrefLib data types, from the most to the least restrictive. */
export type PrefLibKind = "soc" | "soi" | "toc" | "toi";
export const PREFLIB_KINDS: readonly PrefLibKind[] = ["soc", "soi", "toc", "toi"];

/** The descriptive header keys, in PrefLib's order (all required by the specification). */
export const PREFLIB_DESCRIPTIVE_KEYS = [
  "FILE NAME",
  "TITLE",
  "DESCRIPTION",
  "DATA TYPE",
  "MODIFICATION TYPE",
  "RELATES TO",
  "RELATED FILES",
  "PUBLICATION DATE",
  "MODIFICATION DATE",
] as const;

const DERIVED_KEY = /^(NUMBER ALTERNATIVES|NUMBER VOTERS|NUMBER UNIQUE ORDERS|ALTERNATIVE NAME \d+)$/;
const ALTERNATIVE_NAME = /^ALTERNATIVE NAME (\d+)$/;
const WHOLE = /^\d+$/;

const STRICT: Record<PrefLibKind, boolean> = { soc: true, soi: true, toc: false, toi: false };
const COMPLETE: Record<PrefLibKind, boolean> = { soc: true, soi: false, toc: true, toi: false };
const LONG_NAME: Record<PrefLibKind, string> = {
  soc: "strict complete orders",
  soi: "strict, possibly incomplete orders",
  toc: "complete orders with ties",
  toi: "possibly incomplete orders with ties",
};

/** A parsed PrefLib file with what the reader noticed but did not stop for. */
export interface PrefLibParse {
  readonly profile: Profile;
  /** The file's data type: its DATA TYPE header, else its extension. */
  readonly kind: PrefLibKind;
  /** Problems that did not stop reading, each naming the file and line. */
  readonly warnings: readonly string[];
}

function isKind(s: string): s is PrefLibKind {
  return (PREFLIB_KINDS as readonly string[]).includes(s);
}

/** Reads a PrefLib .soc/.soi/.toc/.toi file. Errors name the file and line. */
export async function readPrefLib(file: string): Promise<Profile> {
  return (await readPrefLibWithWarnings(file)).profile;
}

/** Bytes read at a time: the parser keeps one such buffer (and the unique ballots), whatever the file's size. */
const CHUNK = 1 << 22;

/**
 * Reads a PrefLib file and returns the profile, its data type and the warnings. The file is read
 * in chunks (`chunkSize` bytes, default 4 MiB) and parsed as bytes (see `PrefLibParser`): memory
 * holds one chunk and the unique ballots, never the file's text.
 */
export async function readPrefLibWithWarnings(file: string, options: { readonly chunkSize?: number } = {}): Promise<PrefLibParse> {
  let handle: FileHandle;
  try {
    handle = await open(file, "r");
  } catch (e) {
    throw readError(file, e);
  }
  try {
    const parser = new PrefLibParser(file);
    // A Buffer: its indexOf is a native byte search.
    let buffer = Buffer.alloc(options.chunkSize ?? CHUNK);
    let kept = 0;
    for (;;) {
      if (kept === buffer.length) {
        // One line longer than the buffer: grow it.
        const bigger = Buffer.alloc(buffer.length * 2);
        bigger.set(buffer);
        buffer = bigger;
      }
      let read: number;
      try {
        ({ bytesRead: read } = await handle.read(buffer, kept, buffer.length - kept, null));
      } catch (e) {
        throw readError(file, e);
      }
      if (read === 0) {
        parser.end(buffer, kept);
        break;
      }
      const used = parser.push(buffer, kept + read);
      buffer.copyWithin(0, used, kept + read);
      kept = kept + read - used;
    }
    return parser.result();
  } finally {
    await handle.close();
  }
}

function readError(file: string, e: unknown): CivitasError {
  const code = (e as NodeJS.ErrnoException).code;
  // ENOTDIR: a part of the path is a file ("a.soc/b.soc"), so the path does not exist either.
  if (code === "ENOENT" || code === "ENOTDIR") return new CivitasError("usage", `no PrefLib file ${file}`, { cause: e });
  return new CivitasError("input", `cannot read the PrefLib file ${file}: ${messageOf(e)}`, { cause: e });
}

/** Parses the text of a PrefLib file; `name` (a path or file name) is used in messages and, when there is no DATA TYPE header, for its extension. */
export function parsePrefLib(text: string, name: string): Profile {
  return parsePrefLibWithWarnings(text, name).profile;
}

export function parsePrefLibWithWarnings(text: string, name: string): PrefLibParse {
  const bytes = Buffer.from(text, "utf8");
  const parser = new PrefLibParser(name);
  const used = parser.push(bytes, bytes.length);
  parser.end(bytes.subarray(used), bytes.length - used);
  return parser.result();
}

const SPACE = 32;
const TAB = 9;
const LF = 10;
const CR = 13;
const COLON = 58;
const COMMA = 44;
const OPEN = 123;
const CLOSE = 125;
const ZERO = 48;
const NINE = 57;
const SLOW = -1;

/**
 * The PrefLib parser, fed bytes. Header lines (a few dozen) are decoded and read as text. Order
 * lines are parsed from the bytes as they are found (`fastLines`, no separate search for line
 * ends): the count and the alternatives as numbers, the ballot straight into the next row of
 * tiers, with its hash kept for `merge`, which adds up orders given twice at the end: no string,
 * array or object per line. A line the fast path does not read as a well-formed order of plain
 * ASCII ending in LF (anything unusual: other whitespace, CR, a malformed order, a tie where the
 * type forbids one) is decoded and read by `slowOrder`, which gives the error messages.
 */
class PrefLibParser {
  private lineNo = 0;
  private inData = false;
  private skipLf = false;
  private first = true;
  private readonly warnings: string[] = [];
  private readonly header = new Map<string, { value: string; line: number }>();
  private readonly names = new Map<number, { value: string; line: number }>();
  private kind: PrefLibKind = "toi";
  private m = 0;
  private alternatives: string[] = [];
  private strict = false;
  private complete = false;
  // The unique ballots: `size` of them, room for `capacity`.
  private size = 0;
  private capacity = 256;
  private ranks = new Int32Array(0);
  /** Where fastOrder reads an order line's ballot: m entries, -1 between lines (hot in cache, unlike the next row of ranks). */
  private row = new Int32Array(0);
  private counts = new Float64Array(256);
  private lines = new Int32Array(256);
  /** Each order line's hash (see `add`): duplicates are found at the end by sorting these, not by a lookup per line. */
  private hashes = new Int32Array(256);
  private orderLines = 0;
  private voters = 0;
  private hasTie = false;
  private hasIncomplete = false;

  constructor(private readonly name: string) {}

  private at(line: number): string {
    return `${this.name} line ${line}`;
  }

  /** Parses every complete line of bytes[0, end); returns where the unfinished last line starts. */
  push(bytes: Uint8Array, end: number): number {
    let s = 0;
    if (this.first && end > 0) {
      if (end < 3 && bytes[0] === 0xef) return 0; // perhaps a byte-order mark cut short: wait for more
      if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) s = 3;
      this.first = false;
    }
    if (this.skipLf && s < end) {
      if (bytes[s] === LF) s++;
      this.skipLf = false;
    }
    const cr = bytes.indexOf(CR, s);
    if (cr < 0 || cr >= end) {
      // No CR: lines end at LF. Order lines are read by `fastLines` as they are found; a line it
      // does not read (or the header's) is found by a native search and read by `line`.
      for (;;) {
        if (this.inData) s = this.fastLines(bytes, s, end);
        const p = bytes.indexOf(LF, s);
        if (p < 0 || p >= end) break;
        this.line(bytes, s, p);
        s = p + 1;
      }
      return s;
    }
    for (let p = s; p < end; p++) {
      const c = bytes[p]!;
      if (c !== LF && c !== CR) continue;
      this.line(bytes, s, p);
      if (c === CR) {
        if (p + 1 < end) {
          if (bytes[p + 1] === LF) p++;
        } else this.skipLf = true;
      }
      s = p + 1;
    }
    return s;
  }

  /** The last line (without a line break), bytes[0, end). */
  end(bytes: Uint8Array, end: number): void {
    if (this.first && end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3), (end -= 3);
    this.first = false;
    if (end > 0) this.line(bytes, 0, end);
    if (!this.inData) this.startData();
  }

  private line(b: Uint8Array, s: number, e: number): void {
    this.lineNo++;
    if (!this.inData) {
      const raw = decode(b, s, e).trim();
      if (raw === "") return;
      if (raw.startsWith("#")) return this.headerLine(raw);
      this.startData();
    }
    this.orderLine(b, s, e);
  }

  // --- The header: `# KEY: value` lines at the start (empty lines allowed among them).
  private headerLine(raw: string): void {
    const i = this.lineNo;
    const body = raw.slice(1);
    const colon = body.indexOf(":");
    if (colon < 0) {
      this.warnings.push(`${this.at(i)}: "${raw}" is not a "# KEY: value" metadata line; ignored`);
      return;
    }
    const key = body.slice(0, colon).trim().replace(/\s+/g, " ").toUpperCase();
    const value = body.slice(colon + 1).trim();
    const alt = ALTERNATIVE_NAME.exec(key);
    if (alt) {
      const k = Number(alt[1]);
      const before = this.names.get(k);
      if (before) throw new CivitasError("input", `${this.at(i)}: ALTERNATIVE NAME ${k} is given twice (also on line ${before.line})`);
      this.names.set(k, { value, line: i });
      return;
    }
    const before = this.header.get(key);
    if (before) throw new CivitasError("input", `${this.at(i)}: header "${key}" is given twice (also on line ${before.line})`);
    this.header.set(key, { value, line: i });
  }

  private whole(key: string): number | undefined {
    const h = this.header.get(key);
    if (!h) return undefined;
    if (!WHOLE.test(h.value)) throw new CivitasError("input", `${this.at(h.line)}: ${key} is "${h.value}", expected a whole number`);
    return Number(h.value);
  }

  /** The header is complete: the data type, the alternatives and their names. */
  private startData(): void {
    this.inData = true;
    const { name, header, names, warnings } = this;
    // --- The data type: the header's, else the extension's.
    const ext = path.extname(name).slice(1).toLowerCase();
    const declared = header.get("DATA TYPE");
    if (declared && declared.value !== "") {
      const v = declared.value.toLowerCase();
      if (!isKind(v)) {
        throw new CivitasError("input", `${this.at(declared.line)}: DATA TYPE is "${declared.value}", expected one of soc, soi, toc, toi (ordinal preferences)`, {
          hint: "civitas reads PrefLib's ordinal files; categorical (.cat) and matching (.wmd) data are not preference orders",
        });
      }
      this.kind = v;
      if (isKind(ext) && ext !== v) warnings.push(`${this.at(declared.line)}: DATA TYPE is ${v} but the file name ends in .${ext}; read as ${v}`);
    } else if (isKind(ext)) {
      this.kind = ext;
    } else {
      throw new CivitasError("input", `${name}: cannot tell the data type: no "# DATA TYPE:" header and the name does not end in .soc, .soi, .toc or .toi`);
    }

    // --- The alternatives.
    let m = this.whole("NUMBER ALTERNATIVES");
    if (m === undefined) {
      if (names.size === 0) {
        throw new CivitasError("input", `${name}: no "# NUMBER ALTERNATIVES:" header and no "# ALTERNATIVE NAME i:" lines: the number of alternatives is unknown`);
      }
      m = Math.max(...names.keys());
      warnings.push(`${name}: no "# NUMBER ALTERNATIVES:" header; taking ${m} from the ALTERNATIVE NAME lines`);
    }
    if (m === 0) throw new CivitasError("input", `${this.at(header.get("NUMBER ALTERNATIVES")!.line)}: NUMBER ALTERNATIVES is 0`);
    const limit = header.get("NUMBER ALTERNATIVES");
    if (limit && m > MAX_ALTERNATIVES) {
      throw new CivitasError("input", `${this.at(limit.line)}: NUMBER ALTERNATIVES is ${m}; civitas reads at most ${MAX_ALTERNATIVES.toLocaleString("en")} alternatives`);
    }
    const alternatives: string[] = [];
    const nameAt = new Map<string, number>();
    for (const [k, n] of names) {
      if (k < 1 || k > m) {
        throw new CivitasError("input", `${this.at(n.line)}: ALTERNATIVE NAME ${k}, but alternatives are numbered 1 to ${m} (NUMBER ALTERNATIVES: ${m})`);
      }
    }
    const unnamed: number[] = [];
    for (let k = 1; k <= m; k++) {
      const n = names.get(k);
      if (!n) unnamed.push(k);
      const value = n ? n.value : `Alternative ${k}`;
      const other = nameAt.get(value);
      if (other !== undefined) {
        throw new CivitasError("input", `${n ? this.at(n.line) : name}: alternatives ${other} and ${k} are both named "${value}" (PrefLib: no two alternatives can have the same name)`);
      }
      nameAt.set(value, k);
      alternatives.push(value);
    }
    if (unnamed.length > 0) {
      warnings.push(`${name}: no "# ALTERNATIVE NAME i:" line for ${unnamed.length === 1 ? "alternative" : "alternatives"} ${list(unnamed)}; named "Alternative i"`);
    }
    this.m = m;
    this.alternatives = alternatives;
    this.strict = STRICT[this.kind];
    this.complete = COMPLETE[this.kind];
    // Room for as many ballots as the header announces (within reason), so that nothing is copied while reading.
    const announced = header.get("NUMBER UNIQUE ORDERS")?.value;
    if (announced !== undefined && WHOLE.test(announced)) this.capacity = Math.max(this.capacity, Math.min(Number(announced), 1 << 22));
    this.ranks = new Int32Array(this.capacity * m);
    this.row = new Int32Array(m).fill(-1);
    this.counts = new Float64Array(this.capacity);
    this.lines = new Int32Array(this.capacity);
    this.hashes = new Int32Array(this.capacity);
  }

  // --- The orders.
  private orderLine(b: Uint8Array, s: number, e: number): void {
    const m = this.m;
    let p = s;
    while (p < e && (b[p] === SPACE || b[p] === TAB)) p++;
    if (p === e) return; // an empty line
    if (this.size === this.capacity) this.grow();
    const count = fastOrder(b, p, e, m, this.row, 0);
    if (count !== SLOW && !((fastTie && this.strict) || (fastRanked < m && this.complete) || count > Number.MAX_SAFE_INTEGER)) {
      this.addBallot(count, fastRanked, fastTie, this.takeRow());
      return;
    }
    this.row.fill(-1);
    // Read as text, straight into the next row of ranks.
    const base = this.size * m;
    const row = this.ranks.subarray(base, base + m);
    row.fill(-1);
    const raw = decode(b, s, e).trim();
    if (raw === "") return;
    const r = this.slowOrder(raw, row);
    this.addBallot(r.count, r.ranked, r.tie, hashOf(row));
  }

  /** Copies `row` into the next row of ranks, fills it with -1 again, and returns the ballot's hash (as hashOf). */
  private takeRow(): number {
    const { row, ranks, m } = this;
    const base = this.size * m;
    let h = HASH_SEED;
    for (let a = 0; a < m; a++) {
      const t = row[a]!;
      ranks[base + a] = t;
      row[a] = -1;
      h = Math.imul(h ^ (t + 2), HASH_PRIME);
    }
    return h;
  }

  /**
   * Order lines from bytes[s, end), each `COUNT: ORDER` read by fastOrder straight into the next
   * row, until a line it does not read (anything unusual: an empty line, a malformed order, a tie
   * the type forbids, a line cut by the end of the buffer). Returns where that line starts, for
   * `line` to read.
   */
  private fastLines(b: Uint8Array, s: number, end: number): number {
    const m = this.m;
    const strict = this.strict;
    const complete = this.complete;
    for (;;) {
      // A full table is grown by `orderLine`, for a line that is there.
      if (s >= end || this.size === this.capacity) return s;
      const row = this.row;
      const count = fastOrder(b, s, end, m, row, 0);
      // The line must end at a LF inside the buffer.
      if (count === SLOW || fastEnd === end || (fastTie && strict) || (fastRanked < m && complete) || count > Number.MAX_SAFE_INTEGER) {
        row.fill(-1);
        return s;
      }
      this.lineNo++;
      this.addBallot(count, fastRanked, fastTie, this.takeRow());
      s = fastEnd + 1;
    }
  }

  /** Counts the order line just read into the next row of ranks (hash h, see hashOf) as a ballot. */
  private addBallot(count: number, ranked: number, tie: boolean, h: number): void {
    const m = this.m;
    this.orderLines++;
    if (tie) this.hasTie = true;
    if (ranked < m) this.hasIncomplete = true;
    this.voters += count;
    if (this.voters > Number.MAX_SAFE_INTEGER) {
      throw new CivitasError("input", `${this.at(this.lineNo)}: the counts so far add up to ${this.voters}, more than ${Number.MAX_SAFE_INTEGER} (2^53 - 1), the most voters civitas adds exactly`);
    }
    // Every line is kept as a ballot; `merge` finds the orders given twice at the end.
    const ballot = this.size;
    this.counts[ballot] = count;
    this.lines[ballot] = this.lineNo;
    this.hashes[ballot] = h;
    this.size = ballot + 1;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const ranks = new Int32Array(capacity * this.m);
    ranks.set(this.ranks);
    this.ranks = ranks;
    const counts = new Float64Array(capacity);
    counts.set(this.counts);
    this.counts = counts;
    const lines = new Int32Array(capacity);
    lines.set(this.lines);
    this.lines = lines;
    const hashes = new Int32Array(capacity);
    hashes.set(this.hashes);
    this.hashes = hashes;
    this.capacity = capacity;
  }

  /**
   * Merges orders given on several lines (PrefLib lists each order once, so there are rarely
   * any): every later copy's count is added to the first line's, with a warning per copy in line
   * order. Two passes over the lines' hashes, no sort: the first marks each hash in a bit set of
   * about 32 bits per line and notes the hashes met before (a copy's hash always is, as is about
   * one line in 64 by chance); the second compares, through a map from hash to lines, only the
   * lines whose hash was noted.
   */
  private merge(): void {
    const n = this.size;
    const m = this.m;
    if (n < 2) return;
    const hashes = this.hashes;
    let bits = 16;
    while (bits < 30 && 1 << bits < n * 32) bits++;
    const seenMask = (1 << bits) - 1;
    const seen = new Int32Array(1 << (bits - 5));
    const noted = new Int32Array(NOTED_WORDS);
    let any = false;
    for (let i = 0; i < n; i++) {
      const h = hashes[i]!;
      const k = h & seenMask;
      const bit = 1 << (k & 31);
      const w = seen[k >>> 5]!;
      if ((w & bit) === 0) seen[k >>> 5] = w | bit;
      else {
        const q = (h >>> 7) & NOTED_MASK;
        noted[q >>> 5]! |= 1 << (q & 31);
        any = true;
      }
    }
    if (!any) return;
    // into[b]: the first line's ballot that b is a copy of, or -1.
    let into: Int32Array | undefined;
    const ranks = this.ranks;
    // A hash's first line, or (two different orders with one hash: rare) its lines that are no copies.
    const groups = new Map<number, number | number[]>();
    for (let b = 0; b < n; b++) {
      const h = hashes[b]!;
      const q = (h >>> 7) & NOTED_MASK;
      if ((noted[q >>> 5]! & (1 << (q & 31))) === 0) continue;
      const group = groups.get(h);
      if (group === undefined) {
        groups.set(h, b);
        continue;
      }
      let copyOf = -1;
      for (const a of typeof group === "number" ? [group] : group) {
        let same = true;
        for (let t = 0; t < m && same; t++) if (ranks[a * m + t] !== ranks[b * m + t]) same = false;
        if (same) {
          copyOf = a;
          break;
        }
      }
      if (copyOf < 0) {
        if (typeof group === "number") groups.set(h, [group, b]);
        else group.push(b);
      } else {
        into ??= new Int32Array(n).fill(-1);
        into[b] = copyOf;
      }
    }
    if (into === undefined) return;
    let kept = 0;
    const index = new Int32Array(n);
    for (let b = 0; b < n; b++) {
      const a = into[b]!;
      if (a >= 0) {
        this.warnings.push(`${this.at(this.lines[b]!)}: the same order as line ${this.lines[a]}; counts added (PrefLib lists each order once)`);
        this.counts[index[a]!]! += this.counts[b]!;
        continue;
      }
      index[b] = kept;
      if (kept !== b) {
        ranks.copyWithin(kept * m, b * m, b * m + m);
        this.counts[kept] = this.counts[b]!;
        this.lines[kept] = this.lines[b]!;
      }
      kept++;
    }
    this.size = kept;
  }

  /** One order line read as text, with the error messages (the fast path's fallback). */
  private slowOrder(trimmed: string, row: Int32Array): { count: number; ranked: number; tie: boolean } {
    const where = this.at(this.lineNo);
    const { m, kind } = this;
    if (trimmed.startsWith("#")) {
      throw new CivitasError("input", `${where}: a "#" metadata line after the preferences began (PrefLib: metadata lines should all be at the start of the file)`);
    }
    const colon = trimmed.indexOf(":");
    if (colon < 0) throw new CivitasError("input", `${where}: expected "COUNT: ORDER" (e.g. "3: 1,{2,4},3"), found "${clip(trimmed)}"`);
    const countText = trimmed.slice(0, colon).trim();
    if (!WHOLE.test(countText)) {
      throw new CivitasError("input", `${where}: the count before ":" is "${clip(countText)}", expected a whole number of voters (0 or more)`);
    }
    const count = Number(countText);
    if (count > Number.MAX_SAFE_INTEGER) {
      throw new CivitasError("input", `${where}: the count ${clip(countText)} is more than ${Number.MAX_SAFE_INTEGER} (2^53 - 1), the most voters civitas counts exactly`, {
        hint: "a count that large is a corrupt file; PrefLib counts voters",
      });
    }
    const { ranked, tie } = parseOrder(trimmed.slice(colon + 1), m, row, where);
    if (tie && this.strict) throw new CivitasError("input", `${where}: a tie (${tie}), but a .${kind} file holds ${LONG_NAME[kind]}`, { hint: "a file with ties is a .toc (complete) or .toi (incomplete) file" });
    if (ranked < m && this.complete) {
      const missing: number[] = [];
      for (let a = 0; a < m; a++) if (row[a] === -1) missing.push(a + 1);
      throw new CivitasError("input", `${where}: the order ranks ${ranked} of the ${m} alternatives (missing ${list(missing)}), but a .${kind} file holds ${LONG_NAME[kind]}`, {
        hint: "a file with truncated orders is a .soi (strict) or .toi (with ties) file",
      });
    }
    return { count, ranked, tie: tie !== null };
  }

  result(): PrefLibParse {
    const { name, header, warnings, kind } = this;
    this.merge();
    // --- The header's counts against the data.
    const nv = this.whole("NUMBER VOTERS");
    if (nv === undefined) warnings.push(`${name}: no "# NUMBER VOTERS:" header`);
    else if (nv !== this.voters) {
      throw new CivitasError("input", `${this.at(header.get("NUMBER VOTERS")!.line)}: NUMBER VOTERS is ${nv}, but the counts of the orders add up to ${this.voters}`, {
        hint: "the file may be truncated; if the data is right, correct the header",
      });
    }
    const nu = this.whole("NUMBER UNIQUE ORDERS");
    if (nu === undefined) warnings.push(`${name}: no "# NUMBER UNIQUE ORDERS:" header`);
    else if (nu !== this.orderLines) warnings.push(`${this.at(header.get("NUMBER UNIQUE ORDERS")!.line)}: NUMBER UNIQUE ORDERS is ${nu}, but the file has ${this.orderLines} order lines`);
    // Descriptive keys (TITLE, DESCRIPTION, dates...) are optional in a file of your own: no warning when absent.
    const fits = kindOf(!this.hasTie, !this.hasIncomplete);
    if (fits !== kind) warnings.push(`${name}: every order fits a .${fits} file (${LONG_NAME[fits]}); PrefLib asks for the most restrictive type`);

    const metadata: Record<string, string> = {};
    for (const [key, { value }] of header) if (!DERIVED_KEY.test(key) && value !== "") metadata[key] = value;
    const size = this.size;
    // Views, not copies: at most twice the room the ballots need, and no second copy of a large profile.
    const profile: Profile = {
      alternatives: this.alternatives,
      size,
      ranks: this.ranks.subarray(0, size * this.m),
      counts: this.counts.subarray(0, size),
      metadata,
      origin: { file: name, lines: this.lines.subarray(0, size) },
    };
    return { profile, kind, warnings };
  }
}

/** The bit set of the hashes `merge` compares: 2^20 bits, a 128 KiB table. */
const NOTED_MASK = (1 << 20) - 1;
const NOTED_WORDS = 1 << 15;

/** The most alternatives a PrefLib file may declare (a row of tiers per unique ballot is kept). */
const MAX_ALTERNATIVES = 1_000_000;

/** FNV-1a over a ballot's tiers: the hash `merge` groups lines by. */
const HASH_SEED = 0x811c9dc5;
const HASH_PRIME = 0x01000193;
function hashOf(row: Int32Array): number {
  let h = HASH_SEED;
  for (let a = 0; a < row.length; a++) h = Math.imul(h ^ (row[a]! + 2), HASH_PRIME);
  return h;
}

const decoder = new TextDecoder("utf-8");
function decode(b: Uint8Array, s: number, e: number): string {
  return decoder.decode(b.subarray(s, e));
}

// What fastOrder found besides the count (module variables: no object per line).
let fastRanked = 0;
let fastTie = false;
/** Where fastOrder stopped: the line's LF, or e. */
let fastEnd = 0;

/**
 * The fast path of an order line: `COUNT: ORDER` in plain ASCII with spaces or tabs, from the
 * first byte p to the first LF or e, whichever comes first (fastEnd says where it stopped). Fills
 * row[base, base + m) (which must come filled with -1) and returns the count, with the
 * alternatives ranked in fastRanked and whether there is a tie in fastTie; SLOW (-1) for anything
 * else (a malformed line, an alternative out of range or repeated, other bytes), which the caller
 * then reads as text.
 */
function fastOrder(b: Uint8Array, p: number, e: number, m: number, row: Int32Array, base: number): number {
  if (p >= e) return SLOW;
  let c = b[p]!;
  if (c < ZERO || c > NINE) return SLOW;
  let count = 0;
  while (p < e && (c = b[p]!) >= ZERO && c <= NINE) {
    count = count * 10 + (c - ZERO);
    p++;
  }
  while (p < e && ((c = b[p]!) === SPACE || c === TAB)) p++;
  if (p === e || b[p] !== COLON) return SLOW;
  p++;
  while (p < e && ((c = b[p]!) === SPACE || c === TAB)) p++;
  let ranked = 0;
  let tiers = 0;
  let tie = false;
  if (p < e && b[p] !== LF) {
    for (;;) {
      c = b[p]!;
      if (c === OPEN) {
        p++;
        let size = 0;
        for (;;) {
          while (p < e && ((c = b[p]!) === SPACE || c === TAB)) p++;
          let a = 0;
          let digits = 0;
          while (p < e && (c = b[p]!) >= ZERO && c <= NINE) {
            a = a * 10 + (c - ZERO);
            p++;
            digits++;
          }
          if (digits === 0 || digits > 9 || a < 1 || a > m || row[base + a - 1] !== -1) return SLOW;
          row[base + a - 1] = tiers;
          ranked++;
          size++;
          while (p < e && ((c = b[p]!) === SPACE || c === TAB)) p++;
          if (p === e) return SLOW;
          c = b[p++]!;
          if (c === CLOSE) break;
          if (c !== COMMA) return SLOW;
        }
        if (size > 1) tie = true;
      } else {
        // c = b[p]: the alternative's first digit; one digit is the usual case.
        let a = c - ZERO;
        if (a < 0 || a > 9) return SLOW;
        p++;
        if (p < e && (c = b[p]!) >= ZERO && c <= NINE) {
          let digits = 1;
          do {
            a = a * 10 + (c - ZERO);
            p++;
            digits++;
          } while (p < e && (c = b[p]!) >= ZERO && c <= NINE);
          if (digits > 9) return SLOW;
        }
        if (a < 1 || a > m || row[base + a - 1] !== -1) return SLOW;
        row[base + a - 1] = tiers;
        ranked++;
      }
      tiers++;
      if (p === e) break;
      c = b[p]!;
      if (c === COMMA) {
        p++;
        // The usual case: the next alternative right after the comma.
        if (p < e && (c = b[p]!) >= ZERO && c <= NINE) continue;
      } else {
        // Spaces or tabs, then the end of the line or a comma.
        while (c === SPACE || c === TAB) {
          if (++p === e) break;
          c = b[p]!;
        }
        if (p === e || c === LF) break;
        if (c !== COMMA) return SLOW;
        p++;
      }
      while (p < e && ((c = b[p]!) === SPACE || c === TAB)) p++;
      if (p === e || b[p] === LF) return SLOW; // a trailing comma
    }
  }
  fastRanked = ranked;
  fastTie = tie;
  fastEnd = p;
  return count;
}

/**
 * Parses one preference list (after the colon) into row (tier per alternative, 0-based; row must
 * come filled with -1). Returns the number of tiers, of alternatives ranked, and the first tie
 * found (as written) or null.
 */
function parseOrder(text: string, m: number, row: Int32Array, where: string): { tiers: number; ranked: number; tie: string | null } {
  const s = text.replace(/\s+/g, "");
  let tiers = 0;
  let ranked = 0;
  let tie: string | null = null;
  if (s === "") return { tiers, ranked, tie };
  let p = 0;
  const alternative = (): number => {
    let q = p;
    while (q < s.length && s.charCodeAt(q) >= 48 && s.charCodeAt(q) <= 57) q++;
    if (q === p) {
      const found = p < s.length ? `"${s[p]}"` : "the end of the line";
      throw new CivitasError("input", `${where}: expected an alternative number (1 to ${m}) at position ${p + 1} of the order "${clip(s)}", found ${found}`);
    }
    const a = Number(s.slice(p, q));
    if (a < 1 || a > m) throw new CivitasError("input", `${where}: alternative ${s.slice(p, q)} is not one of the ${m} (numbered 1 to ${m})`);
    if (row[a - 1] !== -1) throw new CivitasError("input", `${where}: alternative ${a} appears twice in the order "${clip(s)}"`);
    row[a - 1] = tiers;
    ranked++;
    p = q;
    return a;
  };
  for (;;) {
    if (s[p] === "{") {
      const start = p;
      p++;
      if (s[p] === "}") throw new CivitasError("input", `${where}: an empty tie "{}" in the order "${clip(s)}"`);
      let size = 0;
      for (;;) {
        alternative();
        size++;
        if (s[p] === ",") p++;
        else if (s[p] === "}") break;
        else {
          const found = p < s.length ? `"${s[p]}"` : "the end of the line";
          throw new CivitasError("input", `${where}: expected "," or "}" in the tie starting at position ${start + 1} of "${clip(s)}", found ${found}`);
        }
      }
      p++;
      if (size > 1 && tie === null) tie = s.slice(start, p);
    } else {
      alternative();
    }
    tiers++;
    if (p === s.length) break;
    if (s[p] !== ",") throw new CivitasError("input", `${where}: expected "," at position ${p + 1} of the order "${clip(s)}", found "${s[p]}"`);
    p++;
  }
  return { tiers, ranked, tie };
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function list(xs: readonly number[]): string {
  return xs.length > 8 ? `${xs.slice(0, 8).join(", ")}, ...` : xs.join(", ");
}

function kindOf(strict: boolean, complete: boolean): PrefLibKind {
  return strict ? (complete ? "soc" : "soi") : complete ? "toc" : "toi";
}

/** Whether a profile has ties and whether every ballot ranks every alternative. */
function shapeOf(p: Profile): { strict: boolean; complete: boolean } {
  const m = p.alternatives.length;
  let strict = true;
  let complete = true;
  const used = new Uint8Array(m + 1);
  for (let b = 0; b < p.size && (strict || complete); b++) {
    used.fill(0);
    for (let a = 0; a < m; a++) {
      const t = p.ranks[b * m + a]!;
      if (t < 0) complete = false;
      else if (used[t]) strict = false;
      else used[t] = 1;
    }
  }
  return { strict, complete };
}

/** The most restrictive PrefLib data type that holds every ballot of the profile. */
export function prefLibKind(p: Profile): PrefLibKind {
  const { strict, complete } = shapeOf(p);
  return kindOf(strict, complete);
}

/** The tiers of ballot b, alternatives 0-based and ascending within a tier; empty tiers skipped. */
function tiersOf(p: Profile, b: number): number[][] {
  const m = p.alternatives.length;
  const byTier = new Map<number, number[]>();
  for (let a = 0; a < m; a++) {
    const t = p.ranks[b * m + a]!;
    if (t < 0) continue;
    let tier = byTier.get(t);
    if (!tier) byTier.set(t, (tier = []));
    tier.push(a);
  }
  return [...byTier.entries()].sort((x, y) => x[0] - y[0]).map(([, tier]) => tier);
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, " ").trim();
}

/**
 * Writes a profile as the text of a PrefLib file: the header in PrefLib's order (descriptive keys
 * from the metadata, empty when absent; NUMBER ALTERNATIVES, NUMBER VOTERS, NUMBER UNIQUE ORDERS
 * and the names computed from the profile; additional metadata keys after the names), then one
 * line per unique order as `count: 1,2,{3,4}` (no spaces, as PrefLib's files; ties ascending),
 * sorted by count descending, then by more tiers first, then in profile order (as preflibtools
 * writes them). LF line endings and a final newline.
 *
 * `kind` defaults to the most restrictive type that fits; a kind that cannot hold the profile
 * (e.g. "soc" with ties) is a CivitasError "usage". Counts must be whole numbers (PrefLib counts
 * voters): a weighted profile is a CivitasError "input".
 */
export function writePrefLib(profile: Profile, kind?: PrefLibKind): string {
  const m = profile.alternatives.length;
  const { strict, complete } = shapeOf(profile);
  const fits = kindOf(strict, complete);
  const k = kind ?? fits;
  if ((STRICT[k] && !strict) || (COMPLETE[k] && !complete)) {
    throw new CivitasError("usage", `cannot write this profile as .${k} (${LONG_NAME[k]}): ${!strict && STRICT[k] ? "some ballots have ties" : "some ballots leave alternatives unranked"}; the most restrictive type that fits is .${fits}`);
  }
  let voters = 0;
  for (let b = 0; b < profile.size; b++) {
    const c = profile.counts[b]!;
    if (!Number.isInteger(c) || c < 0) {
      throw new CivitasError("input", `cannot write a PrefLib file: ballot ${b + 1} has count ${c}, but PrefLib counts voters in whole numbers (0 or more)`, {
        hint: "round or scale the weights first",
      });
    }
    voters += c;
  }
  const meta = profile.metadata;
  const out: string[] = [];
  for (const key of PREFLIB_DESCRIPTIVE_KEYS) {
    const value = key === "DATA TYPE" ? k : oneLine(meta[key] ?? "");
    out.push(`# ${key}: ${value}`);
  }
  out.push(`# NUMBER ALTERNATIVES: ${m}`, `# NUMBER VOTERS: ${voters}`, `# NUMBER UNIQUE ORDERS: ${profile.size}`);
  profile.alternatives.forEach((n, a) => out.push(`# ALTERNATIVE NAME ${a + 1}: ${oneLine(n)}`));
  const standard = new Set<string>(PREFLIB_DESCRIPTIVE_KEYS);
  for (const [key, value] of Object.entries(meta)) {
    const K = oneLine(key).replace(/:/g, "");
    if (standard.has(K) || DERIVED_KEY.test(K) || K === "") continue;
    out.push(`# ${K}: ${oneLine(value)}`);
  }
  const tiers: number[][][] = [];
  for (let b = 0; b < profile.size; b++) tiers.push(tiersOf(profile, b));
  const order = Array.from({ length: profile.size }, (_, b) => b);
  order.sort((x, y) => profile.counts[y]! - profile.counts[x]! || tiers[y]!.length - tiers[x]!.length || x - y);
  for (const b of order) {
    const text = tiers[b]!.map((t) => (t.length === 1 ? String(t[0]! + 1) : `{${t.map((a) => a + 1).join(",")}}`)).join(",");
    out.push(`${profile.counts[b]}: ${text}`);
  }
  return out.join("\n") + "\n";
}
