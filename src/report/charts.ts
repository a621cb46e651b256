/**
 * Charts as static SVG, rendered on the server by Vega-Lite (compiled to Vega, rendered by Vega's
 * headless SVG renderer): no chart drawing by hand, nothing to run in the browser. Text in the data
 * is escaped by the renderer.
 *
 * Hover text. Vega's SVG renderer does not write the `tooltip` encoding into the SVG (a tooltip
 * needs Vega's runtime handler); it writes each mark's ARIA description as `aria-label` instead
 * (the `description` encoding, or one Vega-Lite derives from the encoded fields). `chart` copies
 * that label into a `<title>` child of the mark, which browsers show on hover and screen readers
 * read: the text is the renderer's own, already escaped for an attribute, so it is as safe as
 * element content. Axes and legends keep their labels without titles.
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import { raw, type Raw } from "./html.js";

/** A Vega-Lite spec (kept loose: the library validates it). */
export type ChartSpec = Record<string, unknown>;

/** Colours shared by the pages (print-friendly, distinguishable in grey). */
export const COLORS = {
  ink: "#1d2330",
  accent: "#2a6fdb",
  muted: "#8a93a3",
  bad: "#b42318",
  ok: "#1a7f37",
  uniform: "#e8a317",
  human: "#7b3fbf",
  noise: "#0f9d9a",
} as const;

const CONFIG = {
  font: "system-ui, sans-serif",
  view: { stroke: null },
  // Without a canvas, Vega estimates text widths (generously): limits leave room for long labels.
  axis: { labelLimit: 380, labelFontSize: 11, titleFontSize: 12 },
  legend: { labelLimit: 560, titleLimit: 400, labelFontSize: 11, titleFontSize: 12 },
  header: { labelFontSize: 12, titleFontSize: 12, labelLimit: 400 },
  title: { fontSize: 13, anchor: "start" },
};

export interface ChartOptions {
  /** Copy each mark's description into a hover `<title>` (default true). */
  readonly titles?: boolean;
}

/** Renders a Vega-Lite spec to an inline SVG element wrapped in a `div.chart`. */
export async function chart(spec: ChartSpec, label?: string, options: ChartOptions = {}): Promise<Raw> {
  const compiled = vl.compile({ $schema: "https://vega.github.io/schema/vega-lite/v6.json", config: CONFIG, ...spec } as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  if (options.titles ?? true) svg = addMarkTitles(svg);
  return raw(`<div class="chart"${label ? ` data-chart="${label.replace(/[^a-z0-9-]/giu, "")}"` : ""}>${svg}</div>`);
}

/** Self-closing mark elements as Vega's SVG renderer writes them. */
const MARK_ELEMENT = /<(path|line|rect|circle|ellipse|image)\b([^>]*?)\/>/gu;
const ARIA_LABEL = /\saria-label="([^"]*)"/u;
const NOT_MARKS = /aria-roledescription="(?:axis|legend|title)"/u;

/**
 * Gives every data mark of a Vega SVG a `<title>` with its ARIA label (see the module comment).
 * The label is reused exactly as the renderer escaped it.
 */
export function addMarkTitles(svg: string): string {
  return svg.replace(MARK_ELEMENT, (whole: string, tag: string, attrs: string) => {
    if (!attrs.includes('role="graphics-symbol"') || NOT_MARKS.test(attrs)) return whole;
    const label = ARIA_LABEL.exec(attrs);
    if (!label || label[1] === "") return whole;
    return `<${tag}${attrs}><title>${label[1]}</title></${tag}>`;
  });
}
