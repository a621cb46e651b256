/**
 * The DuckDB store: one file holding every run, the request cache, every answer and every score.
 *
 * Answers are written as they arrive, in small transactions (group commit: whatever arrived while
 * the previous write was in flight goes in the next one), so a process killed at any moment loses
 * at most the answers of the write in flight, and a rerun asks the model only for what is missing.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { CivitasError, messageOf } from "../errors.js";
import type { ConstraintMode } from "../models/index.js";

export const DEFAULT_STORE = path.join(".civitas", "civitas.duckdb");
const SCHEMA_VERSION = "3";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
  id VARCHAR PRIMARY KEY,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  command VARCHAR NOT NULL,
  suite VARCHAR NOT NULL,
  model VARCHAR NOT NULL,
  metric VARCHAR NOT NULL,
  status VARCHAR NOT NULL,
  config JSON NOT NULL,
  summary JSON,
  error VARCHAR
);
CREATE TABLE IF NOT EXISTS requests (
  key VARCHAR PRIMARY KEY,
  model VARCHAR NOT NULL,
  method VARCHAR NOT NULL,
  prompt VARCHAR NOT NULL,
  labels VARCHAR[] NOT NULL,
  params JSON NOT NULL,
  label_mass DOUBLE[] NOT NULL,
  coverage DOUBLE NOT NULL,
  raw JSON NOT NULL,
  mode VARCHAR NOT NULL,
  prompt_tokens INTEGER,
  latency_ms DOUBLE NOT NULL,
  created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (
  run_id VARCHAR NOT NULL,
  question_id VARCHAR NOT NULL,
  variant VARCHAR NOT NULL,
  persona VARCHAR NOT NULL,
  method VARCHAR NOT NULL,
  request_key VARCHAR NOT NULL,
  options VARCHAR[] NOT NULL,
  distribution DOUBLE[],
  coverage DOUBLE NOT NULL,
  status VARCHAR NOT NULL,
  mode VARCHAR NOT NULL,
  cache_hit BOOLEAN NOT NULL,
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (run_id, question_id, variant, persona, method)
);
CREATE TABLE IF NOT EXISTS sim_metrics (
  run_id VARCHAR NOT NULL,
  point INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  step INTEGER NOT NULL,
  metric VARCHAR NOT NULL,
  value DOUBLE,
  PRIMARY KEY (run_id, point, seed, step, metric)
);
CREATE TABLE IF NOT EXISTS sim_calls (
  run_id VARCHAR NOT NULL,
  point INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  call INTEGER NOT NULL,
  step INTEGER NOT NULL,
  agent INTEGER NOT NULL,
  request_key VARCHAR NOT NULL,
  PRIMARY KEY (run_id, point, seed, call)
);
CREATE TABLE IF NOT EXISTS scores (
  run_id VARCHAR NOT NULL,
  method VARCHAR NOT NULL,
  steered BOOLEAN NOT NULL,
  question_id VARCHAR NOT NULL,
  population VARCHAR NOT NULL,
  metric VARCHAR NOT NULL,
  model_distance DOUBLE NOT NULL,
  uniform_distance DOUBLE NOT NULL,
  human_distance DOUBLE,
  noise_distance DOUBLE,
  human_n INTEGER,
  PRIMARY KEY (run_id, method, steered, question_id, population)
);
`;

/**
 * Version 1 (the first release) had no elicitation methods: every request and answer was
 * `logprobs`, the raw response was a `top` column, and scores had no method. Answers move to a
 * table with the new key; scores are derived data and are recomputed when a run is shown again.
 */
const MIGRATE_1_TO_2 = `
ALTER TABLE requests RENAME COLUMN top TO raw;
ALTER TABLE requests ADD COLUMN method VARCHAR DEFAULT 'logprobs';
ALTER TABLE requests ADD COLUMN mode VARCHAR DEFAULT 'none';
CREATE TABLE answers_v2 AS SELECT run_id, question_id, variant, persona, 'logprobs' AS method, request_key, options,
  distribution, coverage, status, 'none' AS mode, cache_hit, created_at FROM answers;
DROP TABLE answers;
DROP TABLE scores;
`;

/** The elicitation methods (Meister et al. 2024). */
export type Method = "logprobs" | "sample" | "verbalize";

/** A cached model response to one prompt. */
export interface RequestRow {
  readonly key: string;
  readonly model: string;
  readonly method: Method;
  readonly prompt: string;
  readonly labels: readonly string[];
  readonly params: Readonly<Record<string, unknown>>;
  /**
   * Per label, in the order shown: next-token probability (logprobs), count of samples (sample),
   * or the stated share (verbalize).
   */
  readonly labelMass: readonly number[];
  /** Share of the response that named a valid label: probability mass, parsed samples, or 1/0 for a valid/invalid statement. */
  readonly coverage: number;
  /** What the model said: top tokens (logprobs), the texts and their parse (sample, verbalize). */
  readonly raw: unknown;
  /** How decoding was constrained. */
  readonly mode: ConstraintMode;
  readonly promptTokens: number | null;
  readonly latencyMs: number;
}

/** Why an answer is not scored, or "scored". */
export type AnswerStatus = "scored" | "low_coverage" | "off_format" | "only_refusal";

/** The model's answer to one question, as a run saw it. */
export interface AnswerRow {
  readonly runId: string;
  readonly questionId: string;
  readonly variant: string;
  readonly persona: string;
  readonly method: Method;
  readonly requestKey: string;
  /** Options in survey order. */
  readonly options: readonly string[];
  /** Distribution over `options` (survey order), renormalised over the label mass; null when none fell on a label. */
  readonly distribution: readonly number[] | null;
  readonly coverage: number;
  readonly status: AnswerStatus;
  readonly mode: ConstraintMode;
  readonly cacheHit: boolean;
}

export interface ScoreRow {
  readonly method: Method;
  /** Answers under the population's steering persona (true) or without a persona. */
  readonly steered: boolean;
  readonly questionId: string;
  readonly population: string;
  readonly metric: string;
  readonly modelDistance: number;
  readonly uniformDistance: number;
  readonly humanDistance: number | null;
  readonly noiseDistance: number | null;
  readonly humanN: number | null;
}

export type RunStatus = "running" | "done" | "failed";

export interface RunRow {
  readonly id: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly command: string;
  readonly suite: string;
  readonly model: string;
  readonly metric: string;
  readonly status: RunStatus;
  readonly config: unknown;
  readonly summary: unknown;
  readonly error: string | null;
}

export interface OpenOptions {
  /** Open for reading only (several readers may share a file; no writer may hold it). */
  readonly readOnly?: boolean;
}

const json = (v: unknown): string => JSON.stringify(v);

export class Store {
  private writeChain: Promise<void> = Promise.resolve();

  private constructor(
    readonly file: string,
    private readonly instance: DuckDBInstance,
    private readonly con: DuckDBConnection,
  ) {}

  static async open(file: string, options: OpenOptions = {}): Promise<Store> {
    const readOnly = options.readOnly ?? false;
    if (!readOnly) {
      try {
        await mkdir(path.dirname(path.resolve(file)), { recursive: true });
      } catch (e) {
        throw new CivitasError("store", `cannot create the folder for the store ${file}: ${messageOf(e)}`, { cause: e });
      }
    }
    let instance: DuckDBInstance;
    try {
      // One DuckDB thread: the store's work is small writes beside a model that wants the cores
      // (measured with bench/eval-throughput: 2 threads cost the model ~4% on a 2-core machine).
      instance = await DuckDBInstance.create(file, readOnly ? { access_mode: "READ_ONLY", threads: "1" } : { threads: "1" });
    } catch (e) {
      const msg = messageOf(e);
      if (/lock/iu.test(msg)) {
        throw new CivitasError("store", `the store ${file} is in use by another process`, {
          hint: "wait for the other civitas command to finish, or pass --store to use another file",
          cause: e,
        });
      }
      if (readOnly && /no such file|does not exist|cannot open/iu.test(msg)) {
        throw new CivitasError("store", `no store at ${file}`, {
          hint: "run `civitas eval` first, or pass --store with the file it used",
          cause: e,
        });
      }
      throw new CivitasError("store", `cannot open the store ${file}: ${msg}`, { cause: e });
    }
    const con = await instance.connect();
    const store = new Store(file, instance, con);
    if (!readOnly) await store.migrate();
    else {
      const v = await store.schemaVersion();
      if (v !== SCHEMA_VERSION) {
        await store.close();
        if (v !== null && Number(v) < Number(SCHEMA_VERSION)) {
          // Written by an older civitas: upgrade it once (this needs write access), then read.
          await (await Store.open(file)).close();
          return Store.open(file, options);
        }
        throw v === null ? new CivitasError("store", `${file} is not a civitas store`) : store.versionError(v);
      }
    }
    return store;
  }

  private async schemaVersion(): Promise<string | null> {
    const t = await this.con.runAndReadAll("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'meta'");
    if (Number(t.getRowObjectsJS()[0]!.n) === 0) return null;
    const r = await this.con.runAndReadAll("SELECT value FROM meta WHERE key = 'schema_version'");
    const rows = r.getRowObjectsJS();
    return rows.length === 0 ? null : String(rows[0]!.value);
  }

  private async migrate(): Promise<void> {
    const version = await this.schemaVersion();
    if (version === null) {
      await this.con.run(SCHEMA);
      await this.con.run("INSERT INTO meta VALUES ('schema_version', $1)", [SCHEMA_VERSION]);
    } else if (version === "1" || version === "2") {
      // 1 -> 2: answers and requests gain the method. 2 -> 3: simulation tables (new, created by SCHEMA).
      await this.con.run("BEGIN TRANSACTION");
      try {
        if (version === "1") await this.con.run(MIGRATE_1_TO_2);
        await this.con.run(SCHEMA);
        if (version === "1") await this.con.run("INSERT INTO answers SELECT * FROM answers_v2; DROP TABLE answers_v2;");
        await this.con.run("UPDATE meta SET value = $1 WHERE key = 'schema_version'", [SCHEMA_VERSION]);
        await this.con.run("COMMIT");
      } catch (e) {
        await this.con.run("ROLLBACK").catch(() => undefined);
        throw new CivitasError("store", `could not upgrade the store ${this.file} from version ${version}: ${messageOf(e)}`, { cause: e });
      }
    } else if (version !== SCHEMA_VERSION) {
      throw this.versionError(version);
    } else {
      await this.con.run(SCHEMA);
    }
  }

  private versionError(version: string): CivitasError {
    return Number(version) > Number(SCHEMA_VERSION)
      ? new CivitasError("store", `the store ${this.file} was written by a newer civitas (schema ${version}; this one reads ${SCHEMA_VERSION})`, {
          hint: "update civitas, or pass --store to use another file",
        })
      : new CivitasError("store", `the store ${this.file} was written by an older civitas (schema ${version})`, {
          hint: "run any `civitas eval` with this --store once to upgrade it",
        });
  }

  /** Serialises writes: DuckDB runs one transaction per connection at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.writeChain.then(fn);
    this.writeChain = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  private async transaction(fn: () => Promise<void>): Promise<void> {
    await this.serial(async () => {
      await this.con.run("BEGIN TRANSACTION");
      try {
        await fn();
        await this.con.run("COMMIT");
      } catch (e) {
        await this.con.run("ROLLBACK").catch(() => undefined);
        throw new CivitasError("store", `could not write to the store ${this.file}: ${messageOf(e)}`, { cause: e });
      }
    });
  }

  // ---- runs ---------------------------------------------------------------------------------

  /** Creates the run, or marks an existing one (a resumed run) as running again. */
  async beginRun(run: { id: string; command: string; suite: string; model: string; metric: string; config: unknown }): Promise<"new" | "resumed"> {
    const existing = await this.getRun(run.id);
    await this.serial(async () => {
      if (existing) {
        await this.con.run("UPDATE runs SET status = 'running', updated_at = now(), error = NULL WHERE id = $1", [run.id]);
      } else {
        await this.con.run(
          "INSERT INTO runs VALUES ($1, now(), now(), $2, $3, $4, $5, 'running', $6::JSON, NULL, NULL)",
          [run.id, run.command, run.suite, run.model, run.metric, json(run.config)],
        );
      }
    });
    return existing ? "resumed" : "new";
  }

  async finishRun(id: string, summary: unknown): Promise<void> {
    await this.serial(() =>
      this.con.run("UPDATE runs SET status = 'done', updated_at = now(), summary = $2::JSON, error = NULL WHERE id = $1", [id, json(summary)]),
    );
  }

  async failRun(id: string, error: string): Promise<void> {
    await this.serial(() => this.con.run("UPDATE runs SET status = 'failed', updated_at = now(), error = $2 WHERE id = $1", [id, error]));
  }

  async getRun(id: string): Promise<RunRow | undefined> {
    const rows = await this.queryRuns("WHERE id = $1", [id]);
    return rows[0];
  }

  /** A run by id or unique id prefix. */
  async findRun(idOrPrefix: string): Promise<RunRow> {
    const rows = await this.queryRuns("WHERE starts_with(id, $1) ORDER BY created_at", [idOrPrefix]);
    if (rows.length === 1) return rows[0]!;
    if (rows.length === 0) {
      throw new CivitasError("usage", `no run "${idOrPrefix}" in ${this.file}`, { hint: "`civitas runs list` shows the runs" });
    }
    throw new CivitasError("usage", `"${idOrPrefix}" matches ${rows.length} runs: ${rows.map((r) => r.id).join(", ")}`, {
      hint: "give more characters of the run id",
    });
  }

  async listRuns(): Promise<RunRow[]> {
    return this.queryRuns("ORDER BY created_at DESC", []);
  }

  private async queryRuns(where: string, params: string[]): Promise<RunRow[]> {
    const r = await this.con.runAndReadAll(
      `SELECT id, created_at, updated_at, command, suite, model, metric, status, config::VARCHAR AS config, summary::VARCHAR AS summary, error FROM runs ${where}`,
      params,
    );
    return r.getRowObjectsJS().map((row) => ({
      id: String(row.id),
      createdAt: row.created_at as Date,
      updatedAt: row.updated_at as Date,
      command: String(row.command),
      suite: String(row.suite),
      model: String(row.model),
      metric: String(row.metric),
      status: String(row.status) as RunStatus,
      config: JSON.parse(String(row.config)) as unknown,
      summary: row.summary === null ? null : (JSON.parse(String(row.summary)) as unknown),
      error: row.error === null ? null : String(row.error),
    }));
  }

  // ---- request cache ------------------------------------------------------------------------

  /** Cached responses for the given keys (missing keys are absent from the map). */
  async lookupRequests(keys: readonly string[]): Promise<Map<string, RequestRow>> {
    const out = new Map<string, RequestRow>();
    if (keys.length === 0) return out;
    const r = await this.con.runAndReadAll(
      `SELECT key, model, method, prompt, labels, params::VARCHAR AS params, label_mass, coverage, raw::VARCHAR AS raw, mode, prompt_tokens, latency_ms
       FROM requests WHERE key IN (SELECT unnest($1::JSON::VARCHAR[]))`,
      [json(keys)],
    );
    for (const row of r.getRowObjectsJS()) {
      out.set(String(row.key), {
        key: String(row.key),
        model: String(row.model),
        method: String(row.method) as Method,
        prompt: String(row.prompt),
        labels: row.labels as string[],
        params: JSON.parse(String(row.params)) as Record<string, unknown>,
        labelMass: row.label_mass as number[],
        coverage: Number(row.coverage),
        raw: JSON.parse(String(row.raw)) as unknown,
        mode: String(row.mode) as ConstraintMode,
        promptTokens: row.prompt_tokens === null ? null : Number(row.prompt_tokens),
        latencyMs: Number(row.latency_ms),
      });
    }
    return out;
  }

  // ---- answers ------------------------------------------------------------------------------

  /** Writes new cache entries and answers in one transaction. Existing rows are kept as they are. */
  async writeAnswers(requests: readonly RequestRow[], answers: readonly AnswerRow[]): Promise<void> {
    if (requests.length === 0 && answers.length === 0) return;
    await this.transaction(async () => {
      for (let i = 0; i < requests.length; i += 200) {
        const chunk = requests.slice(i, i + 200);
        const params: (string | number | null)[] = [];
        const tuples = chunk.map((q) => {
          const o = params.length;
          params.push(q.key, q.model, q.method, q.prompt, json(q.labels), json(q.params), json(q.labelMass), q.coverage, json(q.raw), q.mode, q.promptTokens, q.latencyMs);
          return `($${o + 1}, $${o + 2}, $${o + 3}, $${o + 4}, $${o + 5}::JSON::VARCHAR[], $${o + 6}::JSON, $${o + 7}::JSON::DOUBLE[], $${o + 8}, $${o + 9}::JSON, $${o + 10}, $${o + 11}, $${o + 12}, now())`;
        });
        await this.con.run(`INSERT OR IGNORE INTO requests VALUES ${tuples.join(", ")}`, params);
      }
      for (let i = 0; i < answers.length; i += 200) {
        const chunk = answers.slice(i, i + 200);
        const params: (string | number | boolean | null)[] = [];
        const tuples = chunk.map((a) => {
          const o = params.length;
          params.push(
            a.runId,
            a.questionId,
            a.variant,
            a.persona,
            a.method,
            a.requestKey,
            json(a.options),
            a.distribution === null ? null : json(a.distribution),
            a.coverage,
            a.status,
            a.mode,
            a.cacheHit,
          );
          return `($${o + 1}, $${o + 2}, $${o + 3}, $${o + 4}, $${o + 5}, $${o + 6}, $${o + 7}::JSON::VARCHAR[], $${o + 8}::JSON::DOUBLE[], $${o + 9}, $${o + 10}, $${o + 11}, $${o + 12}, now())`;
        });
        await this.con.run(`INSERT OR IGNORE INTO answers VALUES ${tuples.join(", ")}`, params);
      }
    });
  }

  /**
   * A run's answers, in the order they were stored. `filter` narrows them in the database (a report
   * page on a run of a million answers reads only what it shows): one method or persona, and the
   * answers of the first `questions` questions (by question id).
   */
  async answers(runId: string, filter: { readonly method?: string; readonly persona?: string; readonly questions?: number } = {}): Promise<AnswerRow[]> {
    const where = ["run_id = $1"];
    const params: (string | number)[] = [runId];
    if (filter.method !== undefined) {
      params.push(filter.method);
      where.push(`method = $${params.length}`);
    }
    if (filter.persona !== undefined) {
      params.push(filter.persona);
      where.push(`persona = $${params.length}`);
    }
    if (filter.questions !== undefined) {
      params.push(filter.questions);
      where.push(`question_id IN (SELECT DISTINCT question_id FROM answers WHERE ${where.join(" AND ")} ORDER BY question_id LIMIT $${params.length})`);
    }
    const r = await this.con.runAndReadAll(
      `SELECT run_id, question_id, variant, persona, method, request_key, options, distribution, coverage, status, mode, cache_hit
       FROM answers WHERE ${where.join(" AND ")} ORDER BY created_at, question_id, variant, persona, method`,
      params,
    );
    return r.getRowObjectsJS().map((row) => ({
      runId: String(row.run_id),
      questionId: String(row.question_id),
      variant: String(row.variant),
      persona: String(row.persona),
      method: String(row.method) as Method,
      requestKey: String(row.request_key),
      options: row.options as string[],
      distribution: row.distribution === null ? null : (row.distribution as number[]),
      coverage: Number(row.coverage),
      status: String(row.status) as AnswerStatus,
      mode: String(row.mode) as ConstraintMode,
      cacheHit: Boolean(row.cache_hit),
    }));
  }

  async countAnswers(runId: string): Promise<number> {
    const r = await this.con.runAndReadAll("SELECT count(*) AS n FROM answers WHERE run_id = $1", [runId]);
    return Number(r.getRowObjectsJS()[0]!.n);
  }

  // ---- scores -------------------------------------------------------------------------------

  /** Replaces the scores of a run. */
  async writeScores(runId: string, scores: readonly ScoreRow[]): Promise<void> {
    await this.transaction(async () => {
      await this.con.run("DELETE FROM scores WHERE run_id = $1", [runId]);
      for (let i = 0; i < scores.length; i += 500) {
        const chunk = scores.slice(i, i + 500);
        const params: (string | number | boolean | null)[] = [];
        const tuples = chunk.map((s) => {
          const o = params.length;
          params.push(runId, s.method, s.steered, s.questionId, s.population, s.metric, s.modelDistance, s.uniformDistance, s.humanDistance, s.noiseDistance, s.humanN);
          return `($${o + 1}, $${o + 2}, $${o + 3}, $${o + 4}, $${o + 5}, $${o + 6}, $${o + 7}, $${o + 8}, $${o + 9}, $${o + 10}, $${o + 11})`;
        });
        await this.con.run(`INSERT INTO scores VALUES ${tuples.join(", ")}`, params);
      }
    });
  }

  // ---- export -------------------------------------------------------------------------------

  /**
   * Writes a run's answers to a file with DuckDB's COPY. Each row: run, question, variant,
   * persona, options and distribution (survey order), coverage, status, cache_hit, and for
   * convenience the prompt's top tokens. CSV gets lists as JSON text; JSONL and Parquet keep them as lists.
   *
   * CSV is opened in spreadsheets, which run a cell starting with = + - @ TAB or CR as a formula
   * (`=HYPERLINK(...)` in a survey's question id, an option, a prompt): such a text cell gets a
   * leading ' (OWASP, "CSV Injection"). A text cell that is a plain number ("-1", "+2.5e3") is no
   * formula and stays as it is; number columns are never touched.
   */
  async exportAnswers(runId: string, file: string, format: "csv" | "jsonl" | "parquet"): Promise<number> {
    const text = (expr: string) =>
      format === "csv"
        ? `CASE WHEN regexp_matches(${expr}, '^[=+\\-@\\t\\r]') AND NOT regexp_matches(${expr}, '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$') THEN '''' || ${expr} ELSE ${expr} END`
        : expr;
    const list = (col: string) => (format === "csv" ? text(`to_json(${col})::VARCHAR`) : col);
    const query = `SELECT ${text("a.run_id")} AS run, ${text("a.question_id")} AS question, ${text("a.variant")} AS variant, ${text("a.persona")} AS persona, ${text("a.method")} AS method,
        ${list("a.options")} AS options, ${list("a.distribution")} AS distribution,
        a.coverage, ${text("a.status")} AS status, ${text("a.mode")} AS mode, a.cache_hit, ${text("r.prompt")} AS prompt, ${list("r.labels")} AS labels, ${list("r.label_mass")} AS label_mass,
        ${format === "csv" ? text("r.raw::VARCHAR") : "r.raw"} AS raw
      FROM answers a LEFT JOIN requests r ON r.key = a.request_key
      WHERE a.run_id = '${runId.replace(/'/gu, "''")}'
      ORDER BY a.question_id, a.variant, a.persona, a.method`;
    const fmt = format === "jsonl" ? "JSON" : format.toUpperCase();
    const target = file.replace(/'/gu, "''");
    try {
      await this.con.run(`COPY (${query}) TO '${target}' (FORMAT ${fmt})`);
    } catch (e) {
      throw new CivitasError("store", `could not write ${file}: ${messageOf(e)}`, { cause: e });
    }
    return this.countAnswers(runId);
  }

  // ---- simulations --------------------------------------------------------------------------

  /** Metrics of one simulation (point of the sweep, seed), every recorded step. Replaces what the run had for it. */
  async writeSimMetrics(runId: string, point: number, seed: number, series: readonly { step: number; metrics: Readonly<Record<string, number>> }[]): Promise<void> {
    const rows = series.flatMap(({ step, metrics }) => Object.entries(metrics).map(([metric, value]) => [step, metric, value] as const));
    await this.transaction(async () => {
      await this.con.run("DELETE FROM sim_metrics WHERE run_id = $1 AND point = $2 AND seed = $3", [runId, point, seed]);
      for (let i = 0; i < rows.length; i += 500) {
        const chunk = rows.slice(i, i + 500);
        const params: (string | number | null)[] = [];
        const tuples = chunk.map(([step, metric, value]) => {
          const o = params.length;
          params.push(runId, point, seed, step, metric, Number.isFinite(value) ? value : null);
          return `($${o + 1}, $${o + 2}, $${o + 3}, $${o + 4}, $${o + 5}, $${o + 6})`;
        });
        await this.con.run(`INSERT INTO sim_metrics VALUES ${tuples.join(", ")}`, params);
      }
    });
  }

  /** The stored metrics of a simulation run, ordered by point, seed, step. */
  async simMetrics(runId: string): Promise<{ point: number; seed: number; step: number; metric: string; value: number | null }[]> {
    const rows = await this.query("SELECT point, seed, step, metric, value FROM sim_metrics WHERE run_id = $1 ORDER BY point, seed, step, metric", [runId]);
    return rows.map((r) => ({ point: Number(r.point), seed: Number(r.seed), step: Number(r.step), metric: String(r.metric), value: r.value === null ? null : Number(r.value) }));
  }

  /**
   * Records model calls of a simulation, in order, with the request cache entries they answered
   * from (new ones are added): the record that `--replay` reruns a simulation from.
   */
  async writeSimCalls(
    runId: string,
    calls: readonly { point: number; seed: number; call: number; step: number; agent: number; requestKey: string }[],
    requests: readonly RequestRow[],
  ): Promise<void> {
    if (calls.length === 0 && requests.length === 0) return;
    await this.writeAnswers(requests, []);
    await this.transaction(async () => {
      for (let i = 0; i < calls.length; i += 500) {
        const chunk = calls.slice(i, i + 500);
        const params: (string | number)[] = [];
        const tuples = chunk.map((c) => {
          const o = params.length;
          params.push(runId, c.point, c.seed, c.call, c.step, c.agent, c.requestKey);
          return `($${o + 1}, $${o + 2}, $${o + 3}, $${o + 4}, $${o + 5}, $${o + 6}, $${o + 7})`;
        });
        await this.con.run(`INSERT OR REPLACE INTO sim_calls VALUES ${tuples.join(", ")}`, params);
      }
    });
  }

  /** The recorded calls of a simulation (point, seed), in call order. */
  async simCalls(runId: string, point: number, seed: number): Promise<{ call: number; step: number; agent: number; requestKey: string }[]> {
    const rows = await this.query("SELECT call, step, agent, request_key FROM sim_calls WHERE run_id = $1 AND point = $2 AND seed = $3 ORDER BY call", [runId, point, seed]);
    return rows.map((r) => ({ call: Number(r.call), step: Number(r.step), agent: Number(r.agent), requestKey: String(r.request_key) }));
  }

  /** Runs a read query (ad-hoc inspection, tests) and returns plain JS rows. */
  async query(sql: string, params: (string | number | boolean | null)[] = []): Promise<Record<string, unknown>[]> {
    const r = await this.con.runAndReadAll(sql, params);
    return r.getRowObjectsJS() as Record<string, unknown>[];
  }

  async close(): Promise<void> {
    await this.writeChain;
    this.con.closeSync();
    this.instance.closeSync();
  }
}
