/**
 * The frame of every viewer page: the report's page shell with a navigation bar, the viewer's own
 * few styles, pagers and error boxes. Every value from the store goes through `html`, which
 * escapes it.
 */
import path from "node:path";
import { html, pageShell, raw, type Raw } from "../report/index.js";
import { queryString } from "./http.js";

/** Styles of the viewer's own parts (tables of runs and answers, filters, pagers). */
const STYLE = raw(`<style>
.filters { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: end; margin: 10px 0 14px; padding: 10px; background: #f6f7f9; border-radius: 6px; }
.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
.filters select, .filters input { font: inherit; padding: 2px 4px; min-width: 8em; }
.pager { margin: 8px 0; display: flex; flex-wrap: wrap; gap: 4px 10px; align-items: baseline; }
.pager .current { font-weight: 700; }
.runs td, .answers td { text-align: left; } .runs td.num, .answers td.num, .runs th.num, .answers th.num { text-align: right; }
.runs th, .answers th { text-align: left; }
.runs td.when, .tag { white-space: nowrap; } .runs td.model { max-width: 240px; overflow-wrap: break-word; } .scroll { overflow-x: auto; }
.runs th, .runs td { padding: 4px 7px; }
code.cmd { display: inline-block; max-width: 230px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; vertical-align: bottom; font-size: 12px; color: var(--muted); }
.runbar { display: flex; flex-wrap: wrap; gap: 6px 16px; align-items: baseline; padding: 8px 10px; background: #f6f7f9; border-radius: 6px; margin: 8px 0 4px; }
.runbar form { display: inline-flex; gap: 6px; }
pre.command { white-space: pre-wrap; word-break: break-all; background: #f6f7f9; padding: 6px 10px; border-radius: 6px; font-size: 12px; margin: 4px 0 12px; }
.error-box { background: #fde8e7; border-left: 3px solid var(--bad); padding: 8px 12px; margin: 10px 0; }
.dist { display: grid; grid-template-columns: minmax(80px, 220px) 104px 44px; gap: 0 6px; font-size: 12px; align-items: center; }
.dist .opt { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.dist .track { background: #eef2f8; height: 9px; width: 100px; } .dist .fill { display: block; background: var(--accent); height: 9px; }
.dist .pct { text-align: right; font-variant-numeric: tabular-nums; }
nav { display: flex; gap: 4px; align-items: baseline; margin-bottom: 12px; } nav .store { margin-left: auto; font-size: 12px; }
</style>`);

export interface Frame {
  /** Basename of the store file, shown in the navigation bar (never the full path). */
  readonly storeName: string;
}

export function frameFor(file: string): Frame {
  return { storeName: path.basename(file) };
}

export function nav(frame: Frame): Raw {
  return html`<a href="/">Runs</a><a href="/compare">Compare</a><span class="store muted">store ${frame.storeName} · read-only</span>`;
}

/** A whole viewer page. */
/** A viewer page; `refreshSeconds` makes it reload itself (pages of running runs: no script needed). */
export function page(frame: Frame, title: string, body: Raw, subtitle?: string, options: { refreshSeconds?: number } = {}): string {
  return pageShell(title, html`${STYLE}${body}`, { nav: nav(frame), ...(subtitle === undefined ? {} : { subtitle }), ...options });
}

/** "412 of 1,000 stored (41%)" */
export function progressText(p: { readonly done: number; readonly total: number }): string {
  const pct = p.total > 0 ? Math.floor((100 * p.done) / p.total) : 0;
  return `${integer(p.done)} of ${integer(p.total)} stored (${pct}%)`;
}

export function errorBox(message: string, hint?: string): Raw {
  return html`<div class="error-box" role="alert"><strong>${message}</strong>${hint ? html`<br><span class="muted">${hint}</span>` : ""}</div>`;
}

/** A page that only says what went wrong. */
export function errorPage(frame: Frame, status: number, message: string, hint?: string): string {
  const titles: Record<number, string> = { 400: "Bad request", 403: "Forbidden", 404: "Not found", 405: "Method not allowed", 503: "Store busy" };
  return page(frame, titles[status] ?? "Error", html`${errorBox(message, hint)}<p><a href="/">Back to the runs</a></p>`);
}

export const integer = (n: number): string => n.toLocaleString("en-US");

/** "2026-01-31 14:05" (the stored time, as `civitas runs list` shows it). */
export const when = (d: unknown): string => (d instanceof Date && !Number.isNaN(d.getTime()) ? d.toISOString().slice(0, 16).replace("T", " ") : "-");

/** Page links: first, previous, a window of numbers around the current page, next, last. */
export function pager(base: string, params: Readonly<Record<string, string | number | undefined>>, pageNo: number, pages: number, total: number, noun: string): Raw {
  const link = (p: number, label: string | number, rel?: string): Raw =>
    html`<a href="${base}${queryString({ ...params, page: p === 1 ? undefined : p })}"${rel ? raw(` rel="${rel}"`) : ""}>${label}</a>`;
  const items: Raw[] = [];
  if (pageNo > 1) items.push(link(1, "« first"), link(pageNo - 1, "‹ previous", "prev"));
  const from = Math.max(1, pageNo - 3);
  const to = Math.min(pages, pageNo + 3);
  for (let p = from; p <= to; p++) items.push(p === pageNo ? html`<span class="current">${p}</span>` : link(p, p));
  if (pageNo < pages) items.push(link(pageNo + 1, "next ›", "next"), link(pages, "last »"));
  return html`<div class="pager"><span class="muted">${integer(total)} ${noun} · page ${integer(pageNo)} of ${integer(pages)}</span>${items}</div>`;
}

/** A select element whose options are values from the store (escaped); "" means any. */
export function select(name: string, label: string, values: readonly string[], current: string | undefined, anyLabel = "any"): Raw {
  const opts = values.map((v) => html`<option value="${v}"${v === current ? raw(" selected") : ""}>${v}</option>`);
  return html`<label>${label}<select name="${name}"><option value="">${anyLabel}</option>${opts}</select></label>`;
}

/** The page size select: the usual sizes, and the current one if it is another. */
export function perPageSelect(perPage: number, sizes: readonly number[]): Raw {
  const all = [...new Set([...sizes, perPage])].sort((a, b) => a - b);
  return html`<label>per page<select name="per">${all.map((n) => html`<option${n === perPage ? raw(" selected") : ""}>${n}</option>`)}</select></label>`;
}

export function statusTag(status: string): Raw {
  const bad = status === "failed" || status === "interrupted" || (status !== "done" && status !== "running" && status !== "scored");
  return html`<span class="tag${bad ? " bad" : ""}">${status}</span>`;
}
