/**
 * RLHF-style pairwise comparisons: annotators saying which of two responses they prefer, read
 * from JSONL, one object a line:
 *
 *   {"annotator": "a17", "group": "US", "prompt": "How do I ...", "chosen": "<response>", "rejected": "<response>", "weight": 1}
 *
 * `annotator` (string or number) is required; `group`, `prompt` and `weight` (> 0, default 1) are
 * optional; other fields are ignored. `chosen` and `rejected` are the responses' texts and must
 * differ.
 *
 * How the data are partitioned (a choice): responses to different prompts are not alternatives of
 * the same decision, so each distinct prompt is its own aggregation problem, with its own
 * alternatives (the distinct responses given to that prompt, in order of first appearance), its own
 * support matrix and its own per-group matrices. Without prompts the whole file is one problem.
 * Either every line has a prompt or none does: a file mixing the two is an error, since a line
 * without one could belong to any problem. Annotators, by contrast, span problems: an annotator's
 * comparison list holds all their comparisons, each tagged with its problem, which is what
 * preference clustering (MaxMin-RLHF's EM) pools across prompts.
 *
 * Groups are read per line: a group's matrix sums the lines that name it. Lines without a group
 * (in a file where others have one) count in the pooled matrix only; an annotator whose lines name
 * several groups is counted in each. Both are warnings.
 */
import { z } from "zod";
import { CivitasError } from "../errors.js";
import { readText } from "../files.js";
import { jsonLines } from "../jsonl.js";
import type { PairwiseComparison } from "./bradley-terry.js";
import { profileFromRankings, type MarginMatrix, type Profile, type Ranking } from "./profile.js";

const Id = z.union([z.string().min(1), z.number()]).transform((v) => String(v));

const Line = z.object({
  annotator: Id,
  group: Id.optional(),
  prompt: z.string().optional(),
  chosen: z.string().min(1),
  rejected: z.string().min(1),
  weight: z.number().positive().finite().optional(),
});

const LINE_HINT = 'each line: {"annotator": "<id>", "group"?: "<group>", "prompt"?: "<text>", "chosen": "<response>", "rejected": "<response>", "weight"?: w > 0}';

/** A comparison inside one problem: indices into that problem's alternatives. */
export interface ProblemComparison extends PairwiseComparison {
  readonly weight: number;
  /** Index into `ComparisonData.annotators`. */
  readonly annotator: number;
  readonly group: string | undefined;
  /** 1-based line of the file. */
  readonly line: number;
}

/** A comparison as an annotator made it: which problem, and indices into its alternatives. */
export interface AnnotatorComparison extends PairwiseComparison {
  readonly weight: number;
  /** Index into `ComparisonData.problems`. */
  readonly problem: number;
  readonly line: number;
}

/** One aggregation problem: the comparisons of responses to one prompt. */
export interface ComparisonProblem {
  /** The prompt, or null when the file gives none. */
  readonly prompt: string | null;
  /** The distinct responses, in order of first appearance. */
  readonly alternatives: string[];
  /** Weighted support: support[c * m + r] = weight of comparisons preferring c to r. */
  readonly matrix: MarginMatrix;
  /** The same per group (groups that compared nothing here are absent). */
  readonly groups: ReadonlyMap<string, MarginMatrix>;
  readonly comparisons: ProblemComparison[];
  /** Total weight of the comparisons. */
  readonly weight: number;
}

export interface Annotator {
  readonly id: string;
  /** The groups their lines name (usually one; none when the file has no groups). */
  readonly groups: string[];
  /** All their comparisons, over every problem, in file order. */
  readonly comparisons: AnnotatorComparison[];
}

export interface ComparisonData {
  readonly problems: ComparisonProblem[];
  /** In order of first appearance. */
  readonly annotators: Annotator[];
  /** Distinct groups, in order of first appearance. */
  readonly groups: string[];
  /** Number of comparison lines read. */
  readonly lines: number;
  readonly warnings: string[];
}

interface ProblemBuilder {
  prompt: string | null;
  alternatives: string[];
  index: Map<string, number>;
  comparisons: ProblemComparison[];
}

function matrixOf(m: number, comparisons: readonly ProblemComparison[], group?: string): MarginMatrix {
  const support = new Float64Array(m * m);
  for (const c of comparisons) if (group === undefined || c.group === group) support[c.chosen * m + c.rejected]! += c.weight;
  const margin = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) margin[i * m + j] = support[i * m + j]! - support[j * m + i]!;
  return { m, support, margin };
}

/** Parses comparisons JSONL text; `file` names the source in errors and warnings. */
export function parseComparisons(text: string, file: string): ComparisonData {
  const problems: ProblemBuilder[] = [];
  const byPrompt = new Map<string | null, number>();
  const annotators: { id: string; groups: string[]; comparisons: AnnotatorComparison[] }[] = [];
  const annotatorIndex = new Map<string, number>();
  const groups: string[] = [];
  const groupSet = new Set<string>();
  const warnings: string[] = [];
  let withPrompt: number | undefined;
  let withoutPrompt: number | undefined;
  let noGroup = 0;
  let lines = 0;
  for (const { line: lineNo, at, value: obj } of jsonLines(text, file, LINE_HINT)) {
    const parsed = Line.safeParse(obj);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length > 0 ? issue.path.join(".") : "the line";
      throw new CivitasError("input", `${at}, field ${field}: ${issue.message}`, { hint: LINE_HINT });
    }
    const { annotator, group, prompt, chosen, rejected, weight = 1 } = parsed.data;
    if (chosen === rejected) throw new CivitasError("input", `${at}, field rejected: the same response as chosen`, { hint: "a comparison needs two different responses" });
    if (prompt === undefined) withoutPrompt ??= lineNo;
    else withPrompt ??= lineNo;
    if (withPrompt !== undefined && withoutPrompt !== undefined) {
      throw new CivitasError("input", `${at}: line ${withPrompt} has a prompt and line ${withoutPrompt} has none`, {
        hint: "give every line a prompt (one aggregation problem per prompt), or none (one problem for the whole file)",
      });
    }
    const key = prompt ?? null;
    let p = byPrompt.get(key);
    if (p === undefined) {
      p = problems.length;
      byPrompt.set(key, p);
      problems.push({ prompt: key, alternatives: [], index: new Map(), comparisons: [] });
    }
    const prob = problems[p]!;
    const alt = (t: string) => {
      let k = prob.index.get(t);
      if (k === undefined) {
        k = prob.alternatives.length;
        prob.index.set(t, k);
        prob.alternatives.push(t);
      }
      return k;
    };
    const c = alt(chosen);
    const r = alt(rejected);
    let a = annotatorIndex.get(annotator);
    if (a === undefined) {
      a = annotators.length;
      annotatorIndex.set(annotator, a);
      annotators.push({ id: annotator, groups: [], comparisons: [] });
    }
    const who = annotators[a]!;
    if (group === undefined) noGroup++;
    else {
      if (!groupSet.has(group)) {
        groupSet.add(group);
        groups.push(group);
      }
      if (!who.groups.includes(group)) who.groups.push(group);
    }
    prob.comparisons.push({ chosen: c, rejected: r, weight, annotator: a, group, line: lineNo });
    who.comparisons.push({ chosen: c, rejected: r, weight, problem: p, line: lineNo });
    lines++;
  }
  if (lines === 0) throw new CivitasError("input", `${file} holds no comparisons`, { hint: LINE_HINT });
  if (groups.length > 0 && noGroup > 0) warnings.push(`${file}: ${noGroup} of ${lines} lines name no group: they count in the pooled matrices only`);
  const multi = annotators.filter((a) => a.groups.length > 1);
  if (multi.length > 0) {
    const shown = multi.slice(0, 5).map((a) => `${a.id} (${a.groups.join(", ")})`);
    warnings.push(`${file}: ${multi.length} annotators appear in several groups, and count in each: ${shown.join("; ")}${multi.length > 5 ? "; ..." : ""}`);
  }
  const built: ComparisonProblem[] = problems.map((b) => {
    const m = b.alternatives.length;
    const gm = new Map<string, MarginMatrix>();
    for (const g of groups) if (b.comparisons.some((c) => c.group === g)) gm.set(g, matrixOf(m, b.comparisons, g));
    return {
      prompt: b.prompt,
      alternatives: b.alternatives,
      matrix: matrixOf(m, b.comparisons),
      groups: gm,
      comparisons: b.comparisons,
      weight: b.comparisons.reduce((s, c) => s + c.weight, 0),
    };
  });
  return { problems: built, annotators, groups, lines, warnings };
}

/** Reads a comparisons JSONL file (see the module comment). */
export async function readComparisons(file: string): Promise<ComparisonData> {
  const text = await readText(file, "comparisons file");
  return parseComparisons(text, file);
}

/** One annotator's comparisons within one problem, as Bradley-Terry takes them. */
export function annotatorComparisons(data: ComparisonData, annotator: number, problem: number): PairwiseComparison[] {
  const a = data.annotators[annotator];
  if (a === undefined) throw new CivitasError("usage", `there is no annotator ${annotator} (0-based) among ${data.annotators.length}`);
  return a.comparisons.filter((c) => c.problem === problem).map(({ chosen, rejected, weight }) => ({ chosen, rejected, weight }));
}

/**
 * A problem's comparisons as a profile, so that voting rules and welfare apply: each comparison
 * is a truncated ballot ranking chosen above rejected (the other responses unranked, hence
 * incomparable: the profile's margin matrix is exactly the comparisons' support matrix), weighted.
 * With `group`, only that group's comparisons. Compute margins and Borda utilities on it with
 * `extendTruncated: false` (the default): extending would rank every response a comparison did not
 * involve below both of its responses.
 */
export function comparisonProfile(problem: ComparisonProblem, group?: string): Profile {
  const rankings: Ranking[] = [];
  const counts: number[] = [];
  for (const c of problem.comparisons) {
    if (group !== undefined && c.group !== group) continue;
    rankings.push([[c.chosen], [c.rejected]]);
    counts.push(c.weight);
  }
  const metadata: Record<string, string> = { source: "pairwise comparisons" };
  if (problem.prompt !== null) metadata.prompt = problem.prompt;
  if (group !== undefined) metadata.group = group;
  return profileFromRankings(problem.alternatives, rankings, counts, metadata);
}
