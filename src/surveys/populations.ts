/**
 * Choosing populations of a suite by name, for every suite: `overall`, an attribute (all its
 * populations: `POLPARTY`, `polparty`), or one population `ATTR=value` (`SEX=Female`).
 */
import { CivitasError } from "../errors.js";
import type { Population, Suite } from "./types.js";

/** The attributes of a suite's populations, in the order they first appear. */
export function suiteAttributes(suite: Suite): string[] {
  const out: string[] = [];
  for (const p of suite.populations) if (p.attribute !== null && !out.includes(p.attribute)) out.push(p.attribute);
  return out;
}

/**
 * Resolves population specs to the suite's populations, duplicates removed, first-mention order
 * kept. Each spec is:
 * - an attribute name, case-insensitive (`POLPARTY`, `polparty`): all populations of it;
 * - a population id `ATTR=value`: the attribute case-insensitive, the value exact (or, when that
 *   finds nothing, case-insensitive if that identifies exactly one value);
 * - the id of a population without an attribute (`overall`), case-insensitive.
 * Specs are not split on commas (values such as "$100,000 or more" contain them). An empty list
 * gives an empty result. An unknown spec is a CivitasError("usage") listing what is valid.
 */
export function resolvePopulations(suite: Suite, specs: readonly string[]): Population[] {
  const attrs = suiteAttributes(suite);
  const out: Population[] = [];
  const seen = new Set<string>();
  const add = (p: Population): void => {
    if (!seen.has(p.id)) {
      seen.add(p.id);
      out.push(p);
    }
  };
  for (const raw of specs) {
    for (const p of resolveOne(suite, attrs, raw)) add(p);
  }
  return out;
}

function resolveOne(suite: Suite, attrs: readonly string[], raw: string): Population[] {
  const spec = raw.trim();
  const lower = spec.toLowerCase();
  const eq = spec.indexOf("=");

  if (eq === -1) {
    const plain = suite.populations.filter((p) => p.attribute === null && p.id.toLowerCase() === lower);
    if (plain.length > 0) return plain;
    const attr = attrs.find((a) => a.toLowerCase() === lower);
    if (attr !== undefined) return suite.populations.filter((p) => p.attribute === attr);
    throw unknown(suite, attrs, raw, undefined);
  }

  const attrPart = spec.slice(0, eq).trim().toLowerCase();
  const value = spec.slice(eq + 1).trim();
  const attr = attrs.find((a) => a.toLowerCase() === attrPart);
  if (attr === undefined) throw unknown(suite, attrs, raw, undefined);
  const members = suite.populations.filter((p) => p.attribute === attr);
  const exact = members.find((p) => p.value === value);
  if (exact) return [exact];
  const loose = members.filter((p) => p.value.toLowerCase() === value.toLowerCase());
  if (loose.length === 1) return loose;
  throw unknown(suite, attrs, raw, attr);
}

function unknown(suite: Suite, attrs: readonly string[], raw: string, attr: string | undefined): CivitasError {
  const plain = suite.populations.filter((p) => p.attribute === null).map((p) => p.id);
  const general =
    `valid: ${[...plain, ...attrs].join(", ")}` + (attrs.length > 0 ? ", or ATTRIBUTE=value for one group" : "");
  if (attr !== undefined) {
    const values = suite.populations.filter((p) => p.attribute === attr).map((p) => JSON.stringify(p.value));
    return new CivitasError("usage", `unknown population "${raw}" in suite ${suite.name}: ${attr} has no value "${raw.slice(raw.indexOf("=") + 1).trim()}"`, {
      hint: `values of ${attr}: ${values.join(", ")}; ${general}`,
    });
  }
  // A bare value ("Democrat") that belongs to exactly one attribute: suggest the full id.
  const lower = raw.trim().toLowerCase();
  const byValue = suite.populations.filter((p) => p.attribute !== null && p.value.toLowerCase() === lower);
  const suggestion = byValue.length > 0 ? `did you mean ${byValue.map((p) => p.id).join(" or ")}? ` : "";
  return new CivitasError("usage", `unknown population "${raw}" in suite ${suite.name}`, {
    hint: `${suggestion}${general}`,
  });
}

/**
 * Splits a comma-separated list of population specs as typed on the command line, keeping the
 * commas that belong to a value: a piece starts a new spec only if it begins with a name
 * (a letter, then letters, digits or _, then "=" or the end), so "INCOME=$100,000 or more,SEX"
 * and "EDUCATION=Some college, no degree" come out whole.
 */
export function splitPopulationList(text: string): string[] {
  const out: string[] = [];
  for (const piece of text.split(",")) {
    if (piece.trim() === "") continue;
    const startsSpec = /^[A-Za-z][A-Za-z0-9_]*\s*(=|$)/u.test(piece.trimStart());
    if (out.length > 0 && !startsSpec) out[out.length - 1] += `,${piece}`;
    else out.push(piece);
  }
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}
