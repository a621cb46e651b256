/**
 * The pages of reports and of the viewer, built from the store: one function per kind of page,
 * each returning a title and an HTML body (charts as inline SVG). `civitas report` puts pages into
 * one file; `civitas view` serves them.
 */
import type { AggregateReport } from "../choice/index.js";
import type { Store } from "../store/index.js";
import type { Raw } from "./html.js";

export interface Page {
  readonly title: string;
  readonly subtitle?: string;
  readonly body: Raw;
}

/** A run's page: eval runs (alignment, baselines, closest population, per-question scatter, stability) or simulation runs (series with bands across seeds, final distribution). */
export async function runPage(store: Store, runId: string): Promise<Page> {
  void store;
  void runId;
  throw new Error("runPage: being written");
}

/** Several runs side by side (models, methods, protocols). */
export async function comparePage(store: Store, runIds: readonly string[]): Promise<Page> {
  void store;
  void runIds;
  throw new Error("comparePage: being written");
}

/** An aggregation: winners per rule, margin heat map, group welfare, Polis opinion groups. */
export async function aggregatePage(report: AggregateReport): Promise<Page> {
  void report;
  throw new Error("aggregatePage: being written");
}
