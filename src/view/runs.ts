/**
 * The runs list: filtered, counted and paged in DuckDB (one COUNT, one LIMIT/OFFSET page), newest
 * first. Only the columns the table shows are read: a run's summary can be large, and the list
 * takes the few numbers it needs out of the JSON in SQL.
 */
import { html, type Raw } from "../report/html.js";
import { redactCommandLine } from "../redact.js";
import type { Store } from "../store/index.js";
import { HttpError, type Params } from "./http.js";
import { integer, page, pager, perPageSelect, progressText, select, statusTag, when, type Frame } from "./layout.js";

export const PAGE_SIZES = [25, 50, 100, 200] as const;

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
  readonly createdAt: Date;
  readonly status: string;
  readonly suite: string;
  readonly model: string;
  /** Elicitation methods, comma separated ("" for simulations). */
  readonly methods: string;
  readonly metric: string;
  readonly command: string;
  /** From the summary of finished eval runs. */
  readonly questions: number | null;
  readonly answers: number | null;
  readonly alignment: number | null;
  /** Of a running run: what its invocation has stored of what it planned. */
  readonly progress: { readonly done: number; readonly total: number } | null;
}

export interface RunListPage {
  readonly items: readonly RunListItem[];
  readonly total: number;
  readonly page: number;
  readonly pages: number;
  readonly perPage: number;
}

/** A run's methods: `config.method` is "logprobs" or a list. */
const METHODS_SQL = `CASE json_type(config, '$.method')
  WHEN 'ARRAY' THEN array_to_string(from_json(json_extract(config, '$.method'), '["VARCHAR"]'), ',')
  WHEN 'VARCHAR' THEN json_extract_string(config, '$.method')
  ELSE '' END`;

/**
 * The runs with their status as users should see it: a run stored as running whose process is
 * gone is interrupted (`Store.liveRuns` says which are alive), and the progress of its latest
 * invocation.
 */
function base(live: ReadonlySet<string>): string {
  const ids = [...live].map((id) => `'${id.replace(/'/gu, "''")}'`).join(", ");
  return `SELECT id, created_at, CASE WHEN status = 'running' AND id NOT IN (${ids || "''"}) THEN 'interrupted' ELSE status END AS status,
  suite, model, metric, command, ${METHODS_SQL} AS methods,
  TRY_CAST(json_extract_string(summary, '$.questions.scored') AS BIGINT) AS questions,
  TRY_CAST(json_extract_string(summary, '$.answers.total') AS BIGINT) AS answers,
  TRY_CAST(json_extract_string(summary, '$.overall.mean') AS DOUBLE) AS alignment
FROM runs`;
}

function where(f: RunFilters): { sql: string; params: string[] } {
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

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** One page of runs, newest first. A page past the last gives the last page. */
export async function listRuns(store: Store, filters: RunFilters, pageNo: number, perPage: number): Promise<RunListPage> {
  const w = where(filters);
  const BASE = base(await store.liveRuns());
  const counted = await store.query(`WITH r AS (${BASE}) SELECT count(*) AS n FROM r ${w.sql}`, w.params);
  const total = Number(counted[0]?.n ?? 0);
  const pages = Math.max(1, Math.ceil(total / perPage));
  const p = Math.min(pageNo, pages);
  const rows = await store.query(`WITH r AS (${BASE}) SELECT * FROM r ${w.sql} ORDER BY created_at DESC, id LIMIT ${perPage} OFFSET ${(p - 1) * perPage}`, w.params);
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
      createdAt: r.created_at as Date,
      status: String(r.status),
      suite: String(r.suite),
      model: String(r.model),
      methods: r.methods === null ? "" : String(r.methods),
      metric: String(r.metric),
      command: redactCommandLine(String(r.command)),
      questions: num(r.questions),
      answers: num(r.answers),
      alignment: num(r.alignment),
      progress: progress.get(String(r.id)) ?? null,
    })),
  };
}

/**
 * The values the filters offer: distinct suites, models, methods and statuses (at most 500 each),
 * in one query. Methods are read as the distinct JSON texts of `config.method` (a handful) and
 * split here, rather than parsing every run's configuration in SQL.
 */
export async function filterChoices(store: Store): Promise<{ suites: string[]; models: string[]; methods: string[]; statuses: string[] }> {
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

export function parseRunFilters(params: Params): RunFilters {
  const f: Record<string, string> = {};
  for (const k of ["suite", "model", "method", "status", "q"] as const) {
    const v = params.text(k);
    if (v !== undefined) f[k] = v;
  }
  for (const k of ["from", "to"] as const) {
    const v = params.date(k);
    if (v !== undefined) f[k] = v;
  }
  if (f.from !== undefined && f.to !== undefined && f.from > f.to) throw new HttpError(400, `the date range is empty: from ${f.from} is after to ${f.to}`);
  return f as RunFilters;
}

const fmt3 = (n: number | null): string => (n === null || !Number.isFinite(n) ? "-" : n.toFixed(3));

/** GET / */
export async function runsListPage(store: Store, frame: Frame, params: Params): Promise<string> {
  const filters = parseRunFilters(params);
  const perPage = params.int("per", 50, 1, 200);
  const requested = params.int("page", 1, 1, 1_000_000_000);
  const [list, choices] = [await listRuns(store, filters, requested, perPage), await filterChoices(store)];
  const keep: Record<string, string | number | undefined> = { ...filters, per: perPage === 50 ? undefined : perPage };
  const filtered = Object.keys(filters).length > 0;

  const form = html`<form class="filters" method="get" action="/">
${select("suite", "suite", choices.suites, filters.suite)}
${select("model", "model", choices.models, filters.model)}
${select("method", "method", choices.methods, filters.method)}
${select("status", "status", choices.statuses, filters.status)}
<label>from<input type="date" name="from" value="${filters.from ?? ""}"></label>
<label>to<input type="date" name="to" value="${filters.to ?? ""}"></label>
<label>run id or command<input type="search" name="q" value="${filters.q ?? ""}" placeholder="e.g. 5214"></label>
${perPageSelect(perPage, PAGE_SIZES)}
<button type="submit">Filter</button>${filtered ? html` <a href="/">clear</a>` : ""}
</form>`;

  const pg = pager("/", keep, list.page, list.pages, list.total, list.total === 1 ? "run" : "runs");
  let body: Raw;
  if (list.total === 0) {
    body = html`${form}<p class="muted">${filtered ? "No run matches these filters." : "No runs in this store yet: `civitas eval --help` shows how to start one."}</p>`;
  } else {
    const rows = list.items.map(
      (r) => html`<tr>
<td><input type="checkbox" name="run" value="${r.id}" form="compare" aria-label="compare ${r.id}"></td>
<td><a href="/runs/${r.id}"><code>${r.id}</code></a><br><code class="cmd" title="${r.command}">${r.command}</code></td>
<td class="when">${when(r.createdAt)}</td><td>${statusTag(r.status)}${r.progress ? html`<br><span class="muted">${progressText(r.progress)}</span>` : ""}</td>
<td>${r.suite}<br><span class="muted">${r.metric}</span></td><td class="model">${r.model}<br><span class="muted">${r.methods || "-"}</span></td>
<td class="num">${r.questions === null ? "-" : integer(r.questions)}</td><td class="num">${r.answers === null ? "-" : integer(r.answers)}</td><td class="num">${fmt3(r.alignment)}</td>
</tr>`,
    );
    body = html`${form}${pg}
<div class="scroll"><table class="runs"><thead><tr><th></th><th>run · command</th><th>created</th><th>status</th><th>suite · metric</th><th>model · method</th><th class="num">questions</th><th class="num">answers</th><th class="num">alignment</th></tr></thead>
<tbody>${rows}</tbody></table></div>
<form id="compare" method="get" action="/compare"><button type="submit">Compare selected runs</button> <span class="muted">tick two runs or more</span></form>
${list.pages > 1 ? pg : ""}`;
  }
  // While a run on this page is running, the page reloads itself to show its progress.
  const live = list.items.some((r) => r.status === "running");
  return page(frame, "Runs", body, `${integer(list.total)} ${list.total === 1 ? "run" : "runs"}${filtered ? " matching the filters" : " in the store"}, newest first`, live ? { refreshSeconds: 5 } : {});
}
