/**
 * Files that commands write (`report -o`, `export -o`, `aggregate --html / --export`): a typo or a
 * tab-completed name must not destroy a store or a data file.
 *
 *   - never a DuckDB file (the store in use, or any other store), nor the store's write-ahead
 *     log, nor a folder: not even with --force (delete it yourself if you mean it);
 *   - an existing file is replaced only when it is empty or holds an earlier output of the same
 *     kind, judged by its content, not its name: a civitas HTML report, a CSV or JSON Lines
 *     export with civitas's columns, a Parquet file, a JSON Lines file of preference pairs;
 *   - anything else needs --force (as `ffmpeg -y` or `cp -f`).
 */
import { open, stat } from "node:fs/promises";
import path from "node:path";
import { CivitasError } from "../errors.js";
import { fileKind } from "../store/index.js";

export type OutputKind = "html" | "csv" | "jsonl" | "parquet" | "pairs";

const DESCRIPTION: Record<OutputKind, string> = {
  html: "an HTML report written by civitas",
  csv: "a CSV export written by civitas",
  jsonl: "a JSON Lines export written by civitas",
  parquet: "a Parquet file",
  pairs: "a JSON Lines file of preference pairs",
};

/** The first bytes of a file, and its last, as text (enough to tell what wrote it). */
async function ends(file: string, size: number): Promise<{ head: string; tail: string }> {
  const fh = await open(file, "r");
  try {
    const n = Math.min(size, 4096);
    const head = Buffer.alloc(n);
    await fh.read(head, 0, n, 0);
    const m = Math.min(size, 256);
    const tail = Buffer.alloc(m);
    await fh.read(tail, 0, m, size - m);
    return { head: head.toString("utf8").replace(/^\uFEFF/u, ""), tail: tail.toString("utf8") };
  } finally {
    await fh.close();
  }
}

function firstLineObject(head: string): Record<string, unknown> | undefined {
  const line = head.split("\n", 1)[0]!;
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the file's content is an output of this kind (see the module comment). */
function isKind(kind: OutputKind, head: string, tail: string): boolean {
  switch (kind) {
    case "html":
      return /^\s*<!doctype html/iu.test(head) && (head.includes('<meta name="generator" content="civitas">') || tail.includes("<p class=\"muted\">Made by civitas.</p>"));
    case "csv":
      return head.startsWith("run,question,variant,persona,method,");
    case "jsonl": {
      const o = firstLineObject(head);
      return o !== undefined && "run" in o && "question" in o && "distribution" in o;
    }
    case "parquet":
      return head.startsWith("PAR1");
    case "pairs": {
      const o = firstLineObject(head);
      // What `aggregate --export` writes; a comparisons file (an input: it has annotators) is not.
      return o !== undefined && "prompt" in o && "chosen" in o && "rejected" in o && "weight" in o && !("annotator" in o);
    }
  }
}

const sameFile = (a: { dev: number; ino: number }, b: { dev: number; ino: number }) => a.dev === b.dev && a.ino === b.ino;

async function statOrUndefined(file: string) {
  try {
    return await stat(file);
  } catch {
    return undefined;
  }
}

/**
 * Throws CivitasError("usage") naming the file, and --force where it would help, unless writing
 * `kind` to `file` loses nothing (see the module comment). `store`: the store the command uses.
 * `flag`: the option that named the file, for the message.
 */
export async function checkOutputFile(file: string, kind: OutputKind, options: { flag: string; force: boolean; store?: string }): Promise<void> {
  const refuse = (why: string, hint: string) => new CivitasError("usage", `${options.flag} ${file}: ${why}`, { hint });
  const never = "choose another file name; civitas never writes over a store (delete it first if you mean it)";
  const target = await statOrUndefined(file);
  if (options.store !== undefined) {
    const store = path.resolve(options.store);
    for (const f of [store, `${store}.wal`]) {
      const s = await statOrUndefined(f);
      const same = s !== undefined && target !== undefined ? sameFile(s, target) : path.resolve(file) === f;
      if (same) throw refuse(f === store ? "is the store this command reads" : "is the store's write-ahead log", never);
    }
  }
  if (target === undefined) return;
  const k = await fileKind(file);
  if (k === "directory") throw refuse("is a folder", "give a file name");
  if (k === "duckdb") throw refuse("is a DuckDB database (a civitas store?)", never);
  if (k === "empty") return;
  const { head, tail } = await ends(file, target.size);
  if (isKind(kind, head, tail)) return;
  if (options.force) return;
  throw refuse(`already exists and is not ${DESCRIPTION[kind]}`, `use --force to replace it, or choose another file name`);
}
