/**
 * Custom surveys: population names (`overall`, a bare name, or ATTRIBUTE=value), their order, and
 * the key of a (question, population) distribution.
 */
import { NAME_RE } from "./custom-fields.js";
import type { Rec } from "./custom-records.js";
import { fail } from "./custom-table.js";
import type { Population } from "./types.js";

export function humanKey(questionId: string, population: string): string {
  return `${questionId}\u0000${population}`;
}

export function parsePopulation(rec: Rec, text: string): Population {
  const row = rec.row;
  const eq = text.indexOf("=");
  if (eq === -1) {
    if (text.toLowerCase() === "overall") return { id: "overall", attribute: null, value: "overall" };
    if (!NAME_RE.test(text)) {
      fail(row, "population", `${JSON.stringify(text)} is not a population name: a name without "=" is letters, digits and _ (starting with a letter)`, `write ATTRIBUTE=value for anything else, e.g. "group=${text}"`);
    }
    return { id: text, attribute: null, value: text };
  }
  const attribute = text.slice(0, eq).trim();
  const value = text.slice(eq + 1).trim();
  if (!NAME_RE.test(attribute)) {
    fail(row, "population", `attribute ${JSON.stringify(attribute)} of ${JSON.stringify(text)} must be letters, digits and _, starting with a letter`, 'e.g. "age_group=18-29"; the attribute is what --populations takes');
  }
  if (value === "") fail(row, "population", `${JSON.stringify(text)} has no value after "="`);
  return { id: `${attribute}=${value}`, attribute, value };
}

/**
 * Populations in order: `overall` first, then the others grouped by attribute (attributes and
 * bare names in order of first appearance, values in order of first appearance).
 */
export function orderPopulations(pops: readonly Population[]): Population[] {
  const groups = new Map<string, Population[]>();
  let overall: Population | undefined;
  for (const p of pops) {
    if (p.id === "overall") {
      overall = p;
      continue;
    }
    const key = p.attribute === null ? `\u0000${p.id}` : p.attribute;
    const g = groups.get(key);
    if (g) g.push(p);
    else groups.set(key, [p]);
  }
  return [...(overall ? [overall] : []), ...[...groups.values()].flat()];
}
