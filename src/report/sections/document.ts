/**
 * Pages into one self-contained HTML file: one page as it is; several with a table of contents
 * (left out when printing) and each page starting on a new sheet of paper.
 */
import { html, pageShell, raw, type Raw } from "../html.js";
import type { Page } from "../pages.js";

export function reportDocument(pages: readonly Page[], options: { readonly title?: string } = {}): string {
  if (pages.length === 1) {
    const p = pages[0]!;
    return pageShell(options.title ?? p.title, p.body, p.subtitle ? { subtitle: p.subtitle } : {});
  }
  const id = (i: number) => `page-${i + 1}`;
  const nav: Raw = html`${pages.map((p, i) => html`<a href="#${id(i)}">${p.title}</a>`)}`;
  const body: Raw = html`${pages.map(
    (p, i) =>
      html`<article id="${id(i)}"${i > 0 ? raw(' style="break-before: page; margin-top: 40px"') : ""}><h1>${p.title}</h1>${p.subtitle ? html`<p class="muted">${p.subtitle}</p>` : ""}${p.body}</article>`,
  )}`;
  return pageShell(options.title ?? "civitas report", body, { nav, subtitle: `${pages.length} pages` });
}
