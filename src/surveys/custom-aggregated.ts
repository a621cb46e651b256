/**
 * Custom surveys, aggregated form: the published counts or shares of each (question, population),
 * checked and turned into distributions.
 */
import { orderPopulations, parsePopulation, humanKey } from "./custom-populations.js";
import { optionNotFound, type Built } from "./custom-questions.js";
import type { Rec } from "./custom-records.js";
import { fail, lineRef, where } from "./custom-table.js";
import { humanDistribution, type HumanDistribution, type Population } from "./types.js";

/** Shares may be off 1 by this much without a word. */
export const SHARE_TOLERANCE = 1e-6;
/** Shares off 1 by more than SHARE_TOLERANCE and at most this are renormalised with a warning; beyond, an error. */
export const SHARE_RENORMALISE_LIMIT = 0.05;

/** The aggregated form: collects counts or shares per (question, population) and builds the distributions. */
export function aggregate(
  recs: readonly Rec[],
  built: ReadonlyMap<string, Built>,
  humans: Map<string, HumanDistribution>,
  withData: Set<string>,
  warnings: string[],
): Population[] {
  interface Group {
    readonly b: Built;
    readonly pop: Population;
    readonly measure: "count" | "share";
    readonly first: Rec;
    readonly mass: number[];
    readonly seen: Map<number, Rec>;
  }
  const groups = new Map<string, Group>();
  const pops = new Map<string, Population>();
  const attrCase = new Map<string, { attribute: string; rec: Rec }>();
  for (const rec of recs) {
    if (rec.population === undefined) continue;
    const b = built.get(rec.questionId!)!;
    const pop = parsePopulation(rec, rec.population);
    const known = pops.get(pop.id);
    if (!known) {
      if (pop.attribute !== null) {
        const other = attrCase.get(pop.attribute.toLowerCase());
        if (other && other.attribute !== pop.attribute) {
          fail(rec.row, "population", `attribute ${JSON.stringify(pop.attribute)} differs only in case from ${JSON.stringify(other.attribute)} on ${lineRef(other.rec.row, rec.row)}`, "write each attribute the same way everywhere");
        }
        attrCase.set(pop.attribute.toLowerCase(), { attribute: pop.attribute, rec });
      }
      pops.set(pop.id, pop);
    }
    const key = humanKey(b.question.id, pop.id);
    let g = groups.get(key);
    if (g && rec.row.file.format !== "csv") {
      fail(rec.row, "population", `duplicate: question ${b.question.id}, population ${pop.id} is already given on ${lineRef(g.first.row, rec.row)}`, "give each question and population once");
    }
    if (!g) {
      g = { b, pop, measure: rec.measure!, first: rec, mass: new Array<number>(b.question.options.length).fill(0), seen: new Map() };
      groups.set(key, g);
    }
    for (const e of rec.entries ?? []) {
      const i = b.match(e.option);
      if (i === undefined) optionNotFound(rec, e.optionField, e.option, b);
      const prev = g.seen.get(i);
      if (prev) {
        fail(
          rec.row,
          e.optionField,
          prev === rec
            ? `option ${JSON.stringify(b.question.options[i])} is given twice`
            : `duplicate row: question ${b.question.id}, population ${pop.id}, option ${JSON.stringify(b.question.options[i])} is already on ${lineRef(prev.row, rec.row)}`,
          "give each question, population and option once",
        );
      }
      g.seen.set(i, rec);
      if (g.measure === "count") {
        if (!Number.isInteger(e.value) || e.value < 0) {
          fail(rec.row, e.field, `${e.value} is not a count (a whole number, 0 or more)`, "for weighted data give share (fractions summing to 1), or individual responses with a weight column");
        }
      } else if (!(e.value >= 0 && e.value <= 1)) {
        fail(rec.row, e.field, `share ${e.value} is not between 0 and 1`, e.value > 1 && e.value <= 100 ? `shares are fractions: write ${+(e.value / 100).toFixed(6)} for ${e.value}%` : "a share is the fraction of the population that chose the option");
      }
      g.mass[i] = e.value;
    }
  }
  for (const g of groups.values()) {
    const q = g.b.question;
    withData.add(q.id);
    let n: number | null = null;
    if (g.measure === "share") {
      const sum = g.mass.reduce((a, x) => a + x, 0);
      const off = Math.abs(sum - 1);
      const lines = [...new Set([...g.seen.values()].map((r) => r.row.line))];
      const shown = `shares of question ${q.id} for ${g.pop.id} (line${lines.length === 1 ? "" : "s"} ${lines.join(", ")}) sum to ${+sum.toFixed(6)}`;
      if (off > SHARE_RENORMALISE_LIMIT) {
        fail(g.first.row, g.first.entries![0]!.field.split(".")[0], `${shown}, not 1`, `shares over all options (refusals included) must sum to 1; a sum off by up to ${SHARE_RENORMALISE_LIMIT} (rounding) is renormalised with a warning. Is an option missing?`);
      }
      if (off > SHARE_TOLERANCE) warnings.push(`${where(g.first.row)}: ${shown}; renormalised to 1`);
    } else {
      n = 0;
      g.mass.forEach((c, i) => {
        if (!q.refusal[i]) n! += c;
      });
    }
    const d = humanDistribution(q, g.pop.id, g.mass, n);
    if (d) humans.set(humanKey(q.id, g.pop.id), d);
    else warnings.push(`${where(g.first.row)}: question ${q.id}, population ${g.pop.id}: no answer outside the refusal options; no distribution`);
  }
  const ordered = orderPopulations([...pops.values()]);
  // A bare name equal to an attribute would hide the attribute from --populations.
  const attrs = new Set(ordered.filter((p) => p.attribute !== null).map((p) => p.attribute!.toLowerCase()));
  const clash = ordered.find((p) => p.attribute === null && attrs.has(p.id.toLowerCase()));
  if (clash) {
    const rec = recs.find((r) => r.population !== undefined && r.population === clash.id)!;
    fail(rec.row, "population", `population ${JSON.stringify(clash.id)} has the name of an attribute (${[...pops.values()].find((p) => p.attribute?.toLowerCase() === clash.id.toLowerCase())!.id})`, "rename one of them: --populations would not know which you mean");
  }
  return ordered;
}
