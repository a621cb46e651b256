export { bootstrapPhrase, formatEvalResult, formatScores, formatStability, formatTable } from "./table.js";
export { formatAggregate } from "./text/aggregate.js";
export { droppedLine, formatSimulation } from "./text/simulate.js";
export { escapeHtml, html, pageShell, raw, Raw } from "./html.js";
export { addMarkTitles, chart, type ChartOptions, type ChartSpec } from "./charts.js";
export { aggregatePage, comparePage, runPage, type Page, type RunPageOptions } from "./pages.js";
export { reportDocument } from "./sections/document.js";
export { formatSteer } from "./text/steer.js";
export { steerBody } from "./sections/steer.js";
