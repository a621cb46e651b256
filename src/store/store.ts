/**
 * The DuckDB store: one file holding every run, the request cache, every answer and every score.
 *
 * Several processes share one store (two evals and a viewer, say): no process keeps the file
 * open for long (src/store/handle.ts). Long-running commands write answers in batches
 * (src/store/batch.ts), so a process killed at any moment loses at most the answers of the last
 * batch, and a rerun asks the model only for what is missing.
 *
 * Every command that works on a run is an invocation of it: the run keeps its first complete
 * result, and each invocation is recorded apart (its command line, process, progress, outcome).
 * A run whose invocation's process has died is reported as interrupted, not running.
 */
import { mkdir, stat } from "node:fs/promises";
import path from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";
import { CivitasError, isCivitasError, messageOf } from "../errors.js";
import type { ConstraintMode, Served } from "../models/index.js";
import { checkResult, listNumbers, readRunResult, resultJson, RUN_KINDS, type ResultOf, type RunKind, type RunResult } from "../results/index.js";
import { csvText } from "./csv.js";
import { fileKind } from "./file-kind.js";
import { damagedError, handleFor, HOST, isDamagedError, isStoreBusy, type Access, type FileHandle, type UseOptions } from "./handle.js";

export const DEFAULT_STORE = path.join(".civitas", "civitas.duckdb");
const SCHEMA_VERSION = "6";

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
  error VARCHAR,
  final BOOLEAN NOT NULL DEFAULT false,
  kind VARCHAR DEFAULT 'eval',
  n_questions BIGINT,
  n_answers BIGINT,
  alignment DOUBLE
);
CREATE TABLE IF NOT EXISTS invocations (
  run_id VARCHAR NOT NULL,
  n INTEGER NOT NULL,
  command VARCHAR NOT NULL,
  host VARCHAR NOT NULL,
  pid INTEGER NOT NULL,
  started_at TIMESTAMP NOT NULL,
  heartbeat_at TIMESTAMP NOT NULL,
  ended_at TIMESTAMP,
  status VARCHAR NOT NULL,
  done BIGINT,
  total BIGINT,
  counts JSON,
  error VARCHAR,
  PRIMARY KEY (run_id, n)
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
  created_at TIMESTAMP NOT NULL,
  served_model VARCHAR,
  system_fingerprint VARCHAR
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

/**
 * Version 4 records invocations (a table of its own, created by SCHEMA) and whether a run's
 * result is final: runs finished before are.
 *
 * Version 5 records each run's kind (eval, simulate, aggregate: runs before it are simulations
 * when their suite is sim:<name>, else evals) and the numbers a list of runs shows (scored
 * questions, answers, mean alignment), taken from the run's result when it is stored: a list
 * reads them without reading results. Older stores get them from their stored results
 * (`fillListNumbers`).
 *
 * The runs table is rebuilt rather than altered: DuckDB refuses to commit a transaction that
 * adds several columns to a table and then updates it. `MOVE_RUNS` sets the old table aside
 * before SCHEMA creates the new one, `refillRuns` copies the rows back.
 */
const MOVE_RUNS = "CREATE TABLE runs_old AS SELECT * FROM runs; DROP TABLE runs;";
const RUNS_V1_COLUMNS = "id, created_at, updated_at, command, suite, model, metric, status, config, summary, error";
const refillRuns = (version: string) => `
INSERT INTO runs (${RUNS_V1_COLUMNS}, final, kind)
  SELECT ${RUNS_V1_COLUMNS}, ${version === "4" ? "final" : "status = 'done'"}, CASE WHEN starts_with(suite, 'sim:') THEN 'simulate' ELSE 'eval' END FROM runs_old;
DROP TABLE runs_old;
`;

/**
 * Version 6 records what a server reported running with each cached answer (its `model` and
 * `system_fingerprint`): two columns added to requests, null for answers stored before.
 */
const MIGRATE_TO_6 = `
ALTER TABLE requests ADD COLUMN IF NOT EXISTS served_model VARCHAR;
ALTER TABLE requests ADD COLUMN IF NOT EXISTS system_fingerprint VARCHAR;
`;

/** The columns of a request row as written (by name: stores upgraded from version 1 hold them in another order). */
const REQUEST_COLUMNS = "key, model, method, prompt, labels, params, label_mass, coverage, raw, mode, prompt_tokens, latency_ms, created_at, served_model, system_fingerprint";
const ANSWER_COLUMNS = "run_id, question_id, variant, persona, method, request_key, options, distribution, coverage, status, mode, cache_hit, created_at";

/** The elicitation methods (Meister et al. 2024). */
export type Method = "logprobs" | "sample" | "verbalize" | "sequence";

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
  /** What the server reported running (hosted models); absent or null when it did not say. */
  readonly served?: Served | null;
  /** When the answer was stored (rows read from the store). */
  readonly createdAt?: Date;
}

/** The request cache of one model, as `civitas cache list` shows it. */
export interface CacheModelRow {
  /** The model's identity (openai:<model-id>, llama:<file>#<fingerprint>, ...). */
  readonly model: string;
  readonly answers: number;
  readonly oldest: Date;
  readonly newest: Date;
  /** The models the server reported running for these answers (hosted models), most answers first. */
  readonly served: readonly string[];
  /** Runs with answers from this cache. */
  readonly runs: number;
}

/** Which cached answers `civitas cache prune` removes: all conditions hold. */
export interface PruneFilter {
  /** Stored before this time. */
  readonly olderThan?: Date;
  /** Of this model identity (exact), or of identities matching it with `*` as a wildcard. */
  readonly model?: string;
}

export interface PruneResult {
  /** Cached answers removed (or, dry run, that would be). */
  readonly removed: number;
  /** Runs whose answers came from them: their answers and results stay; their prompts and raw responses are gone. */
  readonly runs: readonly string[];
  /** Simulation runs whose recorded calls they answered: those can no longer be replayed. */
  readonly replays: readonly string[];
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

/**
 * running: a live process works on it; done: it has its result; failed: its last invocation
 * stopped on an error; interrupted: stopped by the user, or its process died (kill -9, a crash,
 * a reboot) and the same command resumes it.
 */
/** What one write carries (see writeBatch). */
export interface Batch {
  readonly requests?: readonly RequestRow[];
  readonly answers?: readonly AnswerRow[];
  readonly simCalls?: readonly { runId: string; point: number; seed: number; call: number; step: number; agent: number; requestKey: string }[];
  /** Runs whose invocation's heartbeat and progress go with this write. */
  readonly beats?: readonly string[];
  /**
   * Replace cache entries and answers with the same keys (answers asked again: --no-cache, an
   * expired cache) instead of keeping what is stored. Default false.
   */
  readonly replace?: boolean;
}

export type RunStatus = "running" | "done" | "failed" | "interrupted";

interface RunRowBase {
  readonly id: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** The command line of the invocation that created the run (secrets redacted). */
  readonly command: string;
  readonly suite: string;
  readonly model: string;
  readonly metric: string;
  readonly status: RunStatus;
  readonly config: unknown;
  /** Why its stored result could not be read (results/: a result of a newer civitas, or damaged); its summary is then null. */
  readonly summaryError: string | null;
  /** From the result, for lists (eval runs): scored questions, stored answers, mean alignment. */
  readonly questions: number | null;
  readonly answers: number | null;
  readonly alignment: number | null;
  readonly error: string | null;
  /** How many times a command has worked on it. */
  readonly invocations: number;
  /** Progress of the latest invocation: what is stored of what it planned (answers or simulations). */
  readonly progress: { readonly done: number; readonly total: number } | null;
}

/**
 * A stored run. `summary` is its result, the first complete one, kept as it was (later
 * invocations do not replace it), read through its kind's schema whatever version of civitas
 * stored it (results/); null until it has one.
 */
export type RunRow = RunRowBase & { readonly [K in RunKind]: { readonly kind: K; readonly summary: ResultOf[K] | null } }[RunKind];

/** One command working on a run. */
export interface InvocationRow {
  readonly runId: string;
  /** 1 for the invocation that created the run, then 2, 3, ... */
  readonly n: number;
  readonly command: string;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: Date;
  readonly heartbeatAt: Date;
  readonly endedAt: Date | null;
  readonly status: RunStatus;
  readonly done: number | null;
  readonly total: number | null;
  /** What this invocation did: model calls, cache hits, answers already stored, seconds. */
  readonly counts: unknown;
  readonly error: string | null;
}

/** How often a working invocation says it is alive, and how long a silence means it is not. */
export const HEARTBEAT_MS = 30_000;
export const STALE_MS = 5 * 60_000;

/** Why a run whose process is gone is interrupted. */
const DIED = "its process stopped without finishing (killed, crashed, or the machine restarted)";

/** Whether a process of this machine is alive (signal 0 only checks). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether an invocation marked running still is: its process exists (on this machine) and it
 * has said so within STALE_MS (on any machine sharing the file).
 */
export function invocationAlive(inv: { host: string; pid: number; heartbeatAt: Date }, now = Date.now()): boolean {
  if (now - inv.heartbeatAt.getTime() > STALE_MS) return false;
  return inv.host !== HOST || pidAlive(inv.pid);
}

export interface OpenOptions {
  /** Open for reading only (several readers may share a file; no writer may hold it). */
  readonly readOnly?: boolean;
  /**
   * Create the store's folder if it does not exist (the default store's `.civitas/`). Otherwise a
   * missing folder is an error: a mistyped --store should not silently start a new store.
   */
  readonly createFolder?: boolean;
  /** How long to wait for another process to release the file, in ms (default 5 minutes). */
  readonly waitMs?: number;
  /** How long the file stays open after the last operation, in ms (default 50). */
  readonly idleMs?: number;
  /** Told when an operation has waited for another process for a while. */
  readonly onWait?: (message: string) => void;
}

export const DEFAULT_WAIT_MS = 5 * 60_000;

const json = (v: unknown): string => JSON.stringify(v);

/** The invocation this process has open on a run. */
interface Working {
  readonly n: number;
  done: number | null;
  total: number | null;
  timer: NodeJS.Timeout;
}

/** Latest invocation per run, as queryRuns joins it. */
const LATEST = `(SELECT run_id, n, host, pid, heartbeat_at, done, total FROM invocations
  QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY n DESC) = 1)`;

/** The list numbers of a run with a result (schema 5); a result that cannot be read leaves them null. */
async function fillListNumbers(con: DuckDBConnection): Promise<void> {
  const rows = (await con.runAndReadAll("SELECT id, kind, summary::VARCHAR AS summary FROM runs WHERE summary IS NOT NULL AND kind = 'eval'")).getRowObjectsJS();
  const numbers: { id: string; questions: number | null; answers: number | null; alignment: number | null }[] = [];
  for (const row of rows) {
    try {
      numbers.push({ id: String(row.id), ...listNumbers(readRunResult(String(row.kind) as RunKind, JSON.parse(String(row.summary)), `run ${String(row.id)}`)) });
    } catch {
      // not readable as an eval result: nothing to show in lists
    }
  }
  for (let i = 0; i < numbers.length; i += 500) {
    await con.run(
      `UPDATE runs SET n_questions = v.questions, n_answers = v.answers, alignment = v.alignment
       FROM (SELECT unnest($1::JSON::STRUCT(id VARCHAR, questions BIGINT, answers BIGINT, alignment DOUBLE)[], recursive := true)) AS v WHERE runs.id = v.id`,
      [json(numbers.slice(i, i + 500))],
    );
  }
}

export class Store {
  private readonly handle: FileHandle;
  private readonly use: UseOptions;
  private readonly working = new Map<string, Working>();

  private constructor(
    readonly file: string,
    private readonly readOnly: boolean,
    options: OpenOptions,
  ) {
    this.handle = handleFor(file);
    this.use = {
      waitMs: options.waitMs ?? DEFAULT_WAIT_MS,
      idleMs: options.idleMs ?? 50,
      ...(options.onWait ? { onWait: options.onWait } : {}),
    };
  }

  /**
   * Opens a store: checks what is at the path (a DuckDB file, nothing, or something civitas must
   * not touch), creates or upgrades the schema (writers) or checks its version (readers). The file
   * is then held only while an operation runs.
   */
  static async open(file: string, options: OpenOptions = {}): Promise<Store> {
    const readOnly = options.readOnly ?? false;
    const kind = await fileKind(file).catch((e: unknown) => {
      throw new CivitasError("store", `cannot read the store ${file}: ${messageOf(e)}`, { cause: e });
    });
    if (kind === "directory") {
      throw new CivitasError("usage", `the store ${file} is a folder`, { hint: `give the path of a file in it, e.g. --store ${path.join(file, "civitas.duckdb")}` });
    }
    if (kind === "other") {
      throw new CivitasError("usage", `${file} is not a DuckDB file: civitas will not use it as its store`, {
        hint: "a store is a DuckDB database civitas creates; pass --store with a new file name (e.g. runs.duckdb) or the file an earlier command used",
      });
    }
    if (readOnly && (kind === "missing" || kind === "empty")) {
      throw new CivitasError("store", `no store at ${file}`, { hint: "run `civitas eval` first, or pass --store with the file it used" });
    }
    if (!readOnly && kind === "missing") {
      const folder = path.dirname(path.resolve(file));
      const exists = await stat(folder).then(
        (s) => s.isDirectory(),
        () => false,
      );
      if (!exists) {
        if (!options.createFolder) {
          throw new CivitasError("usage", `the folder of the store ${file} does not exist (${folder})`, {
            hint: `create it first (mkdir -p ${folder}), or check the path given to --store`,
          });
        }
        try {
          await mkdir(folder, { recursive: true });
        } catch (e) {
          throw new CivitasError("store", `cannot create the folder for the store ${file}: ${messageOf(e)}`, { cause: e });
        }
      }
    }
    const store = new Store(file, readOnly, options);
    if (!readOnly) await store.migrate();
    else {
      const v = await store.schemaVersion();
      if (v !== SCHEMA_VERSION) {
        if (v !== null && Number(v) < Number(SCHEMA_VERSION)) {
          // Written by an older civitas: upgrade it once (this needs write access), then read.
          await (await Store.open(file, { ...options, readOnly: false })).close();
          return store;
        }
        throw v === null ? new CivitasError("store", `${file} is a DuckDB file but not a civitas store`, { hint: "pass --store with the file civitas wrote" }) : store.versionError(v);
      }
    }
    return store;
  }

  /**
   * Runs `fn` on a connection, waiting for other processes to release the file (up to `waitMs`,
   * default the store's). DuckDB's word that the file is damaged becomes an error saying so.
   */
  private async with<T>(access: Access, fn: (con: DuckDBConnection) => Promise<T>, waitMs?: number): Promise<T> {
    if (access === "write" && this.readOnly) throw new Error(`the store ${this.file} was opened for reading only`);
    try {
      return await this.handle.use(access, waitMs === undefined ? this.use : { ...this.use, waitMs }, fn);
    } catch (e) {
      if (!isCivitasError(e) && isDamagedError(e)) throw damagedError(this.file, e);
      throw e;
    }
  }

  private read<T>(fn: (con: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.with(this.readOnly ? "read" : "write", fn);
  }

  private async schemaVersion(): Promise<string | null> {
    return this.read(async (con) => {
      const t = await con.runAndReadAll("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'meta'");
      if (Number(t.getRowObjectsJS()[0]!.n) === 0) return null;
      const r = await con.runAndReadAll("SELECT value FROM meta WHERE key = 'schema_version'");
      const rows = r.getRowObjectsJS();
      return rows.length === 0 ? null : String(rows[0]!.value);
    });
  }

  private async migrate(): Promise<void> {
    await this.with("write", async (con) => {
      const t = await con.runAndReadAll("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'meta'");
      let version: string | null = null;
      if (Number(t.getRowObjectsJS()[0]!.n) > 0) {
        const rows = (await con.runAndReadAll("SELECT value FROM meta WHERE key = 'schema_version'")).getRowObjectsJS();
        version = rows.length === 0 ? null : String(rows[0]!.value);
      }
      if (version === null) {
        const others = await con.runAndReadAll("SELECT count(*) AS n FROM information_schema.tables");
        if (Number(others.getRowObjectsJS()[0]!.n) > 0) {
          throw new CivitasError("usage", `${this.file} is a DuckDB database but not a civitas store: civitas will not add its tables to it`, {
            hint: "pass --store with a new file name, or the file an earlier civitas command used",
          });
        }
        await con.run(SCHEMA);
        await con.run("INSERT INTO meta VALUES ('schema_version', $1)", [SCHEMA_VERSION]);
      } else if (version === "5") {
        await con.run(MIGRATE_TO_6);
        await con.run("UPDATE meta SET value = $1 WHERE key = 'schema_version'", [SCHEMA_VERSION]);
      } else if (["1", "2", "3", "4"].includes(version)) {
        // 1 -> 2: answers and requests gain the method. 2 -> 3: simulation tables. 3 -> 4:
        // invocations (new tables are created by SCHEMA). 4 -> 5: runs' kinds and list numbers.
        await con.run("BEGIN TRANSACTION");
        try {
          if (version === "1") await con.run(MIGRATE_1_TO_2);
          await con.run(MOVE_RUNS);
          await con.run(SCHEMA);
          if (version === "1") await con.run("INSERT INTO answers SELECT * FROM answers_v2; DROP TABLE answers_v2;");
          await con.run(refillRuns(version));
          await fillListNumbers(con);
          await con.run(MIGRATE_TO_6);
          await con.run("UPDATE meta SET value = $1 WHERE key = 'schema_version'", [SCHEMA_VERSION]);
          await con.run("COMMIT");
        } catch (e) {
          await con.run("ROLLBACK").catch(() => undefined);
          throw new CivitasError("store", `could not upgrade the store ${this.file} from version ${version}: ${messageOf(e)}`, { cause: e });
        }
      } else if (version !== SCHEMA_VERSION) {
        throw this.versionError(version);
      }
    });
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

  private async transaction(fn: (con: DuckDBConnection) => Promise<void>, waitMs?: number): Promise<void> {
    const run = async (con: DuckDBConnection): Promise<void> => {
      await con.run("BEGIN TRANSACTION");
      try {
        await fn(con);
        await con.run("COMMIT");
      } catch (e) {
        await con.run("ROLLBACK").catch(() => undefined);
        if (isCivitasError(e)) throw e;
        if (isDamagedError(e)) throw damagedError(this.file, e);
        throw new CivitasError("store", `could not write to the store ${this.file}: ${messageOf(e)}`, { cause: e });
      }
    };
    await this.with("write", run, waitMs);
  }

  /** A transaction only if the file is free now; else the store's "in use" error (isStoreBusy). */
  private async tryTransaction(fn: (con: DuckDBConnection) => Promise<void>): Promise<void> {
    await this.transaction(fn, 0);
  }

  // ---- runs and invocations -----------------------------------------------------------------

  /**
   * Starts an invocation of a run: creates the run, or marks an existing one as running again.
   * Runs whose processes have died are marked interrupted first. Until finishRun or failRun,
   * the invocation says every HEARTBEAT_MS that it is alive, with its progress (`progress`).
   */
  async beginRun(
    run: { id: string; command: string; suite: string; model: string; metric: string; config: unknown; kind?: RunKind },
    options: { readonly refresh?: boolean } = {},
  ): Promise<"new" | "resumed"> {
    // Runs made before kinds were given: sim:<name> is a simulation, anything else an eval.
    const kind: RunKind = run.kind ?? (run.suite.startsWith("sim:") ? "simulate" : "eval");
    await this.markDead();
    let existed = false;
    let n = 1;
    await this.transaction(async (con) => {
      const rows = (await con.runAndReadAll("SELECT status FROM runs WHERE id = $1", [run.id])).getRowObjectsJS();
      existed = rows.length > 0;
      if (existed) {
        // A finished run stays done: a later invocation only re-reports it (or fills what is missing).
        // Asked again (refresh: --no-cache, an expired cache), its result is the new invocation's.
        if (options.refresh) await con.run("UPDATE runs SET status = 'running', final = false, updated_at = now(), error = NULL WHERE id = $1", [run.id]);
        else await con.run("UPDATE runs SET status = CASE WHEN status = 'done' THEN 'done' ELSE 'running' END, updated_at = now(), error = NULL WHERE id = $1", [run.id]);
      } else {
        await con.run(
          `INSERT INTO runs (id, created_at, updated_at, command, suite, model, metric, status, config, summary, error, final, kind)
           VALUES ($1, now(), now(), $2, $3, $4, $5, 'running', $6::JSON, NULL, NULL, false, $7)`,
          [run.id, run.command, run.suite, run.model, run.metric, json(run.config), kind],
        );
      }
      const last = (await con.runAndReadAll("SELECT coalesce(max(n), 0) AS n FROM invocations WHERE run_id = $1", [run.id])).getRowObjectsJS();
      n = Number(last[0]!.n) + 1;
      await con.run("INSERT INTO invocations VALUES ($1, $2, $3, $4, $5, now(), now(), NULL, 'running', NULL, NULL, NULL, NULL)", [run.id, n, run.command, HOST, process.pid]);
    });
    this.stopWorking(run.id);
    const timer = setInterval(() => void this.heartbeat(run.id).catch(() => undefined), HEARTBEAT_MS);
    timer.unref();
    this.working.set(run.id, { n, done: null, total: null, timer });
    return existed ? "resumed" : "new";
  }

  /** Progress of this process's invocation of a run; written with the next batch or heartbeat. */
  progress(runId: string, done: number, total: number): void {
    const w = this.working.get(runId);
    if (w) {
      w.done = done;
      w.total = total;
    }
  }

  /** Says that this process's invocation of the run is alive, with its progress (skipped while another process writes). */
  async heartbeat(runId: string): Promise<void> {
    await this.tryTransaction((con) => this.beat(con, runId)).catch((e: unknown) => {
      if (!isStoreBusy(e)) throw e;
    });
  }

  private async beat(con: DuckDBConnection, runId: string): Promise<void> {
    const w = this.working.get(runId);
    if (!w) return;
    await con.run("UPDATE invocations SET heartbeat_at = now(), done = $3, total = $4 WHERE run_id = $1 AND n = $2", [runId, w.n, w.done, w.total]);
    await con.run("UPDATE runs SET updated_at = now() WHERE id = $1", [runId]);
  }

  private stopWorking(runId: string): Working | undefined {
    const w = this.working.get(runId);
    if (w) {
      clearInterval(w.timer);
      this.working.delete(runId);
    }
    return w;
  }

  /**
   * Ends this process's invocation with the run's result. The run keeps the first complete
   * (`final`) result it had; a result that is not final (a simulation stopped by its budget) is
   * replaced by the next one. `counts` are this invocation's own (model calls, cache hits...).
   *
   * The result is checked against its kind's schema (results/) and stored with its kind and
   * version, with the numbers lists show; one that does not match is a bug, and is not stored.
   */
  async finishRun(id: string, summary: ResultOf[RunKind], options: { final?: boolean; counts?: unknown } = {}): Promise<void> {
    const final = options.final ?? true;
    const kindRow = await this.read(async (con) => (await con.runAndReadAll("SELECT kind FROM runs WHERE id = $1", [id])).getRowObjectsJS()[0]);
    if (kindRow === undefined) throw new Error(`finishRun: no run ${id} in ${this.file}`);
    const kind = String(kindRow.kind) as RunKind;
    checkResult(kind, summary, `the result of run ${id}`);
    const result = { kind, result: summary } as RunResult;
    const n = listNumbers(result);
    const w = this.stopWorking(id);
    await this.transaction(async (con) => {
      await con.run(
        `UPDATE runs SET status = 'done', updated_at = now(), error = NULL, summary = CASE WHEN final THEN summary ELSE $2::JSON END,
           n_questions = CASE WHEN final THEN n_questions ELSE $4 END, n_answers = CASE WHEN final THEN n_answers ELSE $5 END,
           alignment = CASE WHEN final THEN alignment ELSE $6 END, final = final OR $3 WHERE id = $1`,
        [id, json(resultJson(kind, summary)), final, n.questions, n.answers, n.alignment],
      );
      if (w) {
        await con.run("UPDATE invocations SET status = 'done', ended_at = now(), heartbeat_at = now(), done = $3, total = $4, counts = $5::JSON WHERE run_id = $1 AND n = $2", [
          id,
          w.n,
          w.done,
          w.total,
          json(options.counts ?? null),
        ]);
      }
    });
  }

  /**
   * Ends this process's invocation with an error ("failed") or a stop ("interrupted": Ctrl-C, a
   * budget). A run that already has its result stays done.
   */
  async failRun(id: string, error: string, status: "failed" | "interrupted" = "failed"): Promise<void> {
    const w = this.stopWorking(id);
    await this.transaction(async (con) => {
      await con.run("UPDATE runs SET status = CASE WHEN status = 'done' THEN 'done' ELSE $3 END, updated_at = now(), error = CASE WHEN status = 'done' THEN error ELSE $2 END WHERE id = $1", [
        id,
        error,
        status,
      ]);
      if (w) {
        await con.run("UPDATE invocations SET status = $3, ended_at = now(), heartbeat_at = now(), done = $4, total = $5, error = $6 WHERE run_id = $1 AND n = $2", [
          id,
          w.n,
          status,
          w.done,
          w.total,
          error,
        ]);
      }
    });
  }

  /** Marks invocations (and their runs) whose process is gone as interrupted. */
  private async markDead(): Promise<void> {
    const running = await this.read(async (con) =>
      (await con.runAndReadAll("SELECT run_id, n, host, pid, heartbeat_at FROM invocations WHERE status = 'running'")).getRowObjectsJS(),
    );
    const dead = running.filter((r) => !this.working.has(String(r.run_id)) && !invocationAlive({ host: String(r.host), pid: Number(r.pid), heartbeatAt: r.heartbeat_at as Date }));
    if (dead.length === 0) return;
    await this.transaction(async (con) => {
      for (const r of dead) {
        await con.run("UPDATE invocations SET status = 'interrupted', ended_at = heartbeat_at, error = $3 WHERE run_id = $1 AND n = $2 AND status = 'running'", [String(r.run_id), Number(r.n), DIED]);
        await con.run("UPDATE runs SET status = 'interrupted', error = $2 WHERE id = $1 AND status = 'running'", [String(r.run_id), DIED]);
      }
    });
  }

  async getRun(id: string): Promise<RunRow | undefined> {
    const rows = await this.queryRuns("WHERE r.id = $1", [id]);
    return rows[0];
  }

  /** A run by id or unique id prefix. */
  async findRun(idOrPrefix: string): Promise<RunRow> {
    const rows = await this.queryRuns("WHERE starts_with(r.id, $1) ORDER BY r.created_at", [idOrPrefix]);
    if (rows.length === 1) return rows[0]!;
    if (rows.length === 0) {
      throw new CivitasError("usage", `no run "${idOrPrefix}" in ${this.file}`, { hint: "`civitas runs list` shows the runs" });
    }
    throw new CivitasError("usage", `"${idOrPrefix}" matches ${rows.length} runs: ${rows.map((r) => r.id).join(", ")}`, {
      hint: "give more characters of the run id",
    });
  }

  async listRuns(): Promise<RunRow[]> {
    return this.queryRuns("ORDER BY r.created_at DESC", []);
  }

  /**
   * Ids of the runs a live process works on now. A run stored as running that is not among them
   * is interrupted (its process died), whether or not a writer has marked it so yet.
   */
  async liveRuns(): Promise<Set<string>> {
    const rows = await this.read(async (con) =>
      (await con.runAndReadAll("SELECT run_id, host, pid, heartbeat_at FROM invocations WHERE status = 'running'")).getRowObjectsJS(),
    );
    return new Set(rows.filter((r) => this.working.has(String(r.run_id)) || invocationAlive({ host: String(r.host), pid: Number(r.pid), heartbeatAt: r.heartbeat_at as Date })).map((r) => String(r.run_id)));
  }

  private async queryRuns(where: string, params: string[]): Promise<RunRow[]> {
    const rows = await this.read(async (con) =>
      (
        await con.runAndReadAll(
          `SELECT r.id, r.created_at, r.updated_at, r.command, r.suite, r.model, r.metric, r.status, r.config::VARCHAR AS config, r.summary::VARCHAR AS summary, r.error,
             r.kind, r.n_questions, r.n_answers, r.alignment, i.n, i.host, i.pid, i.heartbeat_at, i.done, i.total
           FROM runs r LEFT JOIN ${LATEST} i ON i.run_id = r.id ${where}`,
          params,
        )
      ).getRowObjectsJS(),
    );
    const now = Date.now();
    return rows.map((row) => {
      let status = String(row.status) as RunStatus;
      let error = row.error === null ? null : String(row.error);
      if (status === "running") {
        const alive =
          row.n === null
            ? now - (row.updated_at as Date).getTime() < STALE_MS // written by civitas before invocations were recorded
            : this.working.has(String(row.id)) || invocationAlive({ host: String(row.host), pid: Number(row.pid), heartbeatAt: row.heartbeat_at as Date }, now);
        if (!alive) {
          status = "interrupted";
          error ??= DIED;
        }
      }
      const kind = (RUN_KINDS as readonly string[]).includes(String(row.kind)) ? (String(row.kind) as RunKind) : "eval";
      let summary: RunResult | null = null;
      let summaryError: string | null = null;
      if (row.summary !== null) {
        try {
          summary = readRunResult(kind, JSON.parse(String(row.summary)), `run ${String(row.id)}`);
        } catch (e) {
          summaryError = messageOf(e);
        }
      }
      const count = (v: unknown) => (v === null || v === undefined ? null : Number(v));
      // The summary was read as the run's kind: the pair is one of RunRow's.
      return {
        id: String(row.id),
        createdAt: row.created_at as Date,
        updatedAt: row.updated_at as Date,
        command: String(row.command),
        suite: String(row.suite),
        model: String(row.model),
        metric: String(row.metric),
        status,
        config: JSON.parse(String(row.config)) as unknown,
        kind,
        summary: summary === null ? null : summary.result,
        summaryError,
        questions: count(row.n_questions),
        answers: count(row.n_answers),
        alignment: count(row.alignment),
        error,
        invocations: row.n === null ? 0 : Number(row.n),
        progress: row.done === null || row.total === null || row.done === undefined ? null : { done: Number(row.done), total: Number(row.total) },
      } as RunRow;
    });
  }

  /** Every invocation of a run, oldest first. */
  async invocations(runId: string): Promise<InvocationRow[]> {
    const rows = await this.read(async (con) =>
      (
        await con.runAndReadAll(
          "SELECT run_id, n, command, host, pid, started_at, heartbeat_at, ended_at, status, done, total, counts::VARCHAR AS counts, error FROM invocations WHERE run_id = $1 ORDER BY n",
          [runId],
        )
      ).getRowObjectsJS(),
    );
    const now = Date.now();
    return rows.map((r) => {
      const inv = { host: String(r.host), pid: Number(r.pid), heartbeatAt: r.heartbeat_at as Date };
      let status = String(r.status) as RunStatus;
      let error = r.error === null ? null : String(r.error);
      if (status === "running" && !this.working.has(runId) && !invocationAlive(inv, now)) {
        status = "interrupted";
        error ??= DIED;
      }
      return {
        runId: String(r.run_id),
        n: Number(r.n),
        command: String(r.command),
        ...inv,
        startedAt: r.started_at as Date,
        endedAt: r.ended_at === null ? null : (r.ended_at as Date),
        status,
        done: r.done === null ? null : Number(r.done),
        total: r.total === null ? null : Number(r.total),
        counts: r.counts === null ? null : (JSON.parse(String(r.counts)) as unknown),
        error,
      };
    });
  }

  // ---- request cache ------------------------------------------------------------------------

  /**
   * Cached responses for the given keys (missing keys are absent from the map). With `notBefore`,
   * only those stored at or after it (an expiring cache: older ones count as missing).
   */
  async lookupRequests(keys: readonly string[], options: { readonly notBefore?: Date } = {}): Promise<Map<string, RequestRow>> {
    const out = new Map<string, RequestRow>();
    if (keys.length === 0) return out;
    const params: (string | number)[] = [json(keys)];
    if (options.notBefore !== undefined) params.push(options.notBefore.toISOString());
    const rows = await this.read(async (con) =>
      (
        await con.runAndReadAll(
          `SELECT key, model, method, prompt, labels, params::VARCHAR AS params, label_mass, coverage, raw::VARCHAR AS raw, mode, prompt_tokens, latency_ms,
             created_at, served_model, system_fingerprint
           FROM requests WHERE key IN (SELECT unnest($1::JSON::VARCHAR[]))${options.notBefore === undefined ? "" : " AND created_at >= $2::TIMESTAMPTZ"}`,
          params,
        )
      ).getRowObjectsJS(),
    );
    for (const row of rows) {
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
        served: row.served_model === null && row.system_fingerprint === null ? null : { model: row.served_model === null ? null : String(row.served_model), fingerprint: row.system_fingerprint === null ? null : String(row.system_fingerprint) },
        createdAt: row.created_at as Date,
      });
    }
    return out;
  }

  /**
   * The answers of a run to ask again because their cached response is older than `notBefore`
   * (or no longer cached: pruned), as (question, variant, persona, method).
   */
  async staleAnswers(runId: string, notBefore: Date): Promise<{ questionId: string; variant: string; persona: string; method: string }[]> {
    const rows = await this.query(
      `SELECT a.question_id, a.variant, a.persona, a.method FROM answers a LEFT JOIN requests r ON r.key = a.request_key
       WHERE a.run_id = $1 AND (r.key IS NULL OR r.created_at < $2::TIMESTAMPTZ)`,
      [runId, notBefore.toISOString()],
    );
    return rows.map((r) => ({ questionId: String(r.question_id), variant: String(r.variant), persona: String(r.persona), method: String(r.method) }));
  }

  /** How many of a run's answers have no cached response any more (pruned: `civitas cache prune` or `clear`). */
  async prunedAnswers(runId: string): Promise<number> {
    const rows = await this.query("SELECT count(*) AS n FROM answers a LEFT JOIN requests r ON r.key = a.request_key WHERE a.run_id = $1 AND r.key IS NULL", [runId]);
    return Number(rows[0]!.n);
  }

  // ---- cache policy (civitas cache) ---------------------------------------------------------

  /** The request cache by model: answers, oldest and newest, the models servers reported, runs using it. */
  async cacheModels(): Promise<CacheModelRow[]> {
    const rows = await this.query(
      `SELECT r.model, count(*) AS answers, min(r.created_at) AS oldest, max(r.created_at) AS newest,
         to_json(list(DISTINCT r.served_model) FILTER (WHERE r.served_model IS NOT NULL))::VARCHAR AS served,
         (SELECT count(DISTINCT a.run_id) FROM answers a WHERE a.request_key IN (SELECT key FROM requests q WHERE q.model = r.model)) AS runs
       FROM requests r GROUP BY r.model ORDER BY r.model`,
    );
    return rows.map((r) => ({
      model: String(r.model),
      answers: Number(r.answers),
      oldest: r.oldest as Date,
      newest: r.newest as Date,
      served: (JSON.parse(String(r.served ?? "[]")) as string[] | null) ?? [],
      runs: Number(r.runs),
    }));
  }

  /**
   * Removes cached answers (all those matching the filter; every one with an empty filter), or with
   * `dryRun` only says what would go. Runs keep their answers and results; what they lose is said.
   */
  async pruneRequests(filter: PruneFilter, options: { readonly dryRun?: boolean } = {}): Promise<PruneResult> {
    const where: string[] = [];
    const params: string[] = [];
    if (filter.olderThan !== undefined) {
      params.push(filter.olderThan.toISOString());
      where.push(`created_at < $${params.length}::TIMESTAMPTZ`);
    }
    if (filter.model !== undefined) {
      params.push(filter.model.includes("*") ? filter.model.replace(/[\\%_]/gu, "\\$&").replace(/\*/gu, "%") : filter.model);
      where.push(filter.model.includes("*") ? `model LIKE $${params.length} ESCAPE '\\'` : `model = $${params.length}`);
    }
    const cond = where.length === 0 ? "true" : where.join(" AND ");
    let result: PruneResult = { removed: 0, runs: [], replays: [] };
    const work = async (con: DuckDBConnection): Promise<void> => {
      const n = Number((await con.runAndReadAll(`SELECT count(*) AS n FROM requests WHERE ${cond}`, params)).getRowObjectsJS()[0]!.n);
      const runs = (await con.runAndReadAll(`SELECT DISTINCT run_id FROM answers WHERE request_key IN (SELECT key FROM requests WHERE ${cond}) ORDER BY run_id`, params)).getRowObjectsJS();
      const replays = (await con.runAndReadAll(`SELECT DISTINCT run_id FROM sim_calls WHERE request_key IN (SELECT key FROM requests WHERE ${cond}) ORDER BY run_id`, params)).getRowObjectsJS();
      if (!options.dryRun) await con.run(`DELETE FROM requests WHERE ${cond}`, params);
      result = { removed: n, runs: runs.map((r) => String(r.run_id)), replays: replays.map((r) => String(r.run_id)) };
    };
    if (options.dryRun) await this.read(work);
    else await this.transaction(work);
    return result;
  }

  // ---- answers ------------------------------------------------------------------------------

  /** Writes new cache entries and answers in one transaction. Existing rows are kept as they are. */
  async writeAnswers(requests: readonly RequestRow[], answers: readonly AnswerRow[]): Promise<void> {
    await this.writeBatch({ requests, answers });
  }

  /**
   * Writes a batch in one transaction: cache entries and answers (existing rows are kept as they
   * are), a simulation's recorded calls, and the heartbeat of the runs this process works on.
   */
  async writeBatch(batch: Batch, options: { wait?: boolean } = {}): Promise<void> {
    const { requests = [], answers = [], simCalls = [], beats = [] } = batch;
    const insert = batch.replace ? "INSERT OR REPLACE" : "INSERT OR IGNORE";
    if (requests.length === 0 && answers.length === 0 && simCalls.length === 0 && beats.length === 0) return;
    const write = async (con: DuckDBConnection) => {
      for (let i = 0; i < requests.length; i += 200) {
        const chunk = requests.slice(i, i + 200);
        const params: (string | number | null)[] = [];
        const tuples = chunk.map((q) => {
          const o = params.length;
          params.push(q.key, q.model, q.method, q.prompt, json(q.labels), json(q.params), json(q.labelMass), q.coverage, json(q.raw), q.mode, q.promptTokens, q.latencyMs, q.served?.model ?? null, q.served?.fingerprint ?? null);
          return `($${o + 1}, $${o + 2}, $${o + 3}, $${o + 4}, $${o + 5}::JSON::VARCHAR[], $${o + 6}::JSON, $${o + 7}::JSON::DOUBLE[], $${o + 8}, $${o + 9}::JSON, $${o + 10}, $${o + 11}, $${o + 12}, now(), $${o + 13}, $${o + 14})`;
        });
        await con.run(`${insert} INTO requests (${REQUEST_COLUMNS}) VALUES ${tuples.join(", ")}`, params);
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
        await con.run(`${insert} INTO answers (${ANSWER_COLUMNS}) VALUES ${tuples.join(", ")}`, params);
      }
      for (let i = 0; i < simCalls.length; i += 500) {
        const chunk = simCalls.slice(i, i + 500);
        const params: (string | number)[] = [];
        const tuples = chunk.map((c) => {
          const o = params.length;
          params.push(c.runId, c.point, c.seed, c.call, c.step, c.agent, c.requestKey);
          return `($${o + 1}, $${o + 2}, $${o + 3}, $${o + 4}, $${o + 5}, $${o + 6}, $${o + 7})`;
        });
        await con.run(`INSERT OR REPLACE INTO sim_calls VALUES ${tuples.join(", ")}`, params);
      }
      for (const runId of new Set(beats)) await this.beat(con, runId);
    };
    if (options.wait === false) await this.tryTransaction(write);
    else await this.transaction(write);
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
    const rows = await this.read(async (con) =>
      (
        await con.runAndReadAll(
          `SELECT run_id, question_id, variant, persona, method, request_key, options, distribution, coverage, status, mode, cache_hit
           FROM answers WHERE ${where.join(" AND ")} ORDER BY created_at, question_id, variant, persona, method`,
          params,
        )
      ).getRowObjectsJS(),
    );
    return rows.map((row) => ({
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
    const rows = await this.query("SELECT count(*) AS n FROM answers WHERE run_id = $1", [runId]);
    return Number(rows[0]!.n);
  }

  // ---- scores -------------------------------------------------------------------------------

  /** Replaces the scores of a run, unless the run has its final result (its scores are that result's). */
  async writeScores(runId: string, scores: readonly ScoreRow[]): Promise<void> {
    await this.transaction(async (con) => {
      const final = (await con.runAndReadAll("SELECT final FROM runs WHERE id = $1", [runId])).getRowObjectsJS()[0]?.final === true;
      if (final) return;
      await con.run("DELETE FROM scores WHERE run_id = $1", [runId]);
      for (let i = 0; i < scores.length; i += 500) {
        const chunk = scores.slice(i, i + 500);
        const params: (string | number | boolean | null)[] = [];
        const tuples = chunk.map((s) => {
          const o = params.length;
          params.push(runId, s.method, s.steered, s.questionId, s.population, s.metric, s.modelDistance, s.uniformDistance, s.humanDistance, s.noiseDistance, s.humanN);
          return `($${o + 1}, $${o + 2}, $${o + 3}, $${o + 4}, $${o + 5}, $${o + 6}, $${o + 7}, $${o + 8}, $${o + 9}, $${o + 10}, $${o + 11})`;
        });
        await con.run(`INSERT INTO scores VALUES ${tuples.join(", ")}`, params);
      }
    });
  }

  // ---- export -------------------------------------------------------------------------------

  /**
   * Writes a run's answers to a file with DuckDB's COPY. Each row: run, question, variant,
   * persona, options and distribution (survey order), coverage, status, cache_hit, and for
   * convenience the prompt's top tokens. CSV gets lists as JSON text, and text cells that a
   * spreadsheet would run as formulas are neutralised (csv.ts); JSONL and Parquet keep lists as lists.
   */
  async exportAnswers(runId: string, file: string, format: "csv" | "jsonl" | "parquet"): Promise<number> {
    const text = (expr: string) => (format === "csv" ? csvText(expr) : expr);
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
      await this.read((con) => con.run(`COPY (${query}) TO '${target}' (FORMAT ${fmt})`));
    } catch (e) {
      if (isCivitasError(e)) throw e;
      throw new CivitasError("store", `could not write ${file}: ${messageOf(e)}`, { cause: e });
    }
    return this.countAnswers(runId);
  }

  // ---- simulations --------------------------------------------------------------------------

  /** Metrics of one simulation (point of the sweep, seed), every recorded step. Replaces what the run had for it. */
  async writeSimMetrics(runId: string, point: number, seed: number, series: readonly { step: number; metrics: Readonly<Record<string, number>> }[]): Promise<void> {
    const rows = series.flatMap(({ step, metrics }) => Object.entries(metrics).map(([metric, value]) => [step, metric, value] as const));
    await this.transaction(async (con) => {
      await con.run("DELETE FROM sim_metrics WHERE run_id = $1 AND point = $2 AND seed = $3", [runId, point, seed]);
      for (let i = 0; i < rows.length; i += 500) {
        const chunk = rows.slice(i, i + 500);
        const params: (string | number | null)[] = [];
        const tuples = chunk.map(([step, metric, value]) => {
          const o = params.length;
          params.push(runId, point, seed, step, metric, Number.isFinite(value) ? value : null);
          return `($${o + 1}, $${o + 2}, $${o + 3}, $${o + 4}, $${o + 5}, $${o + 6})`;
        });
        await con.run(`INSERT INTO sim_metrics VALUES ${tuples.join(", ")}`, params);
      }
      if (this.working.has(runId)) await this.beat(con, runId);
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
    await this.writeBatch({ requests, simCalls: calls.map((c) => ({ runId, ...c })) });
  }

  /** The recorded calls of a simulation (point, seed), in call order. */
  async simCalls(runId: string, point: number, seed: number): Promise<{ call: number; step: number; agent: number; requestKey: string }[]> {
    const rows = await this.query("SELECT call, step, agent, request_key FROM sim_calls WHERE run_id = $1 AND point = $2 AND seed = $3 ORDER BY call", [runId, point, seed]);
    return rows.map((r) => ({ call: Number(r.call), step: Number(r.step), agent: Number(r.agent), requestKey: String(r.request_key) }));
  }

  /**
   * Runs a query and returns plain JS rows: for the store's own modules (pages.ts, sim-export.ts),
   * inspection and tests. Other modules read through the store's typed methods.
   */
  async query(sql: string, params: (string | number | boolean | null)[] = []): Promise<Record<string, unknown>[]> {
    return this.read(async (con) => (await con.runAndReadAll(sql, params)).getRowObjectsJS() as Record<string, unknown>[]);
  }

  /**
   * Ends this Store's work: invocations left open are recorded as interrupted, and the file is
   * closed once every operation in flight has finished (another Store of the same file in this
   * process may open it again).
   */
  async close(): Promise<void> {
    for (const runId of [...this.working.keys()]) await this.failRun(runId, "the store was closed before the run finished", "interrupted").catch(() => undefined);
    await this.handle.drain();
  }
}
