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
import path from "node:path";
import { CivitasError } from "../errors.js";
import { readText } from "../files.js";
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

/** Reads a PrefLib file and returns the profile, its data type and the warnings. */
export async function readPrefLibWithWarnings(file: string): Promise<PrefLibParse> {
  const text = await readText(file, "PrefLib file");
  return parsePrefLibWithWarnings(text, file);
}

/** Parses the text of a PrefLib file; `name` (a path or file name) is used in messages and, when there is no DATA TYPE header, for its extension. */
export function parsePrefLib(text: string, name: string): Profile {
  return parsePrefLibWithWarnings(text, name).profile;
}

/** A growable Int32Array. */
class IntBuffer {
  data = new Int32Array(1024);
  length = 0;
  push(row: Int32Array): void {
    if (this.length + row.length > this.data.length) {
      const next = new Int32Array(Math.max(this.data.length * 2, this.length + row.length));
      next.set(this.data.subarray(0, this.length));
      this.data = next;
    }
    this.data.set(row, this.length);
    this.length += row.length;
  }
}

export function parsePrefLibWithWarnings(text: string, name: string): PrefLibParse {
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const warnings: string[] = [];
  const at = (line: number): string => `${name} line ${line}`;

  // --- The header: `# KEY: value` lines at the start (empty lines allowed among them).
  const header = new Map<string, { value: string; line: number }>();
  const names = new Map<number, { value: string; line: number }>();
  let i = 0;
  for (; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === "") continue;
    if (!raw.startsWith("#")) break;
    const body = raw.slice(1);
    const colon = body.indexOf(":");
    if (colon < 0) {
      warnings.push(`${at(i + 1)}: "${raw}" is not a "# KEY: value" metadata line; ignored`);
      continue;
    }
    const key = body.slice(0, colon).trim().replace(/\s+/g, " ").toUpperCase();
    const value = body.slice(colon + 1).trim();
    const alt = ALTERNATIVE_NAME.exec(key);
    if (alt) {
      const k = Number(alt[1]);
      const before = names.get(k);
      if (before) throw new CivitasError("input", `${at(i + 1)}: ALTERNATIVE NAME ${k} is given twice (also on line ${before.line})`);
      names.set(k, { value, line: i + 1 });
      continue;
    }
    const before = header.get(key);
    if (before) throw new CivitasError("input", `${at(i + 1)}: header "${key}" is given twice (also on line ${before.line})`);
    header.set(key, { value, line: i + 1 });
  }
  const dataStart = i;

  const whole = (key: string): number | undefined => {
    const h = header.get(key);
    if (!h) return undefined;
    if (!WHOLE.test(h.value)) throw new CivitasError("input", `${at(h.line)}: ${key} is "${h.value}", expected a whole number`);
    return Number(h.value);
  };

  // --- The data type: the header's, else the extension's.
  const ext = path.extname(name).slice(1).toLowerCase();
  const declared = header.get("DATA TYPE");
  let kind: PrefLibKind;
  if (declared && declared.value !== "") {
    const v = declared.value.toLowerCase();
    if (!isKind(v)) {
      throw new CivitasError("input", `${at(declared.line)}: DATA TYPE is "${declared.value}", expected one of soc, soi, toc, toi (ordinal preferences)`, {
        hint: "civitas reads PrefLib's ordinal files; categorical (.cat) and matching (.wmd) data are not preference orders",
      });
    }
    kind = v;
    if (isKind(ext) && ext !== kind) warnings.push(`${at(declared.line)}: DATA TYPE is ${kind} but the file name ends in .${ext}; read as ${kind}`);
  } else if (isKind(ext)) {
    kind = ext;
  } else {
    throw new CivitasError("input", `${name}: cannot tell the data type: no "# DATA TYPE:" header and the name does not end in .soc, .soi, .toc or .toi`);
  }

  // --- The alternatives.
  let m = whole("NUMBER ALTERNATIVES");
  if (m === undefined) {
    if (names.size === 0) {
      throw new CivitasError("input", `${name}: no "# NUMBER ALTERNATIVES:" header and no "# ALTERNATIVE NAME i:" lines: the number of alternatives is unknown`);
    }
    m = Math.max(...names.keys());
    warnings.push(`${name}: no "# NUMBER ALTERNATIVES:" header; taking ${m} from the ALTERNATIVE NAME lines`);
  }
  if (m === 0) throw new CivitasError("input", `${at(header.get("NUMBER ALTERNATIVES")!.line)}: NUMBER ALTERNATIVES is 0`);
  const alternatives: string[] = [];
  const nameAt = new Map<string, number>();
  for (const [k, n] of names) {
    if (k < 1 || k > m) {
      throw new CivitasError("input", `${at(n.line)}: ALTERNATIVE NAME ${k}, but alternatives are numbered 1 to ${m} (NUMBER ALTERNATIVES: ${m})`);
    }
  }
  const unnamed: number[] = [];
  for (let k = 1; k <= m; k++) {
    const n = names.get(k);
    if (!n) unnamed.push(k);
    const value = n ? n.value : `Alternative ${k}`;
    const other = nameAt.get(value);
    if (other !== undefined) {
      throw new CivitasError("input", `${n ? at(n.line) : name}: alternatives ${other} and ${k} are both named "${value}" (PrefLib: no two alternatives can have the same name)`);
    }
    nameAt.set(value, k);
    alternatives.push(value);
  }
  if (unnamed.length > 0) {
    warnings.push(`${name}: no "# ALTERNATIVE NAME i:" line for ${unnamed.length === 1 ? "alternative" : "alternatives"} ${list(unnamed)}; named "Alternative i"`);
  }

  // --- The orders.
  const strict = STRICT[kind];
  const complete = COMPLETE[kind];
  const ranks = new IntBuffer();
  const counts: number[] = [];
  const seen = new Map<string, { ballot: number; line: number }>();
  const row = new Int32Array(m);
  let orderLines = 0;
  let voters = 0;
  let hasTie = false;
  let hasIncomplete = false;
  for (let l = dataStart; l < lines.length; l++) {
    const raw = lines[l]!;
    const trimmed = raw.trim();
    if (trimmed === "") continue;
    const where = at(l + 1);
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
    row.fill(-1);
    const { ranked, tie } = parseOrder(trimmed.slice(colon + 1), m, row, where);
    orderLines++;
    if (tie) {
      hasTie = true;
      if (strict) throw new CivitasError("input", `${where}: a tie (${tie}), but a .${kind} file holds ${LONG_NAME[kind]}`, { hint: "a file with ties is a .toc (complete) or .toi (incomplete) file" });
    }
    if (ranked < m) {
      hasIncomplete = true;
      if (complete) {
        const missing: number[] = [];
        for (let a = 0; a < m; a++) if (row[a] === -1) missing.push(a + 1);
        throw new CivitasError("input", `${where}: the order ranks ${ranked} of the ${m} alternatives (missing ${list(missing)}), but a .${kind} file holds ${LONG_NAME[kind]}`, {
          hint: "a file with truncated orders is a .soi (strict) or .toi (with ties) file",
        });
      }
    }
    voters += count;
    const key = row.join(",");
    const before = seen.get(key);
    if (before) {
      warnings.push(`${where}: the same order as line ${before.line}; counts added (PrefLib lists each order once)`);
      counts[before.ballot]! += count;
    } else {
      seen.set(key, { ballot: counts.length, line: l + 1 });
      ranks.push(row);
      counts.push(count);
    }
  }

  // --- The header's counts against the data.
  const nv = whole("NUMBER VOTERS");
  if (nv === undefined) warnings.push(`${name}: no "# NUMBER VOTERS:" header`);
  else if (nv !== voters) {
    throw new CivitasError("input", `${at(header.get("NUMBER VOTERS")!.line)}: NUMBER VOTERS is ${nv}, but the counts of the orders add up to ${voters}`, {
      hint: "the file may be truncated; if the data is right, correct the header",
    });
  }
  const nu = whole("NUMBER UNIQUE ORDERS");
  if (nu === undefined) warnings.push(`${name}: no "# NUMBER UNIQUE ORDERS:" header`);
  else if (nu !== orderLines) warnings.push(`${at(header.get("NUMBER UNIQUE ORDERS")!.line)}: NUMBER UNIQUE ORDERS is ${nu}, but the file has ${orderLines} order lines`);
  // Descriptive keys (TITLE, DESCRIPTION, dates...) are optional in a file of your own: no warning when absent.
  const fits = kindOf(!hasTie, !hasIncomplete);
  if (fits !== kind) warnings.push(`${name}: every order fits a .${fits} file (${LONG_NAME[fits]}); PrefLib asks for the most restrictive type`);

  const metadata: Record<string, string> = {};
  for (const [key, { value }] of header) if (!DERIVED_KEY.test(key) && value !== "") metadata[key] = value;
  const profile: Profile = {
    alternatives,
    size: counts.length,
    ranks: ranks.data.slice(0, ranks.length),
    counts: Float64Array.from(counts),
    metadata,
  };
  return { profile, kind, warnings };
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
