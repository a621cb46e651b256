/**
 * What travels through Redis: requests (in a job's data) and answers (its return value), as JSON
 * text that keeps every number as it was. JSON has no NaN or infinities (a log-probability of
 * -Infinity, a mass that is NaN would come back null), so those travel as {"$num": "-Infinity"};
 * every finite double survives JSON unchanged (shortest round-trip form).
 */
import { CivitasError, messageOf } from "../errors.js";

const TAG = "$num";

export function encode(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? { [TAG]: String(v) } : v));
}

export function decode<T>(text: string, what: string): T {
  try {
    return JSON.parse(text, (_k, v: unknown) => {
      if (v !== null && typeof v === "object" && !Array.isArray(v)) {
        const keys = Object.keys(v);
        if (keys.length === 1 && keys[0] === TAG) return Number((v as Record<string, string>)[TAG]);
      }
      return v;
    }) as T;
  } catch (e) {
    throw new CivitasError("model", `cannot read ${what} from the queue: ${messageOf(e)}`, { cause: e });
  }
}
