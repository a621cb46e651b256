/**
 * HTML pages: one self-contained document (every style inline, no script or font from the network),
 * readable when printed. All text that comes from data (question texts, comments, names) goes
 * through `escapeHtml`: a question containing `<script>` shows as text.
 */

const ENTITIES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text made safe for HTML content and attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/gu, (c) => ENTITIES[c]!);
}

/** Tagged template that escapes every interpolated value unless it is `raw(...)`. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += (Array.isArray(v) ? v.map(asHtml).join("") : asHtml(v)) + strings[i + 1]!;
  });
  return new Raw(out);
}

/** HTML that is already safe (built by `html` or rendered by the chart library). */
export class Raw {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export const raw = (s: string): Raw => new Raw(s);

function asHtml(v: unknown): string {
  if (v instanceof Raw) return v.value;
  if (v === null || v === undefined || v === false) return "";
  return escapeHtml(v);
}

const STYLE = `
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6472; --line: #d9dde3; --accent: #2a6fdb; --bad: #b42318; --ok: #1a7f37; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); margin: 0 auto; max-width: 1100px; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.muted { color: var(--muted); } .bad { color: var(--bad); font-weight: 600; } .ok { color: var(--ok); }
table { border-collapse: collapse; margin: 8px 0 16px; } th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; } th { font-weight: 600; background: #f6f7f9; }
.chart { margin: 8px 0 16px; overflow-x: auto; } .chart svg { max-width: 100%; height: auto; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
nav a { margin-right: 14px; } a { color: var(--accent); }
.tag { display: inline-block; padding: 1px 8px; border-radius: 10px; background: #eef2f8; font-size: 12px; }
.tag.bad { background: #fde8e7; } .warning { background: #fff8e6; border-left: 3px solid #e8a317; padding: 6px 10px; margin: 6px 0; }
@media print { body { max-width: none; padding: 0; } nav, form, .no-print { display: none; } h2 { break-after: avoid; } .chart, table { break-inside: avoid; } }
`;

/** A whole page. `nav` (links) is left out when printing. */
export function pageShell(title: string, body: Raw, options: { nav?: Raw; subtitle?: string; refreshSeconds?: number } = {}): string {
  const refresh = options.refreshSeconds === undefined ? "" : `<meta http-equiv="refresh" content="${Math.max(1, Math.round(options.refreshSeconds))}">`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="generator" content="civitas">${refresh}
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>${options.nav ? `<nav>${options.nav.value}</nav>` : ""}<h1>${escapeHtml(title)}</h1>${options.subtitle ? `<p class="muted">${escapeHtml(options.subtitle)}</p>` : ""}
${body.value}
<p class="muted">Made by civitas.</p>
</body></html>
`;
}
