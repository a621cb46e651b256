/**
 * `population:` in a scenario: agents whose attributes follow a survey's joint distribution, each
 * with a persona rendered from its attributes (as SocioVerse draws its agents from a user pool).
 *
 * ```yaml
 * population:
 *   attributes: [POLPARTY, SEX]   # required, in the order personas name them
 *   wave: W26                     # OpinionQA: the wave whose counts are used (default: survey.question's wave)
 *   file: people.csv              # instead of the survey: individual records (CSV), one per person
 *   weight: weight                # the file's weight column (default: "weight" when the file has one)
 *   draw: quota                   # quota (default) | iid
 * ```
 *
 * Sources, and how each gives a joint distribution over the cells (one value per attribute):
 * - OpinionQA (the scenario's `survey`, read from its data folder). A wave has crossed files for
 *   three pairs (POLPARTY_SEX, POLPARTY_RACE, RACE_SEX: respondent counts per cell and option) and
 *   one file per attribute. Files hold counts per question, not per respondent, so a file's cell
 *   sizes are the respondents (every option, "Refused" included) of the file's most-answered
 *   question in the wave (the most respondents over the cells kept; ties: the first in the file).
 *   Only groups that are populations of the suite are kept (OpinionQA leaves out POLPARTY
 *   "Refused", RACE "Mixed Race", ...). The attributes are taken in order: the first is paired
 *   with the first later one it has a crossed file with (their joint from the cells); every later
 *   attribute is drawn conditionally on the first attribute already placed it has a crossed file
 *   with (P(B | A) from the cells), else independently from its own marginal. `source` says which.
 * - SubPOP and other suites without counts of respondents: each attribute independently; the
 *   shares are the groups' respondents (HumanDistribution.n) on the attribute's most-answered
 *   question, or equal shares when the suite gives no n (SubPOP). `source` says so.
 * - A file of individual records (`file:`): CSV with a header; one column per attribute, an
 *   optional weight column (positive numbers) and, when the rows are a custom survey's individual
 *   responses (several rows per person), `respondent_id` (a person counts once; their values and
 *   weight must agree across rows). The joint distribution is the records' weighted one.
 *
 * Drawing N agents. `draw: quota` (default): each cell gets its quota N x p by the largest
 * remainder (Hamilton) method (ties to the first cell, cells in the order of the attributes'
 * values), and the agents are placed on the nodes by a seeded Fisher-Yates shuffle, as `opinion`
 * places its groups (agents/opinion.ts assignGroups): the composition is the survey's up to
 * rounding, so a group's measured alignment is not blurred by a random composition, and a group of
 * share >= 1/N is never left empty by chance. `draw: iid`: every agent's cell drawn independently
 * from the joint distribution (a simple random sample of the population). Randomness comes from the
 * simulation's seed, on its own stream (streamRng(seed, "population")), so the dynamics' own draws
 * are those of a run without `population:` apart from what the population replaces.
 *
 * Personas. One attribute: exactly its population's steering persona (`personasFor`, as
 * `civitas eval --persona` uses), so that a simulation and an evaluation share cached answers.
 * Several: the personas of each attribute joined in the same style: "Answer the following question
 * as if in politics today you considered yourself a Democrat and as someone whose sex is female."
 * (each persona after the first without its "Answer the following question" opening and final
 * period; personas that do not share that opening are joined as sentences).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { CivitasError, messageOf } from "../errors.js";
import { sha256Hex } from "../hash.js";
import { streamRng, type Rng } from "../metrics/index.js";
import {
  DEFAULT_PERSONA_TEMPLATES,
  fillPersonaTemplate,
  GENERIC_PERSONA_TEMPLATE,
  personasFor,
  suiteAttributes,
  type Population,
  type Suite,
} from "../surveys/index.js";
import type { AgentPopulation, AgentProfile } from "./types.js";

/** The scenario's `population:` section (paths absolute). */
export interface PopulationSection {
  readonly attributes: readonly string[];
  readonly wave?: string;
  readonly file?: string;
  readonly weight?: string;
  readonly draw?: "quota" | "iid";
}

/** A population ready to draw from: its cells (value tuples), their probabilities and personas. */
export interface PopulationPlan {
  readonly source: string;
  readonly attributes: readonly string[];
  /** One value per attribute, in `attributes` order. */
  readonly cells: readonly (readonly string[])[];
  /** Probability of each cell (sums to 1). */
  readonly probs: readonly number[];
  readonly personas: readonly string[];
  readonly draw: "quota" | "iid";
  /** What the draws depend on besides the section (data fingerprint), for the run's identity. */
  readonly fingerprint: string;
}

const WAVE_PREFIX = "American_Trends_Panel_";
const CROSSED: readonly (readonly [string, string])[] = [
  ["POLPARTY", "SEX"],
  ["POLPARTY", "RACE"],
  ["RACE", "SEX"],
];

// ---------------------------------------------------------------------------------------------
// Personas

const OPENING = "Answer the following question ";

/** The persona of one attribute value: the suite's (as `civitas eval --persona`), else the default templates. */
export function attributePersona(suite: Suite | undefined, attribute: string, value: string): string {
  const pop: Population = { id: `${attribute}=${value}`, attribute, value };
  if (suite !== undefined) return personasFor(suite, [pop]).get(pop.id)?.text ?? "";
  const lower = new Map(Object.entries(DEFAULT_PERSONA_TEMPLATES).map(([k, v]) => [k.toLowerCase(), v]));
  return fillPersonaTemplate(DEFAULT_PERSONA_TEMPLATES[attribute] ?? lower.get(attribute.toLowerCase()) ?? GENERIC_PERSONA_TEMPLATE, pop);
}

/** Joins one-attribute personas into one (see the module comment); one persona is returned as it is. */
export function joinPersonas(parts: readonly string[]): string {
  const ps = parts.map((p) => p.trim()).filter((p) => p !== "");
  if (ps.length <= 1) return ps[0] ?? "";
  if (!ps.every((p) => p.startsWith(OPENING))) return ps.join(" ");
  const clauses = ps.map((p) => p.slice(OPENING.length).replace(/[.!]\s*$/u, ""));
  const last = clauses.pop()!;
  return `${OPENING}${clauses.join(", ")}${clauses.length > 1 ? "," : ""} and ${last}.`;
}

/** The persona of an agent with these attribute values (in `attributes` order). */
export function profilePersona(suite: Suite | undefined, attributes: readonly string[], values: readonly string[]): string {
  return joinPersonas(attributes.map((a, k) => attributePersona(suite, a, values[k]!)));
}

// ---------------------------------------------------------------------------------------------
// Drawing

/**
 * Seats per cell by the largest remainder (Hamilton) method: floor(N p) each, the rest to the
 * largest fractional parts (ties to the first cell).
 */
export function largestRemainder(n: number, probs: readonly number[]): number[] {
  const quotas = probs.map((p) => p * n);
  const seats = quotas.map(Math.floor);
  let left = n - seats.reduce((a, b) => a + b, 0);
  const byRemainder = quotas.map((q, g) => ({ g, r: q - Math.floor(q) })).sort((a, b) => b.r - a.r || a.g - b.g);
  for (let i = 0; left > 0; i = (i + 1) % byRemainder.length, left--) seats[byRemainder[i]!.g]!++;
  return seats;
}

function shuffle(a: Int32Array, rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

/** The cell of each of n agents (node order), drawn with the simulation's seed. */
export function drawCells(plan: Pick<PopulationPlan, "probs" | "draw">, n: number, seed: number): Int32Array {
  const rng = streamRng(seed, "population");
  const out = new Int32Array(n);
  if (plan.draw === "iid") {
    for (let i = 0; i < n; i++) {
      const u = rng.float();
      let acc = 0;
      let cell = -1;
      for (let c = 0; c < plan.probs.length; c++) {
        if (plan.probs[c]! <= 0) continue;
        acc += plan.probs[c]!;
        cell = c;
        if (u < acc) break;
      }
      out[i] = cell;
    }
    return out;
  }
  const seats = largestRemainder(n, plan.probs);
  for (let c = 0, i = 0; c < seats.length; c++) for (let s = 0; s < seats[c]!; s++) out[i++] = c;
  shuffle(out, rng);
  return out;
}

/** N agents drawn from a population plan with the simulation's seed. */
export function drawPopulation(plan: PopulationPlan, n: number, seed: number): AgentPopulation {
  const cells = drawCells(plan, n, seed);
  const profiles: AgentProfile[] = plan.cells.map((values, c) => ({
    attributes: Object.fromEntries(plan.attributes.map((a, k) => [a, values[k]!])),
    persona: plan.personas[c]!,
  }));
  return { source: plan.source, attributes: [...plan.attributes], agents: Array.from(cells, (c) => profiles[c]!) };
}

// ---------------------------------------------------------------------------------------------
// Planning: the joint distribution of a source

/** A factor of the joint distribution: a marginal of one attribute, a joint of two, or one conditional on another. */
type Factor =
  | { kind: "marginal"; attr: string; p: Map<string, number> }
  | { kind: "joint"; a: string; b: string; p: Map<string, Map<string, number>> }
  | { kind: "conditional"; attr: string; given: string; p: Map<string, Map<string, number>> };

/** The cells of the attributes' values (first attribute slowest) with the product of the factors. */
function cellsOf(attributes: readonly string[], values: readonly (readonly string[])[], factors: readonly Factor[]): { cells: string[][]; probs: number[] } {
  const cells: string[][] = [];
  const probs: number[] = [];
  const idx = attributes.map(() => 0);
  const at = new Map(attributes.map((a, k) => [a, k]));
  for (;;) {
    const cell = idx.map((i, k) => values[k]![i]!);
    const v = (a: string) => cell[at.get(a)!]!;
    let p = 1;
    for (const f of factors) {
      if (f.kind === "marginal") p *= f.p.get(v(f.attr)) ?? 0;
      else if (f.kind === "joint") p *= f.p.get(v(f.a))?.get(v(f.b)) ?? 0;
      else p *= f.p.get(v(f.given))?.get(v(f.attr)) ?? 0;
    }
    if (p > 0) {
      cells.push(cell);
      probs.push(p);
    }
    let k = attributes.length - 1;
    while (k >= 0 && ++idx[k]! >= values[k]!.length) idx[k--] = 0;
    if (k < 0) break;
  }
  const total = probs.reduce((a, b) => a + b, 0);
  return { cells, probs: probs.map((p) => p / total) };
}

function normalise(m: Map<string, number>): Map<string, number> {
  let t = 0;
  for (const v of m.values()) t += v;
  return new Map([...m].map(([k, v]) => [k, t > 0 ? v / t : 0]));
}

/** Prepares a scenario's population: reads its source and builds the joint distribution. Errors name `where` (the scenario file). */
export async function planPopulation(section: PopulationSection, o: { readonly suite: Suite | undefined; readonly where: string; readonly question?: string }): Promise<PopulationPlan> {
  const draw = section.draw ?? "quota";
  if (section.attributes.length === 0) throw new CivitasError("input", `${o.where}: population.attributes: name at least one attribute`);
  if (new Set(section.attributes).size !== section.attributes.length) throw new CivitasError("input", `${o.where}: population.attributes: an attribute is listed twice`);
  let plan: Omit<PopulationPlan, "personas" | "draw">;
  if (section.file !== undefined) plan = await planFile(section, o.where);
  else {
    const suite = o.suite;
    if (suite === undefined) {
      throw new CivitasError("input", `${o.where}: population: draws from the scenario's survey, which it has none of`, {
        hint: "add survey: { suite: opinionqa, data: ... }, or give population.file (individual records)",
      });
    }
    const known = suiteAttributes(suite);
    section.attributes.forEach((a, k) => {
      if (!known.includes(a)) {
        throw new CivitasError("input", `${o.where}: population.attributes[${k}]: suite ${suite.name} has no attribute "${a}" (its attributes: ${known.join(", ")})`);
      }
    });
    plan = suite.name === "opinionqa" ? await planOpinionQA(section, suite, o) : planMarginals(section, suite);
  }
  const personas = plan.cells.map((cell) => profilePersona(o.suite, plan.attributes, cell));
  return { ...plan, personas, draw };
}

/** Values of an attribute in the suite's order. */
function valuesOf(suite: Suite, attr: string): string[] {
  return suite.populations.filter((p) => p.attribute === attr).map((p) => p.value);
}

/** Other suites: each attribute independently from its marginal (respondents of its most-answered question, or equal shares). */
function planMarginals(section: PopulationSection, suite: Suite): Omit<PopulationPlan, "personas" | "draw"> {
  const notes: string[] = [];
  const factors: Factor[] = [];
  const values = section.attributes.map((a) => valuesOf(suite, a));
  section.attributes.forEach((attr, k) => {
    let best: { q: string; total: number; n: Map<string, number> } | undefined;
    for (const q of suite.questions) {
      const n = new Map<string, number>();
      let total = 0;
      let known = true;
      for (const v of values[k]!) {
        const h = suite.human(q.id, `${attr}=${v}`);
        if (h === undefined) continue;
        if (h.n === null) known = false;
        else {
          n.set(v, h.n);
          total += h.n;
        }
      }
      if (known && total > 0 && (best === undefined || total > best.total)) best = { q: q.id, total, n };
    }
    if (best === undefined) {
      factors.push({ kind: "marginal", attr, p: new Map(values[k]!.map((v) => [v, 1 / values[k]!.length])) });
      notes.push(`${attr} in equal shares (the suite gives no group sizes)`);
    } else {
      factors.push({ kind: "marginal", attr, p: normalise(best.n) });
      notes.push(`${attr} from its groups' respondents on ${best.q}`);
    }
  });
  const { cells, probs } = cellsOf(section.attributes, values, factors);
  const source = `${suite.name}: ${notes.join("; ")}${section.attributes.length > 1 ? "; attributes drawn independently" : ""}`;
  return { source, attributes: [...section.attributes], cells, probs, fingerprint: suite.fingerprint };
}

interface CountFile {
  readonly file: string;
  readonly json: Record<string, unknown>;
}

async function readCountFile(file: string): Promise<CountFile | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new CivitasError("input", `cannot read ${file}: ${messageOf(e)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CivitasError("input", `${file}: invalid JSON: ${messageOf(e)}`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw new CivitasError("input", `${file}: expected a JSON object keyed by question`);
  return { file, json: json as Record<string, unknown> };
}

/** Sum of an object of counts (every option); an error names the file, question and group. */
function sumCounts(f: CountFile, qid: string, group: string, v: unknown): number {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new CivitasError("input", `${f.file}: question ${qid}, group "${group}": expected an object of counts`);
  let t = 0;
  for (const [opt, c] of Object.entries(v)) {
    if (typeof c !== "number" || !Number.isFinite(c) || c < 0) {
      throw new CivitasError("input", `${f.file}: question ${qid}, group "${group}", answer ${JSON.stringify(opt)}: count ${JSON.stringify(c)} is not a non-negative number`);
    }
    t += c;
  }
  return t;
}

const SKIP = new Set(["MC_options", "question_text", "marginals"]);

/** Respondents per group of a one-attribute file, from its most-answered question (groups limited to `keep`). */
export function marginalCounts(f: CountFile, keep: readonly string[]): { question: string; counts: Map<string, number> } | null {
  let best: { question: string; total: number; counts: Map<string, number> } | null = null;
  for (const [qid, entry] of Object.entries(f.json)) {
    if (entry === null || typeof entry !== "object") throw new CivitasError("input", `${f.file}: question ${qid} is not an object`);
    const counts = new Map<string, number>();
    let total = 0;
    for (const [g, v] of Object.entries(entry as Record<string, unknown>)) {
      if (SKIP.has(g) || !keep.includes(g)) continue;
      const c = sumCounts(f, qid, g, v);
      counts.set(g, c);
      total += c;
    }
    if (total > 0 && (best === null || total > best.total)) best = { question: qid, total, counts };
  }
  return best === null ? null : { question: best.question, counts: best.counts };
}

/** Respondents per (a, b) cell of a crossed file, from its most-answered question (groups limited to `keepA`, `keepB`). */
export function crossedCounts(f: CountFile, keepA: readonly string[], keepB: readonly string[]): { question: string; counts: Map<string, Map<string, number>> } | null {
  let best: { question: string; total: number; counts: Map<string, Map<string, number>> } | null = null;
  for (const [qid, entry] of Object.entries(f.json)) {
    if (entry === null || typeof entry !== "object") throw new CivitasError("input", `${f.file}: question ${qid} is not an object`);
    const counts = new Map<string, Map<string, number>>();
    let total = 0;
    for (const [a, inner] of Object.entries(entry as Record<string, unknown>)) {
      if (SKIP.has(a) || !keepA.includes(a)) continue;
      if (inner === null || typeof inner !== "object" || Array.isArray(inner)) throw new CivitasError("input", `${f.file}: question ${qid}, group "${a}": expected an object by the second attribute's groups`);
      const row = new Map<string, number>();
      for (const [b, v] of Object.entries(inner as Record<string, unknown>)) {
        if (!keepB.includes(b)) continue;
        const c = sumCounts(f, qid, `${a}/${b}`, v);
        row.set(b, c);
        total += c;
      }
      counts.set(a, row);
    }
    if (total > 0 && (best === null || total > best.total)) best = { question: qid, total, counts };
  }
  return best === null ? null : { question: best.question, counts: best.counts };
}

/** Swaps a two-level map (a -> b -> x) to (b -> a -> x). */
function transpose(m: Map<string, Map<string, number>>): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const [a, row] of m) for (const [b, x] of row) {
    let r = out.get(b);
    if (r === undefined) out.set(b, (r = new Map()));
    r.set(a, x);
  }
  return out;
}

/** OpinionQA: crossed files where there are, marginals elsewhere (see the module comment). */
async function planOpinionQA(section: PopulationSection, suite: Suite, o: { readonly where: string; readonly question?: string }): Promise<Omit<PopulationPlan, "personas" | "draw">> {
  let wave = section.wave?.trim().toUpperCase();
  if (wave !== undefined && /^\d+$/u.test(wave)) wave = `W${wave}`;
  if (wave === undefined && o.question !== undefined) wave = suite.questions.find((q) => q.id === o.question)?.source;
  if (wave === undefined) throw new CivitasError("input", `${o.where}: population.wave: required for opinionqa without survey.question (e.g. W26)`);
  const dir = path.join(suite.location, `${WAVE_PREFIX}${wave}`);
  const attrs = section.attributes;
  const values = attrs.map((a) => valuesOf(suite, a));
  const valuesOfAttr = (a: string) => values[attrs.indexOf(a)]!;
  const crossedFile = async (a: string, b: string): Promise<{ f: CountFile; swap: boolean } | null> => {
    const pair = CROSSED.find(([x, y]) => (x === a && y === b) || (x === b && y === a));
    if (pair === undefined) return null;
    const f = await readCountFile(path.join(dir, `${pair[0]}_${pair[1]}_data.json`));
    return f === null ? null : { f, swap: pair[0] !== a };
  };
  const files: string[] = [];
  const factors: Factor[] = [];
  const notes: string[] = [];
  const placed: string[] = [];
  /** P(a, b) counts with a outer. */
  const cross = async (a: string, b: string) => {
    const c = await crossedFile(a, b);
    if (c === null) return null;
    const [x, y] = c.swap ? [b, a] : [a, b];
    const r = crossedCounts(c.f, valuesOfAttr(x), valuesOfAttr(y));
    if (r === null) return null;
    files.push(c.f.file);
    return { question: r.question, counts: c.swap ? transpose(r.counts) : r.counts, file: path.basename(c.f.file) };
  };
  const marginal = async (a: string): Promise<void> => {
    const file = path.join(dir, `${a}_data.json`);
    const f = await readCountFile(file);
    if (f === null) throw new CivitasError("input", `${o.where}: population: missing OpinionQA file ${file}`, { hint: "population.wave must be a wave of the survey's data folder" });
    const r = marginalCounts(f, valuesOfAttr(a));
    if (r === null) throw new CivitasError("input", `${file}: no respondents in the groups of ${a}`);
    files.push(file);
    factors.push({ kind: "marginal", attr: a, p: normalise(r.counts) });
    notes.push(`${a} from its marginal (${path.basename(file)}, respondents of ${r.question})${attrs.length > 1 ? ", drawn independently" : ""}`);
  };
  const first = attrs[0]!;
  let pairedWith: string | undefined;
  for (const b of attrs.slice(1)) {
    const c = await cross(first, b);
    if (c === null) continue;
    const total = [...c.counts.values()].reduce((s, row) => s + [...row.values()].reduce((x, y) => x + y, 0), 0);
    factors.push({ kind: "joint", a: first, b, p: new Map([...c.counts].map(([k, row]) => [k, new Map([...row].map(([kb, x]) => [kb, x / total]))])) });
    notes.push(`${first} x ${b} joint (${c.file}, respondents of ${c.question})`);
    pairedWith = b;
    break;
  }
  if (pairedWith === undefined) await marginal(first);
  placed.push(first, ...(pairedWith === undefined ? [] : [pairedWith]));
  for (const a of attrs.slice(1)) {
    if (placed.includes(a)) continue;
    let done = false;
    for (const given of placed) {
      const c = await cross(given, a);
      if (c === null) continue;
      factors.push({ kind: "conditional", attr: a, given, p: new Map([...c.counts].map(([g, row]) => [g, normalise(row)])) });
      notes.push(`${a} given ${given} (${c.file}, respondents of ${c.question})`);
      done = true;
      break;
    }
    if (!done) await marginal(a);
    placed.push(a);
  }
  const { cells, probs } = cellsOf(attrs, values, factors);
  if (cells.length === 0) throw new CivitasError("input", `${o.where}: population: the counts of ${wave} give no respondent in any cell`);
  const bytes = await Promise.all(files.map((f) => readFile(f)));
  return {
    source: `opinionqa ${wave}: ${notes.join("; ")}`,
    attributes: [...attrs],
    cells,
    probs,
    fingerprint: sha256Hex(Buffer.concat(bytes)).slice(0, 16),
  };
}

/** A file of individual records (CSV): the weighted joint distribution of the attributes. */
async function planFile(section: PopulationSection, where: string): Promise<Omit<PopulationPlan, "personas" | "draw">> {
  const file = section.file!;
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new CivitasError("input", `${where}: population.file: cannot read ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : messageOf(e)}`);
  }
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsv(bytes, { bom: true, info: true, skip_empty_lines: true, relax_column_count: false }) as unknown as typeof records;
  } catch (e) {
    throw new CivitasError("input", `${file}: not a valid CSV file: ${messageOf(e)}`);
  }
  const header = records[0]?.record.map((h) => h.trim());
  if (header === undefined) throw new CivitasError("input", `${file}: the file is empty (expected a header line)`);
  const col = (name: string, field: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new CivitasError("input", `${where}: ${field}: ${file} has no column "${name}" (its columns: ${header.filter((h) => h !== "").join(", ")})`);
    return i;
  };
  const cols = section.attributes.map((a, k) => col(a, `population.attributes[${k}]`));
  const weightName = section.weight ?? (header.includes("weight") ? "weight" : undefined);
  const wi = weightName === undefined ? -1 : col(weightName, "population.weight");
  const ri = header.indexOf("respondent_id");
  const people = new Map<string, { values: string[]; weight: number; line: number }>();
  for (let r = 1; r < records.length; r++) {
    const { record, info } = records[r]!;
    const line = info.lines;
    const values = cols.map((c, k) => {
      const v = (record[c] ?? "").trim();
      if (v === "") throw new CivitasError("input", `${file} line ${line}, column ${section.attributes[k]}: empty value`, { hint: "every record needs a value of every attribute the population uses" });
      return v;
    });
    let weight = 1;
    if (wi >= 0) {
      const raw = (record[wi] ?? "").trim();
      weight = Number(raw);
      if (raw === "" || !Number.isFinite(weight) || weight <= 0) throw new CivitasError("input", `${file} line ${line}, column ${weightName}: expected a positive weight, got ${JSON.stringify(raw)}`);
    }
    const id = ri >= 0 ? (record[ri] ?? "").trim() : `\u0000${r}`;
    const prev = people.get(id);
    if (prev !== undefined) {
      const k = prev.values.findIndex((v, j) => v !== values[j]);
      if (k >= 0) throw new CivitasError("input", `${file} line ${line}, column ${section.attributes[k]}: respondent ${id} has "${values[k]}" here but "${prev.values[k]}" on line ${prev.line}`);
      if (prev.weight !== weight) throw new CivitasError("input", `${file} line ${line}, column ${weightName}: respondent ${id} has weight ${weight} here but ${prev.weight} on line ${prev.line}`);
      continue;
    }
    people.set(id, { values, weight, line });
  }
  if (people.size === 0) throw new CivitasError("input", `${file}: no records`);
  const mass = new Map<string, number>();
  const valueOrder = section.attributes.map(() => [] as string[]);
  let total = 0;
  for (const p of people.values()) {
    p.values.forEach((v, k) => {
      if (!valueOrder[k]!.includes(v)) valueOrder[k]!.push(v);
    });
    const key = JSON.stringify(p.values);
    mass.set(key, (mass.get(key) ?? 0) + p.weight);
    total += p.weight;
  }
  const cells: string[][] = [];
  const probs: number[] = [];
  // cells in the order of the attributes' values (first seen), first attribute slowest
  const idx = section.attributes.map(() => 0);
  for (;;) {
    const cell = idx.map((i, k) => valueOrder[k]![i]!);
    const m = mass.get(JSON.stringify(cell));
    if (m !== undefined) {
      cells.push(cell);
      probs.push(m / total);
    }
    let k = idx.length - 1;
    while (k >= 0 && ++idx[k]! >= valueOrder[k]!.length) idx[k--] = 0;
    if (k < 0) break;
  }
  return {
    source: `${path.basename(file)}: ${people.size} records${wi >= 0 ? `, weighted by ${weightName}` : ", unweighted"}, their joint distribution of ${section.attributes.join(" x ")}`,
    attributes: [...section.attributes],
    cells,
    probs,
    fingerprint: sha256Hex(bytes).slice(0, 16),
  };
}
