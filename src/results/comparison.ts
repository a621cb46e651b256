/**
 * The result of `civitas eval` with several models or suites (version 1): what --json prints (kind
 * "comparison"; printed, never stored: each cell is its own stored eval run). Made by
 * src/config/compare.ts, read by the text and HTML reports. Alignment is 1 - distance; a paired
 * difference is model `a`'s alignment minus model `b`'s on the questions both scored.
 */
import { z } from "zod";
import { count, interval, num } from "./common.js";

const perPopulation = z.array(interval.extend({ population: z.string(), n: count }));

const modelRow = z.object({
  model: z.string(),
  run: z.string(),
  metric: z.string(),
  method: z.string(),
  overall: interval,
  populations: perPopulation,
  /** The population with the highest alignment (ties: the first), or null when none was scored. */
  closest: z.object({ population: z.string(), alignment: num }).nullable(),
  /** With several presentation variants: who the model is closest to and whether that holds. */
  stability: z.object({ top: z.string(), stable: z.boolean(), verdict: z.string() }).nullable(),
  questions: count,
  uniform: num,
  /** Requests this command sent the model for the run (0: answered from the store or the cache). */
  model_calls: count,
});

const pairedDifference = z.object({
  /** Alignment of `a` minus alignment of `b`. */
  a: z.string(),
  b: z.string(),
  /** Questions both scored (for at least one population). */
  questions: count,
  /** Mean over populations of the per-population mean differences. */
  overall: interval,
  populations: perPopulation,
});

const suiteComparison = z.object({
  suite: z.string(),
  populations: z.array(z.string()),
  models: z.array(modelRow),
  /** Every pair of models (in the order given), when they share a metric. */
  differences: z.array(pairedDifference),
  notes: z.array(z.string()),
});

export const comparisonResult = z.object({
  /** Every (model x suite) cell as the command ran it. */
  cells: z.array(
    z.object({ suite: z.string(), model: z.string(), seed: z.number().int(), status: z.enum(["done", "failed"]), run: z.string().nullable(), error: z.string().nullable() }),
  ),
  suites: z.array(suiteComparison),
  /** "model x suite" of every failed cell. */
  failed: z.array(z.string()),
});

export type ComparisonResult = z.output<typeof comparisonResult>;
export type ModelRow = ComparisonResult["suites"][number]["models"][number];
export type PairedDifference = ComparisonResult["suites"][number]["differences"][number];
export type SuiteComparison = ComparisonResult["suites"][number];
