/**
 * SubPOP-Eval (Suh, Jahanparast, Moon, Kang, Chang 2025, "Language Model Fine-Tuning on Scaled
 * Survey Data for Predicting Distributions of Public Opinions", ACL 2025, arXiv:2502.16761): 133
 * questions of the General Social Survey 2022 x 22 US groups (8 attributes), the paper's held-out
 * evaluation set.
 *
 * One file, `subpop_eval.jsonl`, 2,926 lines `{qkey, attribute, group, question, options, ordinal,
 * responses, refusal_rate}`: `options` lists the answer options in survey order with "Refused"
 * last; `ordinal` gives one value per option before "Refused"; `responses` one share per such
 * option, summing to 1 (refusals left out); `refusal_rate` the group's share of refusals.
 *
 * How civitas reads it, following the paper's code (JosephJeesungSuh/subpop):
 * - Scored options: those with a non-negative ordinal. "Refused" (last, no ordinal) and options
 *   whose ordinal is -1 ("-1.0 indicates no ordinality, e.g. 'not sure'", subpop/utils/
 *   survey_utils.py `ordinal_emd`, which sorts by ordinal, drops the negative ones and renormalises
 *   both distributions: 308 lines have one, e.g. "Lived in institution") are shown to the model but
 *   not scored, as civitas does with refusals. `probs` is `responses` on the scored options,
 *   renormalised; `allProbs` puts `refusal_rate` on "Refused" and the rest in proportion to
 *   `responses` (the paper's `output_dist`, scripts/data_generation/prepare_finetuning_data.py:
 *   `row.responses + [row.refusal_rate]`).
 * - Distance: the paper's `ordinal_emd` is the Wasserstein-1 distance between the two cumulative
 *   distributions on the ordinal values, divided by max - min: civitas's `wasserstein` metric, the
 *   suite's default.
 * - Prompt: the paper's `generate_mcq(..., add_answer_forcing=True)` (survey_utils.py): "Question:",
 *   the question, the options "A. text" one per line, "Answer as a choice between A.,B.,C.", a blank
 *   line and "Answer:" (the `subpop` template, surveys/prompt.ts), every option shown, "Refused"
 *   included (`row.options`).
 * - Populations: `<attribute>=<group>` (POLPARTY=Democrat, RELIG=Hindu, ...). There is no overall
 *   population: the human baseline of a group compares it with the other groups of its attribute.
 *
 * Checked on load: one question text, option list and ordinal list per qkey across its lines, one
 * line per (qkey, attribute, group), `options` = `ordinal` + "Refused", one share per ordinal option.
 *
 * Source: Stefanstud/subpop @ 3591668 (a fork of JosephJeesungSuh/subpop, whose history lacks this
 * file), data/subpop-eval/processed/subpop_eval.jsonl. Licence: BSD-3-Clause; underlying data: the
 * General Social Survey 2022 (public).
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { CivitasError, messageOf } from "../errors.js";
import { filesFingerprint } from "../hash.js";
import { jsonLines } from "../jsonl.js";
import { cacheOptionsOf, ensureCached, type LoaderCacheOptions, type PinnedFile } from "./download.js";
import type { HumanDistribution, Population, Question, Suite } from "./types.js";

export const SUBPOP_TITLE = "SubPOP-Eval (Suh et al. 2025): General Social Survey 2022 questions, 22 US groups";

export const SUBPOP_LICENCE = "BSD-3-Clause (Stefanstud/subpop, from JosephJeesungSuh/subpop); underlying data: General Social Survey 2022, public";

export const SUBPOP_CITATION =
  "Joseph Suh, Erfan Jahanparast, Suhong Moon, Minwoo Kang, Serina Chang. 2025. Language Model Fine-Tuning on Scaled " +
  "Survey Data for Predicting Distributions of Public Opinions. ACL 2025 (arXiv:2502.16761). Data: SubPOP-Eval, from the " +
  "General Social Survey 2022 (NORC); github.com/Stefanstud/subpop @ 3591668, data/subpop-eval/processed/.";

/** The pinned commit, abbreviated as the data's README records it; the file is verified by sha256 whatever the URL serves. */
export const SUBPOP_COMMIT = "3591668";

export const SUBPOP_BASE_URL = `https://raw.githubusercontent.com/Stefanstud/subpop/${SUBPOP_COMMIT}/data/subpop-eval/processed/`;

/** Environment variable that replaces SUBPOP_BASE_URL (a mirror, or a local server in tests). */
export const SUBPOP_URL_ENV = "CIVITAS_SUBPOP_URL";

export const SUBPOP_FILE: PinnedFile = { path: "subpop_eval.jsonl", sha256: "0f1a184f55d2424c317adad92aaa4058560f411ac835fa831c64f563c9200d60" };

/** The attributes' steering personas ("{value}" is the group), in the words of civitas's OpinionQA personas where they exist. */
const SUBPOP_PERSONAS: Readonly<Record<string, string>> = {
  RELIG: "Answer the following question as someone whose religious affiliation is {value}.",
};

export interface LoadSubPopOptions extends LoaderCacheOptions {
  /** A folder holding subpop_eval.jsonl (or a clone of the repository), or the file itself; without it the file is downloaded into the cache. */
  readonly data?: string;
}

const DATA_HINT =
  `--data must point at ${SUBPOP_FILE.path}, a folder holding it, or a clone of the subpop repository ` +
  "(data/subpop-eval/processed/); or leave --data out to download it";

const share = z.number().finite().min(0).max(1);
const text = z.string().refine((s) => s.trim() !== "", { message: "is empty" });
const LineSchema = z.object({
  qkey: text,
  attribute: text,
  group: text,
  question: text,
  options: z.array(text).min(3),
  ordinal: z.array(z.number().finite()).min(2),
  responses: z.array(share).min(2),
  refusal_rate: share,
});
type Line = z.output<typeof LineSchema>;

async function locate(data: string): Promise<string> {
  const abs = path.resolve(data);
  const st = await stat(abs).catch((e: unknown) => {
    throw new CivitasError("input", `SubPOP data not found: ${abs} (${messageOf(e)})`, { hint: DATA_HINT, cause: e });
  });
  if (st.isFile()) return abs;
  for (const rel of [SUBPOP_FILE.path, path.join("data", "subpop-eval", "processed", SUBPOP_FILE.path)]) {
    const p = path.join(abs, rel);
    if (await stat(p).then((s) => s.isFile()).catch(() => false)) return p;
  }
  throw new CivitasError("input", `no ${SUBPOP_FILE.path} in ${abs}`, { hint: DATA_HINT });
}

/** Loads SubPOP-Eval from `data` or, without it, from the cache (downloading the pinned file once). */
export async function loadSubPop(opts: LoadSubPopOptions = {}): Promise<Suite> {
  let file: string;
  if (opts.data !== undefined) {
    file = await locate(opts.data);
  } else {
    const root = await ensureCached(
      { name: "subpop", baseUrl: SUBPOP_BASE_URL, urlEnv: SUBPOP_URL_ENV, files: [SUBPOP_FILE] },
      cacheOptionsOf(opts),
    );
    file = path.join(root, SUBPOP_FILE.path);
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new CivitasError("input", `cannot read ${file}: ${messageOf(e)}`, { hint: DATA_HINT, cause: e });
  }
  return parseSubPop(bytes, file);
}

function problem(at: string, what: string): CivitasError {
  return new CivitasError("input", `${at}: ${what}`, { hint: "each line of subpop_eval.jsonl must be {qkey, attribute, group, question, options, ordinal, responses, refusal_rate} as SubPOP-Eval has them" });
}

const sameList = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Builds the suite from the file's bytes (`file` names it in errors and as its location). */
export function parseSubPop(bytes: Buffer, file: string): Suite {
  const questions = new Map<string, { question: Question; line: string; ordinal: readonly number[] }>();
  const populations = new Map<string, Population>();
  const human = new Map<string, HumanDistribution>();
  const warnings: string[] = [];
  let renormalised = 0;
  for (const { at, value } of jsonLines(bytes.toString("utf8"), file)) {
    const parsed = LineSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw problem(at, `${issue.path.join(".") || "the line"}: ${issue.message}`);
    }
    const l: Line = parsed.data;
    const k = l.ordinal.length;
    if (l.options.length !== k + 1) throw problem(at, `${l.qkey}: ${l.options.length} options for ${k} ordinal values (expected the ordinal options and "Refused" last)`);
    if (l.responses.length !== k) throw problem(at, `${l.qkey}: ${l.responses.length} shares for ${k} ordinal options`);
    const scored = l.ordinal.map((o) => o >= 0);
    if (scored.filter(Boolean).length < 2) throw problem(at, `${l.qkey}: fewer than two options with an ordinal value`);
    let q = questions.get(l.qkey);
    if (!q) {
      const ordinals = l.ordinal.filter((o) => o >= 0);
      q = {
        question: {
          id: l.qkey,
          text: l.question,
          options: l.options,
          refusal: [...scored.map((s) => !s), true],
          ordinals,
          source: "General Social Survey 2022",
        },
        line: at,
        ordinal: l.ordinal,
      };
      questions.set(l.qkey, q);
    } else if (q.question.text !== l.question || !sameList(q.question.options, l.options) || !sameList(q.ordinal, l.ordinal)) {
      throw problem(at, `${l.qkey}: its question text, options or ordinal values differ from ${q.line}`);
    }
    const pop = `${l.attribute}=${l.group}`;
    if (!populations.has(pop)) populations.set(pop, { id: pop, attribute: l.attribute, value: l.group });
    const key = `${l.qkey}\u0000${pop}`;
    if (human.has(key)) throw problem(at, `a second line for ${l.qkey} and ${pop}`);
    const sum = l.responses.reduce((a, b) => a + b, 0);
    if (!(sum > 0)) throw problem(at, `${l.qkey} ${pop}: the shares sum to 0`);
    if (Math.abs(sum - 1) > 1e-6) renormalised++;
    const scoredSum = l.responses.reduce((a, r, i) => a + (scored[i] ? r : 0), 0);
    if (!(scoredSum > 0)) continue; // nobody in the group gave a scored answer: no distribution
    human.set(key, {
      questionId: l.qkey,
      population: pop,
      probs: l.responses.filter((_, i) => scored[i]).map((r) => r / scoredSum),
      allProbs: [...l.responses.map((r) => ((1 - l.refusal_rate) * r) / sum), l.refusal_rate],
      n: null,
    });
  }
  if (questions.size === 0) throw new CivitasError("input", `${file}: no questions`, { hint: DATA_HINT });
  if (renormalised > 0) warnings.push(`${renormalised} line(s) of ${path.basename(file)} have shares that do not sum to 1: renormalised`);
  const fingerprint = filesFingerprint([{ rel: SUBPOP_FILE.path, bytes }]);
  return {
    name: "subpop",
    title: SUBPOP_TITLE,
    location: file,
    fingerprint,
    questions: [...questions.values()].map((q) => q.question),
    populations: [...populations.values()],
    reference: null,
    defaultMetric: "wasserstein",
    personaTemplates: SUBPOP_PERSONAS,
    citation: SUBPOP_CITATION,
    template: "subpop",
    ...(warnings.length > 0 ? { warnings } : {}),
    human: (questionId, population) => human.get(`${questionId}\u0000${population}`),
  };
}
