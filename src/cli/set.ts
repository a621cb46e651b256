/**
 * `--set NAME=VALUE` as `civitas simulate` takes it: VALUE is read as YAML (`0.2`, `true`,
 * `ws:k=4,beta=0.1`; a list `[0.1, 0.2]` sweeps NAME; text YAML cannot read stays text), with the
 * limits a scenario file has (`yamlValue`). The scenario checks each value against its parameter
 * (sim/scenario.ts, `applyOverrides`).
 */
import { parseDocument } from "yaml";
import { yamlValue, type ParamOverride } from "../sim/index.js";
import { usageError } from "./common.js";

export function parseSetFlags(items: readonly string[]): ParamOverride[] {
  return items.map((item) => {
    const eq = item.indexOf("=");
    const name = eq < 0 ? "" : item.slice(0, eq).trim();
    if (eq < 0 || !/^\w+$/u.test(name)) throw usageError(`--set "${item}": expected NAME=VALUE`, "for example --set epsilon=0.2, --set agents=500, --set epsilon=[0.1,0.2] (a list sweeps it)");
    const text = item.slice(eq + 1).trim();
    const doc = parseDocument(text === "" ? '""' : text);
    return { name, value: doc.errors.length > 0 ? text : yamlValue(doc, (why) => usageError(`--set ${name}: ${why}`)) };
  });
}
