/**
 * Pieces the result schemas share: numbers as JSON holds them, intervals, and the check that a
 * value holds no field its schema does not name.
 *
 * JSON has no NaN: a result's NaN (an interval with one value, a population nothing scored) is
 * written as null. `num` reads null back as NaN, so a result read from the store or from --json
 * has the type the code that made it has (`number`), and "no value" stays NaN, as it was.
 */
import { z } from "zod";

/** A number that may be NaN in memory: null in JSON, read back as NaN. */
export const num = z
  .number()
  .nullable()
  .transform((v) => v ?? Number.NaN);

/** A number or null ("none"), as distinct from NaN: JSON's null stays null. */
export const numOrNull = z.number().nullable();

/** A count (never NaN). */
export const count = z.number().int().min(0);

/** A 95% interval `[lo, hi]`; NaN where it is undefined. */
export const ci = z.tuple([num, num]).readonly();

/** A mean with its interval. */
export const interval = z.object({ mean: num, ci });

/** A mean with its interval and the number of items behind it. */
export const estimate = z.object({ mean: num, ci, n: count });

/**
 * Paths of the fields of `input` that `output` (the schema's parse of it) does not have: the
 * fields the schema does not name (zod leaves them out). Fields the schema added (defaults of
 * older versions) are not reported. `[]` when the schema names everything.
 */
export function unknownFields(input: unknown, output: unknown, at = ""): string[] {
  if (Array.isArray(input) && Array.isArray(output)) return input.flatMap((x, i) => unknownFields(x, output[i], `${at}[${i}]`));
  if (input === null || typeof input !== "object" || output === null || typeof output !== "object" || Array.isArray(output)) return [];
  const out = output as Record<string, unknown>;
  return Object.entries(input as Record<string, unknown>).flatMap(([k, v]) => {
    const p = at === "" ? k : `${at}.${k}`;
    if (v === undefined) return [];
    return k in out ? unknownFields(v, out[k], p) : [p];
  });
}

/** The first problems of a failed parse, as `path: message` lines. */
export function issuesText(error: z.ZodError, max = 5): string {
  const lines = error.issues.slice(0, max).map((i) => `${i.path.length ? i.path.map(String).join(".") : "(top)"}: ${i.message}`);
  return lines.join("; ") + (error.issues.length > max ? `; ... ${error.issues.length - max} more` : "");
}
