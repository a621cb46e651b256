/**
 * Constraints as llama.cpp grammars (GBNF): a `choice` constraint allows exactly one of its
 * choices, a `json` constraint the JSON schema as node-llama-cpp's createGrammarForJsonSchema
 * understands it (checked first, since it silently ignores what it does not understand), with
 * number bounds it ignores added; and the texts that end a completion under a grammar.
 */
import type { Llama, LlamaGrammar } from "node-llama-cpp";
import { CivitasError, messageOf } from "../errors.js";
import type { Constraint } from "./types.js";

/** Texts that end a completion under this grammar (node-llama-cpp's JSON grammars end in "\n\n\n\n"). */
export function stopTexts(grammar: LlamaGrammar): string[] {
  const out: string[] = [];
  for (const t of grammar.stopGenerationTriggers) {
    // A trigger is a string, a LlamaText or a list of strings and tokens; only text is used here.
    const text = typeof t === "string" ? t : Array.isArray(t) ? (t.every((x) => typeof x === "string") ? t.join("") : "") : t.toString();
    if (text !== "") out.push(text);
  }
  return out;
}

/** A GBNF string literal: quotes, backslashes and control characters escaped. */
export function gbnfLiteral(text: string): string {
  let out = '"';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** The GBNF grammar of a `choice` constraint: exactly one of the choices, nothing before or after. */
export function choiceGrammar(choices: readonly string[]): string {
  if (choices.length === 0) throw new CivitasError("usage", "a choice constraint needs at least one choice");
  if (choices.some((c) => c === "")) throw new CivitasError("usage", "a choice constraint cannot allow an empty choice");
  return `root ::= ${[...new Set(choices)].map(gbnfLiteral).join(" | ")}`;
}

export async function buildGrammar(llama: Llama, constraint: Constraint): Promise<LlamaGrammar> {
  if (constraint.kind === "choice") return llama.createGrammar({ grammar: choiceGrammar(constraint.choices) });
  const bounds = checkGrammarSchema(constraint.schema);
  let json: LlamaGrammar;
  try {
    json = await llama.createGrammarForJsonSchema(constraint.schema as Parameters<Llama["createGrammarForJsonSchema"]>[0]);
  } catch (e) {
    throw new CivitasError("usage", `the JSON schema cannot be turned into a grammar: ${messageOf(e)}`, { cause: e });
  }
  if (bounds === "any") return json;
  return llama.createGrammar({
    grammar: boundNumbers(json.grammar, bounds),
    stopGenerationTriggers: json.stopGenerationTriggers,
    trimWhitespaceSuffix: json.trimWhitespaceSuffix,
  });
}

/**
 * node-llama-cpp's JSON grammars ignore `minimum` and `maximum`. Where every number of the schema
 * must be >= 0, its number rules lose their minus sign (an exponent keeps its sign: 1e-3 >= 0);
 * where every number must lie in [0, 1] (a probability), the number rule allows exactly that:
 * 0, 0.xxx, 1, 1.000 (up to 16 decimals, no exponent).
 */
export function boundNumbers(grammar: string, bounds: "nonnegative" | "unit"): string {
  let out = grammar.replace(/^((?:fractional|integer)-number-rule ::= )"-"\? /gmu, "$1");
  if (bounds === "unit") {
    out = out.replace(/^(fractional-number-rule ::= ).*$/mu, '$1"0" ("." [0-9]{1,16})? | "1" ("." [0]{1,16})?');
  }
  return out;
}

/** Keywords that only describe: accepted and ignored. */
const SCHEMA_ANNOTATIONS = new Set(["description", "title", "$schema", "$id", "$comment", "default", "examples"]);
/** Keywords node-llama-cpp's JSON schema grammar understands (3.21.1, utils/gbnfJson/types). */
const SCHEMA_KEYWORDS = new Set([
  "type",
  "const",
  "enum",
  "oneOf",
  "$ref",
  "$defs",
  "minLength",
  "maxLength",
  "format",
  "properties",
  "additionalProperties",
  "minProperties",
  "maxProperties",
  "required",
  "items",
  "prefixItems",
  "minItems",
  "maxItems",
  // Not enforced by the grammar, except minimum/exclusiveMinimum >= 0 (see buildGrammar).
  "minimum",
  "exclusiveMinimum",
  "maximum",
  "exclusiveMaximum",
]);
const SCHEMA_TYPES = new Set(["string", "number", "integer", "boolean", "null", "object", "array"]);

/**
 * Checks that node-llama-cpp can turn the schema into a grammar: given anything it does not
 * understand (anyOf, allOf, pattern, ...), it silently produces a grammar for `null` instead.
 * Also says what all numbers in it are bounded to: "unit" when every number is a `number` with
 * minimum 0 and maximum 1, "nonnegative" when every number has a minimum >= 0, else "any".
 */
export function checkGrammarSchema(schema: unknown): "any" | "nonnegative" | "unit" {
  let numbers = 0;
  let nonNegative = 0;
  let unit = 0;
  const fail = (where: string, what: string): never => {
    throw new CivitasError("usage", `the JSON schema cannot be enforced by a llama.cpp grammar: ${what} at ${where}`, {
      hint: "supported: type, const, enum, oneOf, $ref/$defs, properties, additionalProperties, required, items, prefixItems, min/maxItems, min/maxLength, format, minimum/maximum; or drop --constrain",
    });
  };
  const walk = (s: unknown, where: string): void => {
    if (typeof s !== "object" || s === null || Array.isArray(s)) fail(where, "a schema that is not an object");
    const o = s as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (!SCHEMA_ANNOTATIONS.has(key) && !SCHEMA_KEYWORDS.has(key)) fail(where, `the keyword "${key}"`);
    }
    const type = o["type"];
    if (type !== undefined) {
      const types: unknown[] = Array.isArray(type) ? type : [type];
      for (const t of types) if (typeof t !== "string" || !SCHEMA_TYPES.has(t)) fail(where, `the type ${JSON.stringify(t)}`);
      if (types.includes("number") || types.includes("integer")) {
        numbers++;
        const min = [o["minimum"], o["exclusiveMinimum"]].filter((x): x is number => typeof x === "number");
        if (min.some((m) => m >= 0)) nonNegative++;
        if (types.length === 1 && type === "number" && o["minimum"] === 0 && o["maximum"] === 1) unit++;
      }
    } else if (o["const"] === undefined && o["enum"] === undefined && o["oneOf"] === undefined && o["$ref"] === undefined) {
      fail(where, "a schema with no type, const, enum, oneOf or $ref");
    }
    const props = o["properties"];
    if (props !== undefined) {
      if (typeof props !== "object" || props === null || Array.isArray(props)) fail(where, "properties that are not an object");
      for (const [k, v] of Object.entries(props as Record<string, unknown>)) walk(v, `${where}.properties.${k}`);
    }
    const extra = o["additionalProperties"];
    if (typeof extra === "object" && extra !== null) walk(extra, `${where}.additionalProperties`);
    else if (extra === true) numbers++; // any JSON value: its numbers are unbounded
    if (o["items"] !== undefined) walk(o["items"], `${where}.items`);
    for (const [name, list] of [
      ["prefixItems", o["prefixItems"]],
      ["oneOf", o["oneOf"]],
    ] as const) {
      if (list === undefined) continue;
      if (!Array.isArray(list)) fail(where, `${name} that is not a list`);
      (list as unknown[]).forEach((v, i) => walk(v, `${where}.${name}[${i}]`));
    }
    const defs = o["$defs"];
    if (defs !== undefined) {
      if (typeof defs !== "object" || defs === null || Array.isArray(defs)) fail(where, "$defs that are not an object");
      for (const [k, v] of Object.entries(defs as Record<string, unknown>)) walk(v, `${where}.$defs.${k}`);
    }
  };
  walk(schema, "the root");
  if (numbers === 0) return "any";
  if (unit === numbers) return "unit";
  return nonNegative === numbers ? "nonnegative" : "any";
}
