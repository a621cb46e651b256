/**
 * A run's answers, one row per question x variant x persona x method, paged in DuckDB.
 *
 * The default order is the order the run stored its answers: DuckDB keeps insertion order for a
 * query without ORDER BY (`preserve_insertion_order`, on by default), so a page is a LIMIT/OFFSET
 * over a scan that stops as soon as the page is full: a page costs what it shows, not what the
 * run holds, even far into a run of a million answers. Sorting by question or by coverage is
 * offered too (DuckDB's top-N: cheap for the first pages, a sort of the run's answers deeper).
 */
import { html, raw, type Raw } from "../report/html.js";
import type { RunRow, Store } from "../store/index.js";
import { HttpError, type Params } from "./http.js";
import { errorBox, integer, page, pager, perPageSelect, select, statusTag, type Frame } from "./layout.js";
import { PAGE_SIZES } from "./runs.js";

export const ANSWER_STATUSES = ["scored", "low_coverage", "off_format", "only_refusal"] as const;
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

export interface AnswerListItem {
  readonly questionId: string;
  readonly variant: string;
  readonly persona: string;
  readonly method: string;
  readonly status: string;
  readonly coverage: number;
  readonly mode: string;
  readonly cacheHit: boolean;
  readonly options: readonly string[];
  readonly distribution: readonly number[] | null;
}

export interface AnswerListPage {
  readonly items: readonly AnswerListItem[];
  /** Answers matching the filters. */
  readonly total: number;
  /** All answers of the run. */
  readonly runTotal: number;
  /** The matching answers by status. */
  readonly byStatus: readonly { status: string; n: number }[];
  readonly page: number;
  readonly pages: number;
  readonly perPage: number;
}

const ORDER_SQL: Record<AnswerOrder, string> = {
  stored: "",
  question: "ORDER BY question_id, variant, persona, method",
  coverage: "ORDER BY coverage, question_id, variant, persona, method",
};

/** One page of a run's answers. A page past the last gives the last page. */
export async function listAnswers(store: Store, runId: string, filters: AnswerFilters, order: AnswerOrder, pageNo: number, perPage: number): Promise<AnswerListPage> {
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
      method: String(r.method),
      status: String(r.status),
      coverage: Number(r.coverage),
      mode: String(r.mode),
      cacheHit: Boolean(r.cache_hit),
      options: (r.options as unknown[]).map(String),
      distribution: r.distribution === null ? null : (r.distribution as unknown[]).map(Number),
    })),
  };
}

/** What a run's configuration says it asked: methods, variants, personas (for the filters). */
export function runDimensions(run: RunRow): { methods: string[]; variants: string[]; personas: string[] } {
  const cfg = (typeof run.config === "object" && run.config !== null ? run.config : {}) as Record<string, unknown>;
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : typeof v === "string" ? [v] : []);
  const personas = Array.isArray(cfg.personas)
    ? cfg.personas.flatMap((p: unknown) => (typeof p === "object" && p !== null && typeof (p as { id?: unknown }).id === "string" ? [(p as { id: string }).id] : []))
    : [];
  return { methods: strings(cfg.method), variants: strings(cfg.variants), personas };
}

export function parseAnswerFilters(params: Params): AnswerFilters {
  const f: Record<string, string> = {};
  const status = params.text("status");
  if (status !== undefined) {
    if (!(ANSWER_STATUSES as readonly string[]).includes(status)) throw new HttpError(400, `parameter status must be one of ${ANSWER_STATUSES.join(", ")} (got "${status}")`);
    f.status = status;
  }
  for (const k of ["method", "variant", "persona", "question"] as const) {
    const v = params.text(k);
    if (v !== undefined) f[k] = v;
  }
  return f as AnswerFilters;
}

/** Options with their probability, as small bars. */
function distributionCell(options: readonly string[], distribution: readonly number[] | null): Raw {
  if (distribution === null) return html`<span class="muted">no distribution (nothing fell on an option label)</span>`;
  const rows = options.map((o, i) => {
    const p = distribution[i] ?? 0;
    const w = Math.max(0, Math.min(100, Math.round(p * 100)));
    return html`<span class="opt" title="${o}">${o}</span><span class="track"><span class="fill" style="width:${w}px"></span></span><span class="pct">${(p * 100).toFixed(1)}%</span>`;
  });
  return html`<div class="dist">${rows}</div>`;
}

export const downloadLinks = (runId: string): Raw =>
  html`download answers: <a href="/runs/${runId}/answers.csv" download>CSV</a> · <a href="/runs/${runId}/answers.jsonl" download>JSONL</a> · <a href="/runs/${runId}/answers.parquet" download>Parquet</a>`;

/** GET /runs/:id/answers */
export async function answersPage(store: Store, frame: Frame, run: RunRow, params: Params): Promise<string> {
  const filters = parseAnswerFilters(params);
  const order = params.choice("order", ANSWER_ORDERS, "stored");
  const perPage = params.int("per", 50, 1, 200);
  const requested = params.int("page", 1, 1, 1_000_000_000);
  const list = await listAnswers(store, run.id, filters, order, requested, perPage);
  const dims = runDimensions(run);
  const filtered = Object.keys(filters).length > 0;
  const base = `/runs/${encodeURIComponent(run.id)}/answers`;
  const keep = { ...filters, order: order === "stored" ? undefined : order, per: perPage === 50 ? undefined : perPage };

  const form = html`<form class="filters" method="get" action="${base}">
${select("status", "status", ANSWER_STATUSES, filters.status)}
${select("method", "method", dims.methods, filters.method)}
${select("variant", "variant", dims.variants, filters.variant)}
${select("persona", "persona", dims.personas, filters.persona)}
<label>question id starts with<input type="search" name="question" value="${filters.question ?? ""}"></label>
<label>order<select name="order">${ANSWER_ORDERS.map((o) => html`<option value="${o}"${o === order ? raw(" selected") : ""}>${o === "stored" ? "as stored" : `by ${o}`}</option>`)}</select></label>
${perPageSelect(perPage, PAGE_SIZES)}
<button type="submit">Filter</button>${filtered || order !== "stored" ? html` <a href="${base}">clear</a>` : ""}
</form>`;

  const counts = list.byStatus.map((s) => html`${statusTag(s.status)} ${integer(s.n)}`);
  const head = html`<div class="runbar"><span>run <a href="/runs/${run.id}"><code>${run.id}</code></a></span><span>${run.suite} · ${run.model} · ${run.metric}</span>
<span>${integer(list.runTotal)} ${list.runTotal === 1 ? "answer" : "answers"}${filtered ? html`, ${integer(list.total)} matching` : ""}${counts.length > 0 ? html`: ${counts}` : ""}</span><span>${downloadLinks(run.id)}</span></div>`;

  let table: Raw;
  if (list.total === 0) {
    table = list.runTotal === 0 ? errorBox("This run has no answers stored.", run.suite.startsWith("sim:") ? "Simulations store their series, not survey answers: the run's page shows them." : undefined) : html`<p class="muted">No answer matches these filters.</p>`;
  } else {
    const first = (list.page - 1) * list.perPage;
    const rows = list.items.map(
      (a, i) => html`<tr><td class="num muted">${integer(first + i + 1)}</td><td><code>${a.questionId}</code></td><td>${a.variant}</td><td>${a.persona}</td><td>${a.method}</td>
<td>${statusTag(a.status)}${a.cacheHit ? html` <span class="muted" title="answered from the request cache">cached</span>` : ""}</td><td class="num">${(a.coverage * 100).toFixed(1)}%</td><td>${distributionCell(a.options, a.distribution)}</td></tr>`,
    );
    const pg = pager(base, keep, list.page, list.pages, list.total, list.total === 1 ? "answer" : "answers");
    table = html`${pg}<table class="answers"><thead><tr><th class="num">#</th><th>question</th><th>variant</th><th>persona</th><th>method</th><th>status</th><th class="num">coverage</th><th>distribution (survey order)</th></tr></thead>
<tbody>${rows}</tbody></table>${list.pages > 1 ? pg : ""}`;
  }
  return page(frame, `Answers of run ${run.id}`, html`${head}${form}${table}`, `${integer(list.total)} ${filtered ? "matching " : ""}answers${order === "stored" ? ", in the order the run stored them" : `, by ${order}`}`);
}
