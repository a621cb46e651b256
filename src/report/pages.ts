/**
 * The pages of reports and of the viewer, built from the store: one function per kind of page,
 * each returning a title and an HTML body (charts as inline SVG). `civitas report` puts pages into
 * one file (`reportDocument`); `civitas view` serves them.
 *
 * Question texts and human shares are not in a run's summary: see sections/sources.ts for where
 * the pages find them (a local copy of the survey named by `data`, checked against the run's data
 * fingerprint; question texts otherwise from the stored prompts).
 */
import path from "node:path";
import { redactCommandLine } from "../redact.js";
import type { AggregateReport } from "../results/index.js";
import type { RunRow, Store } from "../store/index.js";
import type { Suite } from "../surveys/index.js";
import { html, type Raw } from "./html.js";
import { aggregateBody } from "./sections/aggregate.js";
import { compareBody, runLabel, type ComparedRun } from "./sections/compare.js";
import { evalBody } from "./sections/eval.js";
import { matrixBody } from "./sections/matrix.js";
import type { Comparison } from "../config/index.js";
import { facts, note, warning } from "./sections/format.js";
import { simBody } from "./sections/sim.js";
import { steerBody } from "./sections/steer.js";

export interface Page {
  readonly title: string;
  readonly subtitle?: string;
  readonly body: Raw;
}

/** Where a run page finds the survey, and which population its per-question scatter shows. */
export interface RunPageOptions {
  /** A local copy of the run's survey (human shares, question texts); used only if its fingerprint is the run's. */
  readonly data?: string;
  /** The survey, already loaded (library callers); same check. */
  readonly suite?: Suite;
  /** The population of the per-question scatter (default: the run's first population). */
  readonly population?: string;
}

const created = (run: RunRow) => run.createdAt.toISOString().slice(0, 16).replace("T", " ");

function unfinished(run: RunRow): Page {
  return {
    title: `Run ${run.id}`,
    subtitle: `${run.suite} · ${run.model} · ${run.status}`,
    body: html`${warning(
      run.summaryError !== null
        ? `the stored result of this run cannot be read: ${run.summaryError}`
        : run.status === "running"
          ? `this run is running${run.progress ? `: ${run.progress.done} of ${run.progress.total} stored` : ""}; its result appears when it finishes`
          : `this run has no result yet (${run.status}${run.error ? `: ${run.error}` : ""}); run the same command again to resume it`,
    )}${facts([
      ["command", html`<code>${redactCommandLine(run.command)}</code>`],
      ["created", created(run)],
    ])}`,
  };
}

/**
 * A run's page: eval runs (alignment, baselines, closest population, per-question scatter,
 * stability), simulation runs (series with bands across seeds, final distribution) or
 * aggregations (winners, margins, welfare, Polis groups). `runId` may be a unique prefix.
 */
export async function runPage(store: Store, runId: string, options: RunPageOptions = {}): Promise<Page> {
  const run = await store.findRun(runId);
  if (run.kind === "simulate") {
    const r = run.summary;
    if (r === null) return unfinished(run);
    return {
      title: `Simulation ${r.scenario}`,
      subtitle: `run ${run.id} · ${r.dynamics} · ${r.points.length} point${r.points.length === 1 ? "" : "s"} x ${r.seeds.length} seed${r.seeds.length === 1 ? "" : "s"} · ${created(run)}`,
      body: await simBody(store, run, r, options),
    };
  }
  if (run.kind === "aggregate") {
    const r = run.summary;
    if (r === null) return unfinished(run);
    const page = await aggregatePage(r);
    return {
      ...page,
      subtitle: `run ${run.id} · ${page.subtitle ?? ""} · ${created(run)}`,
      body: html`${page.body}${facts([
        ["run", `${run.id} · ${run.status} · created ${run.createdAt.toISOString().slice(0, 19).replace("T", " ")}`],
        ["command", html`<code>${redactCommandLine(run.command)}</code>`],
      ])}`,
    };
  }
  if (run.kind === "steer") {
    const r = run.summary;
    if (r === null) return unfinished(run);
    return {
      title: `Steering ${r.suite}: ${r.model}`,
      subtitle: `run ${run.id} · ${r.methods.map((m) => m.method).join(", ")} · ${r.split.test.length} test questions · ${created(run)}`,
      body: html`${steerBody(r)}${facts([["command", html`<code>${redactCommandLine(run.command)}</code>`]])}`,
    };
  }
  const r = run.summary;
  if (r === null) return unfinished(run);
  return {
    title: `${r.suite}: ${r.model}`,
    subtitle: `run ${run.id} · method ${String(r.method)} · ${r.questions.scored} questions · ${created(run)}`,
    body: await evalBody(store, run, r, options),
  };
}

/** Several eval runs side by side (models, methods, protocols). Simulations and unfinished runs are listed, not compared. */
export async function comparePage(store: Store, runIds: readonly string[]): Promise<Page> {
  const runs: ComparedRun[] = [];
  const left: string[] = [];
  for (const id of runIds) {
    const run = await store.findRun(id);
    if (run.kind === "simulate") left.push(`${run.id} is a simulation`);
    else if (run.kind === "aggregate") left.push(`${run.id} is an aggregation`);
    else if (run.kind === "steer") left.push(`${run.id} is a steering run`);
    else if (run.summary === null) left.push(`${run.id} has no result yet (${run.summaryError ?? run.status})`);
    else runs.push({ run, result: run.summary });
  }
  const parts: Raw[] = left.map((l) => warning(`not compared: ${l}`));
  if (runs.length === 0) parts.push(note("No finished eval run to compare."));
  else parts.push(await compareBody(runs));
  return {
    title: `${runs.length} run${runs.length === 1 ? "" : "s"} side by side`,
    subtitle: runs.map(runLabel).join(" | "),
    body: html`${parts}`,
  };
}

/** An aggregation: winners per rule, margin heat map, group welfare, Polis opinion groups. */
export async function aggregatePage(report: AggregateReport): Promise<Page> {
  return {
    title: `Aggregation: ${path.basename(report.file)}${report.title ? ` · ${report.title}` : ""}`,
    subtitle: `${report.input} input · ${report.file}`,
    body: await aggregateBody(report),
  };
}

/** The comparison of `civitas eval` with several models or suites (tables and paired differences). */
export function matrixPage(c: Comparison): Page {
  const models = new Set(c.suites.flatMap((s) => s.models.map((m) => m.model)));
  return {
    title: `${models.size} model${models.size === 1 ? "" : "s"} x ${c.suites.length} suite${c.suites.length === 1 ? "" : "s"}`,
    subtitle: c.suites.map((s) => s.suite).join(" · "),
    body: matrixBody(c),
  };
}
