/**
 * Custom surveys, individual form: one row per respondent and question; the demographic columns
 * become populations (`overall` and one per attribute=value), weighted by `weight`.
 */
import { CivitasError } from "../errors.js";
import { NAME_RE } from "./custom-fields.js";
import { noun } from "./custom-form.js";
import { humanKey } from "./custom-populations.js";
import { optionNotFound, type Built } from "./custom-questions.js";
import type { Rec } from "./custom-records.js";
import { fail, lineRef, where, type Table } from "./custom-table.js";
import { humanDistribution, type HumanDistribution, type Population, type Question } from "./types.js";

export function checkAttributes(t: Table, attributes: readonly string[]): void {
  const lower = new Map<string, string>();
  for (const a of attributes) {
    const line = t.firstLine.get(a) ?? 1;
    if (!NAME_RE.test(a)) {
      throw new CivitasError(
        "input",
        `${t.file.shown} line ${line}, ${noun(t)} "${a}": a demographic ${noun(t)} name must be letters, digits and _, starting with a letter (it becomes the attribute name that --populations takes)`,
        { hint: `rename it, e.g. "${a.replace(/[^A-Za-z0-9_]+/gu, "_").replace(/^[^A-Za-z]+/u, "") || "group"}"` },
      );
    }
    const other = lower.get(a.toLowerCase());
    if (other !== undefined) {
      throw new CivitasError("input", `${t.file.shown} line ${line}, ${noun(t)} "${a}": the same attribute as "${other}" (attribute names ignore case)`);
    }
    lower.set(a.toLowerCase(), a);
  }
}

/** The individual form: one distribution per (question, population) from the respondents' answers. */
export function individual(
  recs: readonly Rec[],
  built: ReadonlyMap<string, Built>,
  attributes: readonly string[],
  humans: Map<string, HumanDistribution>,
  withData: Set<string>,
  warnings: string[],
): { populations: Population[]; respondents: number; weighted: boolean } {
  const weighted = recs.some((r) => r.weight !== undefined);
  const people = new Map<string, Rec>();
  const answered = new Map<string, Rec>();
  const values = attributes.map(() => new Set<string>());
  interface Acc {
    readonly mass: number[];
    n: number;
  }
  const acc = new Map<string, Acc>();
  let skipped = 0;
  let firstSkipped: Rec | undefined;
  const add = (q: Question, pop: string, i: number, w: number): void => {
    const key = humanKey(q.id, pop);
    let a = acc.get(key);
    if (!a) {
      a = { mass: new Array<number>(q.options.length).fill(0), n: 0 };
      acc.set(key, a);
    }
    a.mass[i]! += w;
    if (!q.refusal[i]) a.n++;
  };
  for (const rec of recs) {
    const who = rec.respondent!;
    if (weighted) {
      if (rec.weight === undefined) fail(rec.row, "weight", `empty; when any row has a weight, every row needs one (respondent ${who})`);
      if (!(rec.weight > 0) || !Number.isFinite(rec.weight)) fail(rec.row, "weight", `${rec.weight} is not a positive number`);
    }
    const demo = rec.demographics!;
    const prev = people.get(who);
    if (!prev) {
      people.set(who, rec);
    } else {
      if (prev.weight !== rec.weight) {
        fail(rec.row, "weight", `respondent ${who} has weight ${rec.weight} here but ${prev.weight} on ${lineRef(prev.row, rec.row)}`, "a respondent has one weight and one value per demographic attribute on all their rows");
      }
      attributes.forEach((a, j) => {
        if (prev.demographics![j] !== demo[j]) {
          fail(rec.row, a, `respondent ${who} has ${JSON.stringify(demo[j] ?? "")} here but ${JSON.stringify(prev.demographics![j] ?? "")} on ${lineRef(prev.row, rec.row)}`, "a respondent has one weight and one value per demographic attribute on all their rows");
        }
      });
    }
    demo.forEach((v, j) => {
      if (v !== undefined) values[j]!.add(v);
    });
    const b = built.get(rec.questionId!)!;
    if (rec.answer === undefined) {
      skipped++;
      firstSkipped ??= rec;
      continue;
    }
    const i = b.match(rec.answer);
    if (i === undefined) optionNotFound(rec, "answer", rec.answer, b);
    const key = humanKey(b.question.id, who);
    const dup = answered.get(key);
    if (dup) fail(rec.row, "answer", `duplicate row: respondent ${who} already answered question ${b.question.id} on ${lineRef(dup.row, rec.row)}`, "give one row per respondent and question");
    answered.set(key, rec);
    withData.add(b.question.id);
    const w = rec.weight ?? 1;
    add(b.question, "overall", i, w);
    demo.forEach((v, j) => {
      if (v !== undefined) add(b.question, `${attributes[j]}=${v}`, i, w);
    });
  }
  if (skipped > 0) {
    warnings.push(`${where(firstSkipped!.row)}: ${skipped} row${skipped === 1 ? " has" : "s have"} an empty answer (the first here); skipped as not asked or not answered`);
  }
  const populations: Population[] = [{ id: "overall", attribute: null, value: "overall" }];
  attributes.forEach((a, j) => {
    for (const v of values[j]!) populations.push({ id: `${a}=${v}`, attribute: a, value: v });
  });
  for (const q of [...built.values()].map((b) => b.question)) {
    for (const p of populations) {
      const a = acc.get(humanKey(q.id, p.id));
      if (!a) continue;
      const d = humanDistribution(q, p.id, a.mass, a.n);
      if (d) humans.set(humanKey(q.id, p.id), d);
    }
  }
  return { populations, respondents: people.size, weighted };
}
