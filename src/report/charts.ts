/**
 * Charts as static SVG, rendered on the server by Vega-Lite (compiled to Vega, rendered by Vega's
 * headless SVG renderer): no chart drawing by hand, nothing to run in the browser. Text in the data
 * is escaped by the renderer.
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import { raw, type Raw } from "./html.js";

/** A Vega-Lite spec (kept loose: the library validates it). */
export type ChartSpec = Record<string, unknown>;

const CONFIG = { font: "system-ui, sans-serif", view: { stroke: null }, axis: { labelLimit: 260 } };

/** Renders a Vega-Lite spec to an inline SVG element wrapped in a `div.chart`. */
export async function chart(spec: ChartSpec, label?: string): Promise<Raw> {
  const compiled = vl.compile({ $schema: "https://vega.github.io/schema/vega-lite/v6.json", config: CONFIG, ...spec } as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return raw(`<div class="chart"${label ? ` data-chart="${label.replace(/[^a-z0-9-]/giu, "")}"` : ""}>${svg}</div>`);
}
