/**
 * CoSA-style free-text steering configs (`civitas steer --config FILE`, Zhang et al. 2024,
 * "Controllable Safety Alignment"): a YAML (or JSON) mapping from a population to the text that
 * describes it to the model, used in place of its persona template:
 *
 *   POLPARTY=Democrat: |
 *     You are a Democrat. You favour a larger role for government in ...
 *   POLPARTY=Republican: You are a Republican. ...
 */
import { LineCounter, parseDocument, isMap, isScalar } from "yaml";
import { CivitasError } from "../errors.js";

export function parseSteerConfigs(text: string, file: string): Record<string, string> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new CivitasError("input", `${file}:${e.linePos?.[0]?.line ?? 1}: not valid YAML: ${e.message.split("\n")[0]}`);
  }
  if (!isMap(doc.contents)) {
    throw new CivitasError("input", `${file}: expected a mapping from population to its text (e.g. "POLPARTY=Democrat: You are a Democrat ...")`);
  }
  const out: Record<string, string> = {};
  for (const pair of doc.contents.items) {
    const line = (node: unknown) => {
      const range = (node as { range?: [number, number, number] } | null)?.range;
      return range ? lines.linePos(range[0]).line : 1;
    };
    const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
    if (key === undefined || key.trim() === "") throw new CivitasError("input", `${file}:${line(pair.key)}: a key must be a population (e.g. POLPARTY=Democrat)`);
    const value = isScalar(pair.value) ? pair.value.value : undefined;
    if (typeof value !== "string" || value.trim() === "") {
      throw new CivitasError("input", `${file}:${line(pair.value ?? pair.key)}: ${key}: expected the text that describes the population, got ${value === undefined ? "nothing" : JSON.stringify(value)}`);
    }
    out[key.trim()] = value.trim();
  }
  if (Object.keys(out).length === 0) throw new CivitasError("input", `${file}: no population in it`);
  return out;
}
