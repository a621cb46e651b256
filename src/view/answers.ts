/**
 * A run's answers, one row per question x variant x persona x method, paged in DuckDB by the
 * store (store/pages.ts): by default in the order the run stored them, so that a page costs what
 * it shows, not what the run holds, even far into a run of a million answers.
 */
import { html, raw, type Raw } from "../report/index.js";
import { ANSWER_ORDERS, listAnswersPage, type AnswerFilters, type AnswerListItem, type AnswerListPage, type AnswerOrder, type RunRow, type Store } from "../store/index.js";
import { HttpError, type Params } from "./http.js";
import { errorBox, integer, page, pager, perPageSelect, select, statusTag, type Frame } from "./layout.js";
import { PAGE_SIZES } from "./runs.js";

export const ANSWER_STATUSES = ["scored", "low_coverage", "off_format", "only_refusal"] as const;
export { ANSWER_ORDERS };
export type { AnswerFilters, AnswerListItem, AnswerListPage, AnswerOrder };

/** One page of a run's answers. A page past the last gives the last page. */
export const listAnswers = listAnswersPage;

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
    const none = run.kind === "simulate" ? "Simulations store their series, not survey answers: the run's page shows them." : run.kind === "aggregate" ? "Aggregations store their result, not survey answers: the run's page shows it." : run.kind === "steer" ? "Steering runs keep their answers in their eval runs (listed on the run's page)." : undefined;
    table = list.runTotal === 0 ? errorBox("This run has no answers stored.", none) : html`<p class="muted">No answer matches these filters.</p>`;
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
