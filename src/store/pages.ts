/**
 * The pages of runs and answers the viewer shows, filtered, counted and paged in DuckDB, and the
 * few other reads the pages make (recent runs, a run's furthest questions). The viewer and the
 * reports write no SQL: they call these, through the store's public `query`.
 *
 * The runs list reads only the columns it shows: a run's result can be large, and the numbers the
 * list shows (scored questions, answers, mean alignment) are columns the store fills when it
 * stores a result (store.ts, schema 5), never read out of the result's JSON.
 */
import type { AnswerRow } from "./store.js";
import type { Store } from "./store.js";

export interface RunFilters {
  readonly suite?: string;
  readonly model?: string;
  readonly method?: string;
  readonly status?: string;
  /** Created on or after this day (YYYY-MM-DD). */
  readonly from?: string;
  /** Created on or before this day (YYYY-MM-DD). */
  readonly to?: string;
  /** Run id prefix, or text in the stored command. */
  readonly q?: string;
}

export interface RunListItem {
  readonly id: string;
  readonly kind: string;
  readonly createdAt: Date;
  readonly status: string;
  readonly suite: string;
  readonly model: string;
  /** Elicitation methods, comma separated ("" for simulations and aggregations). */
  readonly methods: string;
  readonly metric: string;
  /** As stored (redacted when stored). */
  readonly command: string;
  /** From the result of finished eval runs. */
  readonly questions: number | null;
  readonly answers: number | null;
  readonly alignment: number | null;
  /** Of a running run: what its invocation has stored of what it planned. */
  readonly progress: { readonly done: number; readonly total: number } | null;
}

export interface ListPage<T> {
  readonly items: readonly T[];
  /** Items matching the filters. */
  readonly total: number;
  readonly page: number;
  readonly pages: number;
  readonly perPage: number;
}

/** A run's methods: `config.method` of an eval run is "logprobs" or a list. */
const METHODS_SQL = `CASE json_type(config, '$.method')
  WHEN 'ARRAY' THEN array_to_string(from_json(json_extract(config, '$.method'), '["VARCHAR"]'), ',')
  WHEN 'VARCHAR' THEN json_extract_string(config, '$.method')
  ELSE '' END`;

/**
 * The runs with their status as users should see it: a run stored as running whose process is
 * gone is interrupted (`Store.liveRuns` says which are alive).
 */
function runsBase(live: ReadonlySet<string>): string {
  const ids = [...live].map((id) => `'${id.replace(/'/gu, "''")}'`).join(", ");
  return `SELECT id, kind, created_at, CASE WHEN status = 'running' AND id NOT IN (${ids || "''"}) THEN 'interrupted' ELSE status END AS status,
  suite, model, metric, command, ${METHODS_SQL} AS methods, n_questions AS questions, n_answers AS answers, alignment
FROM runs`;
}

function runsWhere(f: RunFilters): { sql: string; params: string[] } {
  const conds: string[] = [];
  const params: string[] = [];
  const add = (cond: (p: string) => string, value: string): void => {
    params.push(value);
    conds.push(cond(`$${params.length}`));
  };
  if (f.suite !== undefined) add((p) => `suite = ${p}`, f.suite);
  if (f.model !== undefined) add((p) => `model = ${p}`, f.model);
  if (f.status !== undefined) add((p) => `status = ${p}`, f.status);
  if (f.method !== undefined) add((p) => `list_contains(string_split(methods, ','), ${p})`, f.method);
  if (f.from !== undefined) add((p) => `created_at >= CAST(${p} AS DATE)`, f.from);
  if (f.to !== undefined) add((p) => `created_at < CAST(${p} AS DATE) + INTERVAL 1 DAY`, f.to);
  if (f.q !== undefined) add((p) => `(starts_with(id, ${p}) OR contains(command, ${p}))`, f.q);
  return { sql: conds.length === 0 ? "" : `WHERE ${conds.join(" AND ")}`, params };
}

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** One page of runs, newest first (one COUNT, one LIMIT/OFFSET page). A page past the last gives the last page. */
export async function listRunsPage(store: Store, filters: RunFilters, pageNo: number, perPage: number): Promise<ListPage<RunListItem>> {
  const w = runsWhere(filters);
  const base = runsBase(await store.liveRuns());
  const counted = await store.query(`WITH r AS (${base}) SELECT count(*) AS n FROM r ${w.sql}`, w.params);
  const total = Number(counted[0]?.n ?? 0);
  const pages = Math.max(1, Math.ceil(total / perPage));
  const p = Math.min(pageNo, pages);
  const rows = await store.query(`WITH r AS (${base}) SELECT * FROM r ${w.sql} ORDER BY created_at DESC, id LIMIT ${perPage} OFFSET ${(p - 1) * perPage}`, w.params);
  // Progress of the running runs on this page only (their latest invocation).
  const running = rows.filter((r) => r.status === "running").map((r) => String(r.id));
  const progress = new Map<string, { done: number; total: number }>();
  if (running.length > 0) {
    const inv = await store.query(
      `SELECT run_id, done, total FROM (SELECT run_id, done, total FROM invocations WHERE run_id IN (SELECT unnest($1::JSON::VARCHAR[]))
         QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY n DESC) = 1) WHERE done IS NOT NULL AND total IS NOT NULL`,
      [JSON.stringify(running)],
    );
    for (const i of inv) progress.set(String(i.run_id), { done: Number(i.done), total: Number(i.total) });
  }
  return {
    total,
    page: p,
    pages,
    perPage,
    items: rows.map((r) => ({
      id: String(r.id),
      kind: String(r.kind ?? "eval"),
      createdAt: r.created_at as Date,
      status: String(r.status),
      suite: String(r.suite),
      model: String(r.model),
      methods: r.methods === null ? "" : String(r.methods),
      metric: String(r.metric),
      command: String(r.command),
      questions: numOrNull(r.questions),
      answers: numOrNull(r.answers),
      alignment: numOrNull(r.alignment),
      progress: progress.get(String(r.id)) ?? null,
    })),
  };
}

/**
 * The values the runs' filters offer: distinct suites, models, methods and statuses (at most 500
 * each), in one query. Methods are read as the distinct JSON texts of `config.method` (a handful)
 * and split here, rather than parsing every run's configuration in SQL.
 */
export async function runFilterChoices(store: Store): Promise<{ suites: string[]; models: string[]; methods: string[]; statuses: string[] }> {
  const rows = await store.query(`
    (SELECT 'suite' AS k, v FROM (SELECT DISTINCT suite AS v FROM runs) ORDER BY v LIMIT 500)
    UNION ALL (SELECT 'model', v FROM (SELECT DISTINCT model AS v FROM runs) ORDER BY v LIMIT 500)
    UNION ALL (SELECT 'status', v FROM (SELECT unnest(['running', 'done', 'failed', 'interrupted']) AS v))
    UNION ALL (SELECT 'method', v FROM (SELECT DISTINCT json_extract(config, '$.method')::VARCHAR AS v FROM runs WHERE v IS NOT NULL) LIMIT 500)`);
  const of = (k: string) => rows.filter((r) => r.k === k).map((r) => String(r.v));
  const methods = new Set<string>();
  for (const text of of("method")) {
    try {
      const m = JSON.parse(text) as unknown;
      for (const x of Array.isArray(m) ? m : [m]) if (typeof x === "string" && x !== "") methods.add(x);
    } catch {
      // not JSON: not a method list
    }
  }
  return { suites: of("suite").sort(), models: of("model").sort(), methods: [...methods].sort(), statuses: of("status").sort() };
}

/** The newest runs (for a chooser): id, suite, model. */
export async function recentRuns(store: Store, limit: number): Promise<{ id: string; suite: string; model: string }[]> {
  const rows = await store.query(`SELECT id, suite, model FROM runs ORDER BY created_at DESC, id LIMIT ${Math.max(0, Math.floor(limit))}`);
  return rows.map((r) => ({ id: String(r.id), suite: String(r.suite), model: String(r.model) }));
}

export const ANSWER_ORDERS = ["stored", "question", "coverage"] as const;
export type AnswerOrder = (typeof ANSWER_ORDERS)[number];

export interface AnswerFilters {
  readonly status?: string;
  readonly method?: string;
  readonly variant?: string;
  readonly persona?: string;
  /** Question id prefix. */
  readonly question?: string;
}

export type AnswerListItem = Pick<AnswerRow, "questionId" | "variant" | "persona" | "method" | "status" | "coverage" | "mode" | "cacheHit" | "options" | "distribution">;

export interface AnswerListPage extends ListPage<AnswerListItem> {
  /** All answers of the run. */
  readonly runTotal: number;
  /** The matching answers by status. */
  readonly byStatus: readonly { status: string; n: number }[];
}

/**
 * The default order is the order the run stored its answers: DuckDB keeps insertion order for a
 * query without ORDER BY (`preserve_insertion_order`, on by default), so a page is a LIMIT/OFFSET
 * over a scan that stops as soon as the page is full: a page costs what it shows, not what the
 * run holds. Sorting by question or by coverage is DuckDB's top-N: cheap for the first pages, a
 * sort of the run's answers deeper.
 */
const ORDER_SQL: Record<AnswerOrder, string> = {
  stored: "",
  question: "ORDER BY question_id, variant, persona, method",
  coverage: "ORDER BY coverage, question_id, variant, persona, method",
};

/** One page of a run's answers. A page past the last gives the last page. */
export async function listAnswersPage(store: Store, runId: string, filters: AnswerFilters, order: AnswerOrder, pageNo: number, perPage: number): Promise<AnswerListPage> {
  const params: string[] = [runId];
  const conds = ["run_id = $1"];
  const add = (col: string, value: string | undefined, op: "=" | "prefix" = "="): void => {
    if (value === undefined) return;
    params.push(value);
    conds.push(op === "=" ? `${col} = $${params.length}` : `starts_with(${col}, $${params.length})`);
  };
  add("status", filters.status);
  add("method", filters.method);
  add("variant", filters.variant);
  add("persona", filters.persona);
  add("question_id", filters.question, "prefix");
  const whereSql = `WHERE ${conds.join(" AND ")}`;

  // One scan counts what matches, by status; a second (a bare count) gives the run's total when filtered.
  const statusRows = await store.query(`SELECT status, count(*) AS n FROM answers ${whereSql} GROUP BY status ORDER BY status`, params);
  const byStatus = statusRows.map((r) => ({ status: String(r.status), n: Number(r.n) }));
  const total = byStatus.reduce((s, r) => s + r.n, 0);
  const runTotal = params.length === 1 ? total : await store.countAnswers(runId);
  const pages = Math.max(1, Math.ceil(total / perPage));
  const p = Math.min(pageNo, pages);
  const rows =
    total === 0
      ? []
      : await store.query(
          `SELECT question_id, variant, persona, method, status, coverage, mode, cache_hit, options, distribution
           FROM answers ${whereSql} ${ORDER_SQL[order]} LIMIT ${perPage} OFFSET ${(p - 1) * perPage}`,
          params,
        );
  return {
    total,
    runTotal,
    byStatus,
    page: p,
    pages,
    perPage,
    items: rows.map((r) => ({
      questionId: String(r.question_id),
      variant: String(r.variant),
      persona: String(r.persona),
      method: String(r.method) as AnswerRow["method"],
      status: String(r.status) as AnswerRow["status"],
      coverage: Number(r.coverage),
      mode: String(r.mode) as AnswerRow["mode"],
      cacheHit: Boolean(r.cache_hit),
      options: (r.options as unknown[]).map(String),
      distribution: r.distribution === null ? null : (r.distribution as unknown[]).map(Number),
    })),
  };
}

/** A run's stored per-question scores against a population, furthest first. */
export async function furthestScores(
  store: Store,
  runId: string,
  o: { readonly method: string; readonly steered: boolean; readonly population: string; readonly limit: number },
): Promise<{ questionId: string; modelDistance: number; uniformDistance: number; humanDistance: number | null }[]> {
  const rows = await store.query(
    `SELECT question_id, model_distance, uniform_distance, human_distance FROM scores
     WHERE run_id = $1 AND method = $2 AND steered = $3 AND population = $4 ORDER BY model_distance DESC, question_id LIMIT ${Math.max(0, Math.floor(o.limit))}`,
    [runId, o.method, o.steered, o.population],
  );
  return rows.map((r) => ({
    questionId: String(r.question_id),
    modelDistance: Number(r.model_distance),
    uniformDistance: Number(r.uniform_distance),
    humanDistance: r.human_distance === null ? null : Number(r.human_distance),
  }));
}
