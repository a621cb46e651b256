/**
 * A run's page and the comparison of runs: the report's pages (`runPage`, `comparePage` from
 * report/pages.ts) inside the viewer's frame, with what the viewer adds: the run's stored command
 * (escaped as stored: it was redacted when stored), links to its answers and downloads, and a
 * form to compare it with another run. When the report cannot draw a page, an error box says so
 * and the rest of the page still works.
 */
import { isCivitasError, messageOf } from "../errors.js";
import { html, type Raw } from "../report/index.js";
import { comparePage, runPage } from "../report/index.js";
import { redactCommandLine } from "../redact.js";
import { recentRuns, type InvocationRow, type RunRow, type Store } from "../store/index.js";
import { downloadLinks } from "./answers.js";
import { HttpError, RUN_ID, type Params } from "./http.js";
import { errorBox, integer, page, progressText, statusTag, when, type Frame } from "./layout.js";

/** The most runs a comparison takes. */
export const MAX_COMPARE = 8;

/** A run by exact id, else by unique id prefix; a 404 otherwise. */
export async function resolveRun(store: Store, idOrPrefix: string): Promise<RunRow> {
  if (!RUN_ID.test(idOrPrefix)) throw new HttpError(404, "no such run", "run ids are letters, digits, - and _");
  const exact = await store.getRun(idOrPrefix);
  if (exact) return exact;
  try {
    return await store.findRun(idOrPrefix);
  } catch (e) {
    if (isCivitasError(e) && e.kind === "usage") throw new HttpError(404, e.message, e.hint);
    throw e;
  }
}

export interface Rendered {
  readonly status: number;
  readonly html: string;
}

/** Each command that worked on the run: when, what it did, how it ended, its command line. */
function invocationList(invocations: readonly InvocationRow[]): Raw {
  if (invocations.length === 0) return html``;
  const counts = (c: unknown): string => {
    const o = (c ?? {}) as Record<string, unknown>;
    const parts: string[] = [];
    if (typeof o.model_calls === "number") parts.push(`${integer(o.model_calls)} model calls`);
    if (typeof o.cache_hits === "number") parts.push(`${integer(o.cache_hits)} from the cache`);
    if (typeof o.resumed === "number") parts.push(`${integer(o.resumed)} already stored`);
    return parts.join(", ");
  };
  const items = invocations.map(
    (i) => html`<li>#${i.n} ${when(i.startedAt)} ${statusTag(i.status)} ${i.done !== null && i.total !== null ? progressText({ done: i.done, total: i.total }) : ""} ${counts(i.counts)}${
      i.error ? html` <span class="muted">${i.error}</span>` : ""
    }<br><code class="cmd">${i.command}</code></li>`,
  );
  return html`<details class="invocations"><summary>${integer(invocations.length)} ${invocations.length === 1 ? "invocation" : "invocations"}</summary><ol>${items}</ol></details>`;
}

/** What the viewer adds above a run's report. The report shows the command and the run's error; without a report, the bar does. */
function runBar(run: RunRow, answers: number, withCommand: boolean, invocations: readonly InvocationRow[] = []): Raw {
  const running = run.status === "running" && run.progress ? html` · ${progressText(run.progress)}` : "";
  return html`<div class="runbar">
<span>${statusTag(run.status)}${running} created ${when(run.createdAt)}, updated ${when(run.updatedAt)}</span>
<span>${run.suite} · ${run.model} · ${run.metric}</span>
<span><a href="/runs/${run.id}/answers">${integer(answers)} ${answers === 1 ? "answer" : "answers"}</a></span>
<span>${downloadLinks(run.id)}</span>
<form method="get" action="/compare"><input type="hidden" name="run" value="${run.id}"><input type="text" name="run" placeholder="another run id" aria-label="another run id" size="14" required><button type="submit">Compare</button></form>
</div>
${withCommand ? html`<pre class="command" title="the command line, as stored (secrets were replaced by *** before storing)">${redactCommandLine(run.command)}</pre>` : ""}
${withCommand && run.error ? errorBox(`the run ${run.status === "interrupted" ? "was interrupted" : "failed"}: ${run.error}`, "run the same command again to resume it") : ""}
${invocationList(invocations)}`;
}

/** GET /runs/:id */
export async function runViewPage(store: Store, frame: Frame, run: RunRow): Promise<Rendered> {
  const answers = await store.countAnswers(run.id);
  const invocations = await store.invocations(run.id);
  // A running run's page reloads itself to show its progress.
  const live = run.status === "running" ? { refreshSeconds: 3 } : {};
  try {
    const p = await runPage(store, run.id);
    return { status: 200, html: page(frame, p.title, html`${runBar(run, answers, false, invocations)}${p.body}`, p.subtitle, live) };
  } catch (e) {
    const body = html`${runBar(run, answers, true, invocations)}${errorBox(`The report of this run could not be drawn: ${messageOf(e)}`, "the answers, the downloads and the comparison still work")}`;
    return { status: 500, html: page(frame, `Run ${run.id}`, body, `${run.suite} · ${run.model}`, live) };
  }
}

/** A form to choose runs to compare, offering the 50 newest. */
async function chooser(store: Store, chosen: readonly RunRow[]): Promise<Raw> {
  const recent = await recentRuns(store, 50);
  const options = recent.map((r) => html`<option value="${r.id}">${r.suite} · ${r.model}</option>`);
  const input = (i: number) =>
    html`<label>run ${i + 1}<input type="text" name="run" list="recent-runs" value="${chosen[i]?.id ?? ""}" placeholder="run id or prefix" required></label>`;
  return html`<form class="filters" method="get" action="/compare">${input(0)}${input(1)}<button type="submit">Compare</button></form>
<datalist id="recent-runs">${options}</datalist>
<p class="muted">Or tick runs in <a href="/">the list of runs</a> and press "Compare selected runs".</p>`;
}

/** GET /compare?run=A&run=B[...] */
export async function compareViewPage(store: Store, frame: Frame, params: Params): Promise<Rendered> {
  const ids = [...new Set(params.all("run", 64))];
  if (ids.length > MAX_COMPARE) throw new HttpError(400, `at most ${MAX_COMPARE} runs can be compared (got ${ids.length})`);
  const runs: RunRow[] = [];
  for (const id of ids) runs.push(await resolveRun(store, id));
  const unique = [...new Map(runs.map((r) => [r.id, r])).values()];
  if (unique.length < 2) {
    const note = unique.length === 1 ? html`<p>Choose a second run to compare with <a href="/runs/${unique[0]!.id}"><code>${unique[0]!.id}</code></a>.</p>` : "";
    return { status: ids.length === 0 ? 200 : 400, html: page(frame, "Compare runs", html`${note}${await chooser(store, unique)}`, "two runs or more, side by side") };
  }
  const links = html`<div class="runbar">${unique.map((r) => html`<span><a href="/runs/${r.id}"><code>${r.id}</code></a> ${r.suite} · ${r.model} · ${r.metric}</span>`)}</div>`;
  try {
    const p = await comparePage(store, unique.map((r) => r.id));
    return { status: 200, html: page(frame, p.title, html`${links}${p.body}`, p.subtitle) };
  } catch (e) {
    const body = html`${links}${errorBox(`The comparison could not be drawn: ${messageOf(e)}`, "each run's own page and answers still work")}`;
    return { status: 500, html: page(frame, "Compare runs", body) };
  }
}
