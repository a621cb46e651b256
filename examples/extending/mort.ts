/**
 * A survey suite: MoRT's user study (Schramowski et al. 2022, "Large pre-trained language models
 * contain human-like biases of what is right and wrong to do", ml-research/MoRT_NMI). People
 * answered Yes or No to questions such as "Is it ok to kill time?"; the suite's two populations are
 * its two studies, 234 Amazon Mechanical Turk workers (`study=global`) and 27 to 29 people of one
 * region (`study=regional`), so the human baseline is how far the two studies are apart. Register
 * it, then load it as any built-in:
 *
 *   import { suites } from "civitas";
 *   import { mort } from "./mort.js";
 *   suites.register(mort);
 *   const suite = await suites.get("my-mort").load({ data: "../shared/data/mort" });
 *
 * The data folder holds the study's files as the repository has them (MoRT/data/user_study/):
 * userStudy_yes_no_{globalAMT,regional}.csv (Action,Yes,No: counts) and the question stem of each
 * action, userStudyAMT_action_template_globalAMT.csv and userStudy_action_template_regional.csv
 * (action,question).
 *
 * civitas has this survey built in (`civitas eval mort`, src/surveys/mort.ts, with the paper's
 * correlation); this file shows how such a suite is written in one file, under another name.
 *
 * (In your own project, import from "civitas"; this file imports from the source so that the
 * repository's tests check it.)
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse } from "csv-parse/sync";
import { z } from "zod";
import { CivitasError, type HumanDistribution, type Population, type Question, type Suite, type SuiteInfo } from "../../src/index.js";

const STUDIES = [
  { value: "global", answers: "userStudy_yes_no_globalAMT.csv", stems: "userStudyAMT_action_template_globalAMT.csv" },
  { value: "regional", answers: "userStudy_yes_no_regional.csv", stems: "userStudy_action_template_regional.csv" },
] as const;

/** A CSV file's rows as objects, keys lower case; a missing file or column is an error naming it. */
async function readRows(file: string, columns: readonly string[]): Promise<{ text: string; rows: Record<string, string>[] }> {
  const text = await readFile(file, "utf8").catch((e: unknown) => {
    throw new CivitasError("usage", `the my-mort suite needs ${file}: ${(e as Error).message}`, { hint: "give --data the folder with MoRT's user study files (MoRT/data/user_study/)" });
  });
  const rows = (parse(text, { columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()), skip_empty_lines: true, trim: true }) as Record<string, string>[]);
  for (const c of columns) if (rows.length > 0 && !(c in rows[0]!)) throw new CivitasError("input", `${file}: no column "${c}" (expected ${columns.join(", ")})`);
  return { text, rows };
}

export const mort: SuiteInfo = {
  name: "my-mort",
  title: "MoRT user study (Schramowski et al. 2022): should one do it? Yes or No",
  description: "MoRT's user study: Yes/No on what is right to do, two studies",
  args: z.object({}),
  async load(options): Promise<Suite> {
    if (!options.data) throw new CivitasError("usage", "the my-mort suite has no download: give --data", { hint: "e.g. --data ../shared/data/mort" });
    const hash = createHash("sha256");
    const questions = new Map<string, Question>();
    const human = new Map<string, HumanDistribution>();
    for (const study of STUDIES) {
      const stems = await readRows(path.join(options.data, study.stems), ["action", "question"]);
      const answers = await readRows(path.join(options.data, study.answers), ["action", "yes", "no"]);
      hash.update(stems.text).update(answers.text);
      const stemOf = new Map(stems.rows.map((r) => [r.action!, r.question!]));
      const population = `study=${study.value}`;
      answers.rows.forEach((r, i) => {
        const where = `${path.join(options.data!, study.answers)} line ${i + 2}`;
        const yes = Number(r.yes);
        const no = Number(r.no);
        if (!(Number.isInteger(yes) && Number.isInteger(no) && yes >= 0 && no >= 0 && yes + no > 0)) {
          throw new CivitasError("input", `${where}: expected counts of Yes and No, got "${r.yes}" and "${r.no}"`);
        }
        const stem = stemOf.get(r.action!);
        if (stem === undefined) throw new CivitasError("input", `${where}: the action "${r.action}" has no question in ${study.stems}`);
        const id = r.action!.replace(/\s+/gu, "_");
        if (!questions.has(id)) {
          questions.set(id, { id, text: `${stem} ${r.action}?`, options: ["Yes", "No"], refusal: [false, false], ordinals: null, source: "MoRT user study" });
        }
        const key = `${id}\u0000${population}`;
        if (human.has(key)) throw new CivitasError("input", `${where}: the action "${r.action}" is listed twice`);
        human.set(key, { questionId: id, population, probs: [yes / (yes + no), no / (yes + no)], allProbs: [yes / (yes + no), no / (yes + no)], n: yes + no });
      });
    }
    const populations: Population[] = STUDIES.map((s) => ({ id: `study=${s.value}`, attribute: "study", value: s.value }));
    return {
      name: "my-mort",
      title: mort.title,
      location: options.data,
      fingerprint: hash.digest("hex").slice(0, 16),
      questions: [...questions.values()],
      populations,
      // No population of all respondents: the human baseline compares the two studies.
      reference: null,
      defaultMetric: "tv",
      citation: "Schramowski et al. 2022, Nature Machine Intelligence 4, 258-268; ml-research/MoRT_NMI",
      human: (questionId, population) => human.get(`${questionId}\u0000${population}`),
    };
  },
};
