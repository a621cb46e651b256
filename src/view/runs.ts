/**
 * The runs list: filtered, counted and paged in DuckDB by the store (store/pages.ts), newest
 * first, with the numbers of each run's result the store keeps for lists.
 */
import { html, type Raw } from "../report/index.js";
import { redactCommandLine } from "../redact.js";
import { listRunsPage, runFilterChoices, type ListPage, type RunFilters, type RunListItem, type Store } from "../store/index.js";
import { HttpError, type Params } from "./http.js";
import { integer, page, pager, perPageSelect, progressText, select, statusTag, when, type Frame } from "./layout.js";

export const PAGE_SIZES = [25, 50, 100, 200] as const;

export type { RunFilters, RunListItem };
export type RunListPage = ListPage<RunListItem>;

/** One page of runs, newest first, their commands redacted for display. A page past the last gives the last page. */
export async function listRuns(store: Store, filters: RunFilters, pageNo: number, perPage: number): Promise<RunListPage> {
  const list = await listRunsPage(store, filters, pageNo, perPage);
  return { ...list, items: list.items.map((r) => ({ ...r, command: redactCommandLine(r.command) })) };
}

/** The values the filters offer: distinct suites, models, methods and statuses. */
export const filterChoices = runFilterChoices;

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
