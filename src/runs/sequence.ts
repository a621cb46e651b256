/**
 * The `sequence` elicitation method (Meister et al. 2024, "Benchmarking Distributional Alignment
 * of Large Language Models", the "Seq" output format): one completion that writes N answers in a
 * row ("Answer: A C C A A ..."), read as a distribution. N is `--samples` (default 30, as the
 * paper: "please simulate 30 samples", utils.py line 858 of
 * nicolemeister/benchmarking-distributional-alignment at 36869b5).
 *
 * What the paper's code does, and what civitas does:
 * - The prompt: the question and its lettered options, then the paper's instruction (surveys/
 *   prompt.ts, sequenceEnding) and "Answer:". The paper also shows five worked examples
 *   (inputs/<dataset>/sequence/prompt_task*.txt); civitas does not (nor for its other methods).
 * - The reading: the paper takes the text after "Answer: " (utils.py get_response, line 1256),
 *   removes the spaces (get_sequence, line 1287) and gives each option the count of its letter,
 *   upper or lower case, divided by the length of what is left (calculate_proportions, lines
 *   1404-1415): characters that are no letter count against every option, and the shares need not
 *   sum to 1. civitas reads answers (parseSequence): a letter counts wherever it stands alone or
 *   in a run of letters ("A C C", "ACC", "A, C, C", "a c"), anything else is an unparsed token;
 *   the counts are the distribution (renormalised when scored, as every method's is) and
 *   `coverage` is the share of tokens that were answers, so what the paper lets dilute the shares
 *   is recorded and counted instead, as for `sample` (unparsed samples) and `verbalize` (invalid
 *   statements).
 * - Constrained decoding (`--constrain`): where the backend can, the completion must be the JSON
 *   object {"answers": [N labels]} (a llama.cpp grammar in-process, a JSON-schema response_format
 *   over HTTP), which parseSequence reads like the text.
 */
import { z } from "zod";
import { extractJsonObject } from "../models/index.js";
import { DEFAULT_SAMPLES, methods, systemOf, type ElicitationMethod } from "./methods.js";

/** What parseSequence read from a completion. */
export interface ParsedSequence {
  /** Answers per label, in the order of `labels`. */
  readonly counts: number[];
  /** Answers read (the sum of counts). */
  readonly answers: number;
  /** Tokens that were no answer (words, stray characters, a JSON item that is no label). */
  readonly unparsed: number;
}

/** Characters that may wrap an answer: quotes, brackets, and the punctuation after a letter. */
const WRAP = /^[\s"'`*([{<]+|[\s"'`*)\]}>.:;,!?]+$/gu;
/** What separates answers: whitespace, commas, semicolons, slashes, pipes. */
const SEPARATORS = /[\s,;/|]+/u;
/** Words a model writes before its answers. */
const LEAD_IN = /^(?:answers?|responses?|samples?)\s*:/iu;

/**
 * The answers of a sequence completion. Text: the first line that holds anything (a base model
 * goes on writing after its answers), after an "Answer:" it may repeat; split at whitespace,
 * commas, semicolons, slashes and pipes; each token, quotes and brackets removed, is a label (any
 * case: the paper counts lower-case letters too), or a run of one-character labels ("ACCA", what
 * the paper's "no extra spaces" asks for), or unparsed. JSON (what --constrain produces): an
 * object whose "answers" key holds a list of labels. Every answer is counted, N or not (the paper
 * does not cut the text either: utils.py lines 1288-1289 are commented out).
 */
export function parseSequence(text: string, labels: readonly string[]): ParsedSequence {
  const counts = labels.map(() => 0);
  const upper = labels.map((l) => l.toUpperCase());
  const single = labels.every((l) => [...l].length === 1);
  const indexOf = (token: string): number => upper.indexOf(token.toUpperCase());
  let unparsed = 0;
  const t = text.trim();
  if (t.startsWith("{") || t.startsWith("```")) {
    const json = extractJsonObject(t);
    if (json.ok) {
      const key = Object.keys(json.value).find((k) => k.trim().toLowerCase() === "answers");
      const list = key === undefined ? undefined : json.value[key];
      if (!Array.isArray(list)) return { counts, answers: 0, unparsed: 1 };
      for (const item of list) {
        const k = typeof item === "string" || typeof item === "number" ? indexOf(String(item).trim()) : -1;
        if (k >= 0) counts[k]!++;
        else unparsed++;
      }
      return { counts, answers: counts.reduce((a, b) => a + b, 0), unparsed };
    }
  }
  const line = t.split(/\r?\n/u).find((l) => l.replace(LEAD_IN, "").trim() !== "") ?? "";
  const body = line.trim().replace(LEAD_IN, "");
  for (const raw of body.split(SEPARATORS)) {
    const token = raw.replace(WRAP, "");
    if (token === "") continue;
    const k = indexOf(token);
    if (k >= 0) {
      counts[k]!++;
      continue;
    }
    const chars = [...token];
    if (single && chars.length > 1 && chars.every((c) => indexOf(c) >= 0)) {
      for (const c of chars) counts[indexOf(c)]!++;
      continue;
    }
    unparsed++;
  }
  return { counts, answers: counts.reduce((a, b) => a + b, 0), unparsed };
}

/** The JSON schema a constrained sequence must match: {"answers": exactly n labels}. */
export function sequenceSchema(labels: readonly string[], n: number): Record<string, unknown> {
  return {
    type: "object",
    properties: { answers: { type: "array", items: { type: "string", enum: [...labels] }, minItems: n, maxItems: n } },
    required: ["answers"],
    additionalProperties: false,
  };
}

const samples = z.int({ error: "expected an integer >= 1" }).min(1, { error: "expected an integer >= 1" }).default(DEFAULT_SAMPLES);
const constrain = z.boolean({ error: "expected true or false" }).default(false);

/** Tokens a completion of n answers may take: a label and a space each, a JSON wrapper, some slack. */
function maxTokens(n: number, constrained: boolean): number {
  return constrained ? 6 * n + 16 : 3 * n + 16;
}

export const sequence: ElicitationMethod = {
  name: "sequence",
  description: "one completion writing N answers in a row (--samples, default 30), read as a distribution",
  args: z.object({ samples, constrain }),
  params: (s) => ({ n: 1, answers: s.samples, temperature: 1, max_tokens: maxTokens(s.samples, s.constrain), seed: s.seed, constrain: s.constrain }),
  async elicit(client, prompt, s, signal) {
    const { text, labels } = prompt;
    const a = await client.complete(
      {
        prompt: text,
        ...systemOf(prompt),
        n: 1,
        // As the paper (utils.py get_response, lines 1154-1206: temperature=1 for every API model).
        temperature: 1,
        maxTokens: maxTokens(s.samples, s.constrain),
        seed: s.seed,
        ...(s.constrain ? { constrain: { kind: "json" as const, schema: sequenceSchema(labels, s.samples) } } : {}),
      },
      signal,
    );
    const said = a.texts[0] ?? "";
    const p = parseSequence(said, labels);
    const tokens = p.answers + p.unparsed;
    return {
      labelMass: p.counts,
      coverage: tokens > 0 ? p.answers / tokens : 0,
      raw: { text: said, answers: p.answers, unparsed: p.unparsed, asked: s.samples },
      mode: a.mode,
      promptTokens: a.promptTokens,
    };
  },
};

methods.register(sequence);
