/**
 * Reading the answers of the `sample` and `verbalize` elicitation methods (Meister et al. 2024,
 * "Benchmarking Distributional Alignment of LLMs") from completion texts.
 *
 * parseLabelAnswer: which option a sampled answer names. Accepted, on the first non-empty line
 * (a base model goes on writing after its answer), ignoring case, surrounding whitespace,
 * markdown emphasis and quotes:
 *   - the label alone or marked: "B", " B", "b", "B.", "B)", "(B)", "[B]", "B:";
 *   - the label followed by its option text: "B) Somewhat safe", "B. Somewhat safe";
 *   - the label, a separator (".", ")", ":", ",", "-") or brackets, then other words that name
 *     no other label or option: "B) because it is safer";
 *   - the option text exactly: "Somewhat safe" (a trailing "." or "!" is ignored);
 *   - any of those after "Answer:", "The answer is", "I think the answer is", "My answer:",
 *     "Final answer:", "Option", "I choose" (also on the next line: "Answer:\nB");
 *   - a JSON object with an "answer" key whose value is any of those: {"answer":"B"} (what a
 *     server constrained by the json_schema `{answer: enum}` writes).
 * Anything else is null: other prose ("I think it is B"), several labels ("A or B", "A, B"), a
 * label whose text is another option's ("B) Very safe" when Very safe is A), a lower-case label
 * followed by words without a separator ("a safe place": an article, not an answer).
 *
 * parseVerbalized: a stated distribution. The first JSON object in the text (inside ```json
 * fences or prose around it is fine) maps labels ("A", "(A)", "A. Very safe") or option texts
 * to numbers: probabilities (summing to 1 within 10%) or percentages (summing to 100 within
 * 10%); numeric strings ("30", "30%") count as numbers. Options left out count 0 (a model that
 * gives an option nothing often omits it). Errors, each with a short reason: no JSON object,
 * invalid JSON, a key that is no label or option, an option given twice, a value that is not
 * a number, a negative value, all values 0, any other sum. The distribution is renormalised to
 * sum to 1, in the order of `labels`.
 */
import { z } from "zod";

export type VerbalizedResult = { readonly ok: true; readonly distribution: number[] } | { readonly ok: false; readonly error: string };

/** The index (in `labels`) of the option a sampled answer names, or null. See the file comment. */
export function parseLabelAnswer(text: string, labels: readonly string[], options?: readonly string[]): number | null {
  const t = text.trim();
  if (t === "" || labels.length === 0) return null;
  if (t.startsWith("{") || t.startsWith("```")) {
    const json = extractJsonObject(t);
    if (json.ok) {
      const key = Object.keys(json.value).find((k) => k.trim().toLowerCase() === "answer");
      const v = key === undefined ? undefined : json.value[key];
      if (typeof v !== "string" && typeof v !== "number") return null;
      return resolveLine(String(v), labels, options) ?? null;
    }
  }
  const lines = t.split(/\r?\n/u).map((l) => l.trim());
  const i = lines.findIndex((l) => stripWrap(l) !== "");
  const first = lines[i]!;
  const direct = resolveLine(first, labels, options);
  if (direct !== undefined) return direct;
  let rest = stripLeadIn(stripWrap(first));
  if (rest === first) return null;
  if (stripWrap(rest) === "") {
    // "Answer:" on a line of its own: the answer is on the next non-empty line.
    const next = lines.slice(i + 1).find((l) => stripWrap(l) !== "");
    if (next === undefined) return null;
    rest = stripLeadIn(stripWrap(next));
  }
  return resolveLine(rest, labels, options) ?? null;
}

/** A stated distribution over the options, validated and renormalised. See the file comment. */
export function parseVerbalized(text: string, labels: readonly string[], options: readonly string[]): VerbalizedResult {
  if (labels.length === 0) return { ok: false, error: "no options" };
  const json = extractJsonObject(text);
  if (!json.ok) return json;
  const entries = Object.entries(json.value);
  if (entries.length === 0) return { ok: false, error: "empty JSON object" };
  const mass = labels.map(() => 0);
  const given = labels.map(() => false);
  for (const [key, value] of entries) {
    const i = resolveKey(key, labels, options);
    if (i === undefined) return { ok: false, error: `unknown key ${quote(key)}` };
    if (given[i]) return { ok: false, error: `option ${quote(labels[i]!)} given twice` };
    given[i] = true;
    const v = Share.safeParse(value);
    if (!v.success) return { ok: false, error: `the value of ${quote(key)} is not a number` };
    if (v.data < 0) return { ok: false, error: `negative value for ${quote(key)}` };
    mass[i] = v.data;
  }
  const sum = mass.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) return { ok: false, error: "all values are 0" };
  if (!Number.isFinite(sum)) return { ok: false, error: "the values are too large" };
  const near = (target: number) => Math.abs(sum - target) <= SUM_TOLERANCE * target * (1 + 1e-9);
  if (!near(1) && !near(100)) {
    return { ok: false, error: `the values sum to ${+sum.toPrecision(4)}, neither ~1 (probabilities) nor ~100 (percentages)` };
  }
  return { ok: true, distribution: mass.map((m) => m / sum) };
}

/** How far (relative) the sum of stated shares may be from 1 or 100: 0.9-1.1, 90-110. */
export const SUM_TOLERANCE = 0.1;

/** A stated share: a JSON number, or a string holding one ("0.3", "30", "30%"). */
const Share = z.union([
  z.number(),
  z
    .string()
    .regex(/^\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*%?\s*$/u)
    .transform((s) => Number(s.replace("%", "").trim())),
]);

/**
 * The first JSON object in a text: the first "{" whose balanced span parses as a JSON object
 * (strings and escapes respected). Prose and ``` fences around it are ignored.
 */
export function extractJsonObject(text: string): { ok: true; value: Record<string, unknown> } | { ok: false; error: string } {
  let firstError: string | undefined;
  for (let start = text.indexOf("{"); start >= 0; start = text.indexOf("{", start + 1)) {
    const end = closingBrace(text, start);
    if (end < 0) {
      firstError ??= "the JSON object is not closed (cut off?)";
      continue;
    }
    try {
      const v: unknown = JSON.parse(text.slice(start, end + 1));
      if (typeof v === "object" && v !== null && !Array.isArray(v)) return { ok: true, value: v as Record<string, unknown> };
    } catch (e) {
      firstError ??= `invalid JSON (${e instanceof Error ? shorten(e.message, 80) : "parse error"})`;
    }
  }
  return { ok: false, error: firstError ?? "no JSON object in the answer" };
}

/** Index of the "}" closing the "{" at `start`, or -1. */
function closingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return i;
  }
  return -1;
}

/**
 * What one line names: an index, null (it names two options, or contradicts itself), or
 * undefined (no label form and no option text).
 */
function resolveLine(line: string, labels: readonly string[], options: readonly string[] | undefined): number | null | undefined {
  const l = stripWrap(line);
  if (l === "") return undefined;
  const byText = optionIndex(l, options);
  if (byText !== undefined) return byText;
  const m = labelMatch(l, labels);
  if (m === undefined) return undefined;
  const rest = stripWrap(stripEndPunct(m.rest));
  if (rest === "") return m.index;
  const restText = optionIndex(rest, options);
  if (restText !== undefined) return restText === m.index ? m.index : null;
  if (!m.marked) return undefined;
  return namesOther(rest, m.index, labels, options) ? null : m.index;
}

/** A key of a verbalized distribution: a label alone, a label and its own option text, or an option text. */
function resolveKey(key: string, labels: readonly string[], options: readonly string[]): number | undefined {
  const k = stripWrap(key).replace(/^option\s+/iu, "");
  const byText = optionIndex(k, options);
  if (byText !== undefined) return byText ?? undefined;
  const m = labelMatch(k, labels);
  if (m === undefined) return undefined;
  const rest = stripWrap(stripEndPunct(m.rest));
  if (rest === "") return m.index;
  return optionIndex(rest, options) === m.index ? m.index : undefined;
}

interface LabelMatch {
  readonly index: number;
  /** What follows the label form. */
  readonly rest: string;
  /** The label was bracketed or followed by a separator: "(B", "B)", "B.", "B:", "B,", "B -". */
  readonly marked: boolean;
}

/** A label form at the start of a line: optional "(" or "[", the label, optional ")" or "]", optional separator. */
function labelMatch(line: string, labels: readonly string[]): LabelMatch | undefined {
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (label === "") continue;
    const re = new RegExp(`^([(\\[]?)${escapeRegExp(label)}([)\\]]?)((?:[.:,]|\\s*[-–—])?)(?=\\s|$)`, "iu");
    const m = re.exec(line);
    if (!m) continue;
    return { index: i, rest: line.slice(m[0].length).trim(), marked: m[1] !== "" || m[2] !== "" || m[3] !== "" };
  }
  return undefined;
}

/** The option whose text this is (ignoring case, spacing, curly quotes, a trailing "." or "!"); null when two options have that text. */
function optionIndex(text: string, options: readonly string[] | undefined): number | null | undefined {
  if (options === undefined) return undefined;
  const t = normalise(stripEndPunct(text));
  if (t === "") return undefined;
  let found: number | undefined;
  for (let i = 0; i < options.length; i++) {
    if (normalise(stripEndPunct(options[i]!)) !== t) continue;
    if (found !== undefined) return null;
    found = i;
  }
  return found;
}

/** Whether a text names a label other than `own` (as a word, in its exact case) or another option's exact text. */
function namesOther(text: string, own: number, labels: readonly string[], options: readonly string[] | undefined): boolean {
  for (let j = 0; j < labels.length; j++) {
    if (j === own || labels[j] === "") continue;
    if (new RegExp(`(?:^|[^\\p{L}\\p{N}])${escapeRegExp(labels[j]!)}(?:[^\\p{L}\\p{N}]|$)`, "u").test(text)) return true;
  }
  return optionIndex(text, options) !== undefined;
}

const LEAD_INS = [
  /^(?:(?:so|thus|therefore|overall)\s*,?\s+)?(?:i\s+(?:think|believe)\s+)?(?:(?:the|my|final|correct|best)\s+)*answer\s*(?:is|would\s+be|will\s+be)?\s*[:\-–]?\s*/iu,
  /^i\s+(?:would\s+|will\s+)?(?:choose|pick|select|say|answer)\s*[:\-–]?\s*/iu,
  /^(?:option|choice)\s*[:\-–]?\s*/iu,
];

function stripLeadIn(line: string): string {
  let out = line;
  for (const re of LEAD_INS) out = out.replace(re, "");
  return out;
}

/** Surrounding whitespace, markdown emphasis and quotes. */
function stripWrap(s: string): string {
  return s.replace(/^[\s*_`"'\u201c\u201d\u2018\u2019]+|[\s*_`"'\u201c\u201d\u2018\u2019]+$/gu, "");
}

function stripEndPunct(s: string): string {
  return s.replace(/[\s.!;,]+$/u, "");
}

function normalise(s: string): string {
  return s
    .normalize("NFKC")
    .replace(/[\u2018\u2019]/gu, "'")
    .replace(/[\u201c\u201d]/gu, '"')
    .replace(/\s+/gu, " ")
    .trim()
    .toLowerCase();
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/gu, "\\$&");
}

function quote(s: string): string {
  return JSON.stringify(shorten(s, 40));
}

function shorten(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
