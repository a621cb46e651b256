/**
 * YAML (and JSON) files whose every problem names its line: the syntax errors of the `yaml`
 * parser, then a zod schema's issues, each turned into `line N, field: why`. Shared by the files a
 * user writes by hand: civitas.yaml (src/config/load.ts) and protocol files (src/runs/protocols.ts).
 * The caller wraps the lines into its own error (with its file name and hint).
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { messageOf } from "./errors.js";

/** At most this many alias expansions (a "billion laughs" file is refused). */
const MAX_ALIASES = 100;

/** A parsed document and its line lookup. */
export interface YamlLines {
  readonly doc: Document.Parsed;
  /** The document as plain values. */
  readonly raw: unknown;
  /** "line N, " of the deepest node on a path that the document has (a missing field: its parent's); "" when unknown. */
  lineOf(path: readonly PropertyKey[]): string;
}

/** A field path as a user reads it: `models[1].spec`. */
export const fieldOf = (p: readonly PropertyKey[]): string => p.map((s) => (typeof s === "number" ? `[${s}]` : `.${String(s)}`)).join("").replace(/^\./u, "");

/**
 * Parses `text`; on a syntax error or a document that cannot be read (too many aliases), calls
 * `fail` with one line per problem (at most five) and throws what it returns.
 */
export function parseYamlLines(text: string, fail: (problems: string[]) => Error, what = "YAML"): YamlLines {
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    throw fail(
      doc.errors.slice(0, 5).map((e) => {
        const pos = e.linePos?.[0];
        return `${pos ? `line ${pos.line}, column ${pos.col}: ` : ""}${e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/u, "")}`;
      }),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    throw fail([`not readable as ${what} (${messageOf(e).split("\n")[0]!})`]);
  }
  const lineOf = (p: readonly PropertyKey[]): string => {
    let node: unknown = doc.contents;
    let at: number | undefined; // a missing top-level field has no line (the root has no key)
    for (const step of p) {
      if (isMap(node)) {
        const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(step));
        if (!pair) break;
        if (isScalar(pair.key) && pair.key.range) at = pair.key.range[0];
        node = pair.value;
      } else if (isSeq(node) && typeof step === "number" && node.items[step] !== undefined) {
        node = node.items[step];
        const range = (node as { range?: [number, number, number] }).range;
        if (range) at = range[0];
      } else break;
    }
    return at === undefined ? "" : `line ${lines.linePos(at).line}, `;
  };
  return { doc, raw, lineOf };
}

/**
 * A zod schema's issues as `line N, field: why` lines, each once: unknown fields named (all of a
 * mapping's at once), a missing field said "required", and for a union (a name, or a mapping) the
 * mapping's own first problem, which says most.
 */
export function issueLines(y: YamlLines, issues: readonly z.core.$ZodIssue[]): string[] {
  const unknown = (p: readonly PropertyKey[], keys: readonly string[]): string => {
    const at = fieldOf(p);
    return `${y.lineOf([...p, keys[0]!])}${keys.map((k) => (at ? `${at}.${k}` : k)).join(", ")}: unknown field${keys.length > 1 ? "s" : ""}`;
  };
  const seen = new Set<string>();
  const out: string[] = [];
  for (const i of issues) {
    let line: string;
    if (i.code === "unrecognized_keys") {
      line = unknown(i.path, i.keys);
    } else if (i.code === "invalid_union" && i.errors.flat().some((e) => e.code !== "invalid_type" || e.path.length > 0)) {
      const pick = i.errors.flat().find((e) => e.code !== "invalid_type" || e.path.length > 0)!;
      const p = [...i.path, ...pick.path];
      line = pick.code === "unrecognized_keys" ? unknown(p, pick.keys) : `${y.lineOf(p)}${fieldOf(p)}: ${y.doc.hasIn(p as unknown[]) ? pick.message : "required"}`;
    } else {
      const present = y.doc.hasIn(i.path as unknown[]);
      line = `${y.lineOf(i.path)}${fieldOf(i.path) || "(top level)"}: ${present ? i.message : "required"}`;
    }
    if (!seen.has(line)) {
      seen.add(line);
      out.push(line);
    }
  }
  return out;
}
