/**
 * Exports of a simulation run (`civitas export <simulation run>`), beside `Store.exportAnswers` for
 * eval runs. A simulation stores no answers: it stores its metric series (one value per point of
 * the sweep x seed x recorded step x metric) and, when its agents ask a model, the recorded calls
 * that `--replay` reruns it from. Both are written with DuckDB's COPY through the store's public
 * `query`, so the formats are those of the answers' export (CSV, JSON Lines, Parquet).
 *
 * Text cells of CSV files are neutralised as in the answers' export (csv.ts).
 */
import { CivitasError, messageOf } from "../errors.js";
import { csvText } from "./csv.js";
import type { Store } from "./store.js";

export type ExportFormat = "csv" | "jsonl" | "parquet";

/** What a simulation run's configuration says about its sweep (runs.config of kind "simulate"). */
export interface SimExportPoints {
  /** Swept parameter names, in grid order. */
  readonly sweep: readonly string[];
  /** Every point's parameters (fixed and swept), by point index. */
  readonly points: readonly Readonly<Record<string, unknown>>[];
}

const quoted = (s: string) => s.replace(/'/gu, "''");
const ident = (s: string) => `"${s.replace(/"/gu, '""')}"`;

async function copy(store: Store, query: string, params: (string | number | boolean | null)[], file: string, format: ExportFormat): Promise<void> {
  const fmt = format === "jsonl" ? "JSON" : format.toUpperCase();
  try {
    await store.query(`COPY (${query}) TO '${quoted(file)}' (FORMAT ${fmt})`, params);
  } catch (e) {
    throw new CivitasError("store", `could not write ${file}: ${messageOf(e)}`, { cause: e });
  }
}

/**
 * The points' swept values as a VALUES table (point, param_<name>...): numbers stay numbers when
 * every value of the parameter is one, else everything is text.
 */
function pointsTable(p: SimExportPoints, params: (string | number | boolean | null)[]): { sql: string; columns: string[]; numeric: boolean[] } {
  const columns = p.sweep.map((n) => `param_${n}`);
  const numeric = p.sweep.map((n) => p.points.every((pt) => typeof pt[n] === "number"));
  const rows = p.points.map((pt, i) => {
    const cells = [`${i}::INTEGER`];
    p.sweep.forEach((n, k) => {
      const v = pt[n];
      params.push(v === undefined || v === null ? null : numeric[k] ? Number(v) : String(v));
      cells.push(`$${params.length}::${numeric[k] ? "DOUBLE" : "VARCHAR"}`);
    });
    return `(${cells.join(", ")})`;
  });
  if (rows.length === 0) rows.push(`(${["NULL::INTEGER", ...columns.map(() => "NULL")].join(", ")})`);
  return { sql: `(VALUES ${rows.join(", ")}) AS p(point${columns.map((c) => `, ${ident(c)}`).join("")})`, columns, numeric };
}

/**
 * Writes a simulation's metric series, one row per point x seed x step x metric: run, point, the
 * swept parameters (`param_<name>`), seed, step, metric, value (null where the value was not a
 * number). Returns the number of rows.
 */
export async function exportSimMetrics(store: Store, runId: string, file: string, format: ExportFormat, points: SimExportPoints): Promise<number> {
  const params: (string | number | boolean | null)[] = [runId];
  const t = pointsTable(points, params);
  const text = (expr: string) => (format === "csv" ? csvText(expr) : expr);
  const param = (c: string, k: number) => (t.numeric[k] ? `p.${ident(c)}` : `${text(`p.${ident(c)}`)} AS ${ident(c)}`);
  const query = `SELECT ${text("m.run_id")} AS run, m.point${t.columns.map((c, k) => `, ${param(c, k)}`).join("")}, m.seed, m.step, ${text("m.metric")} AS metric, m.value
    FROM sim_metrics m LEFT JOIN ${t.sql} ON p.point = m.point
    WHERE m.run_id = $1
    ORDER BY m.point, m.seed, m.step, m.metric`;
  await copy(store, query, params, file, format);
  return countOf(store, "sim_metrics", runId);
}

/**
 * Writes a model-driven simulation's recorded calls, in call order per point and seed: run, point,
 * seed, call, step, agent, and the request it was answered by (prompt, labels, label mass, raw
 * answer). Lists are JSON text in CSV. Returns the number of rows.
 */
export async function exportSimCalls(store: Store, runId: string, file: string, format: ExportFormat): Promise<number> {
  const text = (expr: string) => (format === "csv" ? csvText(expr) : expr);
  const list = (col: string) => (format === "csv" ? text(`to_json(${col})::VARCHAR`) : col);
  const query = `SELECT ${text("c.run_id")} AS run, c.point, c.seed, c.call, c.step, c.agent, ${text("r.method")} AS method, ${text("r.prompt")} AS prompt,
      ${list("r.labels")} AS labels, ${list("r.label_mass")} AS label_mass, r.coverage, ${format === "csv" ? text("r.raw::VARCHAR") : "r.raw"} AS raw
    FROM sim_calls c LEFT JOIN requests r ON r.key = c.request_key
    WHERE c.run_id = $1
    ORDER BY c.point, c.seed, c.call`;
  await copy(store, query, [runId], file, format);
  return countOf(store, "sim_calls", runId);
}

/** Rows a simulation run has in sim_metrics or sim_calls. */
export async function countOf(store: Store, table: "sim_metrics" | "sim_calls", runId: string): Promise<number> {
  const rows = await store.query(`SELECT count(*) AS n FROM ${table} WHERE run_id = $1`, [runId]);
  return Number(rows[0]?.n ?? 0);
}
