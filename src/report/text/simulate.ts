/** `civitas simulate` as text for the terminal: what ran, one table per sweep point, the run and where it is stored. */
import type { MetricSummaryResult, SimulationResult } from "../../results/index.js";
import { DYNAMICS, formatSeeds } from "../../sim/index.js";
import { formatTable } from "../table.js";

const num = (x: number | null | undefined): string => {
  if (x === null || x === undefined || Number.isNaN(x)) return "-";
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(3);
};

function metricRows(metrics: Record<string, MetricSummaryResult>): string[][] {
  const ci = (m: MetricSummaryResult) => (Number.isFinite(m.ci[0]) && Number.isFinite(m.ci[1]) ? `[${num(m.ci[0])}, ${num(m.ci[1])}]` : "-");
  return Object.entries(metrics).map(([name, m]) => [name, num(m.mean), ci(m), num(m.min), num(m.max), String(m.n)]);
}

/** The seeds each metric left out (no value: not run, stopped early, or not a number), as one line; "" when none. */
export function droppedLine(metrics: Record<string, MetricSummaryResult>): string {
  const parts = Object.entries(metrics)
    .filter(([, m]) => (m.dropped?.length ?? 0) > 0)
    .map(([name, m]) => `${name} (seed${m.dropped!.length === 1 ? "" : "s"} ${formatSeeds(m.dropped!)})`);
  return parts.length ? `left out, no value: ${parts.join("; ")}` : "";
}

type Fidelity = NonNullable<SimulationResult["fidelity"]>;

/** Persona fidelity over time: each group's alignment with its real group at each measured step, and its drift since step 0. */
export function fidelityTable(f: Fidelity, point: Fidelity["points"][number]): string {
  const rows: string[][] = [];
  for (const s of point.steps) {
    for (const g of s.groups) {
      const ci = Number.isFinite(g.ci[0]) && Number.isFinite(g.ci[1]) ? `[${num(g.ci[0])}, ${num(g.ci[1])}]` : "-";
      const drift = g.drift === null || Number.isNaN(g.drift) ? "-" : `${g.drift > 0 ? "+" : ""}${num(g.drift)}`;
      rows.push([String(s.step), g.population === "*" ? "overall" : g.population, num(g.alignment), ci, drift, num(g.uniform), num(g.human), num(g.noise), num(g.agents)]);
    }
  }
  const interval = point.steps.some((s) => s.seeds > 1) ? "95% interval across seeds" : "95% bootstrap interval over questions";
  return [
    "",
    `persona fidelity: alignment of the agents' answers with the real groups of ${f.by} (${f.suite}, ${f.metric}, ${f.questions.length} question${f.questions.length === 1 ? "" : "s"}; 1 - mean distance as civitas eval scores it, ${interval}; drift: change since step 0)`,
    formatTable(["step", "group", "alignment", "95% CI", "drift", "uniform", "human", "noise", "agents"], rows, ["r", "l", "r", "r", "r", "r", "r", "r", "r"]),
  ].join("\n");
}

/**
 * The text result: what ran, then one table per point, then the run and where it is stored. Needs
 * only the result (also stored as the run's), so `runs show` prints a stored run the same way.
 */
export function formatSimulation(r: SimulationResult, options: { seconds?: number; store?: string } = {}): string {
  const out: string[] = [];
  const d = (DYNAMICS as Readonly<Record<string, (typeof DYNAMICS)[keyof typeof DYNAMICS] | undefined>>)[r.dynamics];
  out.push(`${r.scenario} · ${r.dynamics}${d ? `: ${d.title}` : ""}`);
  const fixed = Object.entries(r.points[0]?.params ?? {})
    .filter(([k]) => !r.sweep.includes(k))
    .map(([k, v]) => `${k} ${String(v)}`);
  out.push(
    [...fixed, `seeds ${formatSeeds(r.seeds)}`, ...(r.model === "none" ? [] : [`model ${r.model}`])].join(" · ") +
      `\neach metric: mean over seeds of its final value, 95% interval (Wilson score for 0/1 metrics such as consensus, else Student t clipped to the metric's range), min and max over seeds`,
  );
  for (const p of r.points) {
    out.push("");
    const label = r.sweep.length === 0 ? `no sweep: ${r.seeds.length} seed${r.seeds.length === 1 ? "" : "s"}` : r.sweep.map((k) => `${k} = ${String(p.params[k])}`).join(", ");
    out.push(label);
    out.push(formatTable(["metric", "mean", "95% CI", "min", "max", "seeds"], metricRows(p.metrics), ["l", "r", "r", "r", "r", "r"]));
    const dropped = droppedLine(p.metrics);
    if (dropped) out.push(dropped);
    const fid = r.fidelity?.points.find((f) => f.point === r.points.indexOf(p));
    if (r.fidelity !== undefined && fid !== undefined && fid.steps.length > 0) out.push(fidelityTable(r.fidelity, fid));
  }
  if (r.population !== undefined) out.push("", `population: ${r.population.draw === "quota" ? "quotas (largest remainder)" : "i.i.d. draws"} from ${r.population.source}`);
  const s = r.simulations;
  const perStep =
    r.agent_steps === undefined || r.prompt_tokens_per_agent_step === undefined
      ? ""
      : ` · ~${Math.round(r.prompt_tokens_per_agent_step)} prompt tokens per agent-step (estimated, ${r.agent_steps} agent-steps)`;
  const calls = r.model === "none" ? "" : ` · ${r.model_calls} model calls, ${r.cache_hits} from the cache${perStep}`;
  out.push("");
  out.push(
    `run ${r.run} · ${s.total} simulation${s.total === 1 ? "" : "s"} (${s.run} run, ${s.stored} from the store${s.stopped.length ? `, ${s.stopped.length} stopped early` : ""}${s.not_run ? `, ${s.not_run} not run` : ""})` +
      `${calls}${options.seconds === undefined ? "" : ` · ${options.seconds.toFixed(1)} s`}${options.store === undefined ? "" : ` · stored in ${options.store}`}`,
  );
  return out.join("\n");
}
