/**
 * Small pieces the pages share: numbers as the terminal tables print them, HTML tables, notes and
 * sections. Every value goes through the `html` template, so text from data is escaped.
 */
import { html, raw, type Raw } from "../html.js";

/** A number from a stored summary: JSON turns NaN into null, so both mean "none". */
export function finite(x: unknown): number | null {
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

export const num = (x: unknown, digits = 3): string => {
  const v = finite(x);
  return v === null ? "-" : v.toFixed(digits);
};

export const signed = (x: unknown): string => {
  const v = finite(x);
  return v === null ? "-" : `${v >= 0 ? "+" : ""}${v.toFixed(3)}`;
};

export const pct = (x: unknown, digits = 1): string => {
  const v = finite(x);
  return v === null ? "-" : `${(100 * v).toFixed(digits)}%`;
};

/** `[lo, hi]` of an interval that may hold nulls. */
export const ci = (c: unknown): string => {
  const pair = Array.isArray(c) ? c : [];
  return `[${num(pair[0])}, ${num(pair[1])}]`;
};

/** A number as an integer when it is one, else with `digits` decimals. */
export const plain = (x: unknown, digits = 3): string => {
  const v = finite(x);
  return v === null ? "-" : Number.isInteger(v) ? String(v) : v.toFixed(digits);
};

export type Cell = string | number | Raw | null | undefined;

/** An HTML table (no header row when `header` is null); the first column is left-aligned, the others right-aligned unless `align` says so. */
export function table(header: readonly Cell[] | null, rows: readonly (readonly Cell[])[], align?: readonly ("l" | "r")[]): Raw {
  const attr = (c: number) => (align ? raw(` style="text-align:${align[c] === "l" ? "left" : "right"}"`) : "");
  const head = header ? html`<thead><tr>${header.map((h, c) => html`<th${attr(c)}>${h}</th>`)}</tr></thead>` : "";
  return html`<table>${head}<tbody>${rows.map((r) => html`<tr>${r.map((v, c) => html`<td${attr(c)}>${v}</td>`)}</tr>`)}</tbody></table>`;
}

/** A heading and its content. */
export function section(title: string, body: Raw | readonly Raw[], id?: string): Raw {
  return html`<section${id ? html` id="${id}"` : ""}><h2>${title}</h2>${body}</section>`;
}

export function sub(title: string, body: Raw | readonly Raw[]): Raw {
  return html`<h3>${title}</h3>${body}`;
}

/** A muted explanatory paragraph. */
export function note(text: string | Raw): Raw {
  return html`<p class="muted">${text}</p>`;
}

export function warning(text: string): Raw {
  return html`<div class="warning">${text}</div>`;
}

/** `key value` pairs as a compact definition table. */
export function facts(pairs: readonly (readonly [string, Cell])[]): Raw {
  return table(
    null,
    pairs.filter(([, v]) => v !== null && v !== undefined && v !== ""),
    ["l", "l"],
  );
}

/** An id usable as an HTML anchor. */
export function anchor(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/gu, "-").replace(/^-|-$/gu, "") || "x";
}
