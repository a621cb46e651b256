/**
 * Results and a store as the previous release wrote them (test/fixtures/README.md says how they
 * were made): `--json` outputs of every command, and a store of schema 4 with eval runs (one with
 * personas, methods and variants; MoCa; distalign; knowledge questions), simulations (one stopped
 * by its budget) and an interrupted run.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { readResult, type ResultKind, type ResultOf } from "../../src/results/index.js";
import { REPO } from "./paths.js";

export const FIXTURES = path.join(REPO, "test/fixtures");

/** A `--json` output of the previous release (test/fixtures/v1-json/<name>.json), as printed. */
export function v1Json(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(FIXTURES, "v1-json", `${name}.json`), "utf8")) as Record<string, unknown>;
}

/** A previous release's `--json` output read as the current result type. */
export function v1Result<K extends ResultKind>(kind: K, name: string): ResultOf[K] {
  return readResult(kind, v1Json(name), `fixture ${name}`);
}

/** Rows of a table of the schema-4 store fixture. */
export function v4Rows(table: string): Record<string, unknown>[] {
  return JSON.parse(readFileSync(path.join(FIXTURES, "store-v4", `${table}.json`), "utf8")) as Record<string, unknown>[];
}

const TABLES = ["meta", "runs", "invocations", "requests", "answers", "scores", "sim_metrics", "sim_calls"] as const;

/**
 * Writes the schema-4 store fixture to `file` (which must not exist): the previous release's
 * tables (its DDL, test/fixtures/store-v4/schema.sql) and rows, as a DuckDB client would.
 */
export async function writeV4Store(file: string): Promise<void> {
  const db = await DuckDBInstance.create(file);
  const con = await db.connect();
  try {
    await con.run(readFileSync(path.join(FIXTURES, "store-v4", "schema.sql"), "utf8"));
    for (const table of TABLES) {
      const rows = v4Rows(table);
      if (rows.length === 0) continue;
      const columns = Object.keys(rows[0]!);
      const types = (await con.runAndReadAll(`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '${table}'`)).getRowObjectsJS();
      const typeOf = new Map(types.map((t) => [String(t.column_name), String(t.data_type)]));
      for (const row of rows) {
        const values = columns.map((c) => {
          const v = row[c];
          const t = typeOf.get(c)!;
          if (v === null || v === undefined) return "NULL";
          const text = typeof v === "string" ? v : JSON.stringify(v);
          return `${`'${text.replace(/'/gu, "''")}'`}::${t.endsWith("[]") ? `JSON::${t}` : t}`;
        });
        await con.run(`INSERT INTO ${table} (${columns.join(", ")}) VALUES (${values.join(", ")})`);
      }
    }
  } finally {
    con.closeSync();
    db.closeSync();
  }
}
